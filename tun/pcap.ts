// Classic libpcap capture files (https://www.tcpdump.org/manpages/pcap-savefile.5.html,
// draft-ietf-opsawg-pcap): a 24-byte file header, then per packet a 16-byte record header
// and the captured bytes. The writer records what namestack reads from and writes to TUN
// (raw IP, LINKTYPE_RAW); the reader turns kernel captures (tcpdump -w) into IP packets
// for the golden tests, whatever link type tcpdump chose.

import { closeSync, openSync, writeSync } from 'node:fs';
import { readU16 } from '../stack/wire/bytes.js';
import { ok, wireError, type ParseResult } from '../stack/wire/result.js';

/** Link types (https://www.tcpdump.org/linktypes.html). */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

// The magic is written in the writer's byte order; the second form means nanosecond stamps.
const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;
// pcapng starts with a Section Header Block, block type 0x0a0d0d0a (palindromic).
const PCAPNG_SHB = 0x0a0d0d0a;

const FILE_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
/** tcpdump's default snap length (MAXIMUM_SNAPLEN); also our bound for a hostile incl_len. */
const DEFAULT_SNAP_LENGTH = 262144;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
// IEEE 802.1Q, 802.1ad (QinQ) and the pre-standard QinQ tag: 4 bytes each, stackable.
const VLAN_ETHERTYPES = new Set([0x8100, 0x88a8, 0x9100]);

export interface PcapWriterOptions {
  /** Link type of every record; LINKTYPE_RAW (IPv4 or IPv6 without a link header) by default. */
  linkType?: number;
  /** Longer packets are cut to this many bytes (orig_len keeps the real length). */
  snapLength?: number;
  /** Nanosecond instead of microsecond timestamps. */
  nanosecond?: boolean;
}

/** Streams a pcap file into `sink`: the file header at construction, then one record per packet. */
export class PcapWriter {
  private readonly snapLength: number;
  private readonly ticksPerMs: number;

  constructor(
    private readonly sink: (chunk: Uint8Array) => void,
    opts: PcapWriterOptions = {},
  ) {
    this.snapLength = opts.snapLength ?? DEFAULT_SNAP_LENGTH;
    this.ticksPerMs = opts.nanosecond ? 1_000_000 : 1_000;
    const header = new Uint8Array(FILE_HEADER_LENGTH);
    const view = new DataView(header.buffer);
    view.setUint32(0, opts.nanosecond ? MAGIC_NANO : MAGIC_MICRO, true);
    view.setUint16(4, 2, true); // version 2.4, unchanged since 1998
    view.setUint16(6, 4, true);
    // bytes 8-15: thiszone and sigfigs, always 0
    view.setUint32(16, this.snapLength, true);
    view.setUint32(20, opts.linkType ?? LINKTYPE_RAW, true);
    this.sink(header);
  }

  /** Append one packet captured at `timestampMs` (milliseconds since the epoch, may be fractional). */
  writePacket(timestampMs: number, packet: Uint8Array): void {
    const captured = Math.min(packet.length, this.snapLength);
    const record = new Uint8Array(RECORD_HEADER_LENGTH + captured);
    const view = new DataView(record.buffer);
    // Split into whole seconds and sub-second ticks without letting rounding reach 1 s.
    const ms = Math.max(0, timestampMs);
    const seconds = Math.floor(ms / 1000);
    const ticksPerSecond = this.ticksPerMs * 1000;
    const ticks = Math.min(ticksPerSecond - 1, Math.round((ms - seconds * 1000) * this.ticksPerMs));
    view.setUint32(0, seconds >>> 0, true);
    view.setUint32(4, ticks, true);
    view.setUint32(8, captured, true);
    view.setUint32(12, packet.length, true);
    record.set(packet.subarray(0, captured), RECORD_HEADER_LENGTH);
    this.sink(record);
  }
}

/** A PcapWriter writing synchronously to a file, which `close()` closes. */
export function openPcapFile(path: string, opts?: PcapWriterOptions): PcapWriter & { close(): void } {
  const fd = openSync(path, 'w');
  const writer = new PcapWriter((chunk) => {
    let done = 0;
    while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
  }, opts);
  return Object.assign(writer, { close: () => closeSync(fd) });
}

export interface PcapRecord {
  /** Capture time in milliseconds since the epoch (fractional below 1 ms). */
  timestampMs: number;
  /** The IP packet (IPv4 or IPv6), link-layer header removed; a view into the file bytes. */
  data: Uint8Array;
  /** Length of the packet on the wire; larger than the captured bytes when snap length cut it. */
  originalLength: number;
}

export interface PcapContents {
  linkType: number;
  /** Every IP record in file order. */
  records: PcapRecord[];
  /** Records that carried no IP packet (ARP, LLDP, ...) and were left out. */
  skipped: number;
}

/**
 * Parse a classic pcap file (either byte order, micro- or nanosecond stamps) and return its
 * IP packets. Understands raw IP, Ethernet (with VLAN tags) and Linux cooked captures v1/v2
 * (`tcpdump -i any`). pcapng is rejected with code UNSUPPORTED. Never throws.
 */
export function readPcap(bytes: Uint8Array): ParseResult<PcapContents> {
  if (bytes.length < FILE_HEADER_LENGTH) {
    return wireError('pcap', 'TRUNCATED', `file of ${bytes.length} bytes is shorter than the pcap header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicLe = view.getUint32(0, true);
  if (magicLe === PCAPNG_SHB) {
    return wireError('pcap', 'UNSUPPORTED', 'pcapng file; write classic pcap (tcpdump -w does by default, or editcap -F pcap)');
  }
  let littleEndian: boolean;
  let ticksPerMs: number;
  if (magicLe === MAGIC_MICRO || magicLe === MAGIC_NANO) {
    littleEndian = true;
    ticksPerMs = magicLe === MAGIC_NANO ? 1_000_000 : 1_000;
  } else {
    const magicBe = view.getUint32(0, false);
    if (magicBe !== MAGIC_MICRO && magicBe !== MAGIC_NANO) {
      return wireError('pcap', 'BAD_VERSION', `unknown magic 0x${magicBe.toString(16).padStart(8, '0')}`);
    }
    littleEndian = false;
    ticksPerMs = magicBe === MAGIC_NANO ? 1_000_000 : 1_000;
  }
  const major = view.getUint16(4, littleEndian);
  if (major !== 2) return wireError('pcap', 'BAD_VERSION', `pcap version ${major} (expected 2)`);
  // The FCS-present bits live in the top nibble of the link type field (pcap-savefile(5)).
  const linkType = view.getUint32(20, littleEndian) & 0x0fffffff;
  const strip = LINK_HEADER_STRIPPERS.get(linkType);
  if (!strip) return wireError('pcap', 'UNSUPPORTED', `link type ${linkType} is not supported`);

  const records: PcapRecord[] = [];
  let skipped = 0;
  let offset = FILE_HEADER_LENGTH;
  while (offset < bytes.length) {
    if (bytes.length - offset < RECORD_HEADER_LENGTH) {
      return wireError('pcap', 'TRUNCATED', `record header at byte ${offset} is cut off`);
    }
    const seconds = view.getUint32(offset, littleEndian);
    const ticks = view.getUint32(offset + 4, littleEndian);
    const capturedLength = view.getUint32(offset + 8, littleEndian);
    const originalLength = view.getUint32(offset + 12, littleEndian);
    // A hostile incl_len must not make us allocate or skip wildly: bound it like libpcap does.
    if (capturedLength > DEFAULT_SNAP_LENGTH) {
      return wireError('pcap', 'BAD_LENGTH', `record at byte ${offset} claims ${capturedLength} captured bytes`);
    }
    const start = offset + RECORD_HEADER_LENGTH;
    if (bytes.length - start < capturedLength) {
      return wireError('pcap', 'TRUNCATED', `record at byte ${offset} is cut off`);
    }
    const frame = bytes.subarray(start, start + capturedLength);
    offset = start + capturedLength;
    const ip = strip(frame);
    if (!ip) {
      skipped++;
      continue;
    }
    // Bytes of the link header that were captured do not belong to the IP packet's length.
    const linkHeaderLength = capturedLength - ip.length;
    records.push({
      timestampMs: seconds * 1000 + ticks / ticksPerMs,
      data: ip,
      originalLength: Math.max(0, originalLength - linkHeaderLength),
    });
  }
  return ok({ linkType, records, skipped });
}

/** Returns the IP packet inside a link-layer frame, or undefined when it holds something else. */
type LinkHeaderStripper = (frame: Uint8Array) => Uint8Array | undefined;

const LINK_HEADER_STRIPPERS = new Map<number, LinkHeaderStripper>([
  [LINKTYPE_RAW, rawIp],
  [LINKTYPE_IPV4, rawIp],
  [LINKTYPE_IPV6, rawIp],
  // Ethernet: destination, source (6 + 6), then the EtherType.
  [LINKTYPE_ETHERNET, (frame) => afterEtherType(frame, 12)],
  // Linux cooked v1: packet type, ARPHRD, address length, 8 address bytes, protocol at 14.
  [LINKTYPE_LINUX_SLL, (frame) => afterEtherType(frame, 14)],
  // Linux cooked v2: protocol at 0, then reserved, ifindex, ARPHRD, packet type, address: 20 bytes.
  [LINKTYPE_LINUX_SLL2, (frame) => (frame.length < 20 ? undefined : ipByEtherType(frame, readU16(frame, 0), 20))],
]);

function rawIp(frame: Uint8Array): Uint8Array | undefined {
  if (frame.length === 0) return undefined;
  const version = frame[0]! >> 4;
  return version === 4 || version === 6 ? frame : undefined;
}

/** The EtherType sits at `typeOffset`; VLAN tags (4 bytes each) may precede the real one. */
function afterEtherType(frame: Uint8Array, typeOffset: number): Uint8Array | undefined {
  let at = typeOffset;
  while (at + 2 <= frame.length) {
    const etherType = readU16(frame, at);
    if (!VLAN_ETHERTYPES.has(etherType)) return ipByEtherType(frame, etherType, at + 2);
    at += 4; // tag control information (2) and the next EtherType
  }
  return undefined;
}

function ipByEtherType(frame: Uint8Array, etherType: number, payloadOffset: number): Uint8Array | undefined {
  if (etherType === ETHERTYPE_IPV4 || etherType === ETHERTYPE_IPV6) {
    return payloadOffset <= frame.length ? frame.subarray(payloadOffset) : undefined;
  }
  // SLL/SLL2 carry VLAN-tagged frames with the tag still in the payload.
  if (VLAN_ETHERTYPES.has(etherType)) return afterEtherType(frame, payloadOffset + 2);
  return undefined;
}
