// Initial sequence numbers (RFC 6528 3): ISN = M + F(localip, localport, remoteip,
// remoteport, secretkey), M a clock ticking every 4 microseconds, F a keyed hash. Each
// 4-tuple gets its own offset, so ISNs cannot be predicted from another connection, while
// successive incarnations of one 4-tuple still advance with the clock (RFC 9293 3.4.1).
// The secret (at least 128 bits) comes from the stack's RandomSource, once per stack.

import { tupleHash, type FourTuple } from './tuple-hash.js';

// RFC 6528 3 / RFC 9293 3.4.1: M ticks every 4 microseconds; `now` is in milliseconds.
const TICKS_PER_MS = 250;

export class IsnGenerator {
  constructor(private readonly secret: Uint8Array) {
    if (secret.length < 16) throw new RangeError('the ISN secret needs at least 128 bits');
  }

  /** The ISN for a new connection on `tuple` at time `now` (ms, fractions allowed). */
  isn(now: number, tuple: FourTuple): number {
    const m = Math.floor(now * TICKS_PER_MS) % 2 ** 32;
    return (m + tupleHash(this.secret, 'isn', tuple)) >>> 0;
  }

  /** The per-connection offset of our TSval clock (RFC 7323 5.4; Linux secure_tcp_ts_off). */
  timestampOffset(tuple: FourTuple): number {
    return tupleHash(this.secret, 'timestamp-offset', tuple);
  }
}
