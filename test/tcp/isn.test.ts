import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../stack/wire/address.js';
import { IsnGenerator } from '../../stack/tcp/isn.js';
import type { FourTuple } from '../../stack/tcp/tuple-hash.js';

const secret = new Uint8Array(16).map((_, i) => i * 17 + 3);
const tuple = (lport: number, rport: number, remote = '192.0.2.7'): FourTuple => ({
  localAddress: parseAddress('192.0.2.1')!,
  localPort: lport,
  remoteAddress: parseAddress(remote)!,
  remotePort: rport,
});

describe('IsnGenerator (RFC 6528)', () => {
  it('gives different ISNs to different 4-tuples at the same time', () => {
    const g = new IsnGenerator(secret);
    const seen = new Set<number>();
    for (let p = 40_000; p < 40_200; p++) seen.add(g.isn(1000, tuple(p, 443)));
    seen.add(g.isn(1000, tuple(40_000, 443, '2001:db8::7')));
    expect(seen.size).toBe(201);
  });

  it('advances with time at one tick per 4 microseconds for a given 4-tuple', () => {
    const g = new IsnGenerator(secret);
    const t = tuple(40_000, 80);
    const a = g.isn(1000, t);
    expect((g.isn(1001, t) - a) >>> 0).toBe(250);
    expect((g.isn(2000, t) - a) >>> 0).toBe(250_000);
    // Wraps modulo 2^32 (every ~4.77 hours) rather than overflowing.
    const wrapped = g.isn(1000 + 2 ** 32 / 250, t);
    expect(wrapped).toBe(a);
  });

  it('depends on the secret, and insists on 128 bits of it', () => {
    const other = new IsnGenerator(secret.map((b) => b ^ 1));
    const g = new IsnGenerator(secret);
    expect(other.isn(0, tuple(1, 2))).not.toBe(g.isn(0, tuple(1, 2)));
    expect(() => new IsnGenerator(new Uint8Array(8))).toThrow(RangeError);
  });

  it('gives a per-connection timestamp offset unrelated to the ISN', () => {
    const g = new IsnGenerator(secret);
    const t = tuple(40_000, 80);
    expect(g.timestampOffset(t)).not.toBe(g.isn(0, t));
    expect(g.timestampOffset(t)).not.toBe(g.timestampOffset(tuple(40_001, 80)));
  });
});
