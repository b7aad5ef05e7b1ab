// Small helpers shared by the wire codec tests.

import { parseAddress, type IpAddress } from '../../stack/wire/address.js';
import type { ParseResult, WireErrorCode } from '../../stack/wire/result.js';

export function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function addr(text: string): IpAddress {
  const a = parseAddress(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a;
}

/** The value of a successful parse; fails the test with the error otherwise. */
export function unwrap<T>(result: ParseResult<T>): T {
  if (!result.ok) throw new Error(`${result.layer} ${result.code}: ${result.message}`);
  return result.value;
}

/** The error code of a failed parse; fails the test when the parse succeeded. */
export function errorCode<T>(result: ParseResult<T>): WireErrorCode {
  if (result.ok) throw new Error('expected a parse error');
  return result.code;
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Hostile-input sweep: every prefix of `packet`, and `packet` with each single byte
 * replaced by 0x00/0xff/random, must parse or fail with a typed error, never throw.
 */
export function fuzzNeverThrows(packet: Uint8Array, parse: (b: Uint8Array) => ParseResult<unknown>): number {
  let failures = 0;
  for (let n = 0; n <= packet.length; n++) {
    if (!parse(packet.subarray(0, n)).ok) failures++;
  }
  const noise = randomBytes(packet.length, packet.length);
  for (let i = 0; i < packet.length; i++) {
    for (const v of [0x00, 0xff, noise[i]!]) {
      const copy = packet.slice();
      copy[i] = v;
      const r = parse(copy);
      if (!r.ok && typeof r.code !== 'string') throw new Error('untyped error');
    }
  }
  return failures;
}
