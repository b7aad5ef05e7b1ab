// SYN cookies, in the spirit of Linux net/ipv4/syncookies.c: when the SYN queue is full,
// answer a SYN without keeping state and encode what the connection needs in our ISN:
//
//   cookie = H0(tuple) + client ISN + (counter << 24) + ((H1(tuple, counter, client ISN) + mssIndex) mod 2^24)
//
// `counter` advances every 64 s; H0/H1 are keyed hashes of the 4-tuple. The ACK that
// completes the handshake carries cookie + 1, from which the counter (age) and the MSS
// index are recovered and checked. A forged ACK passes with probability about 2^-29.
// Unlike Linux, H1 also covers the client ISN, so an ACK whose sequence number is off by
// a few does not decode to a neighbouring MSS index.
// With timestamps, the options the SYN offered (window scale, SACK, ECN) ride in the low
// 6 bits of our TSval and come back in the TSecr (Linux cookie_init_timestamp); without
// timestamps they are lost, as in Linux.

import { seqAdd, seqSub } from './seq.js';
import { tupleHash, type FourTuple } from './tuple-hash.js';

/** MSS values a cookie can carry for IPv4 (Linux msstab). */
export const COOKIE_MSS_IPV4: readonly number[] = [536, 1300, 1440, 1460];
/** For IPv6: MTUs 1280, 1480, 1500, 9000 minus 60 bytes of headers (Linux msstab in syncookies.c for v6). */
export const COOKIE_MSS_IPV6: readonly number[] = [1220, 1420, 1440, 8940];

/** Length of a counter period (Linux TCP_SYNCOOKIE_PERIOD: 60 s; a power of two in ms here). */
export const COOKIE_PERIOD_MS = 64_000;
const COUNTER_BITS = 8;
const COUNTER_MASK = (1 << COUNTER_BITS) - 1;
const DATA_MASK = 0xff_ffff;

export interface CookieOptions {
  /** The window scale the SYN offered, or undefined when it offered none. */
  windowScale: number | undefined;
  sackPermitted: boolean;
  ecn: boolean;
}

// TSval low bits (Linux TS_OPT_*): 4 bits window scale (15 = none), SACK, ECN.
const TS_OPT_BITS = 6;
const TS_OPT_MASK = (1 << TS_OPT_BITS) - 1;
const TS_NO_WSCALE = 0xf;
const TS_SACK = 1 << 4;
const TS_ECN = 1 << 5;

export class SynCookies {
  private readonly maxAgePeriods: number;

  constructor(
    private readonly secret: Uint8Array,
    maxAgeMs: number,
  ) {
    if (secret.length < 16) throw new RangeError('the SYN cookie secret needs at least 128 bits');
    this.maxAgePeriods = Math.min(Math.max(1, Math.ceil(maxAgeMs / COOKIE_PERIOD_MS)), COUNTER_MASK);
  }

  /**
   * Our ISN for a SYN from `tuple` with initial sequence `clientIsn` and MSS option
   * `clientMss`; `mss` is the value the connection will use (the largest table entry
   * not above the client's).
   */
  encode(now: number, tuple: FourTuple, clientIsn: number, clientMss: number, table: readonly number[]): { isn: number; mss: number } {
    let index = 0;
    for (let i = table.length - 1; i > 0; i--) {
      if (table[i]! <= clientMss) {
        index = i;
        break;
      }
    }
    const counter = this.counter(now);
    const base = (tupleHash(this.secret, 'cookie-base', tuple) + clientIsn) >>> 0;
    const data = (tupleHash(this.secret, 'cookie-counter', tuple, counter, clientIsn) + index) & DATA_MASK;
    return { isn: (base + counter * 2 ** 24 + data) >>> 0, mss: table[index]! };
  }

  /**
   * Check the ACK completing a cookie handshake: `ackNumber` - 1 should be our cookie and
   * `seqNumber` - 1 the client's ISN. Returns the encoded MSS, or undefined for a forged,
   * corrupted or expired cookie.
   */
  check(now: number, tuple: FourTuple, seqNumber: number, ackNumber: number, table: readonly number[]): number | undefined {
    const clientIsn = seqAdd(seqNumber, -1);
    const base = (tupleHash(this.secret, 'cookie-base', tuple) + clientIsn) >>> 0;
    const rest = seqSub(seqAdd(ackNumber, -1), base) >>> 0;
    const cookieCounter = rest >>> 24;
    const age = (this.counter(now) - cookieCounter) & COUNTER_MASK;
    if (age >= this.maxAgePeriods) return undefined;
    const index = ((rest & DATA_MASK) - tupleHash(this.secret, 'cookie-counter', tuple, cookieCounter, clientIsn)) & DATA_MASK;
    return index < table.length ? table[index] : undefined;
  }

  private counter(now: number): number {
    return Math.floor(now / COOKIE_PERIOD_MS) & COUNTER_MASK;
  }
}

/**
 * Our SYN-ACK's TSval with the SYN's options in its low bits (Linux
 * cookie_init_timestamp); kept at or below `tsval` so our clock never appears to jump
 * ahead (RFC 7323 5.4 requires it to be monotonic).
 */
export function cookieTimestamp(tsval: number, o: CookieOptions): number {
  let bits = o.windowScale === undefined ? TS_NO_WSCALE : Math.min(o.windowScale, 14);
  if (o.sackPermitted) bits |= TS_SACK;
  if (o.ecn) bits |= TS_ECN;
  let ts = ((tsval & ~TS_OPT_MASK) | bits) >>> 0;
  if (seqSub(ts, tsval) > 0) ts = seqAdd(ts, -(TS_OPT_MASK + 1));
  return ts;
}

/** The options from the TSecr of the completing ACK. */
export function cookieOptionsFromEcho(tsecr: number): CookieOptions {
  const bits = tsecr & TS_OPT_MASK;
  const w = bits & 0xf;
  return {
    windowScale: w === TS_NO_WSCALE ? undefined : Math.min(w, 14),
    sackPermitted: (bits & TS_SACK) !== 0,
    ecn: (bits & TS_ECN) !== 0,
  };
}
