// Coupled congestion control for the subflows of one MPTCP connection: LIA (RFC 6356) and
// OLIA (Khalili et al., draft-khalili-mptcp-congestion-control-05, as in the out-of-tree
// Linux mptcp_olia.c). Linux upstream has neither: its subflows run uncoupled CUBIC.
//
// Per RFC 6356 3, only the congestion-avoidance increase is coupled: each subflow keeps
// its own NewReno (slow start, halving on loss, RTO loss window) with the coupled
// increase plugged in, and the wrapper observes its ACKs and losses (OLIA needs the bytes
// sent between losses). Subflows without an RTT sample yet are left out of the sums and
// grow like Reno until they have one.

import type { MptcpCongestionControl } from '../config.js';
import type {
  AckEvent,
  CongestionAvoidanceIncrease,
  CongestionController,
  CongestionEvent,
  IdleEvent,
  TimeoutEvent,
} from '../tcp/congestion/controller.js';
import { NewReno } from '../tcp/congestion/newreno.js';
import type { WindowControllerOptions } from '../tcp/congestion/window-controller.js';

export type CoupledAlgorithm = Exclude<MptcpCongestionControl, 'uncoupled'>;

/** One subflow's controller: a NewReno whose congestion-avoidance increase is coupled. */
export class CoupledSubflowController implements CongestionController {
  readonly algorithm: CoupledAlgorithm;
  /** Smoothed RTT from the last ACK (ms). */
  srttMs: number | undefined;
  /** OLIA: bytes acknowledged since the last loss (l2 of the draft). */
  bytesSinceLoss = 0;
  /** OLIA: bytes acknowledged between the last two losses (l1). */
  bytesBetweenLosses = 0;
  private readonly inner: NewReno;

  constructor(algorithm: CoupledAlgorithm, mss: number, options: WindowControllerOptions, increase: CongestionAvoidanceIncrease) {
    this.algorithm = algorithm;
    this.inner = new NewReno(mss, { ...options, increase });
  }

  get name(): NewReno['name'] {
    return this.inner.name;
  }
  get cwnd(): number {
    return this.inner.cwnd;
  }
  get ssthresh(): number {
    return this.inner.ssthresh;
  }
  get inSlowStart(): boolean {
    return this.inner.inSlowStart;
  }
  get inRecovery(): boolean {
    return this.inner.inRecovery;
  }

  /** OLIA's l_r: the larger of the last two inter-loss byte counts. */
  get interLossBytes(): number {
    return Math.max(this.bytesSinceLoss, this.bytesBetweenLosses);
  }

  onAck(e: AckEvent): void {
    if (e.srttMs !== undefined) this.srttMs = e.srttMs;
    this.bytesSinceLoss += Math.max(0, e.ackedBytes);
    this.inner.onAck(e);
  }

  onCongestionEvent(e: CongestionEvent): void {
    if (!this.inner.inRecovery) this.lossEpisode();
    this.inner.onCongestionEvent(e);
  }

  onRecoveryExit(now: number): void {
    this.inner.onRecoveryExit(now);
  }

  onRetransmissionTimeout(e: TimeoutEvent): void {
    // mptcp_olia_set_state: a repeated timeout is the same loss episode.
    if (!e.repeated) this.lossEpisode();
    this.inner.onRetransmissionTimeout(e);
  }

  onSpuriousCongestion(now: number): void {
    this.inner.onSpuriousCongestion(now);
  }

  onSendAfterIdle(e: IdleEvent): void {
    this.inner.onSendAfterIdle(e);
  }

  pacingRate(srttMs: number): number {
    return this.inner.pacingRate(srttMs);
  }

  private lossEpisode(): void {
    if (this.bytesSinceLoss === 0) return;
    this.bytesBetweenLosses = this.bytesSinceLoss;
    this.bytesSinceLoss = 0;
  }
}

/** The coupled congestion control of one connection: creates and links its subflows' controllers. */
export class CoupledCongestionControl {
  readonly algorithm: CoupledAlgorithm;
  private readonly options: WindowControllerOptions;
  private readonly subflows = new Set<CoupledSubflowController>();

  constructor(algorithm: CoupledAlgorithm, options: WindowControllerOptions) {
    this.algorithm = algorithm;
    this.options = options;
  }

  /** A controller for a new subflow, coupled with the others. */
  addSubflow(mss: number): CoupledSubflowController {
    let self: CoupledSubflowController | undefined;
    const increase: CongestionAvoidanceIncrease = {
      increase: (e) => (this.algorithm === 'lia' ? this.liaIncrease(self!, e) : this.oliaIncrease(self!, e)),
    };
    self = new CoupledSubflowController(this.algorithm, mss, this.options, increase);
    this.subflows.add(self);
    return self;
  }

  /** The subflow is gone: it no longer counts in the others' increase. */
  removeSubflow(c: CoupledSubflowController): void {
    this.subflows.delete(c);
  }

  /** A subflow takes part in the coupling once it has an RTT sample (Linux: can send and srtt). */
  private static measured(c: CoupledSubflowController): boolean {
    return c.srttMs !== undefined && c.srttMs > 0;
  }

  /**
   * RFC 6356 3: alpha = cwnd_total * max_i(cwnd_i / rtt_i^2) / (sum_i cwnd_i / rtt_i)^2.
   * With n subflows of equal RTT and window it is 1/n.
   */
  liaAlpha(): number {
    return this.lia().alpha;
  }

  private lia(): { alpha: number; total: number } {
    let total = 0;
    let best = 0;
    let sum = 0;
    for (const c of this.subflows) {
      if (!CoupledCongestionControl.measured(c)) continue;
      const rtt = c.srttMs!;
      total += c.cwnd;
      best = Math.max(best, c.cwnd / (rtt * rtt));
      sum += c.cwnd / rtt;
    }
    return { alpha: sum > 0 ? (total * best) / (sum * sum) : 1, total };
  }

  /** RFC 6356 3: min(alpha * bytes_acked * MSS_i / cwnd_total, bytes_acked * MSS_i / cwnd_i). */
  private liaIncrease(self: CoupledSubflowController, e: { cwnd: number; ackedBytes: number; mss: number }): number {
    const reno = (e.ackedBytes * e.mss) / e.cwnd;
    if (!CoupledCongestionControl.measured(self)) return reno;
    const { alpha, total } = this.lia();
    return Math.min((alpha * e.ackedBytes * e.mss) / total, reno);
  }

  /** OLIA's epsilon (alpha_r of the draft) of every measured subflow, for stats and tests. */
  oliaEpsilon(): Map<CoupledSubflowController, number> {
    const eps = new Map<CoupledSubflowController, number>();
    for (const c of this.subflows) if (CoupledCongestionControl.measured(c)) eps.set(c, this.epsilonOf(c));
    return eps;
  }

  /**
   * OLIA's epsilon for one measured subflow (mptcp_get_epsilon): M = subflows with the largest
   * window, B = subflows with the best l_r / rtt_r^2. When some best subflows are not in M,
   * they get +1/(n |B\M|) and those in M -1/(n |M|); everything else 0.
   */
  private epsilonOf(self: CoupledSubflowController): number {
    const quality = (c: CoupledSubflowController): number => c.interLossBytes / (c.srttMs! * c.srttMs!);
    let n = 0;
    let maxCwnd = 0;
    let bestQuality = 0;
    for (const c of this.subflows) {
      if (!CoupledCongestionControl.measured(c)) continue;
      n++;
      maxCwnd = Math.max(maxCwnd, c.cwnd);
      bestQuality = Math.max(bestQuality, quality(c));
    }
    const isBest = (c: CoupledSubflowController): boolean => Math.abs(quality(c) - bestQuality) <= 1e-12 * bestQuality;
    let inM = 0;
    let bNotM = 0;
    for (const c of this.subflows) {
      if (!CoupledCongestionControl.measured(c)) continue;
      if (c.cwnd === maxCwnd) inM++;
      else if (isBest(c)) bNotM++;
    }
    if (bNotM === 0) return 0;
    if (self.cwnd === maxCwnd) return -1 / (n * inM);
    return isBest(self) ? 1 / (n * bNotM) : 0;
  }

  /**
   * OLIA: per acknowledged MSS, w_r grows by (w_r / rtt_r^2) / (sum_p w_p / rtt_p)^2 + epsilon_r / w_r
   * (windows in segments); in bytes that is bytes_acked * MSS * (the same with windows in bytes).
   * The result may be negative for the largest-window subflows. Computed as Linux does, with
   * rate = sum_p w_p * rtt_r / rtt_p, which makes a lone subflow's increase exactly Reno's.
   */
  private oliaIncrease(self: CoupledSubflowController, e: { cwnd: number; ackedBytes: number; mss: number }): number {
    if (!CoupledCongestionControl.measured(self)) return (e.ackedBytes * e.mss) / e.cwnd;
    const rtt = self.srttMs!;
    let rate = 0;
    for (const c of this.subflows) {
      if (CoupledCongestionControl.measured(c)) rate += c === self ? e.cwnd : (c.cwnd * rtt) / c.srttMs!;
    }
    return (e.ackedBytes * e.mss * e.cwnd) / (rate * rate) + (this.epsilonOf(self) * e.ackedBytes * e.mss) / e.cwnd;
  }
}
