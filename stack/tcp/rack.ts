// RACK-TLP loss detection (RFC 8985), over the sender's SentSegments list.
//
// Per ACK, the sender does (RFC 8985 6.2):
//   1. RttEstimator.sample(...)                      -> min RTT (step 1)
//   2. sent.ackTo(ack, s => rack.onDelivered(...))   then, for each range the scoreboard
//      reports newly SACKed, sent.markSacked(r, s => rack.onDelivered(...))   (steps 2-3)
//   3. rack.updateReoWnd({...})                      (step 4, DSACK adaptation)
//   4. timeout = rack.detectLoss(sent, now, rack.reoWnd({...}), onLost)   (step 5)
//      and (re)arms the RACK reordering timer for `timeout` ms when it is not 0; when the
//      timer fires, detectLoss runs again.
// On RTO: rack.markLostOnRto (6.3). Tail loss probes: TailLossProbe below (7).
// All times are in the `now` clock (ms).
//
// RACK_sent_after (6.2) compares (xmit_ts, end_seq); here it compares transmission numbers
// (SentSegment.order), which give the exact order even when many segments, original and
// retransmitted, share one clock tick.

import type { SentSegment, SentSegments } from './sent-segments.js';
import { seqGeq, seqGt, seqLt, type SeqRange } from './seq.js';

// RFC 8985 6.2 step 4: the window multiplier persists for 16 recoveries after a DSACK.
const REO_WND_PERSIST = 16;

export class Rack {
  /** RACK.xmit_ts / RACK.end_seq: the most recently sent segment delivered so far. */
  xmitTs = -Infinity;
  endSeq = 0;
  /** Transmission number of that segment (-1: none delivered yet). */
  order = -1;
  /** RACK.rtt: the RTT of that segment. */
  rtt = 0;
  /** RACK.fack: the highest end sequence delivered; undefined before any delivery. */
  fack: number | undefined = undefined;
  reorderingSeen = false;
  reoWndMult = 1;
  reoWndPersist = 0;
  /** RACK.dsack_round: SND.NXT when the window last grew for a DSACK. */
  dsackRound: number | undefined = undefined;

  constructor(private readonly dupThresh: number) {}

  /**
   * Steps 2 and 3 for one newly delivered segment. `minRtt`: the windowed min RTT.
   * `echoedSendTime`: when present, the send time (in the `now` clock) of the segment
   * whose timestamp the ACK echoes (TSecr mapped back), to tell which copy was delivered.
   */
  onDelivered(seg: SentSegment, now: number, minRtt: number, echoedSendTime?: number): void {
    // Step 3: reordering is an in-order-sent segment delivered below the forward-most one.
    if (this.fack === undefined || seqGt(seg.endSeq, this.fack)) this.fack = seg.endSeq;
    else if (seqLt(seg.endSeq, this.fack) && !seg.retransmitted) this.reorderingSeen = true;
    // Step 2: skip ACKs that may be for the original of a retransmitted segment.
    const rtt = now - seg.xmitTs;
    if (seg.retransmitted) {
      if (echoedSendTime !== undefined && echoedSendTime < seg.xmitTs) return;
      if (rtt < minRtt) return;
    }
    // Pieces of one transmission (a super-segment split by SACK) share its number; within
    // it, bytes left in sequence order (RFC 8985's end_seq tie-break).
    if (seg.order > this.order || (seg.order === this.order && seqGt(seg.endSeq, this.endSeq))) {
      this.rtt = rtt;
      this.xmitTs = seg.xmitTs;
      this.endSeq = seg.endSeq;
      this.order = seg.order;
    }
  }

  /** Step 4 (RACK_update_reo_wnd): grow the window once per round that sees a DSACK. */
  updateReoWnd(e: { sndUna: number; sndNxt: number; dsack: boolean; exitingRecovery: boolean }): void {
    if (this.dsackRound !== undefined && seqGeq(e.sndUna, this.dsackRound)) this.dsackRound = undefined;
    if (this.dsackRound === undefined && e.dsack) {
      this.dsackRound = e.sndNxt;
      this.reoWndMult++;
      this.reoWndPersist = REO_WND_PERSIST;
    } else if (e.exitingRecovery && --this.reoWndPersist <= 0) {
      this.reoWndMult = 1;
    }
  }

  /** The reordering window now (RFC 8985 6.2 step 4). */
  reoWnd(e: { minRtt: number; srtt: number; inRecovery: boolean; sackedSegments: number }): number {
    if (!this.reorderingSeen && (e.inRecovery || e.sackedSegments >= this.dupThresh)) return 0;
    return Math.min((this.reoWndMult * e.minRtt) / 4, e.srtt);
  }

  /**
   * Step 5 (RACK_detect_loss): mark lost every segment sent before the most recently
   * delivered one and outstanding longer than RACK.rtt + reoWnd. Returns the time until
   * the next such segment could be marked (arm the RACK timer), or 0.
   */
  detectLoss(sent: SentSegments, now: number, reoWnd: number, onLost: (seg: SentSegment) => void): number {
    let timeout = 0;
    for (const seg of sent.inTimeOrder()) {
      if (seg.lost) continue;
      // Transmission order: once a segment was not sent before RACK's, neither were the rest.
      if (seg.order > this.order || (seg.order === this.order && !seqLt(seg.endSeq, this.endSeq))) break;
      const remaining = seg.xmitTs + this.rtt + reoWnd - now;
      if (remaining <= 0) {
        sent.markLost(seg);
        onLost(seg);
      } else {
        timeout = Math.max(timeout, remaining);
      }
    }
    return timeout;
  }

  /** RFC 8985 6.3: on RTO, the first unacked segment and every expired one are lost. */
  markLostOnRto(sent: SentSegments, now: number, reoWnd: number, onLost: (seg: SentSegment) => void): void {
    const first = sent.first;
    for (const seg of sent.inTimeOrder()) {
      if (seg.lost) continue;
      if (seg === first || seg.xmitTs + this.rtt + reoWnd - now <= 0) {
        sent.markLost(seg);
        onLost(seg);
      }
    }
  }
}

export type TlpProbe = 'new-data' | 'retransmit-last';

/**
 * Tail Loss Probe (RFC 8985 7). The sender arms the PTO instead of the RTO after sending
 * new data or on an ACK advancing SND.UNA, when it is not in recovery and SACK is on
 * (7.1); when the PTO fires and `canProbe`, it sends `probeKind(...)`, calls
 * `onProbeSent`, and re-arms the RTO (7.3). Each ACK goes through `onAck` (7.4).
 */
export class TailLossProbe {
  /** TLP.end_seq: SND.NXT when the outstanding probe was sent. */
  endSeq: number | undefined = undefined;
  /** TLP.is_retrans: the outstanding probe was a retransmission. */
  isRetrans = false;

  /**
   * RFC 8985 7.2: PTO = 2 SRTT (+ the peer's worst-case delayed-ACK time when a single
   * segment is in flight), 1 s without an RTT sample; never later than the RTO would fire.
   */
  static pto(e: { srttMs: number | undefined; flightSegments: number; maxAckDelayMs: number; rtoRemainingMs: number }): number {
    let pto = 1000;
    if (e.srttMs !== undefined) pto = 2 * e.srttMs + (e.flightSegments === 1 ? e.maxAckDelayMs : 0);
    return Math.min(pto, e.rtoRemainingMs);
  }

  /** One probe at a time: a new one only after the previous episode ended (7.3). */
  get canProbe(): boolean {
    return this.endSeq === undefined;
  }

  /** 7.3: new data if the window lets it go, else the highest segment again. */
  static probeKind(newDataSendable: boolean): TlpProbe {
    return newDataSendable ? 'new-data' : 'retransmit-last';
  }

  onProbeSent(sndNxt: number, isRetrans: boolean): void {
    this.endSeq = sndNxt;
    this.isRetrans = isRetrans;
  }

  /**
   * 7.4: an ACK at or past the probe ends the episode. Returns true when the probe
   * repaired a loss, in which case the sender MUST run the congestion response
   * (CongestionController.onCongestionEvent with kind 'tlp').
   */
  onAck(e: { ackNumber: number; dsack: SeqRange | undefined; hasSack: boolean; isDupAck: boolean }): boolean {
    const end = this.endSeq;
    if (end === undefined || seqLt(e.ackNumber, end)) return false;
    let repaired: boolean;
    if (!this.isRetrans) repaired = false; // a new-data probe: RACK sees any loss itself
    else if (e.dsack !== undefined && e.dsack.end === end) repaired = false; // both copies arrived
    else if (seqGt(e.ackNumber, end)) repaired = true;
    // A duplicate ACK at the probe's end without SACK: the original was lost.
    else if (e.isDupAck && !e.hasSack) repaired = true;
    else return false; // still ambiguous: the episode goes on
    this.endSeq = undefined;
    return repaired;
  }

  /** An RTO ends any probe episode. */
  reset(): void {
    this.endSeq = undefined;
    this.isRetrans = false;
  }
}
