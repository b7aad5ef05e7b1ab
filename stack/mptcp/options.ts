// The MPTCP options a connection sends, built as Linux lays them out (net/mptcp/options.c
// mptcp_write_options): every option is followed by NOPs up to a 4-byte boundary (DSS
// without checksum 26 + NOP NOP, MP_CAPABLE with data 22 + NOP NOP, MP_PRIO 3 + NOP,
// ADD_ADDR with port 18/30 + NOP NOP, REMOVE_ADDR 3 + n + NOPs), so our segments match the
// kernel's byte for byte. Also the checks a received MP_CAPABLE must pass (RFC 8684 3.1).

import { NOP_OPTION, type TcpOption } from '../wire/tcp-options.js';
import {
  MP_CAPABLE_CHECKSUM_REQUIRED,
  MP_CAPABLE_EXTENSIBILITY,
  MP_CAPABLE_HMAC_SHA256,
  MPTCP_VERSION,
  mptcpOptionLength,
  type MpCapable,
  type MptcpOption,
} from '../wire/mptcp-options.js';

/** Option bytes (padded) of a data segment's DSS: kind/length/flags 4, DATA_ACK 4 or 8, 64-bit DSN mapping 14, checksum 2 (RFC 8684 3.3). */
export function dssLength(dataAck64: boolean, checksum: boolean): number {
  return (4 + (dataAck64 ? 8 : 4) + 14 + (checksum ? 2 : 0) + 3) & ~3;
}

/** The option as a TCP option followed by NOPs to the next 4-byte boundary (Linux's padding). */
export function padded(option: MptcpOption, into: TcpOption[] = []): TcpOption[] {
  into.push({ kind: 'mptcp', option });
  const pad = (4 - (mptcpOptionLength(option) % 4)) % 4;
  for (let i = 0; i < pad; i++) into.push(NOP_OPTION);
  return into;
}

/** Bytes `option` takes with its padding. */
export function paddedLength(option: MptcpOption): number {
  return (mptcpOptionLength(option) + 3) & ~3;
}

/** MP_CAPABLE flags we send: H (HMAC-SHA256), plus A when we require checksums (RFC 8684 3.1). */
export function mpCapableFlags(checksum: boolean): number {
  return MP_CAPABLE_HMAC_SHA256 | (checksum ? MP_CAPABLE_CHECKSUM_REQUIRED : 0);
}

/**
 * Whether a received MP_CAPABLE can start MPTCP: version 1, HMAC-SHA256 as the only
 * algorithm bit among D..H and B clear (Linux mptcp_parse_option: flags & 0x1f must be
 * 0x01, the extensibility bit unset). Anything else means plain TCP (RFC 8684 3.1).
 */
export function acceptableMpCapable(o: MpCapable): boolean {
  return o.version === MPTCP_VERSION && (o.flags & 0x1f) === MP_CAPABLE_HMAC_SHA256 && (o.flags & MP_CAPABLE_EXTENSIBILITY) === 0;
}

/** RFC 8684 3.1: checksums are used when either side sets A. */
export function checksumRequired(o: MpCapable): boolean {
  return (o.flags & MP_CAPABLE_CHECKSUM_REQUIRED) !== 0;
}

/** The MP_CAPABLE of a SYN (4 bytes, no key in v1) or SYN/ACK (12, the sender's key). */
export function mpCapableHandshake(checksum: boolean, senderKey?: bigint): MpCapable {
  const o: MpCapable = { subtype: 'mpCapable', version: MPTCP_VERSION, flags: mpCapableFlags(checksum) };
  if (senderKey !== undefined) o.senderKey = senderKey;
  return o;
}

/**
 * The MP_CAPABLE of the third ACK (20 bytes, both keys) or of the first data (22, with the
 * data-level length of its mapping, 24 with its checksum). RFC 8684 3.1.
 */
export function mpCapableAck(checksum: boolean, localKey: bigint, remoteKey: bigint, dataLength?: number, dataChecksum?: number): MpCapable {
  const o: MpCapable = { subtype: 'mpCapable', version: MPTCP_VERSION, flags: mpCapableFlags(checksum), senderKey: localKey, receiverKey: remoteKey };
  if (dataLength !== undefined) {
    o.dataLength = dataLength;
    if (dataChecksum !== undefined) o.checksum = dataChecksum;
  }
  return o;
}

/** The MPTCP options of a received segment (kind 30 only), in wire order. */
export function mptcpOptionsOf(options: readonly TcpOption[]): MptcpOption[] {
  const out: MptcpOption[] = [];
  for (const o of options) if (o.kind === 'mptcp') out.push(o.option);
  return out;
}
