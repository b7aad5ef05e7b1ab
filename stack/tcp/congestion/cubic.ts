// CUBIC (RFC 9438). The window is computed in segments, as in the RFC, and kept in bytes:
// W_cubic(t) = C (t - K)^3 + W_max (4.2), growing toward W_cubic(t + RTT) on each ACK,
// concave below W_max and convex above it (4.4, 4.5), never slower than the Reno-friendly
// estimate W_est (4.3). On congestion: beta = 0.7 with fast convergence (4.6, 4.7); after
// an RTO the next epoch starts with K = 0 (4.8); spurious reductions are undone (4.9).
// Time spent application-limited or idle is not counted in t (RFC 9438 5.8; Linux shifts
// the epoch in cubictcp_cwnd_event on CA_EVENT_TX_START).

import type { AckEvent, IdleEvent } from './controller.js';
import { WindowController, type WindowControllerOptions } from './window-controller.js';

/** RFC 9438 4.1 constants. */
export const CUBIC_C = 0.4;
export const CUBIC_BETA = 0.7;
/** RFC 9438 4.3: alpha_cubic = 3 (1 - beta) / (1 + beta), Reno's average rate for this beta. */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

export interface CubicOptions extends WindowControllerOptions {
  /** RFC 9438 4.7 fast convergence (Linux default on). */
  fastConvergence?: boolean;
}

/** W_cubic(t) in segments for time t (seconds) since the epoch (RFC 9438 eq. 1). */
export function wCubic(tSec: number, k: number, wMax: number): number {
  const d = tSec - k;
  return CUBIC_C * d * d * d + wMax;
}

/** K = cbrt((W_max - cwnd_epoch) / C) (RFC 9438 eq. 2), segments in, seconds out. */
export function cubicK(wMax: number, cwndEpoch: number): number {
  return Math.cbrt(Math.max(wMax - cwndEpoch, 0) / CUBIC_C);
}

interface Epoch {
  /** Start of the current congestion-avoidance stage (ms). */
  start: number;
  k: number;
  /** W_max the curve is anchored to, segments. */
  origin: number;
  /** Reno-friendly estimate W_est, segments. */
  wEst: number;
}

interface Snapshot {
  wMax: number;
  cwndPrior: number;
}

export class Cubic extends WindowController {
  readonly name = 'cubic' as const;
  /** W_max (segments): the window before the last reduction, lowered by fast convergence. */
  wMax = 0;
  /** cwnd before the last reduction (segments): W_est grows at alpha_cubic until it reaches it. */
  cwndPrior = 0;
  private epoch: Epoch | undefined = undefined;
  private readonly fastConvergence: boolean;
  private prior: Snapshot = { wMax: 0, cwndPrior: 0 };
  /** Since when ACKs found the window not fully used (undefined while cwnd-limited). */
  private appLimitedSince: number | undefined = undefined;

  constructor(mss: number, options: CubicOptions) {
    super(mss, options);
    this.fastConvergence = options.fastConvergence ?? true;
  }

  /** The current epoch's K (seconds) and start, for inspection; undefined outside congestion avoidance. */
  get currentEpoch(): Readonly<Epoch> | undefined {
    return this.epoch;
  }

  protected congestionAvoidance(e: AckEvent, ackedBytes: number): void {
    const mss = e.mss;
    const cwnd = this.cwndBytes / mss;
    const epoch = (this.epoch ??= this.startEpoch(e.now, cwnd));
    if (this.appLimitedSince !== undefined) {
      // RFC 9438 5.8: the application-limited stretch does not advance the curve.
      epoch.start = Math.min(epoch.start + (e.now - this.appLimitedSince), e.now);
      this.appLimitedSince = undefined;
    }
    const t = (e.now - epoch.start) / 1000;
    const rtt = (e.srttMs ?? 0) / 1000;
    const segmentsAcked = ackedBytes / mss;

    // 4.3: Reno-friendly estimate; alpha becomes 1 once W_est reaches the pre-loss window.
    const alpha = epoch.wEst >= this.cwndPrior ? 1 : CUBIC_ALPHA;
    epoch.wEst += (alpha * segmentsAcked) / cwnd;

    if (wCubic(t, epoch.k, epoch.origin) < epoch.wEst) {
      // Reno-friendly region: follow W_est.
      this.cwndBytes = Math.max(this.cwndBytes, epoch.wEst * mss);
      return;
    }
    // 4.4 / 4.5: move toward W_cubic(t + RTT), bounded to [cwnd, 1.5 cwnd].
    const target = Math.min(Math.max(wCubic(t + rtt, epoch.k, epoch.origin), cwnd), 1.5 * cwnd);
    this.cwndBytes += ((target - cwnd) / cwnd) * segmentsAcked * mss;
  }

  protected reduce(_now: number, flightSize: number, mss: number): number {
    const cwnd = this.cwndBytes / mss;
    this.cwndPrior = cwnd;
    // 4.7 fast convergence: a window that shrinks between losses releases bandwidth.
    this.wMax = this.fastConvergence && cwnd < this.wMax ? (cwnd * (1 + CUBIC_BETA)) / 2 : cwnd;
    this.endEpoch();
    // 4.6: ssthresh = flight_size * beta_cubic, at least 2 segments.
    return Math.max(flightSize * CUBIC_BETA, 2 * mss);
  }

  protected onTimeoutReset(): void {
    // 4.8: the first epoch after a timeout has K = 0 and W_max = the window at its start.
    this.wMax = 0;
    this.endEpoch();
  }

  protected savePriorState(): void {
    this.prior = { wMax: this.wMax, cwndPrior: this.cwndPrior };
  }

  protected restorePriorState(): void {
    this.wMax = this.prior.wMax;
    this.cwndPrior = this.prior.cwndPrior;
    this.endEpoch();
  }

  protected override onAppLimited(now: number): void {
    if (this.epoch !== undefined) this.appLimitedSince ??= now;
  }

  override onSendAfterIdle(e: IdleEvent): void {
    super.onSendAfterIdle(e);
    // t counts only time with data to send, so an idle pause does not let W_cubic(t) run
    // ahead and burst on resumption. An app-limited stretch already being timed covers it.
    if (this.epoch !== undefined && this.appLimitedSince === undefined) {
      this.epoch.start = Math.min(this.epoch.start + e.idleMs, e.now);
    }
  }

  private endEpoch(): void {
    this.epoch = undefined;
    this.appLimitedSince = undefined;
  }

  private startEpoch(now: number, cwnd: number): Epoch {
    // Above the old maximum (or none yet): start the convex part right here, K = 0.
    if (this.wMax <= cwnd) return { start: now, k: 0, origin: cwnd, wEst: cwnd };
    return { start: now, k: cubicK(this.wMax, cwnd), origin: this.wMax, wEst: cwnd };
  }
}
