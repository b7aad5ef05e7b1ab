// Round-trip time estimation and the retransmission timeout (RFC 6298), with Linux's
// bounds. Times are milliseconds (fractions allowed).
//
// Karn's algorithm (RFC 6298 3) is the caller's job: feed `sample()` only with RTTs
// measured on segments that were never retransmitted, or with RTTs from the timestamp
// echo (RFC 7323 4.1), which is unambiguous. Until such a sample arrives, the backed-off
// RTO stays in force (RFC 6298 5.5-5.7); a new sample clears the backoff.

import type { TcpConfig } from '../config.js';
import { WindowedMin } from './windowed-min.js';

/** minRtoMs, maxRtoMs, initialRtoMs, clockGranularityMs and minRttWindowMs: see stack/config.ts. */
export type RtoConfig = Pick<
  TcpConfig,
  'minRtoMs' | 'maxRtoMs' | 'initialRtoMs' | 'clockGranularityMs' | 'minRttWindowMs'
>;

// RFC 6298 2.3: alpha = 1/8, beta = 1/4, K = 4.
const ALPHA = 1 / 8;
const BETA = 1 / 4;
const K = 4;

export class RttEstimator {
  /** Smoothed RTT; undefined until the first sample. */
  srtt: number | undefined = undefined;
  /** RTT variation; undefined until the first sample. */
  rttvar: number | undefined = undefined;
  /** The most recent sample. */
  latestRtt: number | undefined = undefined;
  /** Windowed minimum RTT (RFC 8985 6.2 step 1 rack.min_RTT, HyStart++ baselines). */
  readonly minRtt: WindowedMin;
  /** How many times the timer was backed off since the last sample (RFC 6298 5.5). */
  backoffCount = 0;
  private baseRto: number;

  constructor(private readonly config: RtoConfig) {
    this.baseRto = config.initialRtoMs;
    this.minRtt = new WindowedMin(config.minRttWindowMs);
  }

  /** The timeout to arm now: the base RTO doubled per backoff, at most maxRtoMs. */
  get rto(): number {
    return Math.min(this.baseRto * 2 ** this.backoffCount, this.config.maxRtoMs);
  }

  /** RFC 6298 2.2 (first sample) and 2.3 (later samples); clears any backoff. */
  sample(now: number, rttMs: number): void {
    const r = Math.max(rttMs, 0);
    this.latestRtt = r;
    this.minRtt.update(now, r);
    if (this.srtt === undefined || this.rttvar === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      // RTTVAR uses the SRTT from before this sample (RFC 6298 2.3 note).
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - r);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * r;
    }
    // RFC 6298 2.2-2.4 with Linux's floor (tcp_set_rto: srtt + max(4 * rttvar, rto_min)):
    // the floor applies to the variance term, so a steady path keeps a margin of minRtoMs
    // over SRTT for the peer's delayed ACK instead of firing spuriously.
    const c = this.config;
    const variance = Math.max(c.clockGranularityMs, K * this.rttvar, c.minRtoMs);
    this.baseRto = Math.min(this.srtt + variance, c.maxRtoMs);
    this.backoffCount = 0;
  }

  /** RFC 6298 5.5: the timer expired, double the RTO (bounded by maxRtoMs). Returns the new RTO. */
  backoff(): number {
    // Stop counting once capped so 2 ** backoffCount stays finite however long the outage.
    if (this.rto < this.config.maxRtoMs) this.backoffCount++;
    return this.rto;
  }

  /** Drop the RTT history (RFC 6298 5.7 after a path change): back to the initial RTO. */
  reset(): void {
    this.srtt = this.rttvar = this.latestRtt = undefined;
    this.baseRto = this.config.initialRtoMs;
    this.backoffCount = 0;
    this.minRtt.reset();
  }
}
