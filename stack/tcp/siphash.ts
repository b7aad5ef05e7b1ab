// SipHash-2-4 (Aumasson and Bernstein, 2012): a fast keyed 64-bit PRF for short inputs,
// which Linux uses for ISNs (secure_tcp_seq) and SYN cookies. 64-bit lanes are held as
// pairs of unsigned 32-bit halves so no BigInt is needed; one call on a 40-byte 4-tuple
// costs a fraction of a microsecond, against several for an HMAC through node:crypto,
// which matters when answering a SYN flood.

/** Lanes v0..v3 as [hi, lo] pairs: v0h, v0l, v1h, v1l, v2h, v2l, v3h, v3l. */
const v = new Uint32Array(8);

function add(a: number, b: number): void {
  // v[a] += v[b] (64-bit), indices of the high halves.
  const lo = v[a + 1]! + v[b + 1]!;
  v[a] = v[a]! + v[b]! + (lo > 0xffff_ffff ? 1 : 0);
  v[a + 1] = lo;
}

function rotl(a: number, n: number): void {
  const hi = v[a]!;
  const lo = v[a + 1]!;
  if (n === 32) {
    v[a] = lo;
    v[a + 1] = hi;
    return;
  }
  v[a] = (hi << n) | (lo >>> (32 - n));
  v[a + 1] = (lo << n) | (hi >>> (32 - n));
}

function xor(a: number, b: number): void {
  v[a] = v[a]! ^ v[b]!;
  v[a + 1] = v[a + 1]! ^ v[b + 1]!;
}

// Lane offsets in `v`.
const V0 = 0;
const V1 = 2;
const V2 = 4;
const V3 = 6;

function sipRound(): void {
  add(V0, V1);
  rotl(V1, 13);
  xor(V1, V0);
  rotl(V0, 32);
  add(V2, V3);
  rotl(V3, 16);
  xor(V3, V2);
  add(V0, V3);
  rotl(V3, 21);
  xor(V3, V0);
  add(V2, V1);
  rotl(V1, 17);
  xor(V1, V2);
  rotl(V2, 32);
}

function le32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

function absorb(hi: number, lo: number): void {
  v[V3] = v[V3]! ^ hi;
  v[V3 + 1] = v[V3 + 1]! ^ lo;
  sipRound();
  sipRound();
  v[V0] = v[V0]! ^ hi;
  v[V0 + 1] = v[V0 + 1]! ^ lo;
}

/** SipHash-2-4 of `msg` under the 16-byte `key`; the 64-bit result as two 32-bit halves. */
export function siphash24(key: Uint8Array, msg: Uint8Array): { hi: number; lo: number } {
  const k0l = le32(key, 0);
  const k0h = le32(key, 4);
  const k1l = le32(key, 8);
  const k1h = le32(key, 12);
  v[0] = k0h ^ 0x736f6d65;
  v[1] = k0l ^ 0x70736575;
  v[2] = k1h ^ 0x646f7261;
  v[3] = k1l ^ 0x6e646f6d;
  v[4] = k0h ^ 0x6c796765;
  v[5] = k0l ^ 0x6e657261;
  v[6] = k1h ^ 0x74656462;
  v[7] = k1l ^ 0x79746573;
  const whole = msg.length & ~7;
  for (let i = 0; i < whole; i += 8) absorb(le32(msg, i + 4), le32(msg, i));
  // Last block: the remaining bytes, little-endian, with the length in the top byte.
  let lo = 0;
  let hi = (msg.length & 0xff) << 24;
  for (let i = whole; i < msg.length; i++) {
    const shift = (i - whole) * 8;
    if (shift < 32) lo |= msg[i]! << shift;
    else hi |= msg[i]! << (shift - 32);
  }
  absorb(hi >>> 0, lo >>> 0);
  v[V2 + 1] = v[V2 + 1]! ^ 0xff;
  for (let r = 0; r < 4; r++) sipRound();
  return {
    hi: (v[0]! ^ v[2]! ^ v[4]! ^ v[6]!) >>> 0,
    lo: (v[1]! ^ v[3]! ^ v[5]! ^ v[7]!) >>> 0,
  };
}
