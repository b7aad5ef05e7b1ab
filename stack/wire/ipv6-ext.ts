// IPv6 extension headers (RFC 8200 section 4): hop-by-hop options, routing, fragment,
// destination options, and the TLV options the two options headers carry. Parsed headers
// keep every option in order with its raw data, padding included, so re-encoding is
// byte-identical. The chain is walked with hard limits: it faces hostile bytes.

import { EMPTY_BYTES, readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { ok, wireError, type ParseResult, type WireError } from './result.js';

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;

/** RFC 8200 4.2: the one-byte padding option (no length, no data). */
export const IPV6_OPT_PAD1 = 0;
/** RFC 8200 4.2: padding of 2 + data-length bytes, data all zero. */
export const IPV6_OPT_PADN = 1;

/** Extension headers accepted before the upper layer; more is treated as an attack (RFC 8504 5.3 asks for limits). */
export const IPV6_MAX_EXTENSION_HEADERS = 8;
/** TLV options accepted in one options header, padding included (RFC 8504 5.3). */
export const IPV6_MAX_OPTIONS_PER_HEADER = 32;

/** One TLV option. Pad1 has empty data and encodes as a single byte. */
export interface Ipv6Option {
  type: number;
  /** The option data (for parsed options a view into the packet bytes). At most 255 bytes. */
  data: Uint8Array;
}

export interface Ipv6OptionsHeader {
  kind: 'hopByHop' | 'destinationOptions';
  /** In wire order, padding options included; the header is padded to 8 bytes on emit if they fall short. */
  options: Ipv6Option[];
}

export interface Ipv6RoutingHeader {
  kind: 'routing';
  routingType: number;
  segmentsLeft: number;
  /** The type-specific bytes after the first four (a view into the packet when parsed); length = 8n + 4. */
  data: Uint8Array;
}

export interface Ipv6FragmentHeader {
  kind: 'fragment';
  /** In bytes (the wire field times 8); emit requires a multiple of 8. */
  fragmentOffset: number;
  moreFragments: boolean;
  identification: number;
  /** The reserved byte and the two reserved bits (RFC 8200 4.5, ignored on receipt); kept for byte identity. */
  reserved?: number;
  reservedBits?: number;
}

/** The extension headers namestack understands; any other next header ends the chain as the upper protocol. */
export type Ipv6ExtensionHeader = Ipv6OptionsHeader | Ipv6RoutingHeader | Ipv6FragmentHeader;

export interface Ipv6ExtensionChain {
  headers: Ipv6ExtensionHeader[];
  /** The next header after the last extension header: TCP, UDP, ICMPv6, IPPROTO_NONE, or anything unknown. */
  upperProtocol: number;
  /** Offset in the bytes of the upper-layer header (or of the fragment data after a fragment header). */
  upperOffset: number;
}

/** The Next Header value that announces `header`. */
export function extensionHeaderProtocol(header: Ipv6ExtensionHeader): number {
  switch (header.kind) {
    case 'hopByHop':
      return IPPROTO_HOPOPTS;
    case 'destinationOptions':
      return IPPROTO_DSTOPTS;
    case 'routing':
      return IPPROTO_ROUTING;
    case 'fragment':
      return IPPROTO_FRAGMENT;
  }
}

/** RFC 8200 4.2: what a node that does not recognize option `type` must do (its two high bits). */
export function ipv6OptionAction(type: number): 'skip' | 'discard' | 'discardSendIcmp' | 'discardSendIcmpUnlessMulticast' {
  switch (type >>> 6) {
    case 0:
      return 'skip';
    case 1:
      return 'discard';
    case 2:
      return 'discardSendIcmp';
    default:
      return 'discardSendIcmpUnlessMulticast';
  }
}

/** RFC 8200 4.2: the third-highest bit says the option data may change en route. */
export function ipv6OptionMayChange(type: number): boolean {
  return (type & 0x20) !== 0;
}

/**
 * Walks the extension headers of bytes[offset, end) starting with `nextHeader` (the
 * fixed header's, or a fragment header's after reassembly). Stops at the first protocol
 * that is not an extension header, at IPPROTO_NONE, and right after a fragment header:
 * what follows it is fragment data until reassembly. Hop-by-hop options are accepted
 * only as the first header of the chain starting here (RFC 8200 4.1).
 */
export function parseExtensionHeaders(
  bytes: Uint8Array,
  nextHeader: number,
  offset: number,
  end: number,
): ParseResult<Ipv6ExtensionChain> {
  const headers: Ipv6ExtensionHeader[] = [];
  end = Math.min(end, bytes.length);
  let at = offset;
  let next = nextHeader;
  for (;;) {
    if (next !== IPPROTO_HOPOPTS && next !== IPPROTO_DSTOPTS && next !== IPPROTO_ROUTING && next !== IPPROTO_FRAGMENT) break;
    if (headers.length === IPV6_MAX_EXTENSION_HEADERS) {
      return wireError('ipv6', 'UNSUPPORTED', `more than ${IPV6_MAX_EXTENSION_HEADERS} extension headers`);
    }
    // RFC 8200 4.1: hop-by-hop options may only follow the fixed header.
    if (next === IPPROTO_HOPOPTS && headers.length > 0) {
      return wireError('ipv6', 'BAD_FIELD', 'hop-by-hop options header not first');
    }
    if (end - at < 8) return wireError('ipv6', 'TRUNCATED', `extension header ${next} at ${at} needs 8 bytes`);
    const headerNext = bytes[at]!;
    if (next === IPPROTO_FRAGMENT) {
      const word = readU16(bytes, at + 2);
      headers.push({
        kind: 'fragment',
        fragmentOffset: word & 0xfff8,
        moreFragments: (word & 1) !== 0,
        identification: readU32(bytes, at + 4),
        reserved: bytes[at + 1]!,
        reservedBits: (word >>> 1) & 3,
      });
      return ok({ headers, upperProtocol: headerNext, upperOffset: at + 8 });
    }
    const length = (bytes[at + 1]! + 1) * 8;
    if (end - at < length) return wireError('ipv6', 'TRUNCATED', `extension header ${next} of ${length} bytes at ${at}`);
    if (next === IPPROTO_ROUTING) {
      headers.push({
        kind: 'routing',
        routingType: bytes[at + 2]!,
        segmentsLeft: bytes[at + 3]!,
        data: bytes.subarray(at + 4, at + length),
      });
    } else {
      const options = parseOptions(bytes, at + 2, at + length);
      if (!Array.isArray(options)) return options;
      headers.push({ kind: next === IPPROTO_HOPOPTS ? 'hopByHop' : 'destinationOptions', options });
    }
    at += length;
    next = headerNext;
  }
  return ok({ headers, upperProtocol: next, upperOffset: at });
}

function parseOptions(bytes: Uint8Array, start: number, end: number): Ipv6Option[] | WireError {
  const options: Ipv6Option[] = [];
  let at = start;
  while (at < end) {
    if (options.length === IPV6_MAX_OPTIONS_PER_HEADER) {
      return wireError('ipv6', 'BAD_OPTION', `more than ${IPV6_MAX_OPTIONS_PER_HEADER} options in one header`);
    }
    const type = bytes[at]!;
    if (type === IPV6_OPT_PAD1) {
      options.push({ type, data: EMPTY_BYTES });
      at += 1;
      continue;
    }
    if (end - at < 2) return wireError('ipv6', 'BAD_OPTION', `option ${type} at ${at} has no length byte`);
    const dataEnd = at + 2 + bytes[at + 1]!;
    if (dataEnd > end) return wireError('ipv6', 'BAD_OPTION', `option ${type} at ${at} runs past its header`);
    options.push({ type, data: bytes.subarray(at + 2, dataEnd) });
    at = dataEnd;
  }
  return options;
}

function optionsLength(options: readonly Ipv6Option[]): number {
  let n = 2;
  for (const o of options) n += o.type === IPV6_OPT_PAD1 ? 1 : 2 + o.data.length;
  return n;
}

/** Bytes emitExtensionHeader writes for `header` (a multiple of 8). */
export function extensionHeaderLength(header: Ipv6ExtensionHeader): number {
  switch (header.kind) {
    case 'hopByHop':
    case 'destinationOptions':
      return (optionsLength(header.options) + 7) & ~7;
    case 'routing':
      return 4 + header.data.length;
    case 'fragment':
      return 8;
  }
}

/**
 * Writes `header` at out[offset] announcing `nextHeader` after it; returns its length.
 * Options headers whose options fall short of a multiple of 8 bytes are completed with
 * Pad1/PadN. Throws RangeError on a header no packet can carry (a caller bug).
 */
export function emitExtensionHeader(header: Ipv6ExtensionHeader, nextHeader: number, out: Uint8Array, offset: number): number {
  const length = extensionHeaderLength(header);
  if (length > 2048 || length % 8 !== 0) throw new RangeError(`IPv6 ${header.kind} header of ${length} bytes`);
  out[offset] = nextHeader;
  out[offset + 1] = length / 8 - 1;
  switch (header.kind) {
    case 'hopByHop':
    case 'destinationOptions': {
      let at = offset + 2;
      for (const o of header.options) {
        out[at++] = o.type;
        if (o.type === IPV6_OPT_PAD1) continue;
        if (o.data.length > 255) throw new RangeError(`IPv6 option ${o.type} with ${o.data.length} bytes of data`);
        out[at++] = o.data.length;
        out.set(o.data, at);
        at += o.data.length;
      }
      writePadding(out, at, offset + length - at);
      break;
    }
    case 'routing':
      out[offset + 2] = header.routingType;
      out[offset + 3] = header.segmentsLeft;
      out.set(header.data, offset + 4);
      break;
    case 'fragment':
      if (header.fragmentOffset % 8 !== 0 || header.fragmentOffset > 0xfff8) {
        throw new RangeError(`IPv6 fragment offset ${header.fragmentOffset}`);
      }
      out[offset + 1] = header.reserved ?? 0;
      writeU16(out, offset + 2, header.fragmentOffset | ((header.reservedBits ?? 0) << 1) | (header.moreFragments ? 1 : 0));
      writeU32(out, offset + 4, header.identification);
      break;
  }
  return length;
}

/** Fills `count` bytes with one Pad1 (count 1) or one PadN of zeros (RFC 8200 4.2). */
function writePadding(out: Uint8Array, at: number, count: number): void {
  if (count === 0) return;
  if (count === 1) {
    out[at] = IPV6_OPT_PAD1;
    return;
  }
  out[at] = IPV6_OPT_PADN;
  out[at + 1] = count - 2;
  out.fill(0, at + 2, at + count);
}

/** An option for buildOptionsHeader, with its RFC 8200 4.2 alignment requirement `align`n + `alignOffset`. */
export interface Ipv6OptionToBuild extends Ipv6Option {
  /** x in "xn+y" (1, 2, 4 or 8); default 1, no requirement. */
  align?: number;
  /** y in "xn+y"; default 0. */
  alignOffset?: number;
}

/**
 * An options header holding `options` in order, with explicit Pad1/PadN options inserted
 * so each option's type byte meets its alignment and the header ends on 8 bytes
 * (RFC 8200 4.2). The returned header re-encodes exactly as built.
 */
export function buildOptionsHeader(
  kind: 'hopByHop' | 'destinationOptions',
  options: readonly Ipv6OptionToBuild[],
): Ipv6OptionsHeader {
  const out: Ipv6Option[] = [];
  let at = 2;
  for (const o of options) {
    const align = o.align ?? 1;
    const gap = (((o.alignOffset ?? 0) - at) % align + align) % align;
    pushPadding(out, gap);
    at += gap;
    out.push({ type: o.type, data: o.data });
    at += o.type === IPV6_OPT_PAD1 ? 1 : 2 + o.data.length;
  }
  pushPadding(out, (8 - (at % 8)) % 8);
  return { kind, options: out };
}

function pushPadding(out: Ipv6Option[], count: number): void {
  if (count === 1) out.push({ type: IPV6_OPT_PAD1, data: EMPTY_BYTES });
  else if (count > 1) out.push({ type: IPV6_OPT_PADN, data: new Uint8Array(count - 2) });
}
