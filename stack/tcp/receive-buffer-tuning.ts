// Receive-buffer auto-tuning, after Linux tcp_rcv_space_adjust (net/ipv4/tcp_input.c):
// once per receiver RTT, compare the bytes the application consumed with the previous
// measurement; when it grew, size the buffer for twice the delivery per RTT plus room for
// the sender's growth, up to the configured maximum. The buffer never shrinks (a shrink
// would shrink the window, RFC 9293 3.8.6.2.2).
//
// The receiver's RTT comes from ReceiverRtt: from timestamp echoes when the connection has
// them (Linux tcp_rcv_rtt_measure_ts), else from the time RCV.NXT takes to cross one
// advertised window (Linux tcp_rcv_rtt_measure), an upper bound, so the smaller wins.

import { seqGeq, seqAdd } from './seq.js';

export class ReceiverRtt {
  /** Current estimate (ms), undefined until measured. */
  rttMs: number | undefined = undefined;
  private markSeq: number | undefined = undefined;
  private markTime = 0;

  /** RCV.NXT advanced at `now` with window `rcvWnd` advertised: the window-crossing measurement. */
  onAdvance(now: number, rcvNxt: number, rcvWnd: number): void {
    if (this.markSeq !== undefined && seqGeq(rcvNxt, this.markSeq)) {
      const sample = now - this.markTime;
      if (sample > 0) this.rttMs = this.rttMs === undefined ? sample : Math.min(this.rttMs, sample);
      this.markSeq = undefined;
    }
    if (this.markSeq === undefined && rcvWnd > 0) {
      this.markSeq = seqAdd(rcvNxt, rcvWnd);
      this.markTime = now;
    }
  }

  /** A timestamp-echo RTT sample (now - TSecr in our clock), smoothed with gain 1/8. */
  onTimestampSample(sampleMs: number): void {
    if (sampleMs <= 0) return;
    this.rttMs = this.rttMs === undefined ? sampleMs : this.rttMs + (sampleMs - this.rttMs) / 8;
  }
}

export interface TunerOptions {
  /** Initial buffer (bytes). */
  initial: number;
  /** Largest buffer auto-tuning may reach. */
  max: number;
  /** Our advertised MSS. */
  mss: number;
  /** Initial congestion window of the peer, segments (Linux assumes TCP_INIT_CWND = 10). */
  initialCwndSegments: number;
}

export class ReceiveBufferTuner {
  /** The receive buffer size the window is computed from. */
  size: number;
  /** Bytes consumed during the last measured RTT (Linux rcvq_space.space). */
  private space: number;
  private consumed = 0;
  private since: number | undefined = undefined;

  constructor(private readonly options: TunerOptions) {
    this.size = options.initial;
    this.space = Math.min(options.initial, options.initialCwndSegments * options.mss);
  }

  /** The application consumed `bytes` at `now`. Returns true when the buffer grew. */
  onConsumed(now: number, bytes: number, rttMs: number | undefined): boolean {
    this.consumed += bytes;
    if (this.since === undefined) {
      this.since = now;
      return false;
    }
    if (rttMs === undefined || now - this.since < rttMs) return false;
    const copied = this.consumed;
    this.consumed = 0;
    this.since = now;
    if (copied <= this.space) return false;
    // Twice the per-RTT delivery covers a loss recovery; 16 segments of slack; and the
    // growth since the last RTT is assumed to continue for two more (slow start).
    let win = 2 * copied + 16 * this.options.mss;
    win += (2 * win * (copied - this.space)) / this.space;
    this.space = copied;
    const size = Math.min(Math.floor(win), this.options.max);
    if (size <= this.size) return false;
    this.size = size;
    return true;
  }
}
