import { describe, expect, it } from 'vitest';
import { SendBuffer } from '../../stack/tcp/send-buffer.js';
import { concat as gather, pattern } from './bytes.js';

describe('SendBuffer', () => {
  it('keeps large writes by reference and copies ranges across chunk boundaries', () => {
    const sb = new SendBuffer(1 << 20);
    const a = pattern(3000, 1);
    const b = pattern(5000, 2);
    sb.append(a);
    sb.append(b);
    expect(sb.length).toBe(8000);
    const views: Uint8Array[] = [];
    sb.slices(2500, 1000, views);
    expect(views.map((v) => v.length)).toEqual([500, 500]);
    expect(views[0]!.buffer).toBe(a.buffer); // no copy
    expect(views[1]!.buffer).toBe(b.buffer);
    const out = new Uint8Array(1100).fill(0xee);
    sb.copyRange(2500, 1000, out, 60);
    expect(out.subarray(60, 1060)).toEqual(gather([a.subarray(2500), b.subarray(0, 500)]));
    expect(out[59]).toBe(0xee);
    expect(out[1060]).toBe(0xee);
  });

  it('coalesces small writes into shared chunks (one copy) and stays byte-exact', () => {
    const sb = new SendBuffer(1 << 20);
    const all: Uint8Array[] = [];
    for (let i = 0; i < 5000; i++) {
      const w = pattern(1 + (i % 17), i);
      all.push(w.slice());
      sb.append(w);
      w.fill(0); // the buffer copied it, so later changes do not leak in
    }
    const expected = gather(all);
    const views: Uint8Array[] = [];
    sb.slices(0, sb.length, views);
    expect(views.length).toBeLessThan(10); // ~45000 bytes in 16 KiB tail chunks
    expect(gather(views)).toEqual(expected);
  });

  it('releases acknowledged bytes from the front, including part of a chunk', () => {
    const sb = new SendBuffer(1 << 20);
    const data = pattern(10_000, 3);
    sb.append(data.subarray(0, 4000));
    sb.append(data.subarray(4000, 10_000));
    sb.release(4500);
    expect(sb.length).toBe(5500);
    const out = new Uint8Array(5500);
    sb.copyRange(0, 5500, out, 0);
    expect(out).toEqual(data.subarray(4500));
    sb.release(5500);
    expect(sb.length).toBe(0);
    sb.append(data.subarray(0, 10));
    const views: Uint8Array[] = [];
    sb.slices(0, 10, views);
    expect(gather(views)).toEqual(data.subarray(0, 10));
  });

  it('stays exact over a long stream of mixed writes, reads and releases', () => {
    let seed = 5;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const sb = new SendBuffer(1 << 30);
    const stream: number[] = [];
    let released = 0;
    for (let step = 0; step < 3000; step++) {
      const n = rnd(4) === 0 ? 1000 + rnd(3000) : 1 + rnd(200);
      const w = pattern(n, step);
      for (const x of w) stream.push(x);
      sb.append(w);
      if (rnd(3) === 0 && sb.length > 0) {
        const off = rnd(sb.length);
        const len = Math.min(sb.length - off, 1 + rnd(3000));
        const out = new Uint8Array(len);
        sb.copyRange(off, len, out, 0);
        expect(Array.from(out)).toEqual(stream.slice(released + off, released + off + len));
      }
      if (rnd(4) === 0) {
        const r = rnd(sb.length + 1);
        sb.release(r);
        released += r;
      }
    }
    expect(sb.length).toBe(stream.length - released);
  });

  it('reports backpressure at the limit', () => {
    const sb = new SendBuffer(5000);
    expect(sb.append(pattern(3000, 0))).toBe(true);
    expect(sb.room).toBe(2000);
    expect(sb.append(pattern(3000, 0))).toBe(false);
    expect(sb.hasRoom()).toBe(false);
    expect(sb.room).toBe(0);
    sb.release(2000);
    expect(sb.hasRoom()).toBe(true);
  });

  it('refuses ranges outside what it holds', () => {
    const sb = new SendBuffer(100);
    sb.append(pattern(50, 0));
    expect(() => sb.copyRange(40, 20, new Uint8Array(20), 0)).toThrow(RangeError);
    expect(() => sb.release(51)).toThrow(RangeError);
  });
});
