// ICMP for IPv4 (RFC 792): echo, destination unreachable (with the RFC 1191 next-hop MTU),
// time exceeded and parameter problem are typed; every other type is kept raw, so
// anything the kernel sends into a TUN parses without error and re-encodes unchanged.

import { readU16, readU32, writeU16 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import {
  ICMP_HEADER_LENGTH,
  icmpMessageLength,
  parseShared,
  writeIcmp,
  type IcmpChecksum,
  type IcmpEchoRepr,
  type IcmpRawRepr,
} from './icmp-common.js';
import { ok, type ParseResult } from './result.js';

export const IPPROTO_ICMP = 1;

export const ICMPV4_ECHO_REPLY = 0;
export const ICMPV4_DESTINATION_UNREACHABLE = 3;
export const ICMPV4_ECHO_REQUEST = 8;
export const ICMPV4_TIME_EXCEEDED = 11;
export const ICMPV4_PARAMETER_PROBLEM = 12;

/** Destination unreachable codes (RFC 792, RFC 1122 3.2.2.1). */
export const ICMPV4_CODE_PROTOCOL_UNREACHABLE = 2;
export const ICMPV4_CODE_PORT_UNREACHABLE = 3;
/** "Fragmentation needed and DF set": carries the next-hop MTU (RFC 1191 4). */
export const ICMPV4_CODE_FRAGMENTATION_NEEDED = 4;

export type Icmpv4Repr = (
  | IcmpEchoRepr
  | {
      kind: 'destinationUnreachable';
      code: number;
      /** RFC 1191 4: the MTU of the next hop, for code 4; 0 otherwise (the low 16 bits of the word). */
      nextHopMtu: number;
      /** The high 16 bits of the word (unused; RFC 4884 puts a length there); kept for byte identity. */
      unused?: number;
      /** The invoking packet as the sender quoted it (IP header + at least 8 bytes; see parseIpv4Quoted). */
      invoking: Uint8Array;
    }
  | { kind: 'timeExceeded'; code: number; unused?: number; invoking: Uint8Array }
  | {
      kind: 'parameterProblem';
      code: number;
      /** Octet of the invoking packet where the problem is (RFC 792). */
      pointer: number;
      /** The low 24 bits of the word; kept for byte identity. */
      unused?: number;
      invoking: Uint8Array;
    }
  | IcmpRawRepr
) &
  IcmpChecksum;

const TYPE_OF_KIND = {
  echoReply: ICMPV4_ECHO_REPLY,
  destinationUnreachable: ICMPV4_DESTINATION_UNREACHABLE,
  echoRequest: ICMPV4_ECHO_REQUEST,
  timeExceeded: ICMPV4_TIME_EXCEEDED,
  parameterProblem: ICMPV4_PARAMETER_PROBLEM,
} as const;
const MODELLED_TYPES: ReadonlySet<number> = new Set(Object.values(TYPE_OF_KIND));

/**
 * Parses an ICMP message (the IPv4 payload). Data, invoking packet and rest are views into
 * `bytes`. The checksum is returned, not verified: see verifyIcmpv4Checksum.
 */
export function parseIcmpv4(bytes: Uint8Array): ParseResult<Icmpv4Repr> {
  const shared = parseShared('icmpv4', bytes, TYPE_OF_KIND, MODELLED_TYPES);
  if (shared) return shared;
  const type = bytes[0]!;
  const code = bytes[1]!;
  const checksum = readU16(bytes, 2);
  const invoking = bytes.subarray(ICMP_HEADER_LENGTH);
  switch (type) {
    case ICMPV4_DESTINATION_UNREACHABLE:
      return ok({
        kind: 'destinationUnreachable',
        code,
        nextHopMtu: readU16(bytes, 6),
        unused: readU16(bytes, 4),
        invoking,
        checksum,
      });
    case ICMPV4_TIME_EXCEEDED:
      return ok({ kind: 'timeExceeded', code, unused: readU32(bytes, 4), invoking, checksum });
    default: // ICMPV4_PARAMETER_PROBLEM
      return ok({
        kind: 'parameterProblem',
        code,
        pointer: bytes[4]!,
        unused: readU32(bytes, 4) & 0xffffff,
        invoking,
        checksum,
      });
  }
}

/** Bytes emitIcmpv4 writes. */
export function icmpv4Length(repr: Icmpv4Repr): number {
  return icmpMessageLength(repr);
}

/** Writes the message with its checksum at out[offset]; returns its length. */
export function emitIcmpv4(repr: Icmpv4Repr, out: Uint8Array, offset: number): number {
  const length = writeIcmp(repr, TYPE_OF_KIND, errorWord, out, offset);
  // RFC 792: the checksum covers the whole message and has no pseudo-header.
  writeU16(out, offset + 2, internetChecksum(out, offset, length));
  return length;
}

type Icmpv4Error = Extract<Icmpv4Repr, { invoking: Uint8Array }>;

/** The 32-bit word after the checksum of an error message (RFC 792, RFC 1191 4). */
function errorWord(e: Icmpv4Error): number {
  switch (e.kind) {
    case 'destinationUnreachable':
      return (((e.unused ?? 0) << 16) | e.nextHopMtu) >>> 0;
    case 'timeExceeded':
      return e.unused ?? 0;
    case 'parameterProblem':
      return ((e.pointer << 24) | (e.unused ?? 0)) >>> 0;
  }
}

/** True when the message's checksum is correct (RFC 792). */
export function verifyIcmpv4Checksum(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && internetChecksum(bytes, 0, bytes.length) === 0;
}
