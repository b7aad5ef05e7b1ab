import { describe, expect, it } from 'vitest';
import { ReceiveBufferTuner, ReceiverRtt } from '../../stack/tcp/receive-buffer-tuning.js';

const MSS = 1000;

describe('ReceiveBufferTuner (Linux tcp_rcv_space_adjust)', () => {
  it('grows the buffer as the delivery rate per RTT grows, up to the maximum', () => {
    const t = new ReceiveBufferTuner({ initial: 131_072, max: 6 << 20, mss: MSS, initialCwndSegments: 10 });
    const sizes: number[] = [];
    let perRtt = 10 * MSS;
    t.onConsumed(0, 0, 50);
    for (let r = 1; r <= 12; r++) {
      // The sender doubles each RTT (slow start); the app reads it all in one go at RTT end.
      t.onConsumed(r * 50, perRtt, 50);
      sizes.push(t.size);
      perRtt *= 2;
    }
    expect(sizes[0]).toBe(131_072); // 10 000 per RTT: no growth needed yet
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]!).toBeGreaterThanOrEqual(sizes[i - 1]!);
    // Once the rate is substantial the buffer holds well over 2 RTTs of it.
    const at = sizes.findIndex((s) => s > 131_072);
    expect(at).toBeGreaterThan(0);
    expect(sizes[at]!).toBeGreaterThanOrEqual(2 * 10 * MSS * 2 ** at);
    expect(sizes[sizes.length - 1]).toBe(6 << 20);
  });

  it('does not grow for a steady or falling rate, nor before an RTT has passed', () => {
    const t = new ReceiveBufferTuner({ initial: 131_072, max: 6 << 20, mss: MSS, initialCwndSegments: 10 });
    t.onConsumed(0, 0, 50);
    expect(t.onConsumed(10, 1_000_000, 50)).toBe(false); // within the RTT
    expect(t.onConsumed(60, 0, 50)).toBe(true); // 1 MB in one RTT
    const grown = t.size;
    expect(t.onConsumed(110, 500_000, 50)).toBe(false);
    expect(t.onConsumed(200, 10, undefined)).toBe(false); // no RTT known
    expect(t.size).toBe(grown);
  });
});

describe('ReceiverRtt', () => {
  it('measures the time for RCV.NXT to cross one window and keeps the minimum', () => {
    const r = new ReceiverRtt();
    r.onAdvance(0, 1000, 10_000);
    r.onAdvance(40, 6000, 10_000);
    expect(r.rttMs).toBeUndefined();
    r.onAdvance(80, 11_000, 10_000);
    expect(r.rttMs).toBe(80);
    r.onAdvance(200, 21_000, 10_000);
    expect(r.rttMs).toBe(80);
    r.onAdvance(260, 31_001, 10_000);
    expect(r.rttMs).toBe(60);
  });

  it('smooths timestamp samples', () => {
    const r = new ReceiverRtt();
    r.onTimestampSample(100);
    r.onTimestampSample(180);
    expect(r.rttMs).toBe(110);
  });
});
