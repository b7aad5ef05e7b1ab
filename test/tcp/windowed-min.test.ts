import { describe, expect, it } from 'vitest';
import { WindowedMin } from '../../stack/tcp/windowed-min.js';

/** The true minimum of samples within (now - window, now]. */
function bruteMin(samples: Array<[number, number]>, now: number, window: number): number {
  let m = Infinity;
  for (const [t, v] of samples) if (now - t <= window && v < m) m = v;
  return m;
}

describe('WindowedMin', () => {
  it('is Infinity before any sample and tracks a falling minimum', () => {
    const f = new WindowedMin(1000);
    expect(f.value).toBe(Infinity);
    expect(f.update(0, 50)).toBe(50);
    expect(f.update(10, 60)).toBe(50);
    expect(f.update(20, 40)).toBe(40);
  });

  it('lets an old minimum expire and falls back to a later, larger sample', () => {
    const f = new WindowedMin(100);
    f.update(0, 10);
    f.update(30, 20);
    f.update(60, 30);
    expect(f.value).toBe(10);
    // At t=120 the sample from t=0 is out of the window; 20 (t=30) is still in.
    expect(f.update(120, 40)).toBe(20);
    // At t=250 everything older than 150 is gone: only the new sample counts.
    expect(f.update(250, 45)).toBe(45);
  });

  it('never reports a value below the true windowed minimum, and never one that expired long ago', () => {
    const f = new WindowedMin(200);
    const samples: Array<[number, number]> = [];
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let t = 0; t < 5000; t += 7) {
      const v = 50 + Math.floor(rnd() * 100) + (t % 1000 < 500 ? 0 : 40);
      samples.push([t, v]);
      const got = f.update(t, v);
      // The estimate is a value seen within the window (the algorithm may hold a
      // sub-window best a little larger than the true minimum, never a smaller one).
      expect(got).toBeGreaterThanOrEqual(bruteMin(samples, t, 200));
      const inWindow = samples.filter(([st]) => t - st <= 200).map(([, sv]) => sv);
      expect(inWindow).toContain(got);
    }
  });

  it('reset forgets', () => {
    const f = new WindowedMin(100);
    f.update(0, 5);
    f.reset();
    expect(f.value).toBe(Infinity);
    expect(f.update(1, 9)).toBe(9);
  });
});
