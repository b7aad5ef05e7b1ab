// The receiver's out-of-order queue (RFC 9293 3.10.7.4 "segments with higher beginning
// sequence numbers ... may be held"). Payloads are kept as views into the packet buffers
// they arrived in (no copy); overlapping data is trimmed so every byte is held once, and
// overlaps are reported for D-SACK (RFC 2883 4). Both 64 KiB GRO super-segments and
// 1-byte segments work: storage is a sorted array of pieces plus the coalesced ranges
// that the SACK blocks are built from (sack-blocks.ts).
//
// Limits: `maxBytes` (the receive buffer's room for out-of-order data) and `maxSegments`
// (per-piece bookkeeping). When full, data above the new segment is evicted first, as
// Linux's tcp_prune_ofo_queue does: data nearer RCV.NXT is what unblocks the application.
// Evicting SACKed data is reneging, which RFC 2018 8 permits; the sender copes.

import { SeqRangeSet } from './seq-range-set.js';
import { seqAdd, seqGt, seqLeq, seqLt, seqMax, seqMin, seqSub, type SeqRange } from './seq.js';

export interface ReassemblyLimits {
  maxBytes: number;
  maxSegments: number;
}

export interface InsertResult {
  /** Bytes newly queued. */
  queued: number;
  /** The first part of the segment that was already received (below RCV.NXT or queued), for D-SACK. */
  duplicate: SeqRange | undefined;
  /** Bytes refused for lack of room. */
  dropped: number;
}

export interface ReassemblyStats {
  duplicateBytes: number;
  droppedBytes: number;
  /** Bytes evicted from above to make room for data nearer RCV.NXT. */
  evictedBytes: number;
  /** Bytes copied out of a much larger packet buffer so it can be released. */
  copiedBytes: number;
}

interface Piece {
  seq: number;
  data: Uint8Array;
}

// A small piece pinning a much larger buffer (a 1-byte segment in a 64 KiB read buffer)
// is copied so the big buffer can be freed: memory held stays proportional to data held.
const PIN_RATIO = 4;
const PIN_SLACK = 4096;

export class ReassemblyQueue {
  readonly stats: ReassemblyStats = { duplicateBytes: 0, droppedBytes: 0, evictedBytes: 0, copiedBytes: 0 };
  private readonly pieces: Piece[] = [];
  private readonly held = new SeqRangeSet();

  constructor(private limits: ReassemblyLimits) {}

  /** New limits for what is queued from now on (what is held stays). */
  setLimits(limits: ReassemblyLimits): void {
    this.limits = limits;
  }

  /** Bytes queued. */
  get bytes(): number {
    return this.held.bytes;
  }

  get segmentCount(): number {
    return this.pieces.length;
  }

  get isEmpty(): boolean {
    return this.pieces.length === 0;
  }

  /** Coalesced queued ranges, ascending (what SACK blocks describe). */
  get ranges(): readonly SeqRange[] {
    return this.held.ranges;
  }

  /** The coalesced queued range holding `seq`, if any. */
  rangeContaining(seq: number): SeqRange | undefined {
    return this.held.containing(seq);
  }

  /** Queue a segment that begins at `seq`; `rcvNxt` is the next byte expected in order. */
  insert(rcvNxt: number, seq: number, data: Uint8Array): InsertResult {
    const result: InsertResult = { queued: 0, duplicate: undefined, dropped: 0 };
    if (data.length === 0) return result;
    let start = seq;
    const end = seqAdd(seq, data.length);
    if (seqLt(start, rcvNxt)) {
      result.duplicate = { start, end: seqMin(end, rcvNxt) };
      this.stats.duplicateBytes += seqSub(result.duplicate.end, start);
      if (seqLeq(end, rcvNxt)) return result;
      start = rcvNxt;
    }
    const gaps: SeqRange[] = [];
    let missing = this.held.gaps(start, end, gaps);
    const covered = seqSub(end, start) - missing;
    if (covered > 0) {
      this.stats.duplicateBytes += covered;
      result.duplicate ??= this.firstOverlap(start, end);
    }
    // Make room by evicting data above this segment, then take what fits.
    while (this.makeRoomAbove(start, missing, gaps.length)) {
      gaps.length = 0;
      missing = this.held.gaps(start, end, gaps);
    }
    let room = this.limits.maxBytes - this.held.bytes;
    for (const gap of gaps) {
      if (room <= 0 || this.pieces.length >= this.limits.maxSegments) break;
      const gapEnd = seqSub(gap.end, gap.start) > room ? seqAdd(gap.start, room) : gap.end;
      const take = seqSub(gapEnd, gap.start);
      const offset = seqSub(gap.start, seq);
      this.place({ seq: gap.start, data: this.unpin(data.subarray(offset, offset + take)) });
      this.held.add(gap.start, gapEnd);
      result.queued += take;
      room -= take;
    }
    result.dropped = missing - result.queued;
    this.stats.droppedBytes += result.dropped;
    return result;
  }

  /**
   * Remove the data that continues the stream at `rcvNxt` and append it to `out`
   * (views, in order). Returns the byte count: the new RCV.NXT is rcvNxt + that. Data the
   * caller already received in order (below rcvNxt) is discarded.
   */
  takeInOrder(rcvNxt: number, out: Uint8Array[]): number {
    const p = this.pieces;
    let next = rcvNxt;
    let n = 0;
    while (n < p.length) {
      const piece = p[n]!;
      const pieceEnd = seqAdd(piece.seq, piece.data.length);
      if (seqGt(piece.seq, next)) break;
      if (seqGt(pieceEnd, next)) {
        out.push(piece.data.subarray(seqSub(next, piece.seq)));
        next = pieceEnd;
      }
      n++;
    }
    if (n > 0) p.splice(0, n);
    this.held.removeBelow(seqMax(next, rcvNxt));
    return seqSub(next, rcvNxt);
  }

  clear(): void {
    this.pieces.length = 0;
    this.held.clear();
  }

  /**
   * One eviction step toward room for `bytes` in `pieces` more pieces: drop the highest
   * piece, or trim its tail when only bytes are short. Only data above `seq` is touched.
   * Returns false when nothing (more) is needed or possible.
   */
  private makeRoomAbove(seq: number, bytes: number, pieces: number): boolean {
    const excessBytes = this.held.bytes + bytes - this.limits.maxBytes;
    const excessPieces = this.pieces.length + pieces - this.limits.maxSegments;
    if (excessBytes <= 0 && excessPieces <= 0) return false;
    const last = this.pieces[this.pieces.length - 1];
    if (last === undefined || !seqGt(last.seq, seq)) return false;
    if (excessPieces > 0 || excessBytes >= last.data.length) {
      this.pieces.pop();
      this.stats.evictedBytes += this.held.removeFrom(last.seq);
    } else {
      const keep = last.data.length - excessBytes;
      last.data = last.data.subarray(0, keep);
      this.stats.evictedBytes += this.held.removeFrom(seqAdd(last.seq, keep));
    }
    return true;
  }

  private firstOverlap(start: number, end: number): SeqRange | undefined {
    const r = this.held.ranges[this.held.firstEndingAfter(start)];
    if (r === undefined || !seqLt(r.start, end)) return undefined;
    return { start: seqMax(r.start, start), end: seqMin(r.end, end) };
  }

  private place(piece: Piece): void {
    const p = this.pieces;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLt(p[mid]!.seq, piece.seq)) lo = mid + 1;
      else hi = mid;
    }
    p.splice(lo, 0, piece);
  }

  private unpin(view: Uint8Array): Uint8Array {
    if (view.buffer.byteLength <= PIN_RATIO * view.length + PIN_SLACK) return view;
    this.stats.copiedBytes += view.length;
    return view.slice();
  }
}
