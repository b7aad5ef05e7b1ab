// Multipath TCP v1 options (RFC 8684): the data of TCP option kind 30, one variant per
// subtype and per length Linux sends (net/mptcp/options.c). The subtype is the high nibble
// of the first byte after kind and length (RFC 8684 3); the low nibble is the version
// (MP_CAPABLE) or flags/reserved bits (all others).
//
// RFC 8684 says a malformed MPTCP option is ignored, not a reason to drop the segment, so
// parsing never fails: an option whose length does not match its subtype becomes
// { subtype: 'malformed' } with the raw bytes, for the stack to count and skip.
// Reserved bits (sent as zero, ignored on receipt) are kept in `reserved` only when a
// peer set them, so that re-encoding a parsed option is byte-identical.

import type { IpAddress } from './address.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';

/** TCP option kind of every MPTCP option (RFC 8684 7.1). */
export const TCP_OPTION_MPTCP = 30;

// Subtypes, RFC 8684 7.2.
export const MPTCP_MP_CAPABLE = 0x0;
export const MPTCP_MP_JOIN = 0x1;
export const MPTCP_DSS = 0x2;
export const MPTCP_ADD_ADDR = 0x3;
export const MPTCP_REMOVE_ADDR = 0x4;
export const MPTCP_MP_PRIO = 0x5;
export const MPTCP_MP_FAIL = 0x6;
export const MPTCP_MP_FASTCLOSE = 0x7;
export const MPTCP_MP_TCPRST = 0x8;

/** The only protocol version this codec's peers speak (RFC 8684 3.1). */
export const MPTCP_VERSION = 1;

// MP_CAPABLE flags byte "A B C D E F G H" (RFC 8684 3.1, 7.4).
/** A: the sender requires DSS checksums. */
export const MP_CAPABLE_CHECKSUM_REQUIRED = 0x80;
/** B: extensibility, must be 0 in v1. */
export const MP_CAPABLE_EXTENSIBILITY = 0x40;
/** C: do not open additional subflows to the source address of this SYN. */
export const MP_CAPABLE_NO_JOIN_TO_SOURCE = 0x20;
/** H: HMAC-SHA256, the only crypto algorithm of v1. */
export const MP_CAPABLE_HMAC_SHA256 = 0x01;

// DSS flags, the low five bits of the byte after the subtype (RFC 8684 3.3, 7.5).
export const DSS_DATA_ACK = 0x01; // A
export const DSS_DATA_ACK_64 = 0x02; // a
export const DSS_MAPPING = 0x04; // M
export const DSS_DSN_64 = 0x08; // m
export const DSS_DATA_FIN = 0x10; // F

// MP_TCPRST flags "U V W T" (RFC 8684 3.6): the low nibble of the subtype byte.
export const MP_TCPRST_U = 0x8;
export const MP_TCPRST_V = 0x4;
export const MP_TCPRST_W = 0x2;
/** T: the error is transient, the subflow may be re-established. */
export const MP_TCPRST_TRANSIENT = 0x1;

// MP_TCPRST reason codes (RFC 8684 3.6, 7.6).
export const MP_TCPRST_UNSPECIFIED = 0x00;
export const MP_TCPRST_MPTCP_ERROR = 0x01;
export const MP_TCPRST_LACK_OF_RESOURCES = 0x02;
export const MP_TCPRST_ADMIN_PROHIBITED = 0x03;
export const MP_TCPRST_TOO_MUCH_OUTSTANDING = 0x04;
export const MP_TCPRST_UNACCEPTABLE_PERFORMANCE = 0x05;
export const MP_TCPRST_MIDDLEBOX_INTERFERENCE = 0x06;

// A note on `reserved`: the value of the reserved bits as received, at their positions in
// the 12 bits that follow the subtype nibble (bytes 2-3 of the option read as a 16-bit
// big-endian word with the subtype cleared). Absent means zero, which is what senders
// must send; receivers ignore it.

/**
 * MP_CAPABLE (RFC 8684 3.1). The option length says which fields are present, in order:
 * 4 SYN (none), 12 SYN/ACK (senderKey), 20 third ACK (both keys), 22 first data
 * (+ dataLength), 24 (+ checksum). Keys are 64-bit numbers as on the wire (big-endian).
 */
export interface MpCapable {
  readonly subtype: 'mpCapable';
  /** The low nibble of the subtype byte; 1 for RFC 8684. */
  version: number;
  /** Flag byte A..H, see MP_CAPABLE_*; Linux requires (flags & 0x1f) === 0x01. */
  flags: number;
  senderKey?: bigint;
  receiverKey?: bigint;
  /** Data-level length of the payload this option maps (DSN = IDSN + 1, SSN = 1). */
  dataLength?: number;
  /** DSS checksum of that mapping, when checksums were negotiated. */
  checksum?: number;
}

/** MP_JOIN on a SYN, length 12 (RFC 8684 3.2): the receiver's token and a random nonce. */
export interface MpJoinSyn {
  readonly subtype: 'mpJoinSyn';
  backup: boolean;
  addressId: number;
  token: number;
  nonce: number;
  reserved?: number;
}

/** MP_JOIN on a SYN/ACK, length 16 (RFC 8684 3.2): leftmost 64 bits of the HMAC, nonce. */
export interface MpJoinSynAck {
  readonly subtype: 'mpJoinSynAck';
  backup: boolean;
  addressId: number;
  /** 8 bytes. */
  hmac: Uint8Array;
  nonce: number;
  reserved?: number;
}

/** MP_JOIN on the third ACK, length 24 (RFC 8684 3.2): leftmost 160 bits of the HMAC. */
export interface MpJoinAck {
  readonly subtype: 'mpJoinAck';
  /** 20 bytes. */
  hmac: Uint8Array;
  reserved?: number;
}

/**
 * A DSS mapping (RFC 8684 3.3.1): `dataLength` bytes starting at subflow sequence number
 * `subflowSeq` (relative to the subflow's ISN) carry data sequence numbers from `dsn`.
 * A dataLength of 0 is the infinite mapping (RFC 8684 3.7).
 */
export interface DssMapping {
  /** The DSN as on the wire: the full 64 bits, or only the low 32 when dsn64 is false. */
  dsn: bigint;
  subflowSeq: number;
  dataLength: number;
  /** Present when DSS checksums are in use (RFC 8684 3.3.1). */
  checksum?: number;
}

/**
 * DSS, Data Sequence Signal (RFC 8684 3.3). Length = 4 + DATA_ACK (0, 4 or 8)
 * + mapping (0, 10 or 14) + 2 when the mapping carries a checksum.
 */
export interface Dss {
  readonly subtype: 'dss';
  /** DATA_ACK (flag A), as on the wire: 64 bits, or the low 32 when dataAck64 is false. */
  dataAck?: bigint;
  /** Flag a: the DATA_ACK field is 8 bytes. Kept even without a DATA_ACK, for identity. */
  dataAck64: boolean;
  /** Flag M. */
  mapping?: DssMapping;
  /** Flag m: the DSN field is 8 bytes. Kept even without a mapping, for identity. */
  dsn64: boolean;
  /** Flag F, DATA_FIN (RFC 8684 3.3.3): the mapping's last data-level byte is the DATA_FIN. */
  dataFin: boolean;
  reserved?: number;
}

/**
 * ADD_ADDR (RFC 8684 3.4.1). Length 8 + 0/12 (IPv4/IPv6) + 2 with a port + 8 with the
 * HMAC: 16/18/28/30 when announcing, 8/10/20/22 for echoes (E=1, no HMAC).
 */
export interface AddAddr {
  readonly subtype: 'addAddr';
  /** Flag E: an echo acknowledging the peer's announcement; carries no HMAC. */
  echo: boolean;
  addressId: number;
  /** 4 or 16 bytes. */
  address: IpAddress;
  port?: number;
  /** Rightmost 64 bits of HMAC-SHA256 (8 bytes); present exactly when echo is false. */
  hmac?: Uint8Array;
  reserved?: number;
}

/** REMOVE_ADDR (RFC 8684 3.4.2): one or more address IDs, length 3 + count. */
export interface RemoveAddr {
  readonly subtype: 'removeAddr';
  addressIds: number[];
  reserved?: number;
}

/**
 * MP_PRIO (RFC 8684 3.3.8): length 3. RFC 8684 5 removed the AddrID byte of RFC 6824;
 * a 4-byte MP_PRIO carrying one is still decoded (addressId) so it re-encodes identically.
 */
export interface MpPrio {
  readonly subtype: 'mpPrio';
  backup: boolean;
  addressId?: number;
  reserved?: number;
}

/** MP_FAIL (RFC 8684 3.7), length 12: the 64-bit DSN where the checksum failed. */
export interface MpFail {
  readonly subtype: 'mpFail';
  dsn: bigint;
  reserved?: number;
}

/** MP_FASTCLOSE (RFC 8684 3.5), length 12: the receiver's key, as authentication. */
export interface MpFastclose {
  readonly subtype: 'mpFastclose';
  receiverKey: bigint;
  reserved?: number;
}

/** MP_TCPRST (RFC 8684 3.6), length 4: why a subflow is being reset. */
export interface MpTcpRst {
  readonly subtype: 'mpTcpRst';
  /** U V W T bits, see MP_TCPRST_*. */
  flags: number;
  /** See MP_TCPRST_UNSPECIFIED ... MP_TCPRST_MIDDLEBOX_INTERFERENCE. */
  reason: number;
}

/** A subtype this codec does not know (9-15, RFC 8684 7.2), kept as received. */
export interface MptcpUnknown {
  readonly subtype: 'unknown';
  /** The numeric subtype. */
  type: number;
  /** The option bytes after kind and length (a copy). */
  raw: Uint8Array;
}

/** A known subtype whose length or layout is wrong: to be ignored (RFC 8684 3). */
export interface MptcpMalformed {
  readonly subtype: 'malformed';
  /** The numeric subtype, undefined when the option has no byte after its length. */
  type: number | undefined;
  /** The option bytes after kind and length (a copy). */
  raw: Uint8Array;
  reason: string;
}

export type MptcpOption =
  | MpCapable
  | MpJoinSyn
  | MpJoinSynAck
  | MpJoinAck
  | Dss
  | AddAddr
  | RemoveAddr
  | MpPrio
  | MpFail
  | MpFastclose
  | MpTcpRst
  | MptcpUnknown
  | MptcpMalformed;

// Reserved-bit masks in the 12 bits after the subtype (see the note on `reserved`).
const JOIN_RESERVED = 0x0e00;
const JOIN_ACK_RESERVED = 0x0fff;
const DSS_RESERVED = 0x0fe0;
const ADD_ADDR_RESERVED = 0x0e00;
const REMOVE_ADDR_RESERVED = 0x0f00;
const PRIO_RESERVED = 0x0e00;
const FAIL_RESERVED = 0x0fff;
const FASTCLOSE_RESERVED = 0x0fff;
/** The backup flag B of MP_JOIN and MP_PRIO, the echo flag E of ADD_ADDR: bit 0 of byte 2. */
const LOW_FLAG = 0x0100;

/**
 * Decodes the data of one MPTCP option: the `length` bytes at `offset` that follow the
 * kind and length bytes (so `length` is the option length minus 2). Never fails: a wrong
 * length or layout yields { subtype: 'malformed' }.
 */
export function parseMptcpOption(bytes: Uint8Array, offset = 0, length = bytes.length - offset): MptcpOption {
  if (offset < 0 || length < 0 || offset + length > bytes.length) {
    return malformed(bytes, offset, length, 'option data runs past the buffer');
  }
  if (length === 0) return malformed(bytes, offset, length, 'no subtype byte');
  // Field positions below count from the kind byte, as in the RFC 8684 figures.
  const p = offset - 2;
  const len = length + 2;
  const type = bytes[offset]! >> 4;
  switch (type) {
    case MPTCP_MP_CAPABLE:
      return parseMpCapable(bytes, p, len);
    case MPTCP_MP_JOIN:
      return parseMpJoin(bytes, p, len);
    case MPTCP_DSS:
      return parseDss(bytes, p, len);
    case MPTCP_ADD_ADDR:
      return parseAddAddr(bytes, p, len);
    case MPTCP_REMOVE_ADDR: {
      if (len < 4) return malformed(bytes, offset, length, `REMOVE_ADDR length ${len} < 4`);
      const addressIds: number[] = [];
      for (let i = 3; i < len; i++) addressIds.push(bytes[p + i]!);
      return withReserved({ subtype: 'removeAddr', addressIds }, (bytes[p + 2]! << 8) & REMOVE_ADDR_RESERVED);
    }
    case MPTCP_MP_PRIO: {
      if (len !== 3 && len !== 4) return malformed(bytes, offset, length, `MP_PRIO length ${len}, want 3 (or 4)`);
      const word = bytes[p + 2]! << 8;
      const prio: MpPrio = { subtype: 'mpPrio', backup: (word & LOW_FLAG) !== 0 };
      if (len === 4) prio.addressId = bytes[p + 3]!;
      return withReserved(prio, word & PRIO_RESERVED);
    }
    case MPTCP_MP_FAIL:
      if (len !== 12) return malformed(bytes, offset, length, `MP_FAIL length ${len}, want 12`);
      return withReserved({ subtype: 'mpFail', dsn: readU64(bytes, p + 4) }, readU16(bytes, p + 2) & FAIL_RESERVED);
    case MPTCP_MP_FASTCLOSE:
      if (len !== 12) return malformed(bytes, offset, length, `MP_FASTCLOSE length ${len}, want 12`);
      return withReserved(
        { subtype: 'mpFastclose', receiverKey: readU64(bytes, p + 4) },
        readU16(bytes, p + 2) & FASTCLOSE_RESERVED,
      );
    case MPTCP_MP_TCPRST:
      if (len !== 4) return malformed(bytes, offset, length, `MP_TCPRST length ${len}, want 4`);
      return { subtype: 'mpTcpRst', flags: bytes[p + 2]! & 0x0f, reason: bytes[p + 3]! };
    default:
      return { subtype: 'unknown', type, raw: bytes.slice(offset, offset + length) };
  }
}

function parseMpCapable(bytes: Uint8Array, p: number, len: number): MptcpOption {
  if (len !== 4 && len !== 12 && len !== 20 && len !== 22 && len !== 24) {
    return malformed(bytes, p + 2, len - 2, `MP_CAPABLE length ${len}, want 4, 12, 20, 22 or 24`);
  }
  const opt: MpCapable = { subtype: 'mpCapable', version: bytes[p + 2]! & 0x0f, flags: bytes[p + 3]! };
  if (len >= 12) opt.senderKey = readU64(bytes, p + 4);
  if (len >= 20) opt.receiverKey = readU64(bytes, p + 12);
  if (len >= 22) opt.dataLength = readU16(bytes, p + 20);
  if (len === 24) opt.checksum = readU16(bytes, p + 22);
  return opt;
}

function parseMpJoin(bytes: Uint8Array, p: number, len: number): MptcpOption {
  const word = readU16(bytes, p + 2);
  const backup = (word & LOW_FLAG) !== 0;
  const addressId = word & 0xff;
  switch (len) {
    case 12:
      return withReserved(
        { subtype: 'mpJoinSyn', backup, addressId, token: readU32(bytes, p + 4), nonce: readU32(bytes, p + 8) },
        word & JOIN_RESERVED,
      );
    case 16:
      return withReserved(
        {
          subtype: 'mpJoinSynAck',
          backup,
          addressId,
          hmac: bytes.slice(p + 4, p + 12),
          nonce: readU32(bytes, p + 12),
        },
        word & JOIN_RESERVED,
      );
    case 24:
      return withReserved({ subtype: 'mpJoinAck', hmac: bytes.slice(p + 4, p + 24) }, word & JOIN_ACK_RESERVED);
    default:
      return malformed(bytes, p + 2, len - 2, `MP_JOIN length ${len}, want 12, 16 or 24`);
  }
}

function parseDss(bytes: Uint8Array, p: number, len: number): MptcpOption {
  if (len < 4) return malformed(bytes, p + 2, len - 2, `DSS length ${len} < 4`);
  const word = readU16(bytes, p + 2);
  const dataAck64 = (word & DSS_DATA_ACK_64) !== 0;
  const dsn64 = (word & DSS_DSN_64) !== 0;
  const hasMapping = (word & DSS_MAPPING) !== 0;
  let at = 4;
  let dataAck: bigint | undefined;
  if (word & DSS_DATA_ACK) {
    if (len < at + (dataAck64 ? 8 : 4)) return malformed(bytes, p + 2, len - 2, `DSS length ${len} too short for its DATA_ACK`);
    dataAck = dataAck64 ? readU64(bytes, p + at) : BigInt(readU32(bytes, p + at));
    at += dataAck64 ? 8 : 4;
  }
  let mapping: DssMapping | undefined;
  if (hasMapping) {
    const mapEnd = at + (dsn64 ? 8 : 4) + 6;
    // RFC 8684 3.3.1: the checksum is present only when negotiated; its presence shows in the length.
    if (len !== mapEnd && len !== mapEnd + 2) {
      return malformed(bytes, p + 2, len - 2, `DSS length ${len}, flags say ${mapEnd} or ${mapEnd + 2}`);
    }
    const dsn = dsn64 ? readU64(bytes, p + at) : BigInt(readU32(bytes, p + at));
    at += dsn64 ? 8 : 4;
    mapping = { dsn, subflowSeq: readU32(bytes, p + at), dataLength: readU16(bytes, p + at + 4) };
    if (len === mapEnd + 2) mapping.checksum = readU16(bytes, p + mapEnd);
  } else if (len !== at) {
    return malformed(bytes, p + 2, len - 2, `DSS length ${len}, flags say ${at}`);
  }
  const dss: Dss = { subtype: 'dss', dataAck, dataAck64, mapping, dsn64, dataFin: (word & DSS_DATA_FIN) !== 0 };
  return withReserved(dss, word & DSS_RESERVED);
}

function parseAddAddr(bytes: Uint8Array, p: number, len: number): MptcpOption {
  const word = readU16(bytes, p + 2);
  const echo = (word & LOW_FLAG) !== 0;
  // Linux (mptcp_parse_option) decides HMAC presence by E and the family by what is left.
  const rest = len - 4 - (echo ? 0 : 8);
  const addressLength = rest === 4 || rest === 6 ? 4 : rest === 16 || rest === 18 ? 16 : 0;
  if (addressLength === 0) {
    return malformed(bytes, p + 2, len - 2, `ADD_ADDR length ${len} fits no address family (E=${echo ? 1 : 0})`);
  }
  const opt: AddAddr = {
    subtype: 'addAddr',
    echo,
    addressId: word & 0xff,
    address: bytes.slice(p + 4, p + 4 + addressLength),
  };
  let at = 4 + addressLength;
  if (rest > addressLength) {
    opt.port = readU16(bytes, p + at);
    at += 2;
  }
  if (!echo) opt.hmac = bytes.slice(p + at, p + at + 8);
  return withReserved(opt, word & ADD_ADDR_RESERVED);
}

function malformed(bytes: Uint8Array, offset: number, length: number, reason: string): MptcpMalformed {
  const start = Math.max(0, Math.min(offset, bytes.length));
  const raw = bytes.slice(start, Math.max(start, Math.min(offset + length, bytes.length)));
  return { subtype: 'malformed', type: raw.length > 0 ? raw[0]! >> 4 : undefined, raw, reason };
}

type WithReserved = Extract<MptcpOption, { reserved?: number }>;

function withReserved<T extends WithReserved>(opt: T, reserved: number): T {
  if (reserved !== 0) opt.reserved = reserved;
  return opt;
}

/** The whole option length in bytes, kind and length bytes included. */
export function mptcpOptionLength(opt: MptcpOption): number {
  switch (opt.subtype) {
    case 'mpCapable':
      return mpCapableLength(opt);
    case 'mpJoinSyn':
      return 12;
    case 'mpJoinSynAck':
      return 16;
    case 'mpJoinAck':
      return 24;
    case 'dss':
      return (
        4 +
        (opt.dataAck === undefined ? 0 : opt.dataAck64 ? 8 : 4) +
        (opt.mapping === undefined ? 0 : (opt.dsn64 ? 14 : 10) + (opt.mapping.checksum === undefined ? 0 : 2))
      );
    case 'addAddr':
      return 4 + opt.address.length + (opt.port === undefined ? 0 : 2) + (opt.hmac === undefined ? 0 : 8);
    case 'removeAddr':
      return 3 + opt.addressIds.length;
    case 'mpPrio':
      return opt.addressId === undefined ? 3 : 4;
    case 'mpFail':
    case 'mpFastclose':
      return 12;
    case 'mpTcpRst':
      return 4;
    case 'unknown':
    case 'malformed':
      return 2 + opt.raw.length;
  }
}

function mpCapableLength(opt: MpCapable): number {
  if (opt.checksum !== undefined) return 24;
  if (opt.dataLength !== undefined) return 22;
  if (opt.receiverKey !== undefined) return 20;
  if (opt.senderKey !== undefined) return 12;
  return 4;
}

/**
 * Writes the whole option (kind 30, length, data) at `offset`; returns its length. The
 * caller sizes `out` with mptcpOptionLength. Throws RangeError for an option no parse
 * could have produced (an MP_CAPABLE key missing below a later field, an HMAC or address
 * of the wrong size): that is a bug in the caller, never a property of received bytes.
 */
export function emitMptcpOption(opt: MptcpOption, out: Uint8Array, offset: number): number {
  const len = mptcpOptionLength(opt);
  if (offset < 0 || offset + len > out.length) throw new RangeError(`MPTCP option of ${len} bytes does not fit at ${offset}`);
  out[offset] = TCP_OPTION_MPTCP;
  out[offset + 1] = len;
  const o = offset;
  switch (opt.subtype) {
    case 'mpCapable': {
      out[o + 2] = (MPTCP_MP_CAPABLE << 4) | (opt.version & 0x0f);
      out[o + 3] = opt.flags;
      if (len >= 12) writeU64(out, o + 4, required(opt.senderKey, 'MP_CAPABLE senderKey'));
      if (len >= 20) writeU64(out, o + 12, required(opt.receiverKey, 'MP_CAPABLE receiverKey'));
      if (len >= 22) writeU16(out, o + 20, required(opt.dataLength, 'MP_CAPABLE dataLength'));
      if (len === 24) writeU16(out, o + 22, opt.checksum!);
      break;
    }
    case 'mpJoinSyn':
      writeU16(out, o + 2, joinWord(opt.backup, opt.addressId, opt.reserved));
      writeU32(out, o + 4, opt.token);
      writeU32(out, o + 8, opt.nonce);
      break;
    case 'mpJoinSynAck':
      writeU16(out, o + 2, joinWord(opt.backup, opt.addressId, opt.reserved));
      writeBytes(out, o + 4, opt.hmac, 8, 'MP_JOIN SYN/ACK HMAC');
      writeU32(out, o + 12, opt.nonce);
      break;
    case 'mpJoinAck':
      writeU16(out, o + 2, (MPTCP_MP_JOIN << 12) | ((opt.reserved ?? 0) & JOIN_ACK_RESERVED));
      writeBytes(out, o + 4, opt.hmac, 20, 'MP_JOIN ACK HMAC');
      break;
    case 'dss':
      emitDss(opt, out, o);
      break;
    case 'addAddr': {
      const word = (MPTCP_ADD_ADDR << 12) | ((opt.reserved ?? 0) & ADD_ADDR_RESERVED) | (opt.echo ? LOW_FLAG : 0);
      writeU16(out, o + 2, word | (opt.addressId & 0xff));
      if (opt.address.length !== 4 && opt.address.length !== 16) {
        throw new RangeError(`ADD_ADDR address of ${opt.address.length} bytes`);
      }
      out.set(opt.address, o + 4);
      let at = o + 4 + opt.address.length;
      if (opt.port !== undefined) {
        writeU16(out, at, opt.port);
        at += 2;
      }
      if (opt.hmac !== undefined) writeBytes(out, at, opt.hmac, 8, 'ADD_ADDR HMAC');
      break;
    }
    case 'removeAddr':
      out[o + 2] = (MPTCP_REMOVE_ADDR << 4) | (((opt.reserved ?? 0) & REMOVE_ADDR_RESERVED) >> 8);
      for (let i = 0; i < opt.addressIds.length; i++) out[o + 3 + i] = opt.addressIds[i]!;
      break;
    case 'mpPrio':
      out[o + 2] = ((MPTCP_MP_PRIO << 12) | ((opt.reserved ?? 0) & PRIO_RESERVED) | (opt.backup ? LOW_FLAG : 0)) >> 8;
      if (opt.addressId !== undefined) out[o + 3] = opt.addressId;
      break;
    case 'mpFail':
      writeU16(out, o + 2, (MPTCP_MP_FAIL << 12) | ((opt.reserved ?? 0) & FAIL_RESERVED));
      writeU64(out, o + 4, opt.dsn);
      break;
    case 'mpFastclose':
      writeU16(out, o + 2, (MPTCP_MP_FASTCLOSE << 12) | ((opt.reserved ?? 0) & FASTCLOSE_RESERVED));
      writeU64(out, o + 4, opt.receiverKey);
      break;
    case 'mpTcpRst':
      out[o + 2] = (MPTCP_MP_TCPRST << 4) | (opt.flags & 0x0f);
      out[o + 3] = opt.reason;
      break;
    case 'unknown':
    case 'malformed':
      out.set(opt.raw, o + 2);
      break;
  }
  return len;
}

function emitDss(opt: Dss, out: Uint8Array, o: number): void {
  let word = (MPTCP_DSS << 12) | ((opt.reserved ?? 0) & DSS_RESERVED);
  if (opt.dataAck !== undefined) word |= DSS_DATA_ACK;
  if (opt.dataAck64) word |= DSS_DATA_ACK_64;
  if (opt.mapping !== undefined) word |= DSS_MAPPING;
  if (opt.dsn64) word |= DSS_DSN_64;
  if (opt.dataFin) word |= DSS_DATA_FIN;
  writeU16(out, o + 2, word);
  let at = o + 4;
  if (opt.dataAck !== undefined) at = writeSeq(out, at, opt.dataAck, opt.dataAck64);
  const m = opt.mapping;
  if (m !== undefined) {
    at = writeSeq(out, at, m.dsn, opt.dsn64);
    writeU32(out, at, m.subflowSeq);
    writeU16(out, at + 4, m.dataLength);
    if (m.checksum !== undefined) writeU16(out, at + 6, m.checksum);
  }
}

function joinWord(backup: boolean, addressId: number, reserved: number | undefined): number {
  return (MPTCP_MP_JOIN << 12) | ((reserved ?? 0) & JOIN_RESERVED) | (backup ? LOW_FLAG : 0) | (addressId & 0xff);
}

/** A DATA_ACK or DSN: all 64 bits, or the low 32 (RFC 8684 3.3: the receiver infers the rest). */
function writeSeq(out: Uint8Array, at: number, value: bigint, wide: boolean): number {
  const size = wide ? 8 : 4;
  writeLowBytes(out, at, value, size);
  return at + size;
}

function writeBytes(out: Uint8Array, at: number, value: Uint8Array, size: number, what: string): void {
  if (value.length !== size) throw new RangeError(`${what} must be ${size} bytes, got ${value.length}`);
  out.set(value, at);
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new RangeError(`${what} missing while a later MP_CAPABLE field is present`);
  return value;
}

// 64-bit fields go through one 8-byte scratch DataView: get/setBigUint64 allocate only the
// result BigInt, where shifting and masking BigInts allocates several (measured 2-3x slower).
const scratch = new Uint8Array(8);
const scratchView = new DataView(scratch.buffer);

/** Big-endian unsigned 64-bit read. */
function readU64(b: Uint8Array, at: number): bigint {
  for (let i = 0; i < 8; i++) scratch[i] = b[at + i]!;
  return scratchView.getBigUint64(0);
}

/** Big-endian write of the low 64 bits of `value` (setBigUint64 reduces modulo 2^64). */
function writeU64(b: Uint8Array, at: number, value: bigint): void {
  writeLowBytes(b, at, value, 8);
}

/** The low `count` bytes of `value`, big-endian. */
function writeLowBytes(b: Uint8Array, at: number, value: bigint, count: number): void {
  scratchView.setBigUint64(0, value);
  for (let i = 0; i < count; i++) b[at + i] = scratch[8 - count + i]!;
}
