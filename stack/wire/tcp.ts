// TCP header (RFC 9293 3.1): a zero-copy view, a typed repr, parse and emit with the three
// checksum modes the stack needs (full, virtio/TUN partial, keep as parsed).

import type { IpAddress } from './address.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { finishChecksum, onesComplementSum, pseudoHeaderSum } from './checksum.js';
import { ok, wireError, type ParseResult, type WireError } from './result.js';
import { readTcpOptions, tcpOptionsLength, TCP_MAX_OPTIONS_LENGTH, writeTcpOptions, type TcpOption } from './tcp-options.js';

export const TCP_PROTOCOL = 6;
export const TCP_MIN_HEADER_LENGTH = 20;

// Control bits, RFC 9293 3.1 (CWR and ECE: RFC 3168 6.1).
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;
/** The lowest bit of the reserved nibble: AE of Accurate ECN (formerly NS, RFC 3540, historic). */
export const TCP_AE = 0x100;
/** `flags` covers the 12 bits after the data offset: reserved nibble and control bits. */
export const TCP_FLAGS_MASK = 0x0fff;

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  /** Unsigned 32-bit. */
  seq: number;
  /** Unsigned 32-bit; meaningful only with TCP_ACK. */
  ack: number;
  /**
   * TCP_FIN ... TCP_CWR, TCP_AE, and the three other reserved bits (0xe00) as received,
   * so that re-encoding is byte-identical (RFC 9293 says send zero, ignore on receipt).
   */
  flags: number;
  /** The raw 16-bit window field (not scaled). */
  window: number;
  urgentPointer: number;
  /** As parsed (not verified, see verifyTcpChecksum); emitted only in 'keep' mode. */
  checksum: number;
  /** In wire order; the header carries them padded with zero bytes to a multiple of 4. */
  options: TcpOption[];
}

/** How emitTcp fills the checksum field. */
export type TcpChecksumMode =
  /** The real checksum over the pseudo-header, header and payload (RFC 9293 3.1). */
  | { mode: 'full'; src: IpAddress; dst: IpAddress }
  /**
   * Only the folded, non-inverted pseudo-header sum, for a TUN write with a virtio_net_hdr
   * asking for NEEDS_CSUM (csum_start = IP header length, csum_offset 16): the kernel or
   * the NIC adds header and payload and inverts.
   */
  | { mode: 'partial'; src: IpAddress; dst: IpAddress }
  /** repr.checksum unchanged, e.g. to re-encode a parsed segment. */
  | { mode: 'keep' };

/** Why `bytes` cannot hold a TCP header, or undefined when it can. */
function checkTcp(bytes: Uint8Array): WireError | undefined {
  if (bytes.length < TCP_MIN_HEADER_LENGTH) return wireError('tcp', 'TRUNCATED', `${bytes.length} bytes, header needs 20`);
  const headerLength = (bytes[12]! >>> 4) * 4;
  if (headerLength < TCP_MIN_HEADER_LENGTH) {
    return wireError('tcp', 'BAD_HEADER_LENGTH', `data offset ${headerLength / 4} < 5`);
  }
  if (headerLength > bytes.length) return wireError('tcp', 'TRUNCATED', `data offset says ${headerLength} bytes, segment has ${bytes.length}`);
  return undefined;
}

/**
 * Zero-copy, validated access to a TCP segment (`bytes` is exactly the IP payload). Getters
 * read the bytes and allocate nothing; optionsBytes/payload create their view once per View.
 * The options are not validated by wrap: parse them with parseTcpOptions when needed.
 */
export class TcpView {
  private optionsCache: Uint8Array | undefined = undefined;
  private payloadCache: Uint8Array | undefined = undefined;

  private constructor(readonly bytes: Uint8Array) {}

  /** Checks the data offset against `bytes` once; later getters cannot read out of bounds. */
  static wrap(bytes: Uint8Array): ParseResult<TcpView> {
    const error = checkTcp(bytes);
    return error ?? ok(new TcpView(bytes));
  }

  get srcPort(): number {
    return readU16(this.bytes, 0);
  }
  get dstPort(): number {
    return readU16(this.bytes, 2);
  }
  get seq(): number {
    return readU32(this.bytes, 4);
  }
  get ack(): number {
    return readU32(this.bytes, 8);
  }
  /** In 32-bit words, as on the wire. */
  get dataOffset(): number {
    return this.bytes[12]! >>> 4;
  }
  /** In bytes: dataOffset * 4. */
  get headerLength(): number {
    return (this.bytes[12]! >>> 4) * 4;
  }
  /** See TcpRepr.flags. */
  get flags(): number {
    return readU16(this.bytes, 12) & TCP_FLAGS_MASK;
  }
  get window(): number {
    return readU16(this.bytes, 14);
  }
  get checksum(): number {
    return readU16(this.bytes, 16);
  }
  get urgentPointer(): number {
    return readU16(this.bytes, 18);
  }
  /** Option bytes are bytes[20, headerLength). */
  get optionsLength(): number {
    return this.headerLength - TCP_MIN_HEADER_LENGTH;
  }
  /** Payload bytes are bytes[headerLength, bytes.length). */
  get payloadLength(): number {
    return this.bytes.length - this.headerLength;
  }
  /** The raw option bytes, padding included; a view into the segment. */
  get optionsBytes(): Uint8Array {
    return (this.optionsCache ??= this.bytes.subarray(TCP_MIN_HEADER_LENGTH, this.headerLength));
  }
  /** A view into the segment. */
  get payload(): Uint8Array {
    return (this.payloadCache ??= this.bytes.subarray(this.headerLength));
  }
}

/**
 * Parses a TCP segment (`bytes` is exactly the IP payload). The payload is a view into
 * `bytes`; byte fields inside options are copies. The checksum is returned, not verified
 * (verifyTcpChecksum does that; segments read from TUN with NEEDS_CSUM carry only the
 * pseudo-header sum and need no check).
 */
export function parseTcp(bytes: Uint8Array): ParseResult<{ repr: TcpRepr; payload: Uint8Array }> {
  const error = checkTcp(bytes);
  if (error) return error;
  const headerLength = (bytes[12]! >>> 4) * 4;
  const options = readTcpOptions(bytes, TCP_MIN_HEADER_LENGTH, headerLength);
  if (!Array.isArray(options)) return options;
  const repr: TcpRepr = {
    srcPort: readU16(bytes, 0),
    dstPort: readU16(bytes, 2),
    seq: readU32(bytes, 4),
    ack: readU32(bytes, 8),
    flags: readU16(bytes, 12) & TCP_FLAGS_MASK,
    window: readU16(bytes, 14),
    urgentPointer: readU16(bytes, 18),
    checksum: readU16(bytes, 16),
    options,
  };
  return ok({ repr, payload: bytes.subarray(headerLength) });
}

/** Header bytes emitTcp writes: 20 plus the options padded to a multiple of 4. */
export function tcpHeaderLength(repr: TcpRepr): number {
  return TCP_MIN_HEADER_LENGTH + ((tcpOptionsLength(repr.options) + 3) & ~3);
}

/**
 * Writes the segment at `out[offset]`: the header, then `payload` when given; when it is
 * undefined the caller has already put `payloadLength` payload bytes right after where
 * the header goes (tcpHeaderLength), so nothing is copied. Returns header + payload length.
 * Throws RangeError on a repr no segment can carry (options over 40 bytes) or when `out`
 * is too small: bugs in the caller, never properties of received bytes.
 */
export function emitTcp(
  repr: TcpRepr,
  payload: Uint8Array | undefined,
  payloadLength: number,
  out: Uint8Array,
  offset: number,
  checksum: TcpChecksumMode,
): number {
  const optionsLength = tcpOptionsLength(repr.options);
  if (optionsLength > TCP_MAX_OPTIONS_LENGTH) throw new RangeError(`TCP options of ${optionsLength} bytes exceed 40`);
  const headerLength = TCP_MIN_HEADER_LENGTH + ((optionsLength + 3) & ~3);
  if (payload !== undefined && payload.length !== payloadLength) {
    throw new RangeError(`payload of ${payload.length} bytes, payloadLength ${payloadLength}`);
  }
  const length = headerLength + payloadLength;
  if (offset < 0 || offset + length > out.length) throw new RangeError(`TCP segment of ${length} bytes does not fit at ${offset}`);
  writeU16(out, offset, repr.srcPort);
  writeU16(out, offset + 2, repr.dstPort);
  writeU32(out, offset + 4, repr.seq);
  writeU32(out, offset + 8, repr.ack);
  writeU16(out, offset + 12, ((headerLength >>> 2) << 12) | (repr.flags & TCP_FLAGS_MASK));
  writeU16(out, offset + 14, repr.window);
  writeU16(out, offset + 16, 0);
  writeU16(out, offset + 18, repr.urgentPointer);
  writeTcpOptions(repr.options, out, offset + TCP_MIN_HEADER_LENGTH);
  // RFC 9293 3.1: the header is padded with zeros to a 32-bit boundary.
  const optionsEnd = offset + TCP_MIN_HEADER_LENGTH + optionsLength;
  if (optionsEnd < offset + headerLength) out.fill(0, optionsEnd, offset + headerLength);
  if (payload !== undefined) out.set(payload, offset + headerLength);
  switch (checksum.mode) {
    case 'full': {
      const pseudo = pseudoHeaderSum(checksum.src, checksum.dst, TCP_PROTOCOL, length);
      writeU16(out, offset + 16, finishChecksum(onesComplementSum(out, offset, length, pseudo)));
      break;
    }
    case 'partial':
      writeU16(out, offset + 16, pseudoHeaderSum(checksum.src, checksum.dst, TCP_PROTOCOL, length));
      break;
    case 'keep':
      writeU16(out, offset + 16, repr.checksum);
      break;
  }
  return length;
}

/** RFC 9293 3.1: the one's-complement sum over pseudo-header and segment is 0xffff when intact. */
export function verifyTcpChecksum(bytes: Uint8Array, src: IpAddress, dst: IpAddress): boolean {
  const pseudo = pseudoHeaderSum(src, dst, TCP_PROTOCOL, bytes.length);
  return onesComplementSum(bytes, 0, bytes.length, pseudo) === 0xffff;
}
