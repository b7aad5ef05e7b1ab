// TCP timestamps (RFC 7323): our timestamp clock, TS.Recent tracking (4.3), Protection
// Against Wrapped Sequences (5.3, with the 24-day idle rule of 5.5), and RTT measurement
// from the echo (4.1). The clock ticks in milliseconds, as Linux's does since 4.13
// (TCP_TS_HZ = 1000), plus a per-connection offset (RFC 7323 5.4, Linux
// secure_tcp_ts_off) so that TSval reveals neither uptime nor other connections.

import { seqSub } from './seq.js';

/** RFC 7323 5.5: a TS.Recent older than 24 days can no longer be compared. */
export const PAWS_IDLE_MS = 24 * 24 * 60 * 60 * 1000;

export class TimestampState {
  /** TS.Recent: the TSval to echo; undefined until one is accepted. */
  tsRecent: number | undefined = undefined;
  /** Local time at which TS.Recent was last set. */
  tsRecentAt = 0;

  /** `offset`: the per-connection TSval offset (isn.ts timestampOffset). */
  constructor(readonly offset: number) {}

  /** TSval for a segment sent at `now`. */
  tsval(now: number): number {
    return (Math.floor(now) + this.offset) >>> 0;
  }

  /** TSecr for a segment we send: TS.Recent (0 before any, RFC 7323 3.2). */
  get tsecr(): number {
    return this.tsRecent ?? 0;
  }

  /**
   * RFC 7323 5.3 R1: an arriving segment whose TSval is older than TS.Recent is a
   * duplicate from a previous wrap of the sequence space: drop it (and ACK it, unless it
   * is a RST; RSTs are accepted whatever their timestamp, as in Linux tcp_validate_incoming).
   */
  isPawsReject(now: number, tsval: number, isRst: boolean): boolean {
    if (isRst || !this.recentIsValid(now)) return false;
    return seqSub(tsval, this.tsRecent!) < 0;
  }

  /**
   * RFC 7323 4.3: remember TSval when the segment is not older and covers the last ACK
   * we sent (SEG.SEQ <= Last.ACK.sent), i.e. it is the one an immediate ACK answers.
   * Call after the segment was found acceptable.
   */
  update(now: number, tsval: number, segSeq: number, lastAckSent: number): void {
    if (seqSub(segSeq, lastAckSent) > 0) return;
    if (this.recentIsValid(now) && seqSub(tsval, this.tsRecent!) < 0) return;
    this.tsRecent = tsval;
    this.tsRecentAt = now;
  }

  /**
   * RFC 7323 4.1: the RTT measured by an ACK that acknowledges new data and echoes
   * `tsecr`; undefined when the echo cannot be ours (zero, or from the future).
   */
  rttFromEcho(now: number, tsecr: number): number | undefined {
    if (tsecr === 0) return undefined;
    const rtt = seqSub(this.tsval(now), tsecr);
    return rtt >= 0 ? rtt : undefined;
  }

  /** The send time (our `now` clock, ms granularity) of the segment that carried `tsecr`. */
  sendTimeOf(now: number, tsecr: number): number {
    return Math.floor(now) - seqSub(this.tsval(now), tsecr);
  }

  private recentIsValid(now: number): boolean {
    return this.tsRecent !== undefined && now - this.tsRecentAt <= PAWS_IDLE_MS;
  }
}
