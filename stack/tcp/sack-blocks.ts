// The SACK blocks a receiver puts in its ACKs (RFC 2018 4, D-SACK RFC 2883 4), built
// from the out-of-order queue's ranges:
// - a D-SACK block, when a duplicate arrived, goes first, once; if the duplicate lies in
//   an out-of-order block, that block comes second (RFC 2883 4 rules);
// - then the block holding the segment that triggered this ACK;
// - then the most recently reported blocks that are still out of order and not already
//   included, so each block is repeated in several ACKs and survives ACK loss.

import { seqGeq, seqLeq, seqLt, type SeqRange } from './seq.js';

/** What the builder needs from the out-of-order queue (ReassemblyQueue fits). */
export interface OutOfOrderRanges {
  rangeContaining(seq: number): SeqRange | undefined;
}

/** RFC 2018 3: 4 blocks fit in 40 option bytes, 3 next to the 12 bytes of timestamps (RFC 7323). */
export function maxSackBlocks(timestamps: boolean): number {
  return timestamps ? 3 : 4;
}

// Remembered arrivals: enough to refill every block of a few consecutive ACKs.
const MEMORY = 8;

export class SackBlockBuilder {
  /** A sequence number inside each recently reported block, most recent first. */
  private readonly recent: number[] = [];
  private dsack: SeqRange | undefined = undefined;

  /** A segment starting at `seq` was queued out of order: its block leads the next ACK. */
  onOutOfOrder(seq: number): void {
    const i = this.recent.indexOf(seq);
    if (i >= 0) this.recent.splice(i, 1);
    this.recent.unshift(seq);
    if (this.recent.length > MEMORY) this.recent.length = MEMORY;
  }

  /** A duplicate of [start, end) arrived: report it in the next ACK (RFC 2883). */
  onDuplicate(range: SeqRange): void {
    this.dsack = { start: range.start, end: range.end };
  }

  /** Blocks for the next ACK, at most `max`; the pending D-SACK is consumed. */
  takeBlocks(queue: OutOfOrderRanges, rcvNxt: number, max: number): SeqRange[] {
    const out: SeqRange[] = [];
    if (this.dsack !== undefined) {
      out.push(this.dsack);
      const around = queue.rangeContaining(this.dsack.start);
      if (around !== undefined && out.length < max) out.push(around);
      this.dsack = undefined;
    }
    // Arrivals now at or below RCV.NXT were delivered: forget them.
    let keep = 0;
    for (const seq of this.recent) {
      if (seqLt(seq, rcvNxt)) continue;
      this.recent[keep++] = seq;
      if (out.length >= max) continue;
      const block = queue.rangeContaining(seq);
      if (block !== undefined && !out.some((b) => covers(b, block))) out.push(block);
    }
    this.recent.length = keep;
    return out;
  }
}

function covers(outer: SeqRange, inner: SeqRange): boolean {
  return seqLeq(outer.start, inner.start) && seqGeq(outer.end, inner.end);
}
