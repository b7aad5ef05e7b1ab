import { describe, expect, it } from 'vitest';
import { DsnSpace, unwrap32 } from '../../stack/mptcp/dsn.js';
import { keyToIdsn } from '../../stack/mptcp/crypto.js';

const MAX64 = (1n << 64n) - 1n;

describe('DsnSpace', () => {
  it('offset 0 is IDSN+1 (kernel capture: key c94910b0de10cf83, first DSN cec81cbfad8c0355)', () => {
    const s = new DsnSpace(keyToIdsn(0xc94910b0de10cf83n));
    expect(s.toWire64(0)).toBe(0xcec81cbfad8c0355n);
    expect(s.fromWire64(0xcec81cbfad8c0355n + 2000n)).toBe(2000);
    // The kernel's DATA_ACK after 2000 bytes was cec81cbf_ad8c0b25: its lower 32 bits expand back.
    expect(s.fromWire32(0xad8c0b25, 1500)).toBe(2000);
    expect(s.toWire32(2000)).toBe(0xad8c0b25);
  });

  it('round-trips offsets across the 2^64 wrap for IDSNs near 2^64', () => {
    for (const idsn of [MAX64, MAX64 - 1n, MAX64 - 1000n, 0n, (1n << 63n) - 1n]) {
      const s = new DsnSpace(idsn);
      for (const off of [0, 1, 999, 1000, 1001, 2 ** 32, 2 ** 40 + 7, 2 ** 53 - 1]) {
        const wire = s.toWire64(off);
        expect(wire).toBe((idsn + 1n + BigInt(off)) & MAX64);
        expect(wire >= 0n && wire <= MAX64).toBe(true);
        expect(s.fromWire64(wire)).toBe(off);
        expect(s.toWire32(off)).toBe(Number(wire & 0xffffffffn));
      }
    }
    // IDSN = 2^64-1: offset 0 is DSN 0.
    expect(new DsnSpace(MAX64).toWire64(0)).toBe(0n);
  });

  it('gives negative offsets for DSNs just below IDSN+1 (zero-window probe at DATA_ACK-1)', () => {
    const s = new DsnSpace(5n);
    expect(s.fromWire64(5n)).toBe(-1);
    expect(s.fromWire64(0n)).toBe(-6);
    expect(s.toWire64(-1)).toBe(5n);
    expect(s.fromWire64(s.toWire64(-1))).toBe(-1);
    const w = new DsnSpace(0n);
    expect(w.fromWire64(MAX64)).toBe(-2);
    expect(w.toWire32(-2)).toBe(0xffffffff);
  });

  it('expands 32-bit DSNs across the wrap of the lower 32 bits, both ways', () => {
    // IDSN+1 has lower 32 bits 0xfffffff0: the lower half wraps 16 bytes into the stream.
    const s = new DsnSpace(0x12345678_ffffffefn);
    expect(s.toWire32(0)).toBe(0xfffffff0);
    expect(s.toWire32(16)).toBe(0);
    for (const near of [0, 10, 16, 100, 5000]) {
      for (const off of [near - 3000, near, near + 15, near + 70000, near + 2 ** 31 - 1]) {
        if (off < -100) continue;
        expect(s.fromWire32(s.toWire32(off), near)).toBe(off);
      }
    }
    // far into the stream, after many wraps of the lower 32 bits
    const far = 7 * 2 ** 32 + 12345;
    expect(s.fromWire32(s.toWire32(far + 100), far)).toBe(far + 100);
    expect(s.fromWire32(s.toWire32(far - 100), far)).toBe(far - 100);
    // exactly across a wrap boundary of the lower 32 bits
    const boundary = 3 * 2 ** 32 + 16;
    expect(s.toWire32(boundary)).toBe(0);
    expect(s.fromWire32(0xffffffff, boundary)).toBe(boundary - 1);
    expect(s.fromWire32(0, boundary - 5)).toBe(boundary);
    // a value more than 2^31 ahead is taken as behind (RFC 8684 3.3.1: nearest expansion)
    expect(s.fromWire32(s.toWire32(far + 2 ** 31 + 1), far)).toBe(far + 2 ** 31 + 1 - 2 ** 32);
  });

  it('is exact at the top of the 2^53 offset range', () => {
    const s = new DsnSpace(MAX64 - 5n);
    const top = 2 ** 53 - 10;
    expect(s.fromWire64(s.toWire64(top))).toBe(top);
    expect(s.fromWire32(s.toWire32(top + 3), top)).toBe(top + 3);
  });
});

describe('unwrap32', () => {
  it('finds the nearest value with the given lower 32 bits', () => {
    expect(unwrap32(5, 0)).toBe(5);
    expect(unwrap32(0xffffffff, 0)).toBe(-1);
    expect(unwrap32(3, 2 ** 32 - 2)).toBe(2 ** 32 + 3);
    expect(unwrap32(0xfffffff0, 2 ** 32 + 3)).toBe(2 ** 32 - 16);
    expect(unwrap32(100, 10 * 2 ** 32 + 50)).toBe(10 * 2 ** 32 + 100);
    expect(unwrap32(7, -3)).toBe(7);
  });
});
