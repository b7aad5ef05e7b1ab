// What NewReno and CUBIC share: slow start with appropriate byte counting (RFC 5681 3.1,
// RFC 3465; by default without its per-ACK limit L, as Linux) and optional HyStart++ (RFC 9406), no growth while in recovery or when
// cwnd is not the limit (RFC 7661), the RTO loss window (RFC 5681 3.1), restart after idle
// (RFC 5681 4.1), undo of spurious reductions, and pacing. Subclasses supply the
// congestion-avoidance increase and the multiplicative decrease.

import type { CongestionControlName } from '../../config.js';
import type {
  AckEvent,
  CongestionController,
  CongestionEvent,
  IdleEvent,
  TimeoutEvent,
} from './controller.js';
import { HyStartPlusPlus } from './hystart.js';

export interface WindowControllerOptions {
  /** Initial window in segments (RFC 6928: 10). */
  initialCwndSegments: number;
  /** Run HyStart++ in the initial slow start. */
  hystart: boolean;
  /** RFC 3465 2.2 L: slow-start growth per ACK at most this many SMSS; 0 or absent: no limit (config tcp.abcLimitSegments). */
  abcLimitSegments?: number;
}

export abstract class WindowController implements CongestionController {
  abstract readonly name: CongestionControlName;
  ssthresh = Infinity;
  inRecovery = false;
  /** cwnd in bytes with fractions: congestion avoidance adds less than a byte per ACK at times. */
  protected cwndBytes: number;
  private readonly initialCwndSegments: number;
  private readonly hystart: HyStartPlusPlus | undefined;
  private readonly abcLimitSegments: number;
  private priorCwnd = 0;
  private priorSsthresh = 0;

  constructor(mss: number, options: WindowControllerOptions) {
    this.initialCwndSegments = options.initialCwndSegments;
    this.cwndBytes = this.initialWindow(mss);
    this.hystart = options.hystart ? new HyStartPlusPlus() : undefined;
    this.abcLimitSegments = options.abcLimitSegments || Infinity;
  }

  get cwnd(): number {
    return Math.floor(this.cwndBytes);
  }

  get inSlowStart(): boolean {
    return this.cwndBytes < this.ssthresh;
  }

  onAck(e: AckEvent): void {
    if (this.inRecovery || e.ackedBytes <= 0) return;
    let acked = e.ackedBytes;
    if (this.inSlowStart) {
      const endSlowStart = this.hystart?.onAck(e.ackNumber, e.sndNxt, e.rttSampleMs) ?? false;
      if (endSlowStart) {
        this.ssthresh = this.cwndBytes;
      } else {
        if (!this.isCwndLimited(e)) return this.onAppLimited(e.now);
        acked = this.slowStart(acked, e.mss);
      }
      if (acked <= 0) return;
    }
    if (!this.isCwndLimited(e)) return this.onAppLimited(e.now);
    this.congestionAvoidance(e, acked);
  }

  onCongestionEvent(e: CongestionEvent): void {
    if (this.inRecovery) return;
    this.savePrior();
    this.inRecovery = true;
    this.hystart?.finish();
    this.ssthresh = this.reduce(e.now, e.flightSize, e.mss);
    // RFC 6675 5 step 4 / RFC 6582: cwnd = ssthresh; the sender's recovery logic
    // (pipe or PRR) paces the retransmissions against it.
    this.cwndBytes = this.ssthresh;
  }

  onRecoveryExit(_now: number): void {
    this.inRecovery = false;
  }

  onRetransmissionTimeout(e: TimeoutEvent): void {
    this.inRecovery = false;
    this.hystart?.finish();
    if (!e.repeated) {
      this.savePrior();
      this.ssthresh = this.reduce(e.now, e.flightSize, e.mss);
    }
    this.onTimeoutReset();
    // RFC 5681 3.1: the loss window is one segment.
    this.cwndBytes = e.mss;
  }

  onSpuriousCongestion(_now: number): void {
    if (this.priorCwnd === 0) return;
    this.inRecovery = false;
    this.cwndBytes = Math.max(this.cwndBytes, this.priorCwnd);
    this.ssthresh = Math.max(this.ssthresh, this.priorSsthresh);
    this.restorePriorState();
    this.priorCwnd = 0;
  }

  onSendAfterIdle(e: IdleEvent): void {
    // RFC 5681 4.1: after an idle period longer than the RTO, restart from
    // RW = min(IW, cwnd) so a stale window does not burst into the network.
    if (e.idleMs > e.rtoMs) this.cwndBytes = Math.min(this.cwndBytes, this.initialWindow(e.mss));
  }

  pacingRate(srttMs: number): number {
    const ratio = this.cwndBytes < this.ssthresh / 2 ? 2 : 1.2;
    return srttMs > 0 ? (ratio * this.cwndBytes) / srttMs : Infinity;
  }

  /** Grow cwnd in congestion avoidance for `ackedBytes` acknowledged bytes. */
  protected abstract congestionAvoidance(e: AckEvent, ackedBytes: number): void;
  /** The multiplicative decrease: update own state, return the new ssthresh (bytes). */
  protected abstract reduce(now: number, flightSize: number, mss: number): number;
  /** Forget growth state after an RTO (CUBIC: K = 0 for the next epoch, RFC 9438 4.8). */
  protected abstract onTimeoutReset(): void;
  /** Snapshot / restore subclass state around a reduction that may turn out spurious. */
  protected abstract savePriorState(): void;
  protected abstract restorePriorState(): void;

  /** An ACK arrived while the window was not the limit (no growth happened). */
  protected onAppLimited(_now: number): void {}

  /** RFC 6928 initial window: IW segments of this MSS. */
  protected initialWindow(mss: number): number {
    return this.initialCwndSegments * mss;
  }

  /**
   * RFC 7661 / RFC 9438 4.2: grow only when the window was the limit. In slow start a
   * flight of half the window is enough (Linux tcp_is_cwnd_limited), since the window
   * doubles within each round.
   */
  private isCwndLimited(e: AckEvent): boolean {
    if (e.appLimited) return false;
    if (this.inSlowStart) return e.inFlight * 2 >= this.cwndBytes;
    return e.inFlight + e.mss > this.cwndBytes;
  }

  /**
   * RFC 5681 3.1 with RFC 3465 2.2; returns the acked bytes left over past ssthresh. Linux
   * (tcp_slow_start) grows by everything an ACK covers: with stretch ACKs (a GRO receiver ACKs
   * a 64 KiB super-packet once, ours once per input turn) a limit of L = 2 SMSS per ACK would
   * leave slow start growing by 2 segments per ACK instead of doubling per round.
   */
  private slowStart(acked: number, mss: number): number {
    const grow = Math.min(acked, this.abcLimitSegments * mss) / (this.hystart?.growthDivisor ?? 1);
    const room = this.ssthresh - this.cwndBytes;
    if (grow < room) {
      this.cwndBytes += grow;
      return 0;
    }
    this.cwndBytes = this.ssthresh;
    return acked - room;
  }

  private savePrior(): void {
    this.priorCwnd = this.cwndBytes;
    this.priorSsthresh = this.ssthresh;
    this.savePriorState();
  }
}
