import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../stack/config.js';
import { DelayedAckPolicy, type DelayedAckConfig, type ReceivedSegment } from '../../stack/tcp/delayed-ack.js';

const MSS = 1460;
const seg = (now: number, extra: Partial<ReceivedSegment> = {}): ReceivedSegment => ({
  now,
  length: MSS,
  mss: MSS,
  outOfOrder: false,
  fillsGap: false,
  pushFlag: false,
  ourMss: MSS,
  ...extra,
});

/** A policy past its initial quick-ACK phase. */
function warmed(config: DelayedAckConfig = DEFAULT_CONFIG.tcp): DelayedAckPolicy {
  const p = new DelayedAckPolicy(config);
  for (let i = 0; i < 16; i++) {
    p.onSegmentReceived(seg(i));
    p.onAckSent();
  }
  expect(p.inQuickAck).toBe(false);
  return p;
}

describe('DelayedAckPolicy', () => {
  it('ACKs every segment at connection start (quick ACK, 16 segments)', () => {
    const p = new DelayedAckPolicy(DEFAULT_CONFIG.tcp);
    for (let i = 0; i < 16; i++) {
      expect(p.onSegmentReceived(seg(i, { length: 100 }))).toBe('now');
      p.onAckSent();
    }
    expect(p.onSegmentReceived(seg(16, { length: 100 }))).toBe('delay');
  });

  it('ACKs at least every second full-sized segment, at the end of the input turn', () => {
    const p = warmed();
    expect(p.onSegmentReceived(seg(100))).toBe('delay');
    expect(p.deadline).toBe(140);
    // The second segment makes the ACK due now (deadline = now), after the rest of the turn.
    expect(p.onSegmentReceived(seg(101))).toBe('turn');
    expect(p.deadline).toBe(101);
    // More segments in the same turn ride on the same ACK.
    expect(p.onSegmentReceived(seg(101))).toBe('turn');
    expect(p.deadline).toBe(101);
    const ato = p.ato;
    expect(p.onTimeout(101)).toBe(true);
    // Not a delayed-ACK expiry: the adaptive timeout stays.
    expect(p.ato).toBe(ato);
    p.onAckSent();
    expect(p.deadline).toBeUndefined();
    expect(p.onSegmentReceived(seg(102))).toBe('delay');
    // A GRO super-segment of several MSS is ACKed in the same turn.
    p.onAckSent();
    expect(p.onSegmentReceived(seg(103, { length: 10 * MSS }))).toBe('turn');
  });

  it('within one turn still ACKs once four 64 KiB super-packets are unacknowledged', () => {
    const p = warmed();
    const gro = (now: number) => seg(now, { length: 65_000 });
    expect([gro(100), gro(100), gro(100)].map((s) => p.onSegmentReceived(s))).toEqual(['turn', 'turn', 'turn']);
    expect(p.onSegmentReceived(gro(100))).toBe('turn');
    // 5 x 65,000 = 325,000 bytes >= 262,144: this one goes at once.
    expect(p.onSegmentReceived(gro(100))).toBe('now');
    p.onAckSent();
    expect(p.onSegmentReceived(gro(100))).toBe('turn');
  });

  it('ACKs every second full-sized segment at once without ackPerTurn', () => {
    const p = warmed({ ...DEFAULT_CONFIG.tcp, ackPerTurn: false });
    expect(p.onSegmentReceived(seg(100))).toBe('delay');
    expect(p.onSegmentReceived(seg(101))).toBe('now');
  });

  it('ACKs out-of-order and gap-filling data immediately (RFC 5681 4.2)', () => {
    const p = warmed();
    expect(p.onSegmentReceived(seg(100, { outOfOrder: true }))).toBe('now');
    p.onAckSent();
    const q = warmed();
    expect(q.onSegmentReceived(seg(100, { fillsGap: true, length: 10 }))).toBe('now');
  });

  it('delays by the adaptive timeout: 40 ms for back-to-back arrivals, never beyond 200 ms or SRTT', () => {
    const p = warmed();
    p.onSegmentReceived(seg(100, { length: 10 }));
    expect(p.deadline).toBe(140);
    expect(p.onTimeout(139)).toBe(false);
    expect(p.onTimeout(140)).toBe(true);
    p.onAckSent();
    expect(p.deadline).toBeUndefined();
    // Arrivals every 30 ms stretch ato toward twice the gap (Linux: ato = ato/2 + gap).
    const q = warmed();
    let now = 100;
    for (let i = 0; i < 10; i++) {
      now += 30;
      q.onSegmentReceived(seg(now, { length: 10 }));
      q.onAckSent();
    }
    expect(q.ato).toBeGreaterThan(55);
    expect(q.ato).toBeLessThanOrEqual(60);
    // Each expiry doubles it, but never beyond 200 ms.
    for (let i = 0; i < 5; i++) {
      now += 30;
      q.onSegmentReceived(seg(now, { length: 10 }));
      expect(q.onTimeout(q.deadline!)).toBe(true);
      q.onAckSent();
    }
    expect(q.ato).toBe(200);
    now += 30;
    q.onSegmentReceived(seg(now, { length: 10 }));
    expect(q.deadline! - now).toBeLessThanOrEqual(200);
    q.onAckSent();
    // A short SRTT bounds it.
    now += 30;
    q.onSegmentReceived(seg(now, { length: 10, srttMs: 50 }));
    expect(q.deadline! - now).toBe(50);
  });

  it('keeps the first deadline while more small segments arrive', () => {
    const p = warmed();
    p.onSegmentReceived(seg(100, { length: 10 }));
    p.onSegmentReceived(seg(110, { length: 10 }));
    expect(p.deadline).toBe(140);
  });

  it('returns to quick ACKs after an idle period', () => {
    const p = warmed();
    expect(p.onSegmentReceived(seg(10_000, { length: 10 }))).toBe('now');
  });

  it('ACKs a pushed request as soon as the application consumed it all', () => {
    const p = warmed();
    p.onSegmentReceived(seg(100, { length: 50, pushFlag: true }));
    expect(p.onApplicationRead(false)).toBe(false);
    expect(p.onApplicationRead(true)).toBe(true);
    p.onAckSent();
    p.onSegmentReceived(seg(200, { length: 50 }));
    expect(p.onApplicationRead(true)).toBe(false);
    p.onAckSent();
    // A pushed full-sized segment (a bulk sender's super-packet) is no request: its ACK waits.
    p.onSegmentReceived(seg(300, { length: 40 * MSS, mss: 40 * MSS, pushFlag: true }));
    expect(p.onApplicationRead(true)).toBe(false);
  });
});
