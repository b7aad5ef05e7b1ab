import { describe, expect, it } from 'vitest';
import { cryptoRandom, seededRandom } from '../../stack/random.js';

describe('seededRandom', () => {
  it('replays the same stream for the same seed, numeric or string', () => {
    for (const seed of [1, 'lab']) {
      const a = seededRandom(seed);
      const b = seededRandom(seed);
      const xs = Array.from({ length: 100 }, () => a.uint32());
      expect(Array.from({ length: 100 }, () => b.uint32())).toEqual(xs);
      expect(seededRandom(seed).bytes(37)).toEqual(seededRandom(seed).bytes(37));
    }
  });

  it('gives unrelated streams for neighbouring seeds and for 1 versus "1"', () => {
    const first = (seed: number | string) => seededRandom(seed).uint32();
    expect(new Set([first(1), first(2), first(3), first('1')]).size).toBe(4);
  });

  it('is close to uniform: float in [0,1) with mean 0.5 and bytes covering every value', () => {
    const r = seededRandom(42);
    let sum = 0;
    let outside = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const f = r.float();
      if (!(f >= 0 && f < 1)) outside++;
      sum += f;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.005);
    const seen = new Set(r.bytes(20_000));
    expect(seen.size).toBe(256);
    // Low bit of uint32 is balanced (xoshiro128** has no weak low bits).
    let ones = 0;
    for (let i = 0; i < n; i++) ones += r.uint32() & 1;
    expect(Math.abs(ones / n - 0.5)).toBeLessThan(0.01);
  });
});

describe('cryptoRandom', () => {
  it('returns the requested sizes and ranges and does not repeat', () => {
    const r = cryptoRandom();
    expect(r.bytes(0).length).toBe(0);
    expect(r.bytes(33).length).toBe(33);
    const xs = Array.from({ length: 200 }, () => r.uint32());
    expect(xs.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)).toBe(true);
    expect(new Set(xs).size).toBeGreaterThan(195);
    const f = r.float();
    expect(f >= 0 && f < 1).toBe(true);
  });

  it('hands out pooled small draws as arrays of their own, never the same bytes twice, across refills', () => {
    const r = cryptoRandom();
    const keys = Array.from({ length: 300 }, () => r.bytes(8));
    expect(keys.every((k) => k.length === 8 && k.byteOffset === 0 && k.buffer.byteLength === 8)).toBe(true);
    expect(new Set(keys.map((k) => Buffer.from(k).toString('hex'))).size).toBe(300);
    expect(r.bytes(100).length).toBe(100);
  });
});
