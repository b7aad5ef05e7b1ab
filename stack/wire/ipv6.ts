// IPv6 fixed header (RFC 8200 section 3) and the packet-level parse/emit that walks the
// extension header chain (ipv6-ext.ts) to the upper layer.

import type { IpAddress } from './address.js';
import { copyBytes, readU16, readU32, writeU16, writeU32 } from './bytes.js';
import {
  emitExtensionHeader,
  extensionHeaderLength,
  extensionHeaderProtocol,
  parseExtensionHeaders,
  type Ipv6ExtensionHeader,
} from './ipv6-ext.js';
import { ok, wireError, type ParseResult, type WireError } from './result.js';

export const IPV6_HEADER_LENGTH = 40;

export interface Ipv6Repr {
  /** DSCP (high 6 bits) and ECN (low 2 bits), RFC 2474/3168. */
  trafficClass: number;
  /** 20 bits (RFC 6437). */
  flowLabel: number;
  hopLimit: number;
  src: IpAddress;
  dst: IpAddress;
  /** As parsed: the fixed header's Next Header. Emit derives it from the chain and ignores this. */
  nextHeader?: number;
  /** In order; each one's Next Header field is derived from its successor on emit. */
  extensionHeaders: Ipv6ExtensionHeader[];
  /** After the chain: TCP (6), UDP (17), ICMPv6 (58), no next header (59), or any other. */
  upperProtocol: number;
  /** As parsed; emit computes it. */
  payloadLength?: number;
}

export interface ParsedIpv6 {
  repr: Ipv6Repr;
  /** The upper-layer bytes after the chain (fragment data after a fragment header), a view into the packet. */
  payload: Uint8Array;
}

/**
 * Why `bytes` cannot hold an IPv6 packet, or undefined. `quoted`: the packet may be cut
 * short after its fixed header (see parseIpv6Quoted).
 */
function checkIpv6(bytes: Uint8Array, quoted: boolean): WireError | undefined {
  if (bytes.length < IPV6_HEADER_LENGTH) return wireError('ipv6', 'TRUNCATED', `${bytes.length} bytes, header needs 40`);
  const version = bytes[0]! >>> 4;
  if (version !== 6) return wireError('ipv6', 'BAD_VERSION', `version ${version}`);
  const payloadLength = readU16(bytes, 4);
  if (!quoted && IPV6_HEADER_LENGTH + payloadLength > bytes.length) {
    return wireError('ipv6', 'TRUNCATED', `payload length ${payloadLength} > ${bytes.length - IPV6_HEADER_LENGTH} bytes`);
  }
  return undefined;
}

/** Zero-copy, validated access to the IPv6 fixed header. Getters read the bytes; none allocates per call. */
export class Ipv6View {
  private srcCache: Uint8Array | undefined = undefined;
  private dstCache: Uint8Array | undefined = undefined;

  private constructor(readonly bytes: Uint8Array) {}

  /** Checks the version and that the payload length fits in `bytes`, once. */
  static wrap(bytes: Uint8Array): ParseResult<Ipv6View> {
    const error = checkIpv6(bytes, false);
    return error ?? ok(new Ipv6View(bytes));
  }

  get trafficClass(): number {
    return (readU16(this.bytes, 0) >>> 4) & 0xff;
  }
  get flowLabel(): number {
    return readU32(this.bytes, 0) & 0xfffff;
  }
  get payloadLength(): number {
    return readU16(this.bytes, 4);
  }
  get nextHeader(): number {
    return this.bytes[6]!;
  }
  get hopLimit(): number {
    return this.bytes[7]!;
  }
  /** Source address; a view into the packet, created once per View. */
  get src(): IpAddress {
    return (this.srcCache ??= this.bytes.subarray(8, 24));
  }
  get dst(): IpAddress {
    return (this.dstCache ??= this.bytes.subarray(24, 40));
  }
}

/**
 * Parses the fixed header and the extension header chain (see parseExtensionHeaders for
 * where it stops). Addresses are copied; option/routing data and `payload` are views into
 * `bytes`. Bytes beyond the payload length are ignored.
 */
export function parseIpv6(bytes: Uint8Array): ParseResult<ParsedIpv6> {
  return parse(bytes, false);
}

/**
 * Parses the invoking packet quoted in an ICMPv6 error, which is cut short to fit the
 * minimum MTU (RFC 4443 2.4(c)): a payload length beyond `bytes` is accepted, and the
 * payload is whatever part of it is present.
 */
export function parseIpv6Quoted(bytes: Uint8Array): ParseResult<ParsedIpv6> {
  return parse(bytes, true);
}

function parse(bytes: Uint8Array, quoted: boolean): ParseResult<ParsedIpv6> {
  const error = checkIpv6(bytes, quoted);
  if (error) return error;
  const payloadLength = readU16(bytes, 4);
  const end = Math.min(IPV6_HEADER_LENGTH + payloadLength, bytes.length);
  const nextHeader = bytes[6]!;
  const chain = parseExtensionHeaders(bytes, nextHeader, IPV6_HEADER_LENGTH, end);
  if (!chain.ok) return chain;
  const word0 = readU32(bytes, 0);
  const repr: Ipv6Repr = {
    trafficClass: (word0 >>> 20) & 0xff,
    flowLabel: word0 & 0xfffff,
    hopLimit: bytes[7]!,
    src: copyBytes(bytes, 8, 16),
    dst: copyBytes(bytes, 24, 16),
    nextHeader,
    extensionHeaders: chain.value.headers,
    upperProtocol: chain.value.upperProtocol,
    payloadLength,
  };
  return ok({ repr, payload: bytes.subarray(chain.value.upperOffset, end) });
}

/** Bytes emitIpv6Header writes: the fixed header plus every extension header. */
export function ipv6HeaderLength(repr: Ipv6Repr): number {
  let n = IPV6_HEADER_LENGTH;
  for (const h of repr.extensionHeaders) n += extensionHeaderLength(h);
  return n;
}

/**
 * Writes the fixed header and the extension headers for `upperLength` bytes of upper
 * layer at out[offset], chaining the Next Header fields; returns the bytes written.
 * Throws RangeError on a repr no packet can carry (a caller bug, not hostile input).
 */
export function emitIpv6Header(repr: Ipv6Repr, upperLength: number, out: Uint8Array, offset: number): number {
  if (repr.src.length !== 16 || repr.dst.length !== 16) throw new RangeError('IPv6 header needs 16-byte addresses');
  const headers = repr.extensionHeaders;
  const headerLength = ipv6HeaderLength(repr);
  const payloadLength = headerLength - IPV6_HEADER_LENGTH + upperLength;
  // RFC 8200 3: a 16-bit payload length; jumbograms (RFC 2675) are not supported.
  if (payloadLength > 0xffff) throw new RangeError(`IPv6 payload length ${payloadLength}`);
  writeU32(out, offset, 0x60000000 | ((repr.trafficClass & 0xff) << 20) | (repr.flowLabel & 0xfffff));
  writeU16(out, offset + 4, payloadLength);
  out[offset + 6] = headers.length > 0 ? extensionHeaderProtocol(headers[0]!) : repr.upperProtocol;
  out[offset + 7] = repr.hopLimit;
  out.set(repr.src, offset + 8);
  out.set(repr.dst, offset + 24);
  let at = offset + IPV6_HEADER_LENGTH;
  for (let i = 0; i < headers.length; i++) {
    const next = i + 1 < headers.length ? extensionHeaderProtocol(headers[i + 1]!) : repr.upperProtocol;
    at += emitExtensionHeader(headers[i]!, next, out, at);
  }
  return at - offset;
}
