// ICMPv6 (RFC 4443): echo, destination unreachable, packet too big, time exceeded and
// parameter problem are typed; every other type (NDP, MLD, router advertisements the
// kernel sends into a TUN) is kept raw and re-encodes unchanged.

import type { IpAddress } from './address.js';
import { readU16, readU32, writeU16 } from './bytes.js';
import { finishChecksum, onesComplementSum, pseudoHeaderSum } from './checksum.js';
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

export const IPPROTO_ICMPV6 = 58;

export const ICMPV6_DESTINATION_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;

/** Destination unreachable codes (RFC 4443 3.1). */
export const ICMPV6_CODE_NO_ROUTE = 0;
export const ICMPV6_CODE_ADDRESS_UNREACHABLE = 3;
export const ICMPV6_CODE_PORT_UNREACHABLE = 4;
/** Parameter problem codes (RFC 4443 3.4). */
export const ICMPV6_CODE_ERRONEOUS_HEADER = 0;
export const ICMPV6_CODE_UNRECOGNIZED_NEXT_HEADER = 1;
export const ICMPV6_CODE_UNRECOGNIZED_OPTION = 2;

export type Icmpv6Repr = (
  | IcmpEchoRepr
  | {
      kind: 'destinationUnreachable' | 'timeExceeded';
      code: number;
      /** The 32-bit word after the checksum (unused; RFC 4884 puts a length there); kept for byte identity. */
      unused?: number;
      /** The invoking packet as quoted, cut to fit the minimum MTU (see parseIpv6Quoted). */
      invoking: Uint8Array;
    }
  | { kind: 'packetTooBig'; code: number; mtu: number; invoking: Uint8Array }
  | {
      kind: 'parameterProblem';
      code: number;
      /** Octet offset in the invoking packet where the problem is (RFC 4443 3.4). */
      pointer: number;
      invoking: Uint8Array;
    }
  | IcmpRawRepr
) &
  IcmpChecksum;

const TYPE_OF_KIND = {
  destinationUnreachable: ICMPV6_DESTINATION_UNREACHABLE,
  packetTooBig: ICMPV6_PACKET_TOO_BIG,
  timeExceeded: ICMPV6_TIME_EXCEEDED,
  parameterProblem: ICMPV6_PARAMETER_PROBLEM,
  echoRequest: ICMPV6_ECHO_REQUEST,
  echoReply: ICMPV6_ECHO_REPLY,
} as const;
const MODELLED_TYPES: ReadonlySet<number> = new Set(Object.values(TYPE_OF_KIND));

/**
 * Parses an ICMPv6 message (the upper-layer bytes after the IPv6 chain). Data, invoking
 * packet and rest are views into `bytes`. The checksum is not verified: see verifyIcmpv6Checksum.
 */
export function parseIcmpv6(bytes: Uint8Array): ParseResult<Icmpv6Repr> {
  const shared = parseShared('icmpv6', bytes, TYPE_OF_KIND, MODELLED_TYPES);
  if (shared) return shared;
  const type = bytes[0]!;
  const code = bytes[1]!;
  const checksum = readU16(bytes, 2);
  const word = readU32(bytes, 4);
  const invoking = bytes.subarray(ICMP_HEADER_LENGTH);
  switch (type) {
    case ICMPV6_PACKET_TOO_BIG:
      return ok({ kind: 'packetTooBig', code, mtu: word, invoking, checksum });
    case ICMPV6_PARAMETER_PROBLEM:
      return ok({ kind: 'parameterProblem', code, pointer: word, invoking, checksum });
    default: // ICMPV6_DESTINATION_UNREACHABLE, ICMPV6_TIME_EXCEEDED
      return ok({
        kind: type === ICMPV6_TIME_EXCEEDED ? 'timeExceeded' : 'destinationUnreachable',
        code,
        unused: word,
        invoking,
        checksum,
      });
  }
}

/** Bytes emitIcmpv6 writes. */
export function icmpv6Length(repr: Icmpv6Repr): number {
  return icmpMessageLength(repr);
}

/** Writes the message at out[offset] with its checksum over the pseudo-header of `src`/`dst`; returns its length. */
export function emitIcmpv6(repr: Icmpv6Repr, out: Uint8Array, offset: number, src: IpAddress, dst: IpAddress): number {
  const length = writeIcmp(repr, TYPE_OF_KIND, errorWord, out, offset);
  // RFC 4443 2.3: unlike ICMPv4, the checksum covers the IPv6 pseudo-header (RFC 8200 8.1).
  const sum = onesComplementSum(out, offset, length, pseudoHeaderSum(src, dst, IPPROTO_ICMPV6, length));
  writeU16(out, offset + 2, finishChecksum(sum));
  return length;
}

type Icmpv6Error = Extract<Icmpv6Repr, { invoking: Uint8Array }>;

/** The 32-bit word after the checksum of an error message (RFC 4443 3). */
function errorWord(e: Icmpv6Error): number {
  switch (e.kind) {
    case 'destinationUnreachable':
    case 'timeExceeded':
      return e.unused ?? 0;
    case 'packetTooBig':
      return e.mtu;
    case 'parameterProblem':
      return e.pointer;
  }
}

/** True when the message's checksum is correct for the pseudo-header of `src`/`dst` (RFC 4443 2.3). */
export function verifyIcmpv6Checksum(bytes: Uint8Array, src: IpAddress, dst: IpAddress): boolean {
  if (bytes.length < 4) return false;
  const sum = onesComplementSum(bytes, 0, bytes.length, pseudoHeaderSum(src, dst, IPPROTO_ICMPV6, bytes.length));
  return finishChecksum(sum) === 0;
}
