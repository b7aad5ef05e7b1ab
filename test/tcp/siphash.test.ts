import { describe, expect, it } from 'vitest';
import { siphash24 } from '../../stack/tcp/siphash.js';

// Reference vectors of the SipHash paper / veorq/SipHash vectors.h: key 00..0f,
// message i = bytes 00..(i-1), output as a little-endian 64-bit value.
const VECTORS: Array<[number, string]> = [
  [0, '726fdb47dd0e0e31'],
  [1, '74f839c593dc67fd'],
  [2, '0d6c8009d9a94f5a'],
  [3, '85676696d7fb7e2d'],
  [4, 'cf2794e0277187b7'],
  [5, '18765564cd99a68d'],
  [6, 'cbc9466e58fee3ce'],
  [7, 'ab0200f58b01d137'],
  [8, '93f5f5799a932462'],
  [9, '9e0082df0ba9e4b0'],
  [15, 'a129ca6149be45e5'],
];

describe('siphash24', () => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  it.each(VECTORS)('matches the reference vector for a %i-byte message', (len, hex) => {
    const msg = Uint8Array.from({ length: len }, (_, i) => i);
    const { hi, lo } = siphash24(key, msg);
    expect(hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0')).toBe(hex);
  });

  it('changes completely with one key bit', () => {
    const msg = new Uint8Array(40);
    const a = siphash24(key, msg);
    const k2 = key.slice();
    k2[15]! ^= 0x80;
    const b = siphash24(k2, msg);
    expect(a.lo).not.toBe(b.lo);
    expect(a.hi).not.toBe(b.hi);
  });
});
