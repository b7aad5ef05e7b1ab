import { describe, expect, it } from 'vitest';
import { seqAdd, type SeqRange } from '../../stack/tcp/seq.js';
import { SeqRangeSet } from '../../stack/tcp/seq-range-set.js';

/** Brute-force model: a set of offsets from a base. */
class Model {
  readonly members = new Set<number>();
  constructor(readonly base: number) {}
  add(a: number, b: number): number {
    let fresh = 0;
    for (let x = a; x < b; x++) if (!this.members.has(x)) (this.members.add(x), fresh++);
    return fresh;
  }
  ranges(): SeqRange[] {
    const xs = [...this.members].sort((p, q) => p - q);
    const out: SeqRange[] = [];
    for (const x of xs) {
      const last = out[out.length - 1];
      if (last && last.end === x) last.end = x + 1;
      else out.push({ start: x, end: x + 1 });
    }
    return out.map((r) => ({ start: seqAdd(this.base, r.start), end: seqAdd(this.base, r.end) }));
  }
}

describe('SeqRangeSet', () => {
  it('merges overlapping and adjacent ranges and counts fresh members', () => {
    const s = new SeqRangeSet();
    expect(s.add(10, 20)).toBe(10);
    expect(s.add(30, 40)).toBe(10);
    const added: SeqRange[] = [];
    expect(s.add(15, 35, added)).toBe(10);
    expect(added).toEqual([{ start: 20, end: 30 }]);
    expect(s.ranges).toEqual([{ start: 10, end: 40 }]);
    expect(s.add(40, 45)).toBe(5); // adjacent: merged
    expect(s.ranges).toEqual([{ start: 10, end: 45 }]);
    expect(s.add(12, 14)).toBe(0);
    expect(s.add(5, 5)).toBe(0);
    expect(s.bytes).toBe(35);
  });

  it('refuses a new separate range beyond maxRanges but still extends existing ones', () => {
    const s = new SeqRangeSet();
    s.add(0, 1, undefined, 2);
    s.add(10, 11, undefined, 2);
    expect(s.add(20, 21, undefined, 2)).toBe(-1);
    expect(s.add(11, 15, undefined, 2)).toBe(4);
    expect(s.size).toBe(2);
  });

  it('removes below and from a point, trimming ranges', () => {
    const s = new SeqRangeSet();
    s.add(10, 20);
    s.add(30, 40);
    s.add(50, 60);
    expect(s.removeBelow(35)).toBe(15);
    expect(s.ranges).toEqual([
      { start: 35, end: 40 },
      { start: 50, end: 60 },
    ]);
    expect(s.removeFrom(55)).toBe(5);
    expect(s.ranges).toEqual([
      { start: 35, end: 40 },
      { start: 50, end: 55 },
    ]);
    expect(s.bytes).toBe(10);
    expect(s.containing(52)).toEqual({ start: 50, end: 55 });
    expect(s.containing(55)).toBeUndefined();
    expect(s.countWithin(38, 52)).toBe(4);
  });

  it('matches a brute-force model under random operations across the 2^32 wrap', () => {
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    for (const base of [0, 0xffff_ff00]) {
      const s = new SeqRangeSet();
      const m = new Model(base);
      let floor = 0;
      for (let i = 0; i < 400; i++) {
        const a = floor + rnd(500);
        const b = a + 1 + rnd(20);
        expect(s.add(seqAdd(base, a), seqAdd(base, b))).toBe(m.add(a, b));
        if (i % 50 === 49) {
          floor += 40;
          s.removeBelow(seqAdd(base, floor));
          for (const x of [...m.members]) if (x < floor) m.members.delete(x);
        }
        expect(s.ranges).toEqual(m.ranges());
        expect(s.bytes).toBe(m.members.size);
      }
    }
  });
});
