// The sender's SACK scoreboard and the loss-recovery rules of RFC 6675 over it.
// SACKed data is a set of ranges over the send sequence space, not per-byte or
// per-segment state. Sequence variables are half-open, unlike the RFC's inclusive
// octet numbers: `una` = HighACK + 1 (SND.UNA), `highData` = HighData + 1 (SND.NXT),
// `highRxt` = HighRxt + 1 (bytes below it were retransmitted in this recovery).
//
// The caller (the sender) reports what it sends (`onSent`, `onRetransmit`), hands every
// ACK to `update`, decides to enter recovery (`shouldEnterRecovery`, RFC 6675 5) and
// tells the congestion controller; it then sends what `nextSeg` proposes while
// `pipe()` < cwnd (RFC 6675 5 step (C)).

import { SeqRangeSet } from './seq-range-set.js';
import { seqAdd, seqGeq, seqGt, seqLeq, seqLt, seqMax, seqMin, seqSub, type SeqRange } from './seq.js';

export interface SackScoreboardOptions {
  /** DupThresh (RFC 6675 2, RFC 5681: 3). */
  dupThresh: number;
  /** Most SACKed ranges kept; more are ignored (a receiver cannot make us grow without bound). */
  maxRanges: number;
}

export interface SackUpdate {
  /** Bytes the cumulative ACK newly covered. */
  ackedBytes: number;
  /** Bytes newly delivered by this ACK: cumulatively acked but not SACKed before, plus newly SACKed (for RFC 3465 byte counting). */
  deliveredBytes: number;
  /** Ranges SACKed for the first time by this ACK, ascending (for the sent-segment list and RACK). */
  newlySacked: SeqRange[];
  /** The D-SACK block of this ACK (RFC 2883 4), when its first block reports a duplicate. */
  dsack: SeqRange | undefined;
  /** SACK blocks ignored as invalid: reversed, beyond SND.NXT, or absurdly long. */
  invalidBlocks: number;
  /** This ACK counts as a duplicate ACK (RFC 6675 2: no advance, new SACK information). */
  isDupAck: boolean;
  /** The cumulative ACK reached the recovery point: loss recovery is over (RFC 6675 5). */
  recoveryEnded: boolean;
}

export type NextSegKind = 'lost' | 'new' | 'unsacked' | 'rescue';

/** A segment NextSeg() proposes (RFC 6675 4); for 'new', `end` is at most one MSS past SND.NXT. */
export interface NextSegment {
  kind: NextSegKind;
  start: number;
  end: number;
}

// SACK blocks longer than this cannot be genuine (windows are at most 2^30, RFC 7323 2.3).
const MAX_BLOCK = 2 ** 30;

export class SackScoreboard {
  /** SND.UNA: first unacknowledged byte (HighACK + 1). */
  una: number;
  /** SND.NXT: one past the highest byte sent (HighData + 1). */
  highData: number;
  /** Bytes in [una, highRxt) were retransmitted in the current recovery (HighRxt + 1). */
  highRxt: number;
  /** RescueRxt + 1, undefined until set (RFC 6675 4 rule 4). */
  rescueRxt: number | undefined = undefined;
  /** RecoveryPoint + 1 (HighData + 1 when recovery began); undefined before any recovery. */
  recoveryPoint: number | undefined = undefined;
  inRecovery = false;
  /** DupAcks of RFC 6675 5: duplicate ACKs since the cumulative ACK last advanced. */
  dupAcks = 0;
  /** SACK blocks refused because maxRanges was reached. */
  refusedBlocks = 0;
  private smss: number;
  private readonly sacked = new SeqRangeSet();
  private readonly options: SackScoreboardOptions;
  /** Every unSACKed byte below this is lost (IsLost); recomputed when the ranges change. */
  private lostBelow: number;

  constructor(iss: number, mss: number, options: SackScoreboardOptions) {
    this.una = this.highData = this.highRxt = this.lostBelow = iss;
    this.smss = mss;
    this.options = options;
  }

  /** The sender MSS (SMSS): IsLost counts SACKed bytes in units of it. */
  get mss(): number {
    return this.smss;
  }

  set mss(mss: number) {
    this.smss = mss;
    this.computeLostBelow();
  }

  /** SACKed ranges above SND.UNA, ascending. */
  get ranges(): readonly SeqRange[] {
    return this.sacked.ranges;
  }

  /** Bytes currently SACKed above SND.UNA. */
  get sackedBytes(): number {
    return this.sacked.bytes;
  }

  /** One past the highest SACKed byte (SND.UNA when nothing is SACKed). */
  get highestSacked(): number {
    return this.sacked.end ?? this.una;
  }

  /** New data was sent up to `end` (exclusive). */
  onSent(end: number): void {
    if (seqGt(end, this.highData)) this.highData = end;
  }

  /** Process an ACK carrying cumulative acknowledgment `ack` and SACK blocks as received. */
  update(ack: number, blocks: readonly SeqRange[]): SackUpdate {
    const out: SackUpdate = {
      ackedBytes: 0,
      deliveredBytes: 0,
      newlySacked: [],
      dsack: undefined,
      invalidBlocks: 0,
      isDupAck: false,
      recoveryEnded: false,
    };
    // An ACK for data never sent is the caller's to reject (RFC 9293 3.10.7.4); ignore it here.
    if (seqGt(ack, this.highData)) return out;
    const first = blocks[0];
    // RFC 2883 4: the first block is a D-SACK when it lies below the cumulative ACK or
    // within the second block.
    let firstIsDsack = false;
    if (first !== undefined && seqLt(first.start, first.end)) {
      const second = blocks[1];
      firstIsDsack =
        seqLt(first.start, ack) ||
        (second !== undefined && seqGeq(first.start, second.start) && seqLeq(first.end, second.end));
      if (firstIsDsack) out.dsack = { start: first.start, end: first.end };
    }
    if (seqGt(ack, this.una)) {
      out.ackedBytes = seqSub(ack, this.una);
      out.deliveredBytes = out.ackedBytes - this.sacked.removeBelow(ack);
      this.una = ack;
      if (seqLt(this.highRxt, ack)) this.highRxt = ack;
      this.dupAcks = 0;
    }
    for (let i = firstIsDsack ? 1 : 0; i < blocks.length; i++) {
      const b = blocks[i]!;
      const len = seqSub(b.end, b.start);
      if (len <= 0 || len > MAX_BLOCK || seqGt(b.end, this.highData)) {
        out.invalidBlocks++;
        continue;
      }
      if (seqLeq(b.end, this.una)) continue; // old news
      const fresh = this.sacked.add(seqMax(b.start, this.una), b.end, out.newlySacked, this.options.maxRanges);
      if (fresh < 0) this.refusedBlocks++;
      else out.deliveredBytes += fresh;
    }
    if (out.ackedBytes > 0 || out.newlySacked.length > 0) this.computeLostBelow();
    // RFC 6675 2 "duplicate acknowledgment": data outstanding, no advance, new SACK info.
    if (out.ackedBytes === 0 && out.newlySacked.length > 0 && seqLt(this.una, this.highData)) {
      out.isDupAck = true;
      this.dupAcks++;
    }
    if (this.inRecovery && this.recoveryPoint !== undefined && seqGeq(this.una, this.recoveryPoint)) {
      this.inRecovery = false;
      out.recoveryEnded = true;
    }
    return out;
  }

  /**
   * RFC 6675 5: enter loss recovery when DupAcks reached DupThresh or the first unacked
   * byte is already deemed lost, unless an earlier recovery (or RTO) has not been
   * cumulatively acknowledged yet (RFC 6675 5 step (2), 5.1).
   */
  shouldEnterRecovery(): boolean {
    if (this.inRecovery || seqGeq(this.una, this.highData)) return false;
    if (this.recoveryPoint !== undefined && seqLt(this.una, this.recoveryPoint)) return false;
    return this.dupAcks >= this.options.dupThresh || this.isLost(this.una);
  }

  /** RFC 6675 5 step (4): RecoveryPoint = HighData; nothing retransmitted yet in this recovery. */
  enterRecovery(): void {
    this.inRecovery = true;
    this.recoveryPoint = this.highData;
    this.highRxt = this.una;
    this.rescueRxt = undefined;
  }

  /**
   * RFC 6675 5.1: after an RTO, recovery ends, and no new recovery starts until
   * everything sent so far is acknowledged. SACK information is kept (as Linux does); call
   * `clearSacked` to drop it if the receiver may have reneged (RFC 2018 8).
   */
  onRetransmissionTimeout(): void {
    this.inRecovery = false;
    this.recoveryPoint = this.highData;
    this.highRxt = this.una;
    this.rescueRxt = undefined;
    this.dupAcks = 0;
  }

  clearSacked(): void {
    this.sacked.clear();
    this.computeLostBelow();
  }

  /**
   * RFC 6675 4 IsLost(SeqNum): more than (DupThresh - 1) * SMSS bytes, or at least
   * DupThresh discontiguous ranges, are SACKed above it.
   */
  isLost(seq: number): boolean {
    return seqLt(seq, this.lostBelow) && !this.sacked.has(seq);
  }

  /** RFC 6675 4 SetPipe(): bytes estimated in the network. */
  pipe(): number {
    // (a) unSACKed bytes in [lostBelow, highData) are still in flight, (b) unSACKed bytes
    // below highRxt were retransmitted and that copy is in flight.
    const notLost = this.unsackedWithin(seqMax(this.lostBelow, this.una), this.highData);
    const retransmitted = this.unsackedWithin(this.una, seqMin(this.highRxt, this.highData));
    return notLost + retransmitted;
  }

  /**
   * RFC 6675 4 NextSeg(): what to send next during recovery. `newDataAvailable`: unsent
   * data exists and the receive window admits it (rule 2). Returns undefined when
   * nothing may be sent (rule 5).
   */
  nextSeg(newDataAvailable: boolean): NextSegment | undefined {
    const mss = this.mss;
    const sackTop = this.highestSacked;
    // The first unSACKed byte not yet retransmitted serves rules 1 and 3.
    const s = this.firstUnsackedFrom(seqMax(this.highRxt, this.una));
    if (s !== undefined && seqLt(s, sackTop)) {
      if (this.isLost(s)) return { kind: 'lost', start: s, end: this.segmentEnd(s, mss) };
    }
    if (newDataAvailable) return { kind: 'new', start: this.highData, end: seqAdd(this.highData, mss) };
    if (s !== undefined && seqLt(s, sackTop)) return { kind: 'unsacked', start: s, end: this.segmentEnd(s, mss) };
    return this.rescue();
  }

  /** The sender (re)transmitted what nextSeg proposed (RFC 6675 4 rules 1, 3, 4; 5 step (4)). */
  onRetransmit(seg: NextSegment): void {
    if (seg.kind === 'new') return this.onSent(seg.end);
    if (seg.kind === 'rescue') {
      this.rescueRxt = this.recoveryPoint;
      return;
    }
    if (seqGt(seg.end, this.highRxt)) this.highRxt = seg.end;
    // The first retransmission of a recovery also primes RescueRxt (RFC 6675 5 step (4.3)).
    this.rescueRxt ??= seg.end;
  }

  /** RFC 6675 4 rule 4: one segment holding the highest outstanding unSACKed byte. */
  private rescue(): NextSegment | undefined {
    if (!this.inRecovery) return undefined;
    if (this.rescueRxt !== undefined && !seqGt(this.una, this.rescueRxt)) return undefined;
    const last = this.sacked.ranges[this.sacked.size - 1];
    const top = last !== undefined && last.end === this.highData ? last.start : this.highData;
    if (!seqLt(this.una, top)) return undefined;
    const below = this.sacked.ranges[this.sacked.firstEndingAfter(seqAdd(top, -1)) - 1];
    const floor = below !== undefined && seqGt(below.end, this.una) ? below.end : this.una;
    return { kind: 'rescue', start: seqMax(floor, seqAdd(top, -this.mss)), end: top };
  }

  /** From `seq` up, the first byte that is outstanding and not SACKed. */
  private firstUnsackedFrom(seq: number): number | undefined {
    const r = this.sacked.containing(seq);
    const s = r !== undefined ? r.end : seq;
    return seqLt(s, this.highData) ? s : undefined;
  }

  /** One MSS from `s`, not running into the next SACKed range or past SND.NXT. */
  private segmentEnd(s: number, mss: number): number {
    const next = this.sacked.ranges[this.sacked.firstEndingAfter(s)];
    const limit = next !== undefined ? next.start : this.highData;
    return seqMin(seqAdd(s, mss), limit);
  }

  private unsackedWithin(start: number, end: number): number {
    const n = seqSub(end, start);
    return n > 0 ? n - this.sacked.countWithin(start, end) : 0;
  }

  /**
   * IsLost is monotone: the byte count and range count above a hole only grow as the hole
   * lies lower. Walking the ranges from the top, the first range at which either
   * threshold is met marks the boundary below which every unSACKed byte is lost.
   */
  private computeLostBelow(): void {
    const r = this.sacked.ranges;
    const { dupThresh } = this.options;
    const byteThresh = (dupThresh - 1) * this.mss;
    let bytes = 0;
    this.lostBelow = this.una;
    for (let k = r.length - 1; k >= 0; k--) {
      bytes += seqSub(r[k]!.end, r[k]!.start);
      if (bytes > byteThresh || r.length - k >= dupThresh) {
        this.lostBelow = r[k]!.start;
        return;
      }
    }
  }
}
