// The layout ICMPv4 (RFC 792) and ICMPv6 (RFC 4443 2.1) share: type, code, checksum,
// one 32-bit type-specific word, then a body (echo data or the invoking packet). Types
// this codec does not model keep everything after the checksum as raw `rest` bytes.

import { readU16, writeU16, writeU32 } from './bytes.js';
import { ok, wireError, type ParseResult } from './result.js';

/** Type, code, checksum and the 32-bit word that every modelled message has. */
export const ICMP_HEADER_LENGTH = 8;

/** Echo request/reply, the same in both families (RFC 792, RFC 4443 4). */
export interface IcmpEchoRepr {
  kind: 'echoRequest' | 'echoReply';
  identifier: number;
  sequence: number;
  data: Uint8Array;
  /** Zero for every echo; kept only for byte identity. */
  code?: number;
}

/** A message type this codec does not model (NDP, MLD, timestamps, ...), kept raw. */
export interface IcmpRawRepr {
  kind: 'other';
  type: number;
  code: number;
  /** Everything after the checksum. */
  rest: Uint8Array;
}

/** As parsed; emit computes it. */
export interface IcmpChecksum {
  checksum?: number;
}

/** Bytes a message occupies: header and echo data, header and invoking packet, or 4 + raw rest. */
export function icmpMessageLength(repr: IcmpEchoRepr | IcmpRawRepr | { kind: string; invoking: Uint8Array }): number {
  if ('data' in repr) return ICMP_HEADER_LENGTH + repr.data.length;
  if ('rest' in repr) return 4 + repr.rest.length;
  return ICMP_HEADER_LENGTH + repr.invoking.length;
}

function parseEcho(bytes: Uint8Array, request: boolean): IcmpEchoRepr & IcmpChecksum {
  return {
    kind: request ? 'echoRequest' : 'echoReply',
    identifier: readU16(bytes, 4),
    sequence: readU16(bytes, 6),
    data: bytes.subarray(ICMP_HEADER_LENGTH),
    code: bytes[1]!,
    checksum: readU16(bytes, 2),
  };
}

function parseRaw(bytes: Uint8Array): IcmpRawRepr & IcmpChecksum {
  return { kind: 'other', type: bytes[0]!, code: bytes[1]!, rest: bytes.subarray(4), checksum: readU16(bytes, 2) };
}

/** Writes an echo message of `type` with a zero checksum; returns its length. */
export function writeEcho(out: Uint8Array, offset: number, type: number, repr: IcmpEchoRepr): number {
  return writeIcmpMessage(out, offset, type, repr.code ?? 0, ((repr.identifier << 16) | repr.sequence) >>> 0, repr.data);
}

/** Writes a message with a zero checksum (the caller fills it in); returns its length. */
export function writeIcmpMessage(
  out: Uint8Array,
  offset: number,
  type: number,
  code: number,
  word: number,
  body: Uint8Array,
): number {
  out[offset] = type;
  out[offset + 1] = code;
  writeU16(out, offset + 2, 0);
  writeU32(out, offset + 4, word);
  out.set(body, offset + ICMP_HEADER_LENGTH);
  return ICMP_HEADER_LENGTH + body.length;
}

/** Writes a message of a type kept raw: type, code, zero checksum, `rest`; returns its length. */
export function writeRawIcmpMessage(out: Uint8Array, offset: number, type: number, code: number, rest: Uint8Array): number {
  out[offset] = type;
  out[offset + 1] = code;
  writeU16(out, offset + 2, 0);
  out.set(rest, offset + 4);
  return 4 + rest.length;
}

/** The message types one family models, by kind. */
export interface IcmpTypes {
  echoRequest: number;
  echoReply: number;
  [kind: string]: number;
}

/**
 * The steps both families' parsers share: the length check (8 bytes for a modelled type,
 * 4 for a raw one), echo messages and raw types. Undefined for the family's error types,
 * which then hold at least 8 bytes.
 */
export function parseShared(
  layer: string,
  bytes: Uint8Array,
  types: IcmpTypes,
  modelled: ReadonlySet<number>,
): ParseResult<(IcmpEchoRepr | IcmpRawRepr) & IcmpChecksum> | undefined {
  const type = bytes[0]!;
  const isModelled = modelled.has(type);
  const need = isModelled ? ICMP_HEADER_LENGTH : 4;
  if (bytes.length < need) return wireError(layer, 'TRUNCATED', `${bytes.length} bytes, message needs ${need}`);
  if (type === types.echoRequest || type === types.echoReply) return ok(parseEcho(bytes, type === types.echoRequest));
  return isModelled ? undefined : ok(parseRaw(bytes));
}
