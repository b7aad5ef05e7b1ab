// UDP header (RFC 768) with the pseudo-header checksum of RFC 768 (IPv4) and RFC 8200 8.1
// (IPv6). The stack's own DNS resolver is its main user.

import { familyOf, type IpAddress } from './address.js';
import { readU16, writeU16 } from './bytes.js';
import { finishChecksum, onesComplementSum, pseudoHeaderSum } from './checksum.js';
import { ok, wireError, type ParseResult, type WireError } from './result.js';

export const UDP_HEADER_LENGTH = 8;
export const IPPROTO_UDP = 17;

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** As parsed (header + payload); emit computes it. */
  length?: number;
  /** As parsed (0 = none, IPv4 only); emit computes it. */
  checksum?: number;
}

function checkUdp(bytes: Uint8Array): WireError | undefined {
  if (bytes.length < UDP_HEADER_LENGTH) return wireError('udp', 'TRUNCATED', `${bytes.length} bytes, header needs 8`);
  const length = readU16(bytes, 4);
  // A zero length would be an IPv6 jumbogram (RFC 2675), which namestack does not accept.
  if (length < UDP_HEADER_LENGTH) return wireError('udp', 'BAD_LENGTH', `length ${length} < 8`);
  if (length > bytes.length) return wireError('udp', 'TRUNCATED', `length ${length} > ${bytes.length} bytes`);
  return undefined;
}

/** Zero-copy, validated access to a UDP header. */
export class UdpView {
  private constructor(readonly bytes: Uint8Array) {}

  /** Checks the length field against `bytes` (the IP payload) once. */
  static wrap(bytes: Uint8Array): ParseResult<UdpView> {
    const error = checkUdp(bytes);
    return error ?? ok(new UdpView(bytes));
  }

  get srcPort(): number {
    return readU16(this.bytes, 0);
  }
  get dstPort(): number {
    return readU16(this.bytes, 2);
  }
  /** Header plus payload, from the header; bytes past it in the IP payload are not UDP's. */
  get length(): number {
    return readU16(this.bytes, 4);
  }
  get checksum(): number {
    return readU16(this.bytes, 6);
  }
  get payloadLength(): number {
    return this.length - UDP_HEADER_LENGTH;
  }
}

/** Parses a UDP datagram (the IP payload); `payload` is a view bounded by the length field. Checksum not verified. */
export function parseUdp(bytes: Uint8Array): ParseResult<{ repr: UdpRepr; payload: Uint8Array }> {
  const error = checkUdp(bytes);
  if (error) return error;
  const length = readU16(bytes, 4);
  const repr: UdpRepr = {
    srcPort: readU16(bytes, 0),
    dstPort: readU16(bytes, 2),
    length,
    checksum: readU16(bytes, 6),
  };
  return ok({ repr, payload: bytes.subarray(UDP_HEADER_LENGTH, length) });
}

/**
 * Writes header and payload at out[offset] with the checksum over the pseudo-header of
 * `src`/`dst`; returns the datagram length. The payload copy is skipped when `payload`
 * already sits at out[offset + 8]. Throws RangeError when the datagram exceeds 65535 bytes.
 */
export function emitUdp(
  repr: UdpRepr,
  payload: Uint8Array,
  out: Uint8Array,
  offset: number,
  src: IpAddress,
  dst: IpAddress,
): number {
  const length = UDP_HEADER_LENGTH + payload.length;
  if (length > 0xffff) throw new RangeError(`UDP datagram of ${length} bytes`);
  writeU16(out, offset, repr.srcPort);
  writeU16(out, offset + 2, repr.dstPort);
  writeU16(out, offset + 4, length);
  writeU16(out, offset + 6, 0);
  const payloadAt = offset + UDP_HEADER_LENGTH;
  if (payload.buffer !== out.buffer || payload.byteOffset !== out.byteOffset + payloadAt) out.set(payload, payloadAt);
  const sum = onesComplementSum(out, offset, length, pseudoHeaderSum(src, dst, IPPROTO_UDP, length));
  // RFC 768: a computed zero is sent as all ones; zero on the wire means "no checksum".
  writeU16(out, offset + 6, finishChecksum(sum) || 0xffff);
  return length;
}

/**
 * True when the datagram's checksum is correct for the pseudo-header of `src`/`dst`.
 * A zero checksum means "not computed": accepted over IPv4 (RFC 768), rejected over IPv6
 * (RFC 8200 8.1). Malformed lengths give false.
 */
export function verifyUdpChecksum(bytes: Uint8Array, src: IpAddress, dst: IpAddress): boolean {
  if (checkUdp(bytes)) return false;
  if (readU16(bytes, 6) === 0) return familyOf(src) === 4;
  const length = readU16(bytes, 4);
  return finishChecksum(onesComplementSum(bytes, 0, length, pseudoHeaderSum(src, dst, IPPROTO_UDP, length))) === 0;
}
