// HyStart++ (RFC 9406): leave the initial slow start when the round's minimum RTT rises,
// before the bottleneck queue overflows, through a few rounds of Conservative Slow Start
// (CSS) in case the rise was a false alarm. Rounds are delimited by sequence numbers:
// a round ends when the ACK covers SND.NXT as it was when the round began (4.2).

import { seqGeq } from '../seq.js';

// RFC 9406 4.3 recommended constants.
const MIN_RTT_THRESH_MS = 4;
const MAX_RTT_THRESH_MS = 16;
const MIN_RTT_DIVISOR = 8;
const N_RTT_SAMPLE = 8;
const CSS_GROWTH_DIVISOR = 4;
const CSS_ROUNDS = 5;

export type HyStartPhase = 'slow-start' | 'css' | 'done';

export class HyStartPlusPlus {
  phase: HyStartPhase = 'slow-start';
  private windowEnd: number | undefined = undefined;
  private lastRoundMinRtt = Infinity;
  private currentRoundMinRtt = Infinity;
  private rttSampleCount = 0;
  private cssBaselineMinRtt = Infinity;
  private cssRounds = 0;

  /** Slow-start growth is divided by this: 1 in slow start, 4 in CSS (RFC 9406 4.2). */
  get growthDivisor(): number {
    return this.phase === 'css' ? CSS_GROWTH_DIVISOR : 1;
  }

  /**
   * Account one ACK received in slow start. Returns true when slow start must end now
   * (CSS ran its rounds): the caller sets ssthresh = cwnd and enters congestion avoidance.
   */
  onAck(ackNumber: number, sndNxt: number, rttSampleMs: number | undefined): boolean {
    if (this.phase === 'done') return false;
    if (this.windowEnd === undefined || seqGeq(ackNumber, this.windowEnd)) {
      if (this.windowEnd !== undefined && this.phase === 'css' && ++this.cssRounds >= CSS_ROUNDS) {
        this.phase = 'done';
        return true;
      }
      this.windowEnd = sndNxt;
      this.lastRoundMinRtt = this.currentRoundMinRtt;
      this.currentRoundMinRtt = Infinity;
      this.rttSampleCount = 0;
    }
    if (rttSampleMs === undefined) return false;
    this.currentRoundMinRtt = Math.min(this.currentRoundMinRtt, rttSampleMs);
    this.rttSampleCount++;
    if (this.rttSampleCount < N_RTT_SAMPLE || this.currentRoundMinRtt === Infinity) return false;
    if (this.phase === 'slow-start') {
      if (this.lastRoundMinRtt === Infinity) return false;
      const thresh = Math.max(
        MIN_RTT_THRESH_MS,
        Math.min(this.lastRoundMinRtt / MIN_RTT_DIVISOR, MAX_RTT_THRESH_MS),
      );
      if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
        this.cssBaselineMinRtt = this.currentRoundMinRtt;
        this.phase = 'css';
        this.cssRounds = 0;
      }
    } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
      // The RTT came back down: the increase was spurious, resume slow start.
      this.cssBaselineMinRtt = Infinity;
      this.phase = 'slow-start';
    }
    return false;
  }

  /** A loss, ECN mark or RTO ends the initial slow start; HyStart++ is not used again (RFC 9406 4.2). */
  finish(): void {
    this.phase = 'done';
  }
}
