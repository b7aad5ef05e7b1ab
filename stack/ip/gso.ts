// Software fallback for transmit offloads (offload.ts), for the simulated network and for
// devices without IFF_VNET_HDR: cut a TCP super-packet into MSS-sized segments the way the
// kernel's tcp_gso_segment does, and finish a partial checksum the way a NIC would.

import { readU16, writeU16, writeU32 } from '../wire/bytes.js';
import { finishChecksum, internetChecksum, onesComplementSum, pseudoHeaderSum } from '../wire/checksum.js';
import { TCP_CWR, TCP_FIN, TCP_MIN_HEADER_LENGTH, TCP_PROTOCOL, TCP_PSH, TcpView } from '../wire/tcp.js';
import type { TxOffload } from './offload.js';

// RFC 9293 3.1: sequence number at 4, the control bits FIN..CWR in byte 13, checksum at 16.
const TCP_SEQ = 4;
const TCP_FLAGS = 13;
const TCP_CHECKSUM = 16;
// RFC 791 3.1 / RFC 8200 3: IPv4 total length at 2, identification at 4, header checksum at
// 10, source at 12; IPv6 payload length at 4, source at 8, extension headers after 40 bytes
// (the pseudo-header uses the IPv6 destination field: we never emit a Routing header).
const IPV6_HEADER_LENGTH = 40;

/**
 * Completes a partial L4 checksum: the field at checksumStart + checksumOffset holds the
 * pseudo-header sum (virtio NEEDS_CSUM semantics), and the one's-complement sum from
 * checksumStart to the end of the packet, stored inverted, makes it a full checksum. In place.
 */
export function finishPartialChecksum(packet: Uint8Array, offload: TxOffload): void {
  const field = offload.checksumStart + offload.checksumOffset;
  if (offload.checksumStart < 0 || field + 2 > packet.length) throw new RangeError('partial checksum outside the packet');
  const sum = onesComplementSum(packet, offload.checksumStart, packet.length - offload.checksumStart);
  // A result of 0 is written as 0xffff, its one's-complement twin, like Linux (CSUM_MANGLED_0):
  // for UDP a 0 on the wire means "no checksum" (RFC 768), which IPv6 receivers drop.
  writeU16(packet, field, finishChecksum(sum) || 0xffff);
}

/**
 * Splits a TCP super-packet into segments of at most gsoSize payload bytes, each a complete
 * packet: IP lengths rewritten (and the IPv4 ID incremented per segment, header checksum
 * recomputed), TCP sequence advanced, FIN and PSH kept only on the last segment and CWR only
 * on the first (RFC 3168 6.1.2: CWR marks one segment), full TCP checksum computed. The IP
 * header and everything up to checksumStart (IPv6 extension headers) is copied per segment.
 * Whatever the super-packet's checksum field holds is ignored. A packet whose payload
 * already fits is returned finished, not copied.
 */
export function segmentSuperPacket(packet: Uint8Array, offload: TxOffload): Uint8Array[] {
  const l4 = offload.checksumStart;
  const mss = offload.gsoSize ?? 0;
  const v4 = offload.gsoType === 'tcpv4';
  if (offload.gsoType !== 'tcpv4' && offload.gsoType !== 'tcpv6') throw new RangeError(`gsoType ${offload.gsoType} is not TCP`);
  if (!(mss > 0) || l4 < (v4 ? 20 : IPV6_HEADER_LENGTH) || l4 + TCP_MIN_HEADER_LENGTH > packet.length) throw new RangeError('inconsistent GSO metadata');
  const tcp = TcpView.wrap(packet.subarray(l4));
  if (!tcp.ok) throw new RangeError(`bad TCP header in super-packet: ${tcp.message}`);
  const headers = l4 + tcp.value.headerLength;
  const payload = tcp.value.payloadLength;
  const count = Math.max(1, Math.ceil(payload / mss));
  const src = packet.subarray(v4 ? 12 : 8, v4 ? 16 : 24);
  const dst = packet.subarray(v4 ? 16 : 24, v4 ? 20 : 40);
  const seq = tcp.value.seq;
  const ipId = v4 ? readU16(packet, 4) : 0;
  const flags = packet[l4 + TCP_FLAGS]!;
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const start = headers + i * mss;
    const length = Math.min(mss, payload - i * mss);
    const seg = count === 1 ? packet : new Uint8Array(headers + length);
    if (count > 1) {
      seg.set(packet.subarray(0, headers), 0);
      seg.set(packet.subarray(start, start + length), headers);
    }
    if (v4) {
      writeU16(seg, 2, seg.length);
      writeU16(seg, 4, (ipId + i) & 0xffff);
      writeU16(seg, 10, 0);
      writeU16(seg, 10, internetChecksum(seg, 0, (seg[0]! & 0x0f) * 4));
    } else {
      writeU16(seg, 4, seg.length - IPV6_HEADER_LENGTH);
    }
    writeU32(seg, l4 + TCP_SEQ, (seq + i * mss) >>> 0);
    let f = flags;
    if (i < count - 1) f &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) f &= ~TCP_CWR;
    seg[l4 + TCP_FLAGS] = f;
    writeU16(seg, l4 + TCP_CHECKSUM, 0);
    const l4Length = seg.length - l4;
    const sum = onesComplementSum(seg, l4, l4Length, pseudoHeaderSum(src, dst, TCP_PROTOCOL, l4Length));
    writeU16(seg, l4 + TCP_CHECKSUM, finishChecksum(sum));
    out.push(seg);
  }
  return out;
}
