// ReleaseQueue with a hand-driven clock: order, ties, batching, and its one timer.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { ReleaseQueue } from '../../tun/release-queue.js';

describe('ReleaseQueue', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('releases by deadline, ties in insertion order, everything due in one batch', () => {
    let now = 0;
    const batches: string[][] = [];
    const q = new ReleaseQueue<string>((items) => batches.push(items), () => now);
    q.push(10, 'a');
    q.push(20, 'c');
    q.push(10, 'b'); // out of order: placed after 'a', before 'c'
    q.push(5, 'early');
    q.push(20, 'd');
    expect(q.size).toBe(5);
    expect(q.nextDeadline).toBe(5);
    now = 9;
    q.flushDue();
    expect(batches).toEqual([['early']]);
    now = 20;
    q.flushDue();
    expect(batches).toEqual([['early'], ['a', 'b', 'c', 'd']]);
    expect(q.size).toBe(0);
    q.flushDue();
    expect(batches).toHaveLength(2);
  });

  it('arms one timer for the earliest deadline and never releases early', () => {
    vi.useFakeTimers();
    let now = 0;
    const released: number[] = [];
    const q = new ReleaseQueue<number>((items) => released.push(...items), () => now);
    q.push(30, 30);
    q.push(10, 10);
    expect(vi.getTimerCount()).toBe(1);
    // The timer fires a millisecond before the deadline (setTimeout rounding): nothing goes, it re-arms.
    now = 9;
    vi.advanceTimersByTime(10);
    expect(released).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    now = 10;
    vi.advanceTimersByTime(1);
    expect(released).toEqual([10]);
    now = 30;
    vi.advanceTimersByTime(20);
    expect(released).toEqual([10, 30]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('clear() drops everything and disarms', () => {
    vi.useFakeTimers();
    const released: number[] = [];
    const q = new ReleaseQueue<number>((items) => released.push(...items), () => 0);
    for (let i = 0; i < 2000; i++) q.push(1 + (i % 7), i);
    q.clear();
    expect(q.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(100);
    expect(released).toEqual([]);
  });
});
