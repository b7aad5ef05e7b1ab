// The sender's list of segments in flight, with the per-segment state RACK-TLP needs
// (RFC 8985 5.2: xmit_ts, end_seq, retransmitted, lost, SACKed). Segments are kept two
// ways: in sequence order (an array, binary-searched) and, for those neither acknowledged
// nor SACKed, in transmission-time order (an intrusive doubly linked list: a
// retransmission moves to the tail in O(1)), which is the order RACK scans (Linux keeps
// the same tsorted list).

import { seqGt, seqGeq, seqLeq, seqLt, seqSub, type SeqRange } from './seq.js';

export interface SentSegment {
  startSeq: number;
  endSeq: number;
  /** Time of the latest (re)transmission (RFC 8985 Segment.xmit_ts). */
  xmitTs: number;
  /** Ever retransmitted (RFC 8985 Segment.retransmitted). */
  retransmitted: boolean;
  sacked: boolean;
  /** Deemed lost and not retransmitted since. */
  lost: boolean;
  /**
   * Transmission number: increases with every (re)transmission. It orders transmissions
   * exactly where xmit_ts ties (several segments sent within one clock tick), which the
   * RFC's end_seq tie-break gets wrong for retransmissions.
   */
  order: number;
  /** Transmission-time order links; null when not in that list (SACKed). */
  prevSent: SentSegment | null;
  nextSent: SentSegment | null;
}

export class SentSegments {
  /** Segments currently SACKed (RFC 8985 RACK.segs_sacked). */
  sackedCount = 0;
  /**
   * Bytes deemed in the network: sent, neither acknowledged, SACKed nor marked lost (a
   * retransmitted segment counts once). This is RFC 6675's pipe with RACK's loss marks,
   * Linux's tcp_packets_in_flight in bytes; the sender compares it with cwnd.
   */
  inFlight = 0;
  private readonly bySeq: SentSegment[] = [];
  private head = 0;
  private nextOrder = 0;
  private oldest: SentSegment | null = null;
  private newest: SentSegment | null = null;

  get size(): number {
    return this.bySeq.length - this.head;
  }

  /** The lowest segment (the one SND.UNA is in), if any. */
  get first(): SentSegment | undefined {
    return this.bySeq[this.head];
  }

  /** The highest segment sent so far (what a TLP retransmits, RFC 8985 7.3). */
  get last(): SentSegment | undefined {
    return this.size > 0 ? this.bySeq[this.bySeq.length - 1] : undefined;
  }

  /** New data [startSeq, endSeq) was sent at `now`; it must follow the last segment. */
  onSent(startSeq: number, endSeq: number, now: number): SentSegment {
    const last = this.last;
    if (last !== undefined && seqLt(startSeq, last.endSeq)) {
      throw new RangeError('new data must not overlap data already sent');
    }
    const seg: SentSegment = {
      startSeq,
      endSeq,
      xmitTs: now,
      retransmitted: false,
      sacked: false,
      lost: false,
      order: this.nextOrder++,
      prevSent: null,
      nextSent: null,
    };
    this.bySeq.push(seg);
    this.linkNewest(seg);
    this.inFlight += length(seg);
    return seg;
  }

  /** `seg` was retransmitted at `now` (RFC 8985 6.1). */
  onRetransmitted(seg: SentSegment, now: number): void {
    seg.xmitTs = now;
    seg.order = this.nextOrder++;
    seg.retransmitted = true;
    if (seg.lost) this.inFlight += length(seg);
    seg.lost = false;
    if (!seg.sacked) {
      this.unlink(seg);
      this.linkNewest(seg);
    }
  }

  /** `seg` is deemed lost (RACK, RTO): it leaves the in-flight count until retransmitted. */
  markLost(seg: SentSegment): void {
    if (seg.lost || seg.sacked) return;
    seg.lost = true;
    this.inFlight -= length(seg);
  }

  /** The segment holding `seq`, if in flight. */
  find(seq: number): SentSegment | undefined {
    const i = this.indexOf(seq);
    const seg = this.bySeq[i];
    return seg !== undefined && seqLeq(seg.startSeq, seq) ? seg : undefined;
  }

  /**
   * Split the segment holding `seq` so that a segment starts exactly at `seq` (to SACK or
   * retransmit part of one). Both halves keep the original's state.
   */
  splitAt(seq: number): void {
    const i = this.indexOf(seq);
    const seg = this.bySeq[i];
    if (seg === undefined || !seqLt(seg.startSeq, seq)) return;
    const tail: SentSegment = { ...seg, startSeq: seq, prevSent: null, nextSent: null };
    seg.endSeq = seq;
    this.bySeq.splice(i + 1, 0, tail);
    if (seg.sacked) this.sackedCount++;
    else this.linkAfter(seg, tail);
  }

  /**
   * The cumulative ACK reached `ack`: forget what it covers (a straddling segment is
   * trimmed). `delivered` sees each fully acknowledged segment that was not SACKed before,
   * in sequence order (RACK steps 2-3). Returns the number of segments removed.
   */
  ackTo(ack: number, delivered?: (seg: SentSegment) => void): number {
    const b = this.bySeq;
    let n = this.head;
    while (n < b.length && seqLeq(b[n]!.endSeq, ack)) {
      const seg = b[n++]!;
      if (seg.sacked) this.sackedCount--;
      else {
        if (!seg.lost) this.inFlight -= length(seg);
        this.unlink(seg);
        delivered?.(seg);
      }
    }
    const removed = n - this.head;
    this.head = n;
    const first = b[n];
    if (first !== undefined && seqGt(ack, first.startSeq)) {
      if (!first.sacked && !first.lost) this.inFlight -= seqSub(ack, first.startSeq);
      first.startSeq = ack;
    }
    if (this.head === b.length) b.length = this.head = 0;
    else if (this.head > 256 && this.head * 2 > b.length) {
      b.splice(0, this.head);
      this.head = 0;
    }
    return removed;
  }

  /**
   * Mark [range.start, range.end) SACKed, splitting segments at its edges. `delivered`
   * sees each newly SACKed segment in sequence order. Returns the count newly SACKed.
   */
  markSacked(range: SeqRange, delivered?: (seg: SentSegment) => void): number {
    this.splitAt(range.start);
    this.splitAt(range.end);
    let count = 0;
    const b = this.bySeq;
    for (let i = this.indexOf(range.start); i < b.length && seqLeq(b[i]!.endSeq, range.end); i++) {
      const seg = b[i]!;
      if (seg.sacked || !seqGeq(seg.startSeq, range.start)) continue;
      if (!seg.lost) this.inFlight -= length(seg);
      seg.sacked = true;
      seg.lost = false;
      this.sackedCount++;
      this.unlink(seg);
      delivered?.(seg);
      count++;
    }
    return count;
  }

  /** Neither acknowledged nor SACKed segments, oldest transmission first. */
  *inTimeOrder(): Generator<SentSegment> {
    for (let s = this.oldest; s !== null; ) {
      const next = s.nextSent; // the visitor may retransmit s, moving it to the tail
      yield s;
      s = next;
    }
  }

  /** Segments in sequence order from the lowest. */
  *inSeqOrder(): Generator<SentSegment> {
    for (let i = this.head; i < this.bySeq.length; i++) yield this.bySeq[i]!;
  }

  /** The lowest segment marked lost and not retransmitted since: the next to repair. */
  firstLost(): SentSegment | undefined {
    for (let i = this.head; i < this.bySeq.length; i++) if (this.bySeq[i]!.lost) return this.bySeq[i];
    return undefined;
  }

  /** Sequence-order index of the first segment ending after `seq`. */
  private indexOf(seq: number): number {
    const b = this.bySeq;
    let lo = this.head;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqGt(b[mid]!.endSeq, seq)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private linkNewest(seg: SentSegment): void {
    seg.prevSent = this.newest;
    seg.nextSent = null;
    if (this.newest !== null) this.newest.nextSent = seg;
    else this.oldest = seg;
    this.newest = seg;
  }

  private linkAfter(prev: SentSegment, seg: SentSegment): void {
    seg.prevSent = prev;
    seg.nextSent = prev.nextSent;
    if (prev.nextSent !== null) prev.nextSent.prevSent = seg;
    else this.newest = seg;
    prev.nextSent = seg;
  }

  private unlink(seg: SentSegment): void {
    if (seg.prevSent !== null) seg.prevSent.nextSent = seg.nextSent;
    else if (this.oldest === seg) this.oldest = seg.nextSent;
    if (seg.nextSent !== null) seg.nextSent.prevSent = seg.prevSent;
    else if (this.newest === seg) this.newest = seg.prevSent;
    seg.prevSent = seg.nextSent = null;
  }
}

function length(seg: SentSegment): number {
  return seqSub(seg.endSeq, seg.startSeq);
}
