// The one congestion-control interface of the stack. A TCP sender (and each MPTCP subflow)
// owns one CongestionController and reports events to it; the controller only keeps
// cwnd and ssthresh (bytes) and never sends anything itself.
//
// Split of duties (RFC 5681 / 6582 / 6675 / 8985):
// - Loss *detection* (dupthresh, SACK scoreboard, RACK-TLP) and loss *recovery* (which
//   segment to retransmit, RFC 6582 partial-ACK handling, RFC 6675 pipe, PRR pacing of
//   the recovery) belong to the sender. It calls `onCongestionEvent` once when a
//   recovery episode starts, `onRecoveryExit` when the recovery point is cumulatively
//   acknowledged, and keeps calling `onAck` throughout (the controller ignores growth
//   while in recovery: RFC 5681 3.2 step 6 / RFC 6675 5).
// - The controller decides the window: slow start, congestion avoidance, the
//   multiplicative decrease, the loss window after an RTO, undo after a spurious event.
//
// Coupled congestion control (MPTCP LIA RFC 6356, OLIA) reuses this interface per subflow:
// the coupled controller creates one NewReno per subflow with a CongestionAvoidanceIncrease
// that computes the coupled increase from all subflows' cwnd and RTT (RFC 6356 3), and
// wraps the instances to observe ACKs and losses (what OLIA needs); slow start, the
// halving on loss and the RTO response stay per subflow, as RFC 6356 3 prescribes.

import type { CongestionControlName } from '../../config.js';

export interface AckEvent {
  /** When the ACK arrived (ms). */
  now: number;
  /** Bytes newly delivered by this ACK, cumulatively or by SACK (RFC 3465 byte counting). */
  ackedBytes: number;
  /** Current sender MSS. */
  mss: number;
  /** Bytes in flight just before this ACK: shows whether cwnd was the limit (RFC 7661). */
  inFlight: number;
  /** Smoothed RTT (ms), undefined before the first sample. */
  srttMs: number | undefined;
  /** A valid (Karn-filtered or timestamp) RTT sample carried by this ACK. */
  rttSampleMs?: number | undefined;
  /** The ACK's cumulative acknowledgment number; with sndNxt it delimits rounds (RFC 9406 4.2). */
  ackNumber: number;
  /** SND.NXT when the ACK arrived. */
  sndNxt: number;
  /** The acked data was sent while the application had nothing more to send (RFC 7661): no growth. */
  appLimited?: boolean;
}

export interface CongestionEvent {
  now: number;
  mss: number;
  /** FlightSize (SND.NXT - SND.UNA) when the loss or mark was detected (RFC 5681 eq. 4). */
  flightSize: number;
  /** What detected it: DupThresh / SACK (RFC 6675), RACK (RFC 8985 6), a TLP-repaired loss (RFC 8985 7.4), an ECN echo (RFC 3168 6.1.2). */
  kind: 'fast-retransmit' | 'rack' | 'tlp' | 'ecn';
}

export interface TimeoutEvent {
  now: number;
  mss: number;
  flightSize: number;
  /** The timed-out segment had already been retransmitted by the timer: keep ssthresh (RFC 5681 3.1 after eq. 4). */
  repeated: boolean;
}

export interface IdleEvent {
  now: number;
  mss: number;
  /** Time since the last transmission (nothing was in flight meanwhile). */
  idleMs: number;
  /** Current RTO: RFC 5681 4.1 restarts from the initial window after an idle longer than this. */
  rtoMs: number;
}

export interface CongestionController {
  readonly name: CongestionControlName;
  /** Congestion window, bytes. */
  readonly cwnd: number;
  /** Slow-start threshold, bytes (Infinity until the first congestion event). */
  readonly ssthresh: number;
  readonly inSlowStart: boolean;
  /** Between onCongestionEvent and onRecoveryExit / onRetransmissionTimeout. */
  readonly inRecovery: boolean;
  onAck(e: AckEvent): void;
  /** Enter loss recovery (or ECN CWR): one window reduction per episode; repeated calls while in recovery are ignored. */
  onCongestionEvent(e: CongestionEvent): void;
  /** The recovery point was cumulatively acknowledged (RFC 6582 3.2 step 3, RFC 6675 5). */
  onRecoveryExit(now: number): void;
  /** The retransmission timer expired (RFC 5681 3.1, RFC 9438 4.8): loss window of one MSS. */
  onRetransmissionTimeout(e: TimeoutEvent): void;
  /** The last reduction was spurious (DSACK / Eifel / F-RTO, RFC 9438 4.9): restore the state before it. */
  onSpuriousCongestion(now: number): void;
  /** Data is sent after a period with nothing in flight (RFC 5681 4.1; CUBIC epoch shift). */
  onSendAfterIdle(e: IdleEvent): void;
  /** Pacing rate in bytes per ms for the given SRTT (Linux tcp_update_pacing_rate: 2x cwnd/srtt in slow start, 1.2x after). */
  pacingRate(srttMs: number): number;
}

/** What a coupled controller substitutes for a subflow's own congestion-avoidance increase. */
export interface CongestionAvoidanceIncrease {
  /** Bytes to add to this subflow's cwnd for `ackedBytes` acknowledged in congestion avoidance. */
  increase(e: { cwnd: number; ackedBytes: number; mss: number; srttMs: number | undefined }): number;
}
