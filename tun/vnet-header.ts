// struct virtio_net_hdr (virtio 1.x spec 5.1.6, include/uapi/linux/virtio_net.h): the
// 10-byte little-endian header that precedes every packet read from or written to a TUN
// opened with IFF_VNET_HDR. It carries the checksum and segmentation offload metadata:
// with TSO negotiated the kernel hands over whole TCP "super-packets" (up to 64 KiB) and
// accepts them on write, segmenting them itself. Legacy TUN uses little-endian fields
// (TUNSETVNETLE is only for big-endian hosts), which is what this codec reads and writes.

import { ok, wireError, type ParseResult } from '../stack/wire/result.js';

export const VNET_HEADER_LENGTH = 10;

/** flags: the checksum at csum_start + csum_offset still has to be completed (partial). */
export const VNET_HDR_F_NEEDS_CSUM = 0x01;
/** flags: the kernel already verified the checksums (received packets only). */
export const VNET_HDR_F_DATA_VALID = 0x02;

/** gso_type values; ECN may be or-ed into TCPV4/TCPV6 (CWR set on the first segment only). */
export const VNET_HDR_GSO_NONE = 0;
export const VNET_HDR_GSO_TCPV4 = 1;
export const VNET_HDR_GSO_UDP = 3;
export const VNET_HDR_GSO_TCPV6 = 4;
export const VNET_HDR_GSO_UDP_L4 = 5;
export const VNET_HDR_GSO_ECN = 0x80;

/** The header's fields as numbers, exactly as on the wire (so re-encoding is byte-identical). */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  /** Length of the headers to copy into the linear part (a hint); IP + transport header for GSO. */
  hdrLen: number;
  /** Payload bytes per segment (the MSS for TCP) when gsoType is not NONE. */
  gsoSize: number;
  /** Where checksumming starts (the transport header), counted from the IP header. */
  csumStart: number;
  /** Where the checksum field sits, counted from csumStart (16 for TCP, 6 for UDP). */
  csumOffset: number;
}

/** Zero-copy view over a virtio_net_hdr; the length is checked once in wrap(). */
export class VnetHeaderView {
  private constructor(private readonly bytes: Uint8Array) {}

  static wrap(bytes: Uint8Array): ParseResult<VnetHeaderView> {
    if (bytes.length < VNET_HEADER_LENGTH) {
      return wireError('vnet', 'TRUNCATED', `${bytes.length} bytes, a virtio_net_hdr needs ${VNET_HEADER_LENGTH}`);
    }
    return ok(new VnetHeaderView(bytes));
  }

  get flags(): number {
    return this.bytes[0]!;
  }
  get gsoType(): number {
    return this.bytes[1]!;
  }
  get hdrLen(): number {
    return readLe16(this.bytes, 2);
  }
  get gsoSize(): number {
    return readLe16(this.bytes, 4);
  }
  get csumStart(): number {
    return readLe16(this.bytes, 6);
  }
  get csumOffset(): number {
    return readLe16(this.bytes, 8);
  }
  /** NEEDS_CSUM or DATA_VALID: the kernel produced or checked the transport checksum. */
  get checksumVerified(): boolean {
    return (this.bytes[0]! & (VNET_HDR_F_NEEDS_CSUM | VNET_HDR_F_DATA_VALID)) !== 0;
  }
}

export function parseVnetHeader(bytes: Uint8Array): ParseResult<VnetHeader> {
  const view = VnetHeaderView.wrap(bytes);
  if (!view.ok) return view;
  const v = view.value;
  return ok({
    flags: v.flags,
    gsoType: v.gsoType,
    hdrLen: v.hdrLen,
    gsoSize: v.gsoSize,
    csumStart: v.csumStart,
    csumOffset: v.csumOffset,
  });
}

/** Writes the header at `out[offset]` and returns VNET_HEADER_LENGTH. */
export function emitVnetHeader(repr: Readonly<VnetHeader>, out: Uint8Array, offset: number): number {
  out[offset] = repr.flags;
  out[offset + 1] = repr.gsoType;
  writeLe16(out, offset + 2, repr.hdrLen);
  writeLe16(out, offset + 4, repr.gsoSize);
  writeLe16(out, offset + 6, repr.csumStart);
  writeLe16(out, offset + 8, repr.csumOffset);
  return VNET_HEADER_LENGTH;
}

function readLe16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

function writeLe16(out: Uint8Array, at: number, value: number): void {
  out[at] = value & 0xff;
  out[at + 1] = (value >>> 8) & 0xff;
}
