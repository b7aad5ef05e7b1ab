// Transmit offload metadata, modeled on virtio_net_hdr (include/uapi/linux/virtio_net.h) but
// stack-neutral: the stack may hand out one TCP "super-packet" larger than the MTU to be cut
// into MSS-sized segments, and/or leave the L4 checksum partial (pseudo-header sum only) for
// whoever writes the packet to finish. A TUN device with IFF_VNET_HDR does both in the
// kernel; the simulated network and plain devices call the software fallback in gso.ts.

export interface TxOffload {
  /** Offset of the L4 header in the packet (virtio csum_start). */
  checksumStart: number;
  /** Offset of the checksum field within the L4 header (virtio csum_offset). */
  checksumOffset: number;
  /** MSS: the packet is a super-packet to be segmented at this many payload bytes. */
  gsoSize?: number;
  gsoType?: 'tcpv4' | 'tcpv6';
}
