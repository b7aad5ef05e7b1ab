// IPv4 header (RFC 791 section 3.1): a zero-copy view, a typed repr, parse and emit.
// Options are carried as raw bytes and never interpreted: the stack neither needs nor
// trusts them, and keeping them raw makes re-encoding byte-identical.

import type { IpAddress } from './address.js';
import { copyBytes, EMPTY_BYTES, readU16, readU32, writeU16 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import { ok, wireError, type ParseResult, type WireError } from './result.js';

export const IPV4_MIN_HEADER_LENGTH = 20;
/** RFC 791 3.1: IHL is 4 bits of 32-bit words, so at most 60 bytes, 40 of them options. */
export const IPV4_MAX_OPTIONS_LENGTH = 40;

const FLAG_RESERVED = 0x8000;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const OFFSET_MASK = 0x1fff;

export interface Ipv4Repr {
  /** The whole second byte (formerly TOS): DSCP (high 6 bits) and ECN (low 2 bits), RFC 2474/3168. */
  dscpEcn: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** The reserved flag bit (RFC 791 3.1, must be zero); kept so re-encoding is byte-identical. */
  reservedFlag?: boolean;
  /** Fragment offset in bytes (the wire field times 8); emit requires a multiple of 8. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: IpAddress;
  dst: IpAddress;
  /** Raw option bytes including any EOL/NOP padding; a multiple of 4 bytes, at most 40. */
  options: Uint8Array;
  /** As parsed; emit computes it from the payload length. */
  totalLength?: number;
  /** As parsed (not verified by parseIpv4, see verifyIpv4HeaderChecksum); emit computes it. */
  checksum?: number;
}

/**
 * Why `bytes` cannot hold an IPv4 packet, or undefined when the lengths are consistent.
 * `quoted`: the packet may be cut short after its header (see parseIpv4Quoted).
 */
function checkIpv4(bytes: Uint8Array, quoted: boolean): WireError | undefined {
  if (bytes.length < IPV4_MIN_HEADER_LENGTH) return wireError('ipv4', 'TRUNCATED', `${bytes.length} bytes, header needs 20`);
  const version = bytes[0]! >>> 4;
  if (version !== 4) return wireError('ipv4', 'BAD_VERSION', `version ${version}`);
  const headerLength = (bytes[0]! & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH) return wireError('ipv4', 'BAD_HEADER_LENGTH', `IHL ${headerLength / 4} < 5`);
  if (headerLength > bytes.length) {
    return wireError('ipv4', 'TRUNCATED', `header length ${headerLength} > ${bytes.length} bytes`);
  }
  const totalLength = readU16(bytes, 2);
  if (totalLength < headerLength) {
    return wireError('ipv4', 'BAD_LENGTH', `total length ${totalLength} < header length ${headerLength}`);
  }
  if (totalLength > bytes.length && !quoted) {
    return wireError('ipv4', 'TRUNCATED', `total length ${totalLength} > ${bytes.length} bytes`);
  }
  // Bytes past the total length (e.g. Ethernet minimum-frame padding) are not ours: ignored.
  return undefined;
}

/** Zero-copy, validated access to an IPv4 header. Getters read the bytes; none allocates per call. */
export class Ipv4View {
  private srcCache: Uint8Array | undefined = undefined;
  private dstCache: Uint8Array | undefined = undefined;

  private constructor(readonly bytes: Uint8Array) {}

  /** Checks version, IHL and total length against `bytes` once; later getters cannot read out of bounds. */
  static wrap(bytes: Uint8Array): ParseResult<Ipv4View> {
    const error = checkIpv4(bytes, false);
    return error ?? ok(new Ipv4View(bytes));
  }

  get headerLength(): number {
    return (this.bytes[0]! & 0x0f) * 4;
  }
  get dscpEcn(): number {
    return this.bytes[1]!;
  }
  get totalLength(): number {
    return readU16(this.bytes, 2);
  }
  get identification(): number {
    return readU16(this.bytes, 4);
  }
  get reservedFlag(): boolean {
    return (readU16(this.bytes, 6) & FLAG_RESERVED) !== 0;
  }
  get dontFragment(): boolean {
    return (readU16(this.bytes, 6) & FLAG_DF) !== 0;
  }
  get moreFragments(): boolean {
    return (readU16(this.bytes, 6) & FLAG_MF) !== 0;
  }
  /** In bytes. */
  get fragmentOffset(): number {
    return (readU16(this.bytes, 6) & OFFSET_MASK) * 8;
  }
  get ttl(): number {
    return this.bytes[8]!;
  }
  get protocol(): number {
    return this.bytes[9]!;
  }
  get checksum(): number {
    return readU16(this.bytes, 10);
  }
  /** Source address as an unsigned 32-bit number (demux keys without allocating). */
  get srcU32(): number {
    return readU32(this.bytes, 12);
  }
  get dstU32(): number {
    return readU32(this.bytes, 16);
  }
  /** Source address; a view into the packet, created once per View. */
  get src(): IpAddress {
    return (this.srcCache ??= this.bytes.subarray(12, 16));
  }
  get dst(): IpAddress {
    return (this.dstCache ??= this.bytes.subarray(16, 20));
  }
  get payloadOffset(): number {
    return this.headerLength;
  }
  get payloadLength(): number {
    return this.totalLength - this.headerLength;
  }
}

/**
 * Parses an IPv4 header. The payload is bounded by the total length (trailing bytes are
 * ignored). Addresses are copied; `options` and `payload` are views into `bytes`.
 * The header checksum is returned, not verified: call verifyIpv4HeaderChecksum.
 */
export function parseIpv4(bytes: Uint8Array): ParseResult<{ repr: Ipv4Repr; payload: Uint8Array }> {
  return parse(bytes, false);
}

/**
 * Parses the invoking packet quoted in an ICMP error, which the sender may cut short
 * after its header (RFC 792: header + 64 bits; RFC 1812 4.3.2.3: as much as fits in 576
 * bytes). Like parseIpv4, but a total length beyond `bytes` is accepted and the payload
 * is whatever part of it is present.
 */
export function parseIpv4Quoted(bytes: Uint8Array): ParseResult<{ repr: Ipv4Repr; payload: Uint8Array }> {
  return parse(bytes, true);
}

function parse(bytes: Uint8Array, quoted: boolean): ParseResult<{ repr: Ipv4Repr; payload: Uint8Array }> {
  const error = checkIpv4(bytes, quoted);
  if (error) return error;
  const headerLength = (bytes[0]! & 0x0f) * 4;
  const totalLength = readU16(bytes, 2);
  const flagsOffset = readU16(bytes, 6);
  const repr: Ipv4Repr = {
    dscpEcn: bytes[1]!,
    identification: readU16(bytes, 4),
    dontFragment: (flagsOffset & FLAG_DF) !== 0,
    moreFragments: (flagsOffset & FLAG_MF) !== 0,
    reservedFlag: (flagsOffset & FLAG_RESERVED) !== 0,
    fragmentOffset: (flagsOffset & OFFSET_MASK) * 8,
    ttl: bytes[8]!,
    protocol: bytes[9]!,
    src: copyBytes(bytes, 12, 4),
    dst: copyBytes(bytes, 16, 4),
    options: headerLength > IPV4_MIN_HEADER_LENGTH ? bytes.subarray(IPV4_MIN_HEADER_LENGTH, headerLength) : EMPTY_BYTES,
    totalLength,
    checksum: readU16(bytes, 10),
  };
  return ok({ repr, payload: bytes.subarray(headerLength, Math.min(totalLength, bytes.length)) });
}

/** Header bytes emitIpv4Header writes: 20 plus the options rounded up to 4 bytes. */
export function ipv4HeaderLength(repr: Ipv4Repr): number {
  return IPV4_MIN_HEADER_LENGTH + ((repr.options.length + 3) & ~3);
}

/**
 * Writes the header for a payload of `payloadLength` bytes at `out[offset]`, with the
 * total length and header checksum computed (repr.totalLength/checksum are ignored).
 * Options are padded with zero (EOL) bytes to a 4-byte boundary. Returns the header length.
 * Throws RangeError on a repr no packet can carry (a bug in the caller, not hostile input).
 */
export function emitIpv4Header(repr: Ipv4Repr, payloadLength: number, out: Uint8Array, offset: number): number {
  const headerLength = ipv4HeaderLength(repr);
  const totalLength = headerLength + payloadLength;
  if (repr.options.length > IPV4_MAX_OPTIONS_LENGTH) throw new RangeError(`IPv4 options of ${repr.options.length} bytes`);
  if (totalLength > 0xffff) throw new RangeError(`IPv4 total length ${totalLength}`);
  if (repr.fragmentOffset % 8 !== 0 || repr.fragmentOffset > OFFSET_MASK * 8) {
    throw new RangeError(`IPv4 fragment offset ${repr.fragmentOffset}`);
  }
  if (repr.src.length !== 4 || repr.dst.length !== 4) throw new RangeError('IPv4 header needs 4-byte addresses');
  out[offset] = 0x40 | (headerLength >>> 2);
  out[offset + 1] = repr.dscpEcn;
  writeU16(out, offset + 2, totalLength);
  writeU16(out, offset + 4, repr.identification);
  writeU16(
    out,
    offset + 6,
    (repr.reservedFlag ? FLAG_RESERVED : 0) |
      (repr.dontFragment ? FLAG_DF : 0) |
      (repr.moreFragments ? FLAG_MF : 0) |
      (repr.fragmentOffset >>> 3),
  );
  out[offset + 8] = repr.ttl;
  out[offset + 9] = repr.protocol;
  out[offset + 10] = 0;
  out[offset + 11] = 0;
  out.set(repr.src, offset + 12);
  out.set(repr.dst, offset + 16);
  out.set(repr.options, offset + IPV4_MIN_HEADER_LENGTH);
  out.fill(0, offset + IPV4_MIN_HEADER_LENGTH + repr.options.length, offset + headerLength);
  writeU16(out, offset + 10, internetChecksum(out, offset, headerLength));
  return headerLength;
}

/** RFC 1071: the one's-complement sum over a correct header, checksum included, is 0xffff. */
export function verifyIpv4HeaderChecksum(view: Ipv4View): boolean {
  return internetChecksum(view.bytes, 0, view.headerLength) === 0;
}
