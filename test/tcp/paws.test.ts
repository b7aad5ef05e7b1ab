import { describe, expect, it } from 'vitest';
import { PAWS_IDLE_MS, TimestampState } from '../../stack/tcp/paws.js';

describe('TimestampState (RFC 7323)', () => {
  it('ticks in milliseconds from a per-connection offset, wrapping at 2^32', () => {
    const t = new TimestampState(0xffff_fff0);
    expect(t.tsval(0)).toBe(0xffff_fff0);
    expect(t.tsval(15.7)).toBe(0xffff_ffff);
    expect(t.tsval(16)).toBe(0);
    expect(t.tsecr).toBe(0);
  });

  it('updates TS.Recent only for segments covering Last.ACK.sent and not older (4.3)', () => {
    const t = new TimestampState(0);
    t.update(0, 1000, 500, 500);
    expect(t.tsRecent).toBe(1000);
    t.update(1, 2000, 600, 500); // SEG.SEQ beyond Last.ACK.sent: a later segment, not echoed
    expect(t.tsRecent).toBe(1000);
    t.update(2, 900, 500, 500); // older
    expect(t.tsRecent).toBe(1000);
    t.update(3, 1100, 400, 500);
    expect(t.tsRecent).toBe(1100);
    expect(t.tsecr).toBe(1100);
  });

  it('rejects segments with a TSval older than TS.Recent, across the wrap, but never a RST (5.3)', () => {
    const t = new TimestampState(0);
    t.update(0, 0xffff_fff0, 0, 0);
    expect(t.isPawsReject(1, 0xffff_ffef, false)).toBe(true);
    expect(t.isPawsReject(1, 0xffff_fff0, false)).toBe(false);
    expect(t.isPawsReject(1, 5, false)).toBe(false); // after the wrap: newer
    expect(t.isPawsReject(1, 0xffff_ffef, true)).toBe(false);
  });

  it('accepts anything once TS.Recent is more than 24 days old (5.5)', () => {
    const t = new TimestampState(0);
    t.update(0, 1000, 0, 0);
    expect(t.isPawsReject(PAWS_IDLE_MS, 10, false)).toBe(true);
    expect(t.isPawsReject(PAWS_IDLE_MS + 1, 10, false)).toBe(false);
    t.update(PAWS_IDLE_MS + 1, 10, 0, 0);
    expect(t.tsRecent).toBe(10);
  });

  it('measures RTT from the echo and maps it back to the send time (4.1)', () => {
    const t = new TimestampState(123_456);
    const sentAt = 5000;
    const echoed = t.tsval(sentAt);
    expect(t.rttFromEcho(5080, echoed)).toBe(80);
    expect(t.sendTimeOf(5080, echoed)).toBe(5000);
    expect(t.rttFromEcho(5080, 0)).toBeUndefined();
    expect(t.rttFromEcho(5080, t.tsval(6000))).toBeUndefined(); // from the future: forged
  });
});
