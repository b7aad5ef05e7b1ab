// NewReno's window (RFC 5681 3.1 congestion avoidance, the halving of RFC 5681 eq. 4 as
// RFC 6582 3.2 step 2 applies it once per recovery episode). The partial-ACK rules of
// RFC 6582 (retransmit the next hole, stay in recovery until the recovery point) are loss
// recovery and live in the sender; see controller.ts for the split.

import type { AckEvent, CongestionAvoidanceIncrease } from './controller.js';
import { WindowController, type WindowControllerOptions } from './window-controller.js';

/** RFC 5681 eq. 3 with byte counting: one MSS per cwnd of acknowledged bytes. */
export const RENO_INCREASE: CongestionAvoidanceIncrease = {
  increase: ({ cwnd, ackedBytes, mss }) => (ackedBytes * mss) / cwnd,
};

export interface NewRenoOptions extends WindowControllerOptions {
  /** Replaces the Reno increase in congestion avoidance (MPTCP coupled congestion control). */
  increase?: CongestionAvoidanceIncrease;
}

export class NewReno extends WindowController {
  readonly name = 'newreno' as const;
  private readonly increase: CongestionAvoidanceIncrease;
  /** Earned but not yet applied increase, bytes (below one MSS). */
  private credit = 0;

  constructor(mss: number, options: NewRenoOptions) {
    super(mss, options);
    this.increase = options.increase ?? RENO_INCREASE;
  }

  protected congestionAvoidance(e: AckEvent, ackedBytes: number): void {
    // RFC 3465 2.1: credit the increase and apply it one whole MSS at a time, so that
    // cwnd stays fixed over the window of ACKs that earns the next segment.
    this.credit += this.increase.increase({
      cwnd: this.cwndBytes,
      ackedBytes,
      mss: e.mss,
      srttMs: e.srttMs,
    });
    if (this.credit >= e.mss) {
      const segments = Math.floor(this.credit / e.mss);
      this.cwndBytes += segments * e.mss;
      this.credit -= segments * e.mss;
    } else if (this.credit <= -e.mss) {
      // A coupled increase can be negative (OLIA shifts window off the largest-window
      // paths): apply it one whole MSS at a time too, never below one MSS.
      const segments = Math.floor(-this.credit / e.mss);
      this.cwndBytes = Math.max(e.mss, this.cwndBytes - segments * e.mss);
      this.credit += segments * e.mss;
    }
  }

  protected reduce(_now: number, flightSize: number, mss: number): number {
    this.credit = 0;
    // RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS).
    return Math.max(flightSize / 2, 2 * mss);
  }

  protected onTimeoutReset(): void {}
  protected savePriorState(): void {}
  protected restorePriorState(): void {}
}
