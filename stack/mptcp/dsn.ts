// Data sequence numbers (RFC 8684 3.3). On the wire a DSN or DATA_ACK is 64 bits (or its
// lower 32 bits); inside the stack the connection-level sequence space is a JS number,
// the *offset* from IDSN+1 (the first data byte), exact up to 2^53 bytes (8 PiB), so the
// hot path never touches bigint. Conversion happens once per option, at the wire edge.

const TWO_POW_32 = 4294967296;
const MASK64 = (1n << 64n) - 1n;
const TWO_POW_63 = 1n << 63n;
const TWO_POW_64 = 1n << 64n;

/** `x` modulo 2^32 in 0..2^32-1, for any integer-valued number (negative ones too). */
function mod32(x: number): number {
  const r = x % TWO_POW_32;
  return r < 0 ? r + TWO_POW_32 : r;
}

/**
 * The integer nearest `near` whose value modulo 2^32 is `lower32` (within -2^31..2^31-1 of
 * it). RFC 8684 3.3.1 lets 32-bit DSNs and DATA_ACKs stand for 64-bit ones that the
 * receiver expands from what it expects; Linux __mptcp_expand_seq picks the candidate
 * on the near side of the 32-bit wrap in the same way. Also expands 32-bit subflow
 * sequence numbers to stream offsets.
 */
export function unwrap32(lower32: number, near: number): number {
  // `| 0` is ToInt32: the difference modulo 2^32 as a signed 32-bit distance.
  return near + ((lower32 - mod32(near)) | 0);
}

/** One direction's data sequence space: offsets from IDSN+1 to wire DSNs and back. */
export class DsnSpace {
  /** The initial data sequence number (RFC 8684 3.1: from the sender's key). */
  readonly idsn: bigint;
  /** IDSN+1 modulo 2^64: the wire DSN of offset 0. */
  private readonly base: bigint;
  /** The lower 32 bits of `base`. */
  private readonly baseLow: number;

  constructor(idsn: bigint) {
    this.idsn = idsn & MASK64;
    this.base = (this.idsn + 1n) & MASK64;
    this.baseLow = Number(this.base & 0xffffffffn);
  }

  /** The 64-bit wire DSN (or DATA_ACK) of an offset; wraps past 2^64 like the wire does. */
  toWire64(offset: number): bigint {
    return (this.base + BigInt(offset)) & MASK64;
  }

  /** The lower 32 bits of toWire64(offset), without bigint (for 32-bit DATA_ACKs). */
  toWire32(offset: number): number {
    return mod32(this.baseLow + mod32(offset));
  }

  /**
   * The offset of a 64-bit wire DSN, as the signed 64-bit distance from IDSN+1 (a DSN just
   * below IDSN+1, e.g. a zero-window probe at DATA_ACK-1, gives a negative offset).
   * Distances beyond 2^53 lose precision; they are outside every window anyway.
   */
  fromWire64(dsn: bigint): number {
    let d = (dsn - this.base) & MASK64;
    if (d >= TWO_POW_63) d -= TWO_POW_64;
    return Number(d);
  }

  /**
   * The offset of a 32-bit wire DSN or DATA_ACK, taken as the one nearest `near`, the offset
   * the caller expects (its DATA_ACK for incoming data, its snd_una for incoming acks).
   */
  fromWire32(lower32: number, near: number): number {
    return near + ((lower32 - this.baseLow - mod32(near)) | 0);
  }
}
