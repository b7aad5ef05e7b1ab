import { describe, expect, it } from 'vitest';
import {
  inWindow,
  rangeLength,
  seqAdd,
  seqGeq,
  seqGt,
  seqLeq,
  seqLt,
  seqMax,
  seqMin,
  seqSub,
} from '../../stack/tcp/seq.js';

const TOP = 0xffff_ffff;

describe('sequence arithmetic (RFC 9293 3.4)', () => {
  it('orders plain values', () => {
    expect(seqLt(1, 2)).toBe(true);
    expect(seqLt(2, 1)).toBe(false);
    expect(seqLt(2, 2)).toBe(false);
    expect(seqLeq(2, 2)).toBe(true);
    expect(seqGt(3, 2)).toBe(true);
    expect(seqGeq(2, 2)).toBe(true);
    expect(seqGeq(1, 2)).toBe(false);
  });

  it('orders across the 2^32 wrap', () => {
    expect(seqLt(TOP, 0)).toBe(true);
    expect(seqLt(TOP - 10, 5)).toBe(true);
    expect(seqGt(5, TOP - 10)).toBe(true);
    expect(seqGt(0, TOP)).toBe(true);
    expect(seqMax(TOP, 3)).toBe(3);
    expect(seqMin(TOP, 3)).toBe(TOP);
    expect(seqMax(3, TOP)).toBe(3);
  });

  it('compares by the shorter way round: values 2^31 - 1 apart', () => {
    expect(seqLt(0, 0x7fff_ffff)).toBe(true);
    expect(seqLt(0x7fff_ffff, 0)).toBe(false);
    expect(seqLt(0x8000_0001, 0)).toBe(true);
  });

  it('adds and subtracts with wrap', () => {
    expect(seqAdd(TOP, 1)).toBe(0);
    expect(seqAdd(TOP - 1, 10)).toBe(8);
    expect(seqAdd(5, -10)).toBe(TOP - 4);
    expect(seqSub(8, TOP - 1)).toBe(10);
    expect(seqSub(TOP - 1, 8)).toBe(-10);
    expect(seqSub(100, 100)).toBe(0);
  });

  it('tests window membership at the edges and across the wrap', () => {
    expect(inWindow(100, 100, 10)).toBe(true);
    expect(inWindow(109, 100, 10)).toBe(true);
    expect(inWindow(110, 100, 10)).toBe(false);
    expect(inWindow(99, 100, 10)).toBe(false);
    expect(inWindow(100, 100, 0)).toBe(false);
    expect(inWindow(2, TOP - 2, 10)).toBe(true);
    expect(inWindow(TOP, TOP - 2, 10)).toBe(true);
    expect(inWindow(7, TOP - 2, 10)).toBe(false);
    expect(inWindow(TOP - 3, TOP - 2, 10)).toBe(false);
  });

  it('measures ranges, wrapped or empty', () => {
    expect(rangeLength({ start: TOP - 1, end: 3 })).toBe(5);
    expect(rangeLength({ start: 10, end: 10 })).toBe(0);
    expect(rangeLength({ start: 10, end: 5 })).toBe(0);
  });
});
