import { describe, expect, it } from 'vitest';
import {
  finishChecksum,
  internetChecksum,
  onesComplementSum,
  pseudoHeaderSum,
  updateChecksum,
  updateChecksum32,
} from '../../stack/wire/checksum.js';
import { captured as c } from './captured.js';
import { addr, hex, randomBytes } from './helpers.js';

/** RFC 1071 section 4.1, word by word with end-around carry after every addition. */
function naiveSum(bytes: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i += 2) {
    const hi = bytes[offset + i]!;
    const lo = i + 1 < length ? bytes[offset + i + 1]! : 0;
    sum += (hi << 8) | lo;
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  }
  return sum;
}

describe('onesComplementSum', () => {
  it('matches the naive RFC 1071 sum for every length 0..300 at offsets 0..7', () => {
    const backing = randomBytes(4096, 0x1234567);
    for (let base = 0; base < 4; base++) {
      // A subarray with an unaligned byteOffset exercises the head/tail handling.
      const bytes = backing.subarray(base);
      for (let offset = 0; offset < 8; offset++) {
        for (let length = 0; length <= 300; length++) {
          expect(onesComplementSum(bytes, offset, length), `base ${base} off ${offset} len ${length}`).toBe(
            naiveSum(bytes, offset, length),
          );
        }
      }
    }
  });

  it('matches the naive sum on large buffers of all-0xff and random bytes', () => {
    const ones = new Uint8Array(70001).fill(0xff);
    expect(onesComplementSum(ones, 1, 70000)).toBe(naiveSum(ones, 1, 70000));
    const rnd = randomBytes(200003, 99);
    for (const [off, len] of [
      [0, 200003],
      [3, 131072],
      [1, 65535],
    ] as const) {
      expect(onesComplementSum(rnd, off, len)).toBe(naiveSum(rnd, off, len));
    }
  });

  it('adds an initial sum', () => {
    const b = randomBytes(100, 7);
    const whole = onesComplementSum(b, 0, 100);
    const split = onesComplementSum(b, 40, 60, onesComplementSum(b, 0, 40));
    expect(split).toBe(whole);
  });

  it('refuses a range outside the bytes instead of summing garbage', () => {
    const b = new Uint8Array(64);
    expect(() => onesComplementSum(b, 1, 64)).toThrow(RangeError);
    expect(() => onesComplementSum(b, 0, -2)).toThrow(RangeError);
    expect(() => onesComplementSum(b.subarray(8), 0, 60)).toThrow(RangeError);
  });

  it('RFC 1071 section 3 example', () => {
    // 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
    expect(onesComplementSum(hex('0001f203f4f5f6f7'), 0, 8)).toBe(0xddf2);
  });
});

describe('internetChecksum', () => {
  it('verifies a kernel-built IPv4 header (sum over header including checksum is 0)', () => {
    // The worked example of an IPv4 header (UDP, 192.168.0.1 -> 192.168.0.199), checksum b861.
    const header = hex('45000073 00004000 4011 b861 c0a80001 c0a800c7');
    expect(internetChecksum(header, 0, 20)).toBe(0);
    header[10] = 0;
    header[11] = 0;
    expect(internetChecksum(header, 0, 20)).toBe(0xb861);
  });
});

describe('pseudoHeaderSum', () => {
  it('sums IPv4 src, dst, protocol and length', () => {
    const s = pseudoHeaderSum(addr('10.0.0.1'), addr('10.0.0.2'), 17, 12);
    expect(s).toBe((0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 12) & 0xffff);
  });
  it('includes the high half of a 32-bit IPv6 upper-layer length', () => {
    const a = addr('::');
    expect(pseudoHeaderSum(a, a, 6, 0x10005)).toBe(1 + 5 + 6);
  });
});

describe('finishChecksum', () => {
  it('folds carries and complements', () => {
    expect(finishChecksum(0x1fffe)).toBe(0);
    expect(finishChecksum(0)).toBe(0xffff);
    expect(finishChecksum(0x1234)).toBe(0xedcb);
  });
});

describe('updateChecksum', () => {
  it('equals a full recomputation after changing a 16-bit or 32-bit field', () => {
    for (let seed = 1; seed < 200; seed++) {
      const b = randomBytes(40, seed);
      const before = internetChecksum(b, 0, 40);
      const oldWord = (b[6]! << 8) | b[7]!;
      const newWord = (seed * 7919) & 0xffff;
      b[6] = newWord >> 8;
      b[7] = newWord & 0xff;
      const updated = updateChecksum(before, oldWord, newWord);
      expect(updated).toBe(internetChecksum(b, 0, 40));

      const old32 = ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0;
      const new32 = (Math.imul(seed, 0x9e3779b1) >>> 0);
      const before32 = internetChecksum(b, 0, 40);
      b[12] = new32 >>> 24;
      b[13] = (new32 >>> 16) & 0xff;
      b[14] = (new32 >>> 8) & 0xff;
      b[15] = new32 & 0xff;
      expect(updateChecksum32(before32, old32, new32)).toBe(internetChecksum(b, 0, 40));
    }
  });
});

describe('checksums of packets captured from the kernel (test/wire/captured.ts)', () => {
  it('IPv4 header and ICMP checksums sum to zero', () => {
    for (const p of [c.ipv4EchoRequest, c.ipv4EchoReply, c.ipv4TimeExceeded, c.ipv4FragNeeded, c.ipv4RecordRouteReply]) {
      const ihl = (p[0]! & 0x0f) * 4;
      expect(internetChecksum(p, 0, ihl)).toBe(0);
      expect(internetChecksum(p, ihl, p.length - ihl)).toBe(0);
    }
  });

  it('UDP over IPv4 and UDP/ICMPv6 over IPv6 verify with the pseudo-header', () => {
    const udp4 = c.ipv4Udp.subarray(20);
    const ph4 = pseudoHeaderSum(c.ipv4Udp.subarray(12, 16), c.ipv4Udp.subarray(16, 20), 17, udp4.length);
    expect(finishChecksum(onesComplementSum(udp4, 0, udp4.length, ph4))).toBe(0);
    for (const [p, proto] of [
      [c.ipv6Udp, 17],
      [c.ipv6EchoRequest1408, 58],
      [c.ipv6PacketTooBig, 58],
      [c.ipv6NeighborAdvertisement, 58],
    ] as const) {
      const upper = p.subarray(40);
      const ph = pseudoHeaderSum(p.subarray(8, 24), p.subarray(24, 40), proto, upper.length);
      expect(finishChecksum(onesComplementSum(upper, 0, upper.length, ph))).toBe(0);
    }
  });
});
