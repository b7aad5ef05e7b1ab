// The layout ICMPv4 (RFC 792) and ICMPv6 (RFC 4443 2.1) share: type, code, checksum,
// one 32-bit type-specific word, then a body (echo data or the invoking packet). Types
// this codec does not model keep everything after the checksum as raw `rest` bytes.

import { readU16, writeU32 } from './bytes.js';
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

/** An error message as both families model it: a code, a 32-bit word (what it holds is the family's), the invoking packet. */
export interface IcmpErrorFields {
  kind: string;
  code: number;
  invoking: Uint8Array;
}

/**
 * Writes a message with a zero checksum (the family's emitter fills it in); returns its
 * length. Echo and raw messages are the same in both families; for an error type the
 * family says what its 32-bit word holds (`word`).
 */
export function writeIcmp<E extends IcmpErrorFields>(
  repr: IcmpEchoRepr | IcmpRawRepr | E,
  types: IcmpTypes,
  word: (error: E) => number,
  out: Uint8Array,
  offset: number,
): number {
  out[offset + 2] = 0;
  out[offset + 3] = 0;
  if (repr.kind === 'other') {
    const raw = repr as IcmpRawRepr;
    out[offset] = raw.type;
    out[offset + 1] = raw.code;
    out.set(raw.rest, offset + 4);
    return 4 + raw.rest.length;
  }
  let code: number;
  let w: number;
  let body: Uint8Array;
  if (repr.kind === 'echoRequest' || repr.kind === 'echoReply') {
    const echo = repr as IcmpEchoRepr;
    code = echo.code ?? 0;
    w = ((echo.identifier << 16) | echo.sequence) >>> 0;
    body = echo.data;
  } else {
    const error = repr as E;
    code = error.code;
    w = word(error);
    body = error.invoking;
  }
  out[offset] = types[repr.kind]!;
  out[offset + 1] = code;
  writeU32(out, offset + 4, w);
  out.set(body, offset + ICMP_HEADER_LENGTH);
  return ICMP_HEADER_LENGTH + body.length;
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
