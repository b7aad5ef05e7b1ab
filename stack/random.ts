// The stack's only source of randomness (ISNs, ephemeral ports, MPTCP keys, impairment
// draws). Everything random is taken from a RandomSource handed in by the caller, so a
// simulated run with a seed replays packet for packet, while a real host uses the OS CSPRNG.

import { createHash, randomFillSync } from 'node:crypto';

export interface RandomSource {
  /** `n` fresh random bytes. */
  bytes(n: number): Uint8Array;
  /** A uniform 32-bit unsigned integer. */
  uint32(): number;
  /** A uniform float in [0, 1) with 53 bits of precision. */
  float(): number;
}

const TWO_POW_26 = 2 ** 26;
const TWO_POW_53 = 2 ** 53;

/** 53 uniform bits from two 32-bit draws, the usual way to fill a double's mantissa. */
function floatFrom(next: () => number): number {
  const hi = next() >>> 5;
  const lo = next() >>> 6;
  return (hi * TWO_POW_26 + lo) / TWO_POW_53;
}

/** The OS CSPRNG (node:crypto). RFC 6528 and RFC 6056 want unpredictable ISNs and ports. */
export function cryptoRandom(): RandomSource {
  // Refill a small pool instead of one syscall per draw: ISNs and ports are drawn per packet burst.
  const pool = new Uint32Array(64);
  let used = pool.length;
  const uint32 = (): number => {
    if (used === pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    return pool[used++]!;
  };
  // Small draws (MPTCP keys and nonces, DNS IDs) from a byte pool too: a randomFillSync per
  // 8-byte key was 8% of an MPTCP connect.
  const bytePool = new Uint8Array(512);
  let bytesUsed = bytePool.length;
  const bytes = (n: number): Uint8Array => {
    if (n > 64) return randomFillSync(new Uint8Array(n));
    if (bytesUsed + n > bytePool.length) {
      randomFillSync(bytePool);
      bytesUsed = 0;
    }
    const out = bytePool.slice(bytesUsed, bytesUsed + n);
    bytesUsed += n;
    return out;
  };
  return {
    bytes,
    uint32,
    float: () => floatFrom(uint32),
  };
}

/**
 * A deterministic PRNG (xoshiro128**, Blackman and Vigna) for simulations and tests. NOT for
 * a host on a real network: its output is predictable from the seed. The seed (number or
 * string) is hashed with SHA-256 into the 128-bit state, so nearby seeds such as 1 and 2 or
 * 'net/path/0' and 'net/path/1' give unrelated streams.
 */
export function seededRandom(seed: number | string): RandomSource {
  const digest = createHash('sha256').update(`${typeof seed}:${seed}`).digest();
  const s = new Uint32Array(4);
  for (let i = 0; i < 4; i++) s[i] = digest.readUInt32LE(i * 4);
  // An all-zero state would stay zero forever; SHA-256 makes it practically impossible, but be exact.
  if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;

  const uint32 = (): number => {
    const s0 = s[0]!;
    const s1 = s[1]!;
    const s2 = s[2]!;
    const s3 = s[3]!;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    // Writing through the Uint32Array wraps every word to 32 bits.
    s[2] = s2 ^ s0;
    s[3] = s3 ^ s1;
    s[1] = s1 ^ s[2]!;
    s[0] = s0 ^ s[3]!;
    s[2] = s[2]! ^ t;
    s[3] = (s[3]! << 11) | (s[3]! >>> 21);
    return result;
  };

  return {
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += 4) {
        let v = uint32();
        for (let j = i; j < i + 4 && j < n; j++) {
          out[j] = v & 0xff;
          v >>>= 8;
        }
      }
      return out;
    },
    uint32,
    float: () => floatFrom(uint32),
  };
}
