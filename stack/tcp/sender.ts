// The send half of a connection (gVisor snd.go): the send sequence variables (RFC 9293
// 3.3.1), the send buffer, the segments in flight, and the decisions built on them:
// - what to transmit next: lost segments first (RFC 6675 5 / RFC 8985 6), then new data
//   under the send window, the congestion window (RFC 5681) and sender SWS avoidance with
//   Nagle (window.ts bytesToSend), then a FIN; segments leave as GSO super-segments of
//   whole MSS multiples;
// - ACK processing: window update (SND.WL1/WL2), SACK (sack-scoreboard.ts), RACK loss
//   detection (rack.ts), RTT samples with Karn (RFC 6298 3) or from timestamps (RFC 7323 4),
//   congestion-controller events, loss-recovery episodes (RFC 6675 5, RFC 6582) whose
//   sending is paced by Proportional Rate Reduction (RFC 6937, as Linux), and the undo of
//   reductions D-SACK shows were spurious (RFC 2883 4.2);
// - the retransmission timer family, one deadline each: RTO (RFC 6298), tail loss probe
//   (RFC 8985 7), RACK reordering timer (RFC 8985 6.2), persist (RFC 9293 3.8.6.1).
//
// Loss bookkeeping follows Linux: a segment is "lost" once a detector says so (RACK with
// SACK, RFC 6675 IsLost when RACK is off, DupThresh / NewReno partial ACKs without SACK,
// everything on RTO) and stays lost until retransmitted. pipe = outstanding - SACKed -
// lost (Linux tcp_packets_in_flight), kept by SentSegments.inFlight.

import type { TcpConfig } from '../config.js';
import type { CongestionController } from './congestion/controller.js';
import { Rack, TailLossProbe } from './rack.js';
import { RttEstimator } from './rto.js';
import { SackScoreboard } from './sack-scoreboard.js';
import { SendBuffer } from './send-buffer.js';
import { SentSegments, type SentSegment } from './sent-segments.js';
import { seqAdd, seqGeq, seqGt, seqLeq, seqLt, seqMin, seqSub, type SeqRange } from './seq.js';
import { bytesToSend } from './window.js';
import type { SegmentMapping } from './extension.js';

/** A segment the sender wants on the wire; reused, valid until the next call. */
export interface Transmission {
  seq: number;
  /** Payload bytes (a FIN, if any, follows them). */
  length: number;
  fin: boolean;
  retransmission: boolean;
  /** The record being retransmitted. */
  segment: SentSegment | undefined;
  /** A tail loss probe (RFC 8985 7.3): sent whatever cwnd says. */
  probe: boolean;
}

/** What one ACK did, for the connection. */
export interface AckOutcome {
  /** SND.UNA advanced. */
  advanced: boolean;
  /** Application bytes newly acknowledged (room opened in the send buffer). */
  dataAcked: number;
  /** Our FIN is acknowledged now. */
  finAcked: boolean;
}

/** 'cwr': a window reduction for an ECN echo (RFC 3168 6.1.2, Linux TCP_CA_CWR), paced by PRR like a recovery but retransmitting nothing. */
export type LossState = 'open' | 'cwr' | 'recovery' | 'loss';

type SenderConfig = Pick<
  TcpConfig,
  'minRtoMs' | 'maxRtoMs' | 'initialRtoMs' | 'clockGranularityMs' | 'minRttWindowMs' | 'dupThresh' | 'rackTlp' | 'maxAckDelayMs' | 'sackMaxRanges'
>;

/** A write's tag (writeMapped): the bytes [seq, seq + length) carry `tag`. */
interface Mark extends SegmentMapping {}

// RFC 9293 3.1 / RFC 791: a super-segment must stay within a 65535-byte IP packet; this
// leaves room for the largest IP (40) and TCP (60) headers.
const MAX_SUPER_PAYLOAD = 65535 - 40 - 60;

export class TcpSender {
  /** SND.UNA. */
  una: number;
  /** SND.NXT: one past the highest sequence number sent (never rewound, as in Linux). */
  nxt: number;
  /** SND.WND in bytes (scaled). */
  wnd = 0;
  wl1 = 0;
  wl2 = 0;
  /** The largest window the peer offered (Max(SND.WND), RFC 1122 4.2.3.4; RFC 5961 5.2 MAX.SND.WND). */
  maxWnd = 0;
  /** The peer's window shift (RFC 7323 2.3), 0 without scaling. */
  scale = 0;
  /** Effective send MSS: payload bytes of a full segment with our usual options. */
  mss: number;
  readonly buffer: SendBuffer;
  /** Sequence number of the send buffer's first byte. */
  bufferSeq: number;
  /** The application called end(): a FIN follows the data. */
  finQueued = false;
  /** The sequence number our FIN has (set with finQueued). */
  finSeq = 0;
  finSent = false;
  nagle = true;
  readonly sent = new SentSegments();
  scoreboard: SackScoreboard | undefined = undefined;
  readonly rack: Rack;
  readonly tlp = new TailLossProbe();
  readonly rtt: RttEstimator;
  lossState: LossState = 'open';
  /** SND.NXT when the current recovery or loss episode began. */
  recoverySeq = 0;
  /** Duplicate ACKs in a row (connections without SACK). */
  dupAcks = 0;
  // RFC 6937 state of the current recovery: bytes delivered and sent since it began, the
  // flight size then, and what may be sent until the next ACK.
  private prrDelivered = 0;
  private prrOut = 0;
  private recoverFs = 0;
  private prrBudget = 0;
  rtoDeadline: number | undefined = undefined;
  ptoDeadline: number | undefined = undefined;
  rackDeadline: number | undefined = undefined;
  persistDeadline: number | undefined = undefined;
  /** Consecutive RTO expirations without progress (RFC 1122 4.2.3.5 R2). */
  rtoCount = 0;
  /** Zero-window probes without any ACK in answer (RFC 9293 3.8.6.1; Linux icsk_probes_out). */
  persistProbes = 0;
  /** Zero-window probes since the window closed: the persist interval backs off with it. */
  private persistBackoff = 0;
  /**
   * Bytes retransmitted since the last window reduction and not yet reported as
   * duplicates by D-SACK; when D-SACKs account for all of them, every retransmission was
   * spurious and the reduction is undone (RFC 2883 4.2, Linux tcp_try_undo_dsack).
   * undefined when nothing can be undone.
   */
  private undoBytes: number | undefined = undefined;
  /** SND.UNA when the reduction happened: D-SACKs below it are about older episodes. */
  private undoMarker = 0;
  /** Counters for stats(). */
  retransmittedBytes = 0;
  spuriousRecoveries = 0;
  timeouts = 0;
  fastRecoveries = 0;
  tailLossProbes = 0;
  /** Window reductions (loss recoveries and ECN echoes) so far: each owes the peer a CWR when ECN is on (ecn.ts). */
  windowReductions = 0;
  private lastSendTime: number | undefined = undefined;
  /** End of the last segment shorter than the MSS (Minshall's Nagle variant, Linux snd_sml). */
  private lastSmallEnd: number;
  /** writeMapped() tags, created on first use. */
  private marks: Mark[] | undefined = undefined;
  private marksHead = 0;
  // Scratch state of the ACK being processed.
  private ackTime = 0;
  private ackEchoTime: number | undefined = undefined;
  private newestDeliveredTs = -Infinity;
  private newLosses = false;

  constructor(
    private readonly config: SenderConfig,
    iss: number,
    mss: number,
    sendBufferBytes: number,
    public cc: CongestionController,
  ) {
    this.una = iss;
    this.nxt = seqAdd(iss, 1);
    this.bufferSeq = seqAdd(iss, 1);
    this.lastSmallEnd = iss;
    this.mss = mss;
    this.buffer = new SendBuffer(sendBufferBytes);
    this.rack = new Rack(config.dupThresh);
    this.rtt = new RttEstimator(config);
  }

  /** The handshake is over: SND.UNA = ISS + 1, options agreed. */
  establish(una: number, sack: boolean): void {
    this.una = una;
    if (sack) this.scoreboard = new SackScoreboard(una, this.mss, { dupThresh: this.config.dupThresh, maxRanges: this.config.sackMaxRanges });
  }

  setMss(mss: number): void {
    this.mss = mss;
    if (this.scoreboard) this.scoreboard.mss = mss;
  }

  // ---- application side ------------------------------------------------------------------

  /**
   * Queues up to the buffer's room of `data` (one array, or several making one write: one
   * tag, no copy to join them); returns the bytes taken.
   */
  write(data: Uint8Array | readonly Uint8Array[], tag?: number): number {
    const start = seqAdd(this.bufferSeq, this.buffer.length);
    let n: number;
    if (data instanceof Uint8Array) {
      n = Math.min(data.length, this.buffer.room);
      if (n === 0) return 0;
      this.buffer.append(n === data.length ? data : data.subarray(0, n));
    } else {
      const room = this.buffer.room;
      n = 0;
      for (let i = 0; i < data.length && n < room; i++) {
        const part = data[i]!;
        const take = Math.min(part.length, room - n);
        this.buffer.append(take === part.length ? part : part.subarray(0, take));
        n += take;
      }
      if (n === 0) return 0;
    }
    if (tag !== undefined) {
      const marks = (this.marks ??= []);
      const last = marks.length > this.marksHead ? marks[marks.length - 1]! : undefined;
      // The same tag right after its last bytes: the extension lengthened that write's mapping.
      if (last && last.tag === tag && seqAdd(last.seq, last.length) === start) last.length += n;
      else marks.push({ tag, seq: start, length: n });
    }
    return n;
  }

  /** end(): the FIN takes the sequence number after the last byte written. */
  queueFin(): void {
    if (this.finQueued) return;
    this.finQueued = true;
    this.finSeq = seqAdd(this.bufferSeq, this.buffer.length);
  }

  /** The mapping (writeMapped tag) of the byte at `seq`, if any. */
  mappingAt(seq: number): SegmentMapping | undefined {
    const marks = this.marks;
    if (marks === undefined) return undefined;
    for (let i = this.marksHead; i < marks.length; i++) {
      const m = marks[i]!;
      if (seqLt(seq, m.seq)) return undefined;
      if (seqLt(seq, seqAdd(m.seq, m.length))) return m;
    }
    return undefined;
  }

  // ---- state -----------------------------------------------------------------------------

  /** Bytes written and not yet sent. */
  get unsent(): number {
    const sentData = seqSub(this.finSent ? this.finSeq : this.nxt, this.bufferSeq);
    return this.buffer.length - Math.max(sentData, 0);
  }

  /** Sequence space outstanding (SND.NXT - SND.UNA). */
  get outstanding(): number {
    return seqSub(this.nxt, this.una);
  }

  /**
   * FlightSize for the multiplicative decrease (RFC 5681 eq. 4): outstanding data, but not
   * more than cwnd. SACKed data above a hole stays "outstanding" and would otherwise make
   * ssthresh exceed the window that caused the loss (Linux reduces from cwnd).
   */
  private flightSize(): number {
    return Math.min(this.outstanding, this.cc.cwnd);
  }

  /** RFC 6675 pipe / Linux packets_in_flight, in bytes. */
  pipe(): number {
    return this.sent.inFlight;
  }

  /** Bytes in segments marked lost and not retransmitted since. */
  get lostBytes(): number {
    return this.outstanding - (this.scoreboard?.sackedBytes ?? 0) - this.sent.inFlight;
  }

  /** Our FIN was sent and acknowledged. */
  get finAcked(): boolean {
    return this.finSent && seqGt(this.una, this.finSeq);
  }

  /** Earliest of the transmit-side timers. */
  get deadline(): number | undefined {
    return minDefined(minDefined(this.rtoDeadline, this.ptoDeadline), minDefined(this.rackDeadline, this.persistDeadline));
  }

  // ---- transmission ----------------------------------------------------------------------

  /**
   * The next segment to send now, or undefined. After sending it, call onTransmitted.
   * `maxPayload`: the most payload one (super-)segment may carry (GSO off: one MSS).
   */
  next(now: number, maxPayload: number): Transmission | undefined {
    const mss = this.mss;
    const pipe = this.pipe();
    // In recovery PRR decides how much may go (RFC 6937); otherwise cwnd - pipe (RFC 5681).
    const cwndRoom = this.reducing ? this.prrBudget : this.cc.cwnd - pipe;
    const tx = TX;
    tx.probe = false;
    if (this.lostBytes > 0) {
      if (cwndRoom <= 0) return undefined;
      const seg = this.sent.firstLost();
      if (seg !== undefined) {
        const room = Math.max(cwndRoom, mss);
        const limit = Math.min(maxPayload, Math.ceil(room / mss) * mss);
        if (seqSub(seg.endSeq, seg.startSeq) > limit) this.sent.splitAt(seqAdd(seg.startSeq, limit));
        return this.retransmission(seg);
      }
    }
    const unsent = this.unsent;
    const sndRoom = Math.max(seqSub(seqAdd(this.una, this.wnd), this.nxt), 0);
    const usable = Math.min(sndRoom, Math.max(cwndRoom, 0));
    if (unsent > 0) {
      let n = bytesToSend({
        queued: unsent,
        usable,
        mss,
        maxSndWnd: this.maxWnd,
        unacked: seqGt(this.lastSmallEnd, this.una),
        nagle: this.nagle,
      });
      if (n > 0) {
        if (n >= mss) {
          n = Math.min(unsent, usable, maxPayload, MAX_SUPER_PAYLOAD);
          // Whole segments only, unless this empties the buffer (RFC 1122 4.2.3.4).
          if (n < unsent && n > mss) n -= n % mss;
        }
        n = this.clipToMapping(this.nxt, n);
        if (this.lastSendTime !== undefined && this.outstanding === 0 && now - this.lastSendTime > this.rtt.rto) {
          this.cc.onSendAfterIdle({ now, mss, idleMs: now - this.lastSendTime, rtoMs: this.rtt.rto });
        }
        tx.seq = this.nxt;
        tx.length = n;
        tx.fin = this.finQueued && n === unsent;
        tx.retransmission = false;
        tx.segment = undefined;
        return tx;
      }
    }
    // Linux tcp_cwnd_test: the final FIN is not held back by the congestion window.
    if (this.finQueued && !this.finSent && unsent === 0) {
      tx.seq = this.nxt;
      tx.length = 0;
      tx.fin = true;
      tx.retransmission = false;
      tx.segment = undefined;
      return tx;
    }
    return undefined;
  }

  /** `tx` (from next() or a timer) left at `now`. */
  onTransmitted(tx: Transmission, now: number): void {
    const end = seqAdd(tx.seq, tx.length + (tx.fin ? 1 : 0));
    if (tx.retransmission && tx.segment !== undefined) {
      this.sent.onRetransmitted(tx.segment, now);
      this.retransmittedBytes += tx.length;
      if (this.undoBytes !== undefined) this.undoBytes += seqSub(tx.segment.endSeq, tx.segment.startSeq);
    } else {
      this.sent.onSent(tx.seq, end, now);
      this.scoreboard?.onSent(end);
      this.nxt = end;
      if (tx.fin) this.finSent = true;
      if (tx.length > 0 && tx.length < this.mss) this.lastSmallEnd = end;
    }
    if (this.reducing) {
      const sent = seqSub(end, tx.seq);
      this.prrOut += sent;
      this.prrBudget -= sent;
    }
    this.lastSendTime = now;
    this.persistDeadline = undefined;
    // RFC 6298 5.1: start the timer if it is not running.
    this.rtoDeadline ??= now + this.rtt.rto;
    if (!tx.retransmission && !tx.probe) this.armPto(now);
  }

  private retransmission(seg: SentSegment): Transmission {
    const tx = TX;
    const fin = this.finSent && seg.endSeq === seqAdd(this.finSeq, 1);
    tx.seq = seg.startSeq;
    tx.length = seqSub(seg.endSeq, seg.startSeq) - (fin ? 1 : 0);
    tx.fin = fin;
    tx.retransmission = true;
    tx.segment = seg;
    return tx;
  }

  /** A segment must not carry bytes of two writeMapped() tags, nor tagged and untagged bytes. */
  private clipToMapping(seq: number, n: number): number {
    const marks = this.marks;
    if (marks === undefined || this.marksHead === marks.length) return n;
    const end = seqAdd(seq, n);
    for (let i = this.marksHead; i < marks.length; i++) {
      const m = marks[i]!;
      const mEnd = seqAdd(m.seq, m.length);
      if (seqLeq(mEnd, seq)) continue;
      if (seqGt(m.seq, seq)) return seqLt(m.seq, end) ? seqSub(m.seq, seq) : n;
      return seqLt(mEnd, end) ? seqSub(mEnd, seq) : n;
    }
    return n;
  }

  // ---- ACK processing --------------------------------------------------------------------

  /**
   * An acceptable ACK (SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT, RFC 5961 5.2) with its
   * window field and SACK blocks; `echoRtt` is the timestamp-echo RTT when the segment
   * carried one, `echoSendTime` the send time of the echoed segment.
   */
  onAck(
    now: number,
    seq: number,
    ack: number,
    windowField: number,
    sackBlocks: readonly SeqRange[],
    echoRtt: number | undefined,
    echoSendTime: number | undefined,
    isPureAck: boolean,
    out: AckOutcome,
  ): void {
    out.advanced = false;
    out.dataAcked = 0;
    out.finAcked = false;
    // Linux tcp_ack: any acceptable ACK shows the peer is alive; probing goes on unanswered only.
    this.persistProbes = 0;
    const wasFinAcked = this.finAcked;
    const window = windowField * 2 ** this.scale;
    const windowChanged = window !== this.wnd;
    // RFC 9293 3.10.7.4 fifth check: take the window from the newest segment only.
    if (seqLt(this.wl1, seq) || (this.wl1 === seq && seqLeq(this.wl2, ack))) {
      this.wnd = window;
      this.wl1 = seq;
      this.wl2 = ack;
      if (window > this.maxWnd) this.maxWnd = window;
    }
    const inFlightBefore = this.pipe();
    this.ackTime = now;
    this.ackEchoTime = echoSendTime;
    this.newestDeliveredTs = -Infinity;
    this.newLosses = false;
    const advanced = seqGt(ack, this.una);
    const sb = this.scoreboard;
    const update = sb?.update(ack, sackBlocks);
    let delivered = 0;
    if (advanced) {
      delivered = update ? update.deliveredBytes : seqSub(ack, this.una);
      this.sent.ackTo(ack, this.onDelivered);
      const dataEnd = this.finSent ? this.finSeq : this.nxt;
      const dataAcked = Math.min(seqSub(seqMin(ack, dataEnd), this.bufferSeq), this.buffer.length);
      if (dataAcked > 0) {
        this.buffer.release(dataAcked);
        this.bufferSeq = seqAdd(this.bufferSeq, dataAcked);
        this.pruneMarks();
      }
      this.una = ack;
      out.advanced = true;
      out.dataAcked = Math.max(dataAcked, 0);
      this.rtoCount = 0;
    } else if (update) {
      delivered = update.deliveredBytes;
    }
    if (update) {
      for (const r of update.newlySacked) this.sent.markSacked(r, this.onDelivered);
    }
    // RTT: the newest segment delivered that was sent once (Karn, RFC 6298 3), else the
    // timestamp echo of an ACK that advanced SND.UNA (RFC 7323 4.1).
    let rttSample: number | undefined;
    if (this.newestDeliveredTs > -Infinity) rttSample = now - this.newestDeliveredTs;
    else if (advanced && echoRtt !== undefined) rttSample = echoRtt;
    if (rttSample !== undefined) this.rtt.sample(now, rttSample);

    this.detectLosses(now, advanced, isPureAck && !windowChanged, update?.dsack !== undefined, sb !== undefined);

    if (update?.dsack !== undefined) this.onDsack(now, update.dsack);
    // RFC 6937 / RFC 6675: without SACK, each duplicate ACK stands for one delivered segment.
    if (this.reducing) this.prrOnAck(delivered === 0 && !sb && !advanced && isPureAck ? this.mss : delivered);
    // TLP episode (RFC 8985 7.4).
    if (this.tlp.endSeq !== undefined) {
      const repaired = this.tlp.onAck({ ackNumber: ack, dsack: update?.dsack, hasSack: sackBlocks.length > 0, isDupAck: !advanced && isPureAck });
      if (repaired) this.enterRecovery(now, 'tlp');
    }
    // CWR ends only above the recovery point: the segment there carried our CWR (ecn.ts), and
    // the ECEs sent before it arrived are not a new signal (Linux tcp_fastretrans_alert).
    const ended = this.lossState === 'cwr' ? seqGt(this.una, this.recoverySeq) : seqGeq(this.una, this.recoverySeq);
    if (this.lossState !== 'open' && ended && this.lostBytes === 0) {
      if (this.reducing) this.cc.onRecoveryExit(now);
      this.lossState = 'open';
    }
    if (delivered > 0) {
      this.cc.onAck({
        now,
        ackedBytes: delivered,
        mss: this.mss,
        inFlight: inFlightBefore,
        srttMs: this.rtt.srtt,
        rttSampleMs: rttSample,
        ackNumber: ack,
        sndNxt: this.nxt,
        appLimited: this.unsent === 0 && inFlightBefore < this.cc.cwnd,
      });
    }
    // RFC 6298 5.2 / 5.3: stop the timer when all is acknowledged, else restart it.
    if (advanced) {
      if (this.outstanding === 0) {
        this.rtoDeadline = undefined;
        this.ptoDeadline = undefined;
      } else {
        this.rtoDeadline = now + this.rtt.rto;
        this.armPto(now);
      }
    }
    out.finAcked = !wasFinAcked && this.finAcked;
  }

  /** Marks what the loss detectors now deem lost and starts a recovery episode for it. */
  private detectLosses(now: number, advanced: boolean, dupAckCandidate: boolean, dsack: boolean, sack: boolean): void {
    if (this.sent.size === 0) {
      this.rackDeadline = undefined;
      return;
    }
    if (sack && this.config.rackTlp) {
      const exiting = this.lossState === 'recovery' && seqGeq(this.una, this.recoverySeq);
      this.rack.updateReoWnd({ sndUna: this.una, sndNxt: this.nxt, dsack, exitingRecovery: exiting });
      const timeout = this.rack.detectLoss(this.sent, now, this.reoWnd(), this.onLost);
      this.rackDeadline = timeout > 0 ? now + timeout : undefined;
    } else if (sack) {
      // RFC 6675 IsLost: unSACKed segments below enough SACKed data.
      const sb = this.scoreboard!;
      for (const seg of this.sent.inSeqOrder()) {
        if (!sb.isLost(seg.startSeq)) break;
        if (seg.sacked || seg.lost || (seg.retransmitted && this.lossState !== 'open')) continue;
        this.sent.markLost(seg);
        this.onLost();
      }
    } else {
      this.newRenoLoss(advanced, dupAckCandidate);
    }
    if (this.newLosses && (this.lossState === 'open' || this.lossState === 'cwr')) this.enterRecovery(now, sack && this.config.rackTlp ? 'rack' : 'fast-retransmit');
  }

  /** RFC 5681 3.2 / RFC 6582 for a peer without SACK: DupThresh duplicate ACKs, then partial ACKs. */
  private newRenoLoss(advanced: boolean, dupAckCandidate: boolean): void {
    if (advanced) {
      this.dupAcks = 0;
      // RFC 6582 3.2 step 5: a partial ACK in recovery: the next hole is lost too.
      if (this.lossState === 'recovery' && seqLt(this.una, this.recoverySeq)) this.markHeadLost();
      return;
    }
    if (!dupAckCandidate || this.outstanding === 0) return;
    if (++this.dupAcks === this.config.dupThresh && (this.lossState === 'open' || this.lossState === 'cwr')) this.markHeadLost();
  }

  private markHeadLost(): void {
    const first = this.sent.first;
    if (first === undefined || first.lost) return;
    if (seqSub(first.endSeq, first.startSeq) > this.mss) this.sent.splitAt(seqAdd(first.startSeq, this.mss));
    this.sent.markLost(this.sent.first!);
    this.onLost();
  }

  private enterRecovery(now: number, kind: 'fast-retransmit' | 'rack' | 'tlp'): void {
    const wasCwr = this.lossState === 'cwr';
    if (this.lossState !== 'open' && !wasCwr) return;
    this.lossState = 'recovery';
    this.recoverySeq = this.nxt;
    this.fastRecoveries++;
    // A loss during an ECN reduction continues it (Linux tcp_enter_recovery inside a cwnd
    // reduction): no second decrease, and nothing to undo.
    if (wasCwr) {
      this.prrBudget = Math.max(this.prrBudget, this.mss);
      return;
    }
    this.startReduction();
    this.startUndo();
    this.cc.onCongestionEvent({ now, mss: this.mss, flightSize: this.flightSize(), kind });
  }

  /**
   * An ACK carried ECE (RFC 3168 6.1.2, Linux tcp_enter_cwr): the window is reduced as for a
   * loss, at most once per window of data (until SND.UNA passes what was sent now), and
   * nothing is retransmitted. False when a reduction is already under way.
   */
  onEcnEcho(now: number): boolean {
    if (this.lossState !== 'open') return false;
    this.lossState = 'cwr';
    this.recoverySeq = this.nxt;
    this.startReduction();
    // Marks are not losses: a D-SACK cannot show this reduction spurious.
    this.undoBytes = undefined;
    this.cc.onCongestionEvent({ now, mss: this.mss, flightSize: this.flightSize(), kind: 'ecn' });
    return true;
  }

  /** PRR state at the start of a reduction (RFC 6937 3). */
  private startReduction(): void {
    this.windowReductions++;
    this.prrDelivered = this.prrOut = 0;
    // One segment may go at once (a RACK timer starts recovery with no ACK to clock it).
    this.prrBudget = this.mss;
    this.recoverFs = this.outstanding;
  }

  /** A reduction paced by PRR is under way: loss recovery or ECN CWR. */
  private get reducing(): boolean {
    return this.lossState === 'recovery' || this.lossState === 'cwr';
  }

  /**
   * RFC 6937 3: on each ACK in recovery, send in proportion to what was delivered while
   * the flight is above ssthresh, and catch up by slow start (the SSRB bound) below it.
   */
  private prrOnAck(delivered: number): void {
    this.prrDelivered += delivered;
    const pipe = this.pipe();
    const ssthresh = this.cc.ssthresh;
    let sndcnt: number;
    if (pipe > ssthresh) {
      sndcnt = Math.ceil((this.prrDelivered * ssthresh) / Math.max(this.recoverFs, 1)) - this.prrOut;
    } else {
      const limit = Math.max(this.prrDelivered - this.prrOut, delivered) + this.mss;
      sndcnt = Math.min(ssthresh - pipe, limit);
    }
    // The retransmission that starts the recovery always goes (Linux tcp_cwnd_reduction).
    if (this.prrOut === 0) sndcnt = Math.max(sndcnt, this.mss);
    this.prrBudget = Math.max(sndcnt, 0);
  }

  private startUndo(): void {
    this.undoBytes = 0;
    this.undoMarker = this.una;
  }

  /** A D-SACK reported `r` received twice: if all retransmissions since the reduction were needless, undo it. */
  private onDsack(now: number, r: SeqRange): void {
    if (this.undoBytes === undefined || seqLt(r.start, this.undoMarker)) return;
    this.undoBytes -= seqSub(r.end, r.start);
    if (this.undoBytes > 0) return;
    this.undoBytes = undefined;
    this.spuriousRecoveries++;
    this.cc.onSpuriousCongestion(now);
    if (this.lossState !== 'open' && this.lostBytes === 0) this.lossState = 'open';
  }

  private reoWnd(): number {
    return this.rack.reoWnd({
      minRtt: this.rtt.minRtt.value === Infinity ? 0 : this.rtt.minRtt.value,
      srtt: this.rtt.srtt ?? 0,
      inRecovery: this.lossState === 'recovery' || this.lossState === 'loss',
      sackedSegments: Math.ceil((this.scoreboard?.sackedBytes ?? 0) / this.mss),
    });
  }

  private pruneMarks(): void {
    const marks = this.marks;
    if (marks === undefined) return;
    while (this.marksHead < marks.length && seqLeq(seqAdd(marks[this.marksHead]!.seq, marks[this.marksHead]!.length), this.bufferSeq)) {
      this.marksHead++;
    }
    if (this.marksHead === marks.length) marks.length = this.marksHead = 0;
    else if (this.marksHead > 64 && this.marksHead * 2 > marks.length) {
      marks.splice(0, this.marksHead);
      this.marksHead = 0;
    }
  }

  /** A segment was delivered (cumulatively or by SACK): RACK steps 2-3, RTT candidate. */
  delivered(seg: SentSegment): void {
    this.rack.onDelivered(seg, this.ackTime, this.rtt.minRtt.value, this.ackEchoTime);
    if (!seg.retransmitted && seg.xmitTs > this.newestDeliveredTs) this.newestDeliveredTs = seg.xmitTs;
  }

  /** A detector marked a segment lost. */
  lost(): void {
    this.newLosses = true;
  }

  /** Callbacks for SentSegments and Rack that reach this sender without a closure of its own. */
  private get onDelivered(): (seg: SentSegment) => void {
    current = this;
    return deliveredToCurrent;
  }

  private get onLost(): () => void {
    current = this;
    return lostToCurrent;
  }

  // ---- timers ----------------------------------------------------------------------------

  /** RFC 8985 7.2: a probe timeout replaces the RTO while no recovery runs and SACK is on. */
  private armPto(now: number): void {
    this.ptoDeadline = undefined;
    if (!this.config.rackTlp || this.scoreboard === undefined || (this.lossState !== 'open' && this.lossState !== 'cwr') || !this.tlp.canProbe) return;
    if (this.rtoDeadline === undefined || this.outstanding === 0) return;
    const flightSegments = Math.ceil(this.outstanding / this.mss);
    let pto = TailLossProbe.pto({ srttMs: this.rtt.srtt, flightSegments, maxAckDelayMs: this.config.maxAckDelayMs, rtoRemainingMs: Infinity });
    // Linux tcp_schedule_loss_probe adds TCP_TIMEOUT_MIN (two clock ticks) to 2 SRTT: at
    // sub-millisecond RTTs (a TUN on the same machine) ACK scheduling jitter alone exceeds
    // 2 SRTT, and every probe would be spurious.
    if (flightSegments > 1) pto += 2 * this.config.clockGranularityMs;
    this.ptoDeadline = now + Math.min(pto, this.rtoDeadline - now);
  }

  /** The RACK reordering timer fired (RFC 8985 6.2 step 5 again). */
  onRackTimeout(now: number): void {
    this.rackDeadline = undefined;
    this.newLosses = false;
    const timeout = this.rack.detectLoss(this.sent, now, this.reoWnd(), this.onLost);
    this.rackDeadline = timeout > 0 ? now + timeout : undefined;
    if (this.newLosses) this.enterRecovery(now, 'rack');
  }

  /**
   * The probe timeout fired (RFC 8985 7.3): the probe to send (new data if the windows
   * allow, else the last segment's last MSS), or undefined when no probe is due.
   */
  onPtoTimeout(now: number, maxPayload: number): Transmission | undefined {
    this.ptoDeadline = undefined;
    if (!this.tlp.canProbe || this.outstanding === 0) return undefined;
    const newData = this.unsent > 0 && seqSub(seqAdd(this.una, this.wnd), this.nxt) > 0;
    let tx: Transmission | undefined;
    if (TailLossProbe.probeKind(newData) === 'new-data') {
      const n = this.clipToMapping(this.nxt, Math.min(this.unsent, this.mss, maxPayload, seqSub(seqAdd(this.una, this.wnd), this.nxt)));
      tx = TX;
      tx.seq = this.nxt;
      tx.length = n;
      tx.fin = this.finQueued && n === this.unsent;
      tx.retransmission = false;
      tx.segment = undefined;
    } else {
      const last = this.sent.last;
      if (last === undefined || last.sacked) return undefined;
      if (seqSub(last.endSeq, last.startSeq) > this.mss) this.sent.splitAt(seqAdd(last.endSeq, -this.mss));
      tx = this.retransmission(this.sent.last!);
    }
    tx.probe = true;
    this.tlp.onProbeSent(tx.retransmission ? this.nxt : seqAdd(this.nxt, tx.length + (tx.fin ? 1 : 0)), tx.retransmission);
    this.tailLossProbes++;
    // RFC 8985 7.3: after the probe, the RTO takes over.
    this.rtoDeadline = now + this.rtt.rto;
    return tx;
  }

  /**
   * The retransmission timer fired (RFC 6298 5.4-5.7, RFC 5681 3.1, RFC 6675 5.1, RFC 8985
   * 6.3): back off, collapse cwnd, mark lost, and re-arm. Returns false when the
   * retransmission limit is exceeded (the connection must abort with ETIMEDOUT).
   */
  onRtoTimeout(now: number, maxRetries: number): boolean {
    this.rtoDeadline = undefined;
    if (this.outstanding === 0) return true;
    if (++this.rtoCount > maxRetries) return false;
    this.timeouts++;
    const first = this.sent.first;
    this.cc.onRetransmissionTimeout({ now, mss: this.mss, flightSize: this.flightSize(), repeated: this.lossState === 'loss' && first?.retransmitted === true });
    this.rtt.backoff();
    this.scoreboard?.onRetransmissionTimeout();
    this.tlp.reset();
    this.ptoDeadline = undefined;
    this.rackDeadline = undefined;
    if (this.scoreboard && this.config.rackTlp) {
      this.rack.markLostOnRto(this.sent, now, this.reoWnd(), this.onLost);
    } else {
      for (const seg of this.sent.inSeqOrder()) this.sent.markLost(seg);
    }
    // A second timeout in a row is no longer a candidate for undo.
    if (this.lossState !== 'loss') this.startUndo();
    else this.undoBytes = undefined;
    this.lossState = 'loss';
    this.recoverySeq = this.nxt;
    this.dupAcks = 0;
    // RFC 6298 5.5-5.6: the backed-off RTO for the retransmission about to leave.
    this.rtoDeadline = now + this.rtt.rto;
    return true;
  }

  /** Whether sending is stalled by the peer's window with nothing in flight (the persist condition). */
  windowBlocked(): boolean {
    return this.unsent > 0 && this.outstanding === 0 && seqSub(seqAdd(this.una, this.wnd), this.nxt) < Math.min(this.unsent, this.mss);
  }

  /** Arms the persist timer if the window blocks us (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17). */
  updatePersist(now: number): void {
    if (!this.windowBlocked()) {
      this.persistDeadline = undefined;
      this.persistBackoff = 0;
      return;
    }
    this.persistDeadline ??= now + Math.min(this.rtt.rto * 2 ** Math.min(this.persistBackoff, 16), this.config.maxRtoMs);
  }

  /** The persist timer fired: the caller sends a probe; false once maxProbes went unanswered. */
  onPersistTimeout(maxProbes: number): boolean {
    this.persistDeadline = undefined;
    this.persistBackoff++;
    return ++this.persistProbes <= maxProbes;
  }

  /**
   * The path MTU went down (RFC 1191 / 8201, Linux tcp_simple_retransmit): segments larger
   * than the new MSS are lost (the network dropped them) and go again, cut to the new
   * size, without a congestion response.
   */
  onMtuReduced(mss: number): void {
    this.setMss(mss);
    for (const seg of this.sent.inSeqOrder()) {
      if (seqSub(seg.endSeq, seg.startSeq) > mss) this.sent.markLost(seg);
    }
  }
}

// Processing is synchronous, so one Transmission and one pair of callbacks (aimed at the
// sender being worked on) serve every connection: an idle connection carries none.
const TX: Transmission = { seq: 0, length: 0, fin: false, retransmission: false, segment: undefined, probe: false };
let current: TcpSender | undefined;
function deliveredToCurrent(seg: SentSegment): void {
  current!.delivered(seg);
}
function lostToCurrent(): void {
  current!.lost();
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}
