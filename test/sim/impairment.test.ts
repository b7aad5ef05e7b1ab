import { describe, expect, it } from 'vitest';
import { checkImpairmentParams, Impairment } from '../../tun/impairment.js';
import { seededRandom } from '../../stack/random.js';

const rng = (seed = 7) => seededRandom(seed);

describe('Impairment', () => {
  it('loses 10% +- 1.5% of 20,000 packets at lossRate 0.1, and the stats agree', () => {
    const imp = new Impairment({ lossRate: 0.1 }, rng());
    let lost = 0;
    for (let i = 0; i < 20_000; i++) if (imp.schedule(100, i).length === 0) lost++;
    expect(lost / 20_000).toBeGreaterThan(0.085);
    expect(lost / 20_000).toBeLessThan(0.115);
    expect(imp.stats).toMatchObject({ offered: 20_000, lost, scheduled: 20_000 - lost, offeredBytes: 2_000_000 });
  });

  it('delays every packet by delayMs with no other impairment', () => {
    const imp = new Impairment({ delayMs: 50 }, rng());
    expect(imp.schedule(1500, 0)).toEqual([50]);
    expect(imp.schedule(1500, 0.5)).toEqual([50.5]);
    expect(imp.schedule(40, 1000)).toEqual([1050]);
  });

  it('keeps jittered delays inside delay +- jitter and never reorders because of jitter', () => {
    const imp = new Impairment({ delayMs: 50, jitterMs: 20 }, rng());
    let last = -Infinity;
    let minDelay = Infinity;
    let maxDelay = -Infinity;
    for (let i = 0; i < 5000; i++) {
      const now = i * 0.1; // 10 packets per ms: jitter alone would reorder constantly
      const [t] = imp.schedule(100, now);
      if (t! < last) throw new Error(`jitter reordered packet ${i}`);
      last = t!;
      minDelay = Math.min(minDelay, t! - now);
      maxDelay = Math.max(maxDelay, t! - now);
    }
    expect(minDelay).toBeGreaterThanOrEqual(30);
    expect(maxDelay).toBeLessThanOrEqual(70 + 0.1);
    // Spread packets out (gap >> jitter) and the full jitter range is visible.
    const sparse = new Impairment({ delayMs: 50, jitterMs: 20 }, rng(8));
    const delays = Array.from({ length: 2000 }, (_, i) => sparse.schedule(100, i * 100)[0]! - i * 100);
    expect(Math.min(...delays)).toBeLessThan(31);
    expect(Math.max(...delays)).toBeGreaterThan(69);
  });

  it('serializes at the configured rate through one queue', () => {
    // 1 Mbit/s: a 1250-byte packet takes 10 ms on the wire.
    const imp = new Impairment({ rateBitsPerSecond: 1_000_000, delayMs: 5 }, rng());
    expect(imp.schedule(1250, 0)).toEqual([15]);
    expect(imp.schedule(1250, 0)).toEqual([25]); // waits for the first
    expect(imp.schedule(125, 1)).toEqual([26]);
    expect(imp.backlog(1)).toEqual({ packets: 3, bytes: 2625 });
    expect(imp.backlog(20.5)).toEqual({ packets: 1, bytes: 125 });
    expect(imp.schedule(1250, 100)).toEqual([115]); // the queue drained meanwhile
    // Long-run throughput equals the rate: 1000 packets of 1250 bytes leave over 10 s.
    const bulk = new Impairment({ rateBitsPerSecond: 1_000_000, queueLimitPackets: 0 }, rng());
    let lastArrival = 0;
    for (let i = 0; i < 1000; i++) lastArrival = bulk.schedule(1250, 0)[0]!;
    expect(lastArrival).toBeCloseTo(10_000, 6);
  });

  it('tail-drops when the queue limit in packets or bytes is reached', () => {
    const imp = new Impairment({ rateBitsPerSecond: 8000, queueLimitPackets: 3 }, rng());
    // 8 kbit/s: 1000 bytes take 1 s; offered at once, only 3 fit.
    const got = [0, 0, 0, 0, 0].map(() => imp.schedule(1000, 0));
    expect(got).toEqual([[1000], [2000], [3000], [], []]);
    expect(imp.stats.queueDropped).toBe(2);
    expect(imp.schedule(1000, 1000)).toEqual([4000]); // one left the queue at t=1000
    const bytes = new Impairment({ rateBitsPerSecond: 8000, queueLimitPackets: 0, queueLimitBytes: 2500 }, rng());
    expect([1000, 1000, 1000, 400].map((n) => bytes.schedule(n, 0).length)).toEqual([1, 1, 0, 1]);
  });

  it('duplicates about duplicateRate of packets, each copy with its own arrival', () => {
    const imp = new Impairment({ duplicateRate: 0.05, delayMs: 10 }, rng());
    let twice = 0;
    let other = 0;
    for (let i = 0; i < 20_000; i++) {
      const n = imp.schedule(100, i).length;
      if (n === 2) twice++;
      else if (n !== 1) other++;
    }
    expect(other).toBe(0);
    expect(twice / 20_000).toBeGreaterThan(0.04);
    expect(twice / 20_000).toBeLessThan(0.06);
    expect(imp.stats.duplicated).toBe(twice);
    expect(imp.stats.scheduled).toBe(20_000 + twice);
  });

  it('reorders: a chosen packet skips the delay and overtakes packets in flight', () => {
    const imp = new Impairment({ delayMs: 100, reorderRate: 0.25 }, rng());
    const arrivals: number[] = [];
    for (let i = 0; i < 20_000; i++) arrivals.push(imp.schedule(100, i)[0]!);
    const skipped = arrivals.filter((t, i) => t === i).length;
    expect(skipped / 20_000).toBeGreaterThan(0.23);
    expect(skipped / 20_000).toBeLessThan(0.27);
    expect(imp.stats.reordered).toBe(skipped);
    // Every other packet arrives exactly 100 ms late, in order among themselves.
    const delayed = arrivals.filter((t, i) => t !== i);
    expect(delayed.every((t, i) => i === 0 || t > delayed[i - 1]!)).toBe(true);
    // Without delay nothing can be overtaken.
    const flat = new Impairment({ reorderRate: 0.5 }, rng());
    expect(Array.from({ length: 100 }, (_, i) => flat.schedule(100, i)[0])).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('applies setParams from the next packet on and rejects nonsense', () => {
    const imp = new Impairment({ delayMs: 10 }, rng());
    expect(imp.schedule(100, 0)).toEqual([10]);
    imp.setParams({ lossRate: 1 });
    expect(imp.schedule(100, 1)).toEqual([]);
    imp.setParams({ lossRate: 0, delayMs: 1 });
    expect(imp.schedule(100, 20)).toEqual([21]);
    expect(() => imp.setParams({ lossRate: 1.5 })).toThrow(RangeError);
    expect(() => new Impairment({ delayMs: -1 }, rng())).toThrow(RangeError);
    expect(() => new Impairment({ rateBitsPerSecond: Number.NaN }, rng())).toThrow(RangeError);
    expect(imp.params.delayMs).toBe(1);
    // The same check serves the lab's path impairments, which carry only some of the fields.
    expect(() => checkImpairmentParams({ delayMs: 5, lossRate: 1 })).not.toThrow();
    expect(() => checkImpairmentParams({ jitterMs: Infinity })).toThrow(RangeError);
    expect(() => checkImpairmentParams({ duplicateRate: -0.1 })).toThrow(RangeError);
  });

  it('is deterministic per seed', () => {
    const run = (seed: number) => {
      const imp = new Impairment({ delayMs: 20, jitterMs: 5, lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.1 }, rng(seed));
      return Array.from({ length: 500 }, (_, i) => imp.schedule(100 + i, i).join(',')).join(';');
    };
    expect(run(1)).toBe(run(1));
    expect(run(1)).not.toBe(run(2));
  });
});
