// MPTCP v1 cryptography (RFC 8684 2.1, 2.2, 3.1, 3.2, 3.3.1, 3.4.1) exactly as Linux
// computes it (net/mptcp/crypto.c, subflow.c, options.c): keys are 64-bit numbers that
// enter every hash as 8 big-endian bytes; HMAC-SHA256 is the only algorithm of v1.

import { createHmac, hash } from 'node:crypto';
import type { RandomSource } from '../random.js';
import { finishChecksum, onesComplementSum } from '../wire/checksum.js';

/** A 64-bit MPTCP key: a bigint (0..2^64-1) or its 8 bytes in network order. */
export type MptcpKey = bigint | Uint8Array;

const MASK64 = (1n << 64n) - 1n;

/** The 8 network-order bytes of a key. */
export function keyBytes(key: MptcpKey): Uint8Array {
  if (key instanceof Uint8Array) {
    if (key.length !== 8) throw new RangeError(`MPTCP key must be 8 bytes, got ${key.length}`);
    return key;
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, key & MASK64);
  return out;
}

/** A key as a bigint. */
export function keyValue(key: MptcpKey): bigint {
  return key instanceof Uint8Array ? new DataView(key.buffer, key.byteOffset, 8).getBigUint64(0) : key & MASK64;
}

function keyDigest(key: MptcpKey): Buffer {
  // One-shot hash: no Hash object (a stream wrapper) per connection; a third of createHash's cost on the connect path.
  return hash('sha256', keyBytes(key), 'buffer');
}

/** RFC 8684 2.2: the token is the most significant 32 bits of SHA-256(key). */
export function keyToToken(key: MptcpKey): number {
  return keyDigest(key).readUInt32BE(0);
}

/** RFC 8684 3.1: the IDSN is the least significant 64 bits of SHA-256(key); the first data byte is IDSN+1. */
export function keyToIdsn(key: MptcpKey): bigint {
  return keyDigest(key).readBigUInt64BE(24);
}

/** Token and IDSN from one hash, for the connection set-up path that needs both. */
export function keyToTokenAndIdsn(key: MptcpKey): { token: number; idsn: bigint } {
  const d = keyDigest(key);
  return { token: d.readUInt32BE(0), idsn: d.readBigUInt64BE(24) };
}

/** Attempts before giving up on finding a free token (net/mptcp/token.c TOKEN_MAX_RETRIES). */
export const KEY_GENERATION_ATTEMPTS = 4;

/**
 * A fresh random local key whose token is not in use (RFC 8684 3.2: the token must be
 * unique per host, or MP_JOIN would reach the wrong connection). Like Linux, token 0 is
 * never handed out and after KEY_GENERATION_ATTEMPTS collisions the attempt fails
 * (undefined) instead of looping: with a sane table size a collision is 2^-32 rare.
 */
export function generateKey(
  random: RandomSource,
  isTokenInUse: (token: number) => boolean,
): { key: bigint; token: number; idsn: bigint } | undefined {
  for (let i = 0; i < KEY_GENERATION_ATTEMPTS; i++) {
    const key = keyValue(random.bytes(8));
    const { token, idsn } = keyToTokenAndIdsn(key);
    if (token !== 0 && !isTokenInUse(token)) return { key, token, idsn };
  }
  return undefined;
}

function hmacSha256(key1: MptcpKey, key2: MptcpKey, message: Uint8Array): Buffer {
  // Linux (mptcp_crypto_hmac_sha) uses the 16-byte key Key1||Key2, padded to the block
  // size as in RFC 2104: exactly what a standard HMAC with a 16-byte key does.
  return createHmac('sha256', Buffer.concat([keyBytes(key1), keyBytes(key2)]))
    .update(message)
    .digest();
}

function nonces(first: number, second: number): Uint8Array {
  const msg = new Uint8Array(8);
  const v = new DataView(msg.buffer);
  v.setUint32(0, first >>> 0);
  v.setUint32(4, second >>> 0);
  return msg;
}

/** The full 32-byte HMAC-SHA256(Key1||Key2, R1||R2) of an MP_JOIN handshake. */
export function joinHmac(key1: MptcpKey, key2: MptcpKey, nonce1: number, nonce2: number): Uint8Array {
  return new Uint8Array(hmacSha256(key1, key2, nonces(nonce1, nonce2)));
}

/**
 * RFC 8684 3.2: MP_JOIN SYN/ACK carries the leftmost 64 bits of HMAC(Key-B||Key-A, R-B||R-A),
 * B being the responder (it sends the SYN/ACK) and A the initiator.
 */
export function joinSynAckHmac(keyB: MptcpKey, keyA: MptcpKey, nonceB: number, nonceA: number): Uint8Array {
  return joinHmac(keyB, keyA, nonceB, nonceA).subarray(0, 8);
}

/** RFC 8684 3.2: the third ACK of MP_JOIN carries the leftmost 160 bits of HMAC(Key-A||Key-B, R-A||R-B). */
export function joinAckHmac(keyA: MptcpKey, keyB: MptcpKey, nonceA: number, nonceB: number): Uint8Array {
  return joinHmac(keyA, keyB, nonceA, nonceB).subarray(0, 20);
}

/**
 * RFC 8684 3.4.1: ADD_ADDR carries the rightmost 64 bits of HMAC(sender key || receiver key,
 * address ID || address || port). Linux (options.c add_addr_generate_hmac) always appends
 * two port bytes, zero when the option has no port, so the message is 7 (IPv4) or 19
 * (IPv6) bytes whether or not the option itself carries a port.
 */
export function addAddrHmac(
  senderKey: MptcpKey,
  receiverKey: MptcpKey,
  addressId: number,
  address: Uint8Array,
  port = 0,
): Uint8Array {
  const msg = new Uint8Array(1 + address.length + 2);
  msg[0] = addressId & 0xff;
  msg.set(address, 1);
  msg[1 + address.length] = (port >>> 8) & 0xff;
  msg[2 + address.length] = port & 0xff;
  return new Uint8Array(hmacSha256(senderKey, receiverKey, msg).subarray(24, 32));
}

/** Constant-time comparison of two MACs (a received truncated HMAC against ours). */
export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * RFC 8684 3.3.1: the DSS checksum, the Internet checksum over the pseudo-header (64-bit
 * DSN, 32-bit relative subflow sequence number, 16-bit data-level length, 16-bit zero)
 * followed by the mapped payload. The DSN is always the 64-bit value even when the option
 * carries 32 bits; `length` is the DSS data-level length (it counts a DATA_FIN). The
 * payload may arrive in several chunks (segments) of any length. A receiver verifies by
 * passing the received checksum as `received`: the result is then 0 when it is right
 * (Linux validate_data_csum: the sum over the pseudo-header including the field).
 */
export function dssChecksum(
  dsn: bigint,
  subflowSeq: number,
  length: number,
  payload: readonly Uint8Array[],
  received = 0,
): number {
  const header = new Uint8Array(16);
  const v = new DataView(header.buffer);
  v.setBigUint64(0, dsn & MASK64);
  v.setUint32(8, subflowSeq >>> 0);
  v.setUint16(12, length & 0xffff);
  v.setUint16(14, received & 0xffff);
  let sum = onesComplementSum(header, 0, 16);
  let odd = false;
  for (const chunk of payload) {
    if (chunk.length === 0) continue;
    const part = onesComplementSum(chunk, 0, chunk.length);
    // RFC 1071 2(B): a chunk starting at an odd stream position contributes its
    // byte-swapped sum (Linux csum_block_add does the same).
    sum += odd ? ((part & 0xff) << 8) | (part >>> 8) : part;
    if (chunk.length % 2 === 1) odd = !odd;
  }
  return finishChecksum(sum);
}
