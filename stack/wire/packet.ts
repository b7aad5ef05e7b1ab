// A whole IP packet as one typed value: the IP header (IPv4 or IPv6 with its extension
// headers), the transport header (TCP, UDP, ICMP, ICMPv6, or raw bytes for anything else)
// and the payload, tied together from the per-layer codecs in this folder. Tests, traces
// and tools use it to read or build a packet in one call; the packet path may still call
// the layer parsers directly where it only needs one layer.

import { EMPTY_BYTES, writeU16 } from './bytes.js';
import { emitIcmpv4, icmpv4Length, IPPROTO_ICMP, parseIcmpv4, verifyIcmpv4Checksum, type Icmpv4Repr } from './icmpv4.js';
import { emitIcmpv6, icmpv6Length, IPPROTO_ICMPV6, parseIcmpv6, verifyIcmpv6Checksum, type Icmpv6Repr } from './icmpv6.js';
import { emitIpv4Header, ipv4HeaderLength, parseIpv4, verifyIpv4HeaderChecksum, Ipv4View, type Ipv4Repr } from './ipv4.js';
import { emitIpv6Header, ipv6HeaderLength, parseIpv6, type Ipv6Repr } from './ipv6.js';
import { ok, wireError, type ParseResult } from './result.js';
import { emitTcp, parseTcp, TCP_PROTOCOL, tcpHeaderLength, verifyTcpChecksum, type TcpRepr } from './tcp.js';
import { emitUdp, IPPROTO_UDP, parseUdp, UDP_HEADER_LENGTH, verifyUdpChecksum, type UdpRepr } from './udp.js';

export type IpHeaderRepr = { version: 4; repr: Ipv4Repr } | { version: 6; repr: Ipv6Repr };

export type TransportRepr =
  | { protocol: 'tcp'; repr: TcpRepr }
  | { protocol: 'udp'; repr: UdpRepr }
  /** The whole message (echo data, quoted invoking packet, raw body) lives in the repr. */
  | { protocol: 'icmpv4'; repr: Icmpv4Repr }
  | { protocol: 'icmpv6'; repr: Icmpv6Repr }
  /**
   * Any other protocol number, and every IP fragment (RFC 791 3.2, RFC 8200 4.5: only the
   * reassembled datagram has a transport header to parse): `bytes` is the whole IP payload.
   */
  | { protocol: 'other'; number: number; bytes: Uint8Array };

export interface PacketRepr {
  ip: IpHeaderRepr;
  transport: TransportRepr;
  /** TCP segment data or UDP datagram data; empty for ICMP and 'other' (their repr holds it all). */
  payload: Uint8Array;
}

export interface EmitPacketOptions {
  /**
   * Write the checksums the reprs carry as parsed (IPv4 header, TCP, UDP, ICMP) instead of
   * computing them, so that re-encoding a received packet with a wrong checksum gives the
   * same bytes. A repr without a parsed checksum still gets a computed one.
   */
  keepChecksums?: boolean;
}

/**
 * Parses an IP packet down to the transport payload. Trailing bytes past the IP length
 * (link-layer padding) are ignored. Checksums are returned in the reprs, not verified
 * (see verifyPacketChecksums). An error from any layer is returned as that layer's error.
 */
export function parsePacket(bytes: Uint8Array): ParseResult<PacketRepr> {
  const parsed = parseLayers(bytes);
  return parsed.ok ? ok(parsed.value.packet) : parsed;
}

/** parsePacket, plus the upper-layer bytes (after every IP header, up to the IP length). */
function parseLayers(bytes: Uint8Array): ParseResult<{ packet: PacketRepr; upper: Uint8Array }> {
  if (bytes.length === 0) return wireError('ip', 'TRUNCATED', 'empty packet');
  const version = bytes[0]! >>> 4;
  let transport: ParseResult<PacketRepr>;
  let upper: Uint8Array;
  if (version === 4) {
    const parsed = parseIpv4(bytes);
    if (!parsed.ok) return parsed;
    const { repr } = parsed.value;
    upper = parsed.value.payload;
    const fragment = repr.moreFragments || repr.fragmentOffset !== 0;
    transport = withTransport({ version: 4, repr }, fragment ? undefined : repr.protocol, repr.protocol, upper);
  } else if (version === 6) {
    const parsed = parseIpv6(bytes);
    if (!parsed.ok) return parsed;
    const { repr } = parsed.value;
    upper = parsed.value.payload;
    const fragment = repr.extensionHeaders.some((h) => h.kind === 'fragment');
    transport = withTransport({ version: 6, repr }, fragment ? undefined : repr.upperProtocol, repr.upperProtocol, upper);
  } else {
    return wireError('ip', 'BAD_VERSION', `IP version ${version}`);
  }
  return transport.ok ? ok({ packet: transport.value, upper }) : transport;
}

/** `parseAs` undefined: keep the payload raw (a fragment) whatever `number` says. */
function withTransport(ip: IpHeaderRepr, parseAs: number | undefined, number: number, bytes: Uint8Array): ParseResult<PacketRepr> {
  switch (parseAs) {
    case TCP_PROTOCOL: {
      const tcp = parseTcp(bytes);
      return tcp.ok ? ok({ ip, transport: { protocol: 'tcp', repr: tcp.value.repr }, payload: tcp.value.payload }) : tcp;
    }
    case IPPROTO_UDP: {
      const udp = parseUdp(bytes);
      return udp.ok ? ok({ ip, transport: { protocol: 'udp', repr: udp.value.repr }, payload: udp.value.payload }) : udp;
    }
    // ICMP is decoded by the parser of the IP version it arrived on: ICMPv4 in IPv6 (or
    // ICMPv6 in IPv4) is not a message anyone sends and stays raw.
    case IPPROTO_ICMP:
      if (ip.version === 4) {
        const icmp = parseIcmpv4(bytes);
        return icmp.ok ? ok({ ip, transport: { protocol: 'icmpv4', repr: icmp.value }, payload: EMPTY_BYTES }) : icmp;
      }
      break;
    case IPPROTO_ICMPV6:
      if (ip.version === 6) {
        const icmp = parseIcmpv6(bytes);
        return icmp.ok ? ok({ ip, transport: { protocol: 'icmpv6', repr: icmp.value }, payload: EMPTY_BYTES }) : icmp;
      }
      break;
  }
  return ok({ ip, transport: { protocol: 'other', number, bytes }, payload: EMPTY_BYTES });
}

/** The IP protocol number (IPv4 Protocol, IPv6 upper-layer Next Header) a transport repr is carried under. */
export function transportProtocolNumber(transport: TransportRepr): number {
  switch (transport.protocol) {
    case 'tcp':
      return TCP_PROTOCOL;
    case 'udp':
      return IPPROTO_UDP;
    case 'icmpv4':
      return IPPROTO_ICMP;
    case 'icmpv6':
      return IPPROTO_ICMPV6;
    case 'other':
      return transport.number;
  }
}

function transportLength(packet: PacketRepr): number {
  const t = packet.transport;
  switch (t.protocol) {
    case 'tcp':
      return tcpHeaderLength(t.repr) + packet.payload.length;
    case 'udp':
      return UDP_HEADER_LENGTH + packet.payload.length;
    case 'icmpv4':
      return icmpv4Length(t.repr);
    case 'icmpv6':
      return icmpv6Length(t.repr);
    case 'other':
      return t.bytes.length;
  }
}

function ipHeaderLength(ip: IpHeaderRepr): number {
  return ip.version === 4 ? ipv4HeaderLength(ip.repr) : ipv6HeaderLength(ip.repr);
}

/** Bytes emitPacketInto writes for `packet`. */
export function packetLength(packet: PacketRepr): number {
  return ipHeaderLength(packet.ip) + transportLength(packet);
}

/** Encodes `packet` into a new buffer; see emitPacketInto. */
export function emitPacket(packet: PacketRepr, opts: EmitPacketOptions = {}): Uint8Array {
  const out = new Uint8Array(packetLength(packet));
  emitPacketInto(packet, out, 0, opts);
  return out;
}

/**
 * Writes the whole packet at out[offset] and returns its length. Lengths are computed;
 * the IP protocol field comes from the transport repr; checksums are computed unless
 * `keepChecksums`. Throws RangeError (from the layer emitters) on a repr no packet can
 * carry or when `out` is too small: caller bugs, never properties of received bytes.
 */
export function emitPacketInto(packet: PacketRepr, out: Uint8Array, offset: number, opts: EmitPacketOptions = {}): number {
  const keep = opts.keepChecksums === true;
  const { ip, transport, payload } = packet;
  const upperLength = transportLength(packet);
  const protocol = transportProtocolNumber(transport);
  let at = offset;
  if (ip.version === 4) {
    const repr = ip.repr.protocol === protocol ? ip.repr : { ...ip.repr, protocol };
    at += emitIpv4Header(repr, upperLength, out, at);
    if (keep && repr.checksum !== undefined) writeU16(out, offset + 10, repr.checksum);
  } else {
    const repr = ip.repr.upperProtocol === protocol ? ip.repr : { ...ip.repr, upperProtocol: protocol };
    at += emitIpv6Header(repr, upperLength, out, at);
  }
  const src = ip.repr.src;
  const dst = ip.repr.dst;
  switch (transport.protocol) {
    case 'tcp':
      return at - offset + emitTcp(transport.repr, payload, payload.length, out, at, keep ? { mode: 'keep' } : { mode: 'full', src, dst });
    case 'udp': {
      const n = emitUdp(transport.repr, payload, out, at, src, dst);
      if (keep && transport.repr.checksum !== undefined) writeU16(out, at + 6, transport.repr.checksum);
      return at - offset + n;
    }
    case 'icmpv4': {
      const n = emitIcmpv4(transport.repr, out, at);
      if (keep && transport.repr.checksum !== undefined) writeU16(out, at + 2, transport.repr.checksum);
      return at - offset + n;
    }
    case 'icmpv6': {
      const n = emitIcmpv6(transport.repr, out, at, src, dst);
      if (keep && transport.repr.checksum !== undefined) writeU16(out, at + 2, transport.repr.checksum);
      return at - offset + n;
    }
    case 'other':
      out.set(transport.bytes, at);
      return at - offset + transport.bytes.length;
  }
}

/**
 * True when every checksum in the packet is correct: the IPv4 header checksum, and the
 * TCP, UDP (a zero UDP checksum only over IPv4), ICMP or ICMPv6 checksum with its
 * pseudo-header (RFC 9293 3.1, RFC 768, RFC 792, RFC 4443 2.3). Fragments and other
 * protocols have no transport checksum to check here. False when the packet does not parse.
 * The IPv6 pseudo-header uses the header's destination (a routing header's final one is not
 * looked up).
 */
export function verifyPacketChecksums(bytes: Uint8Array): boolean {
  const parsed = parseLayers(bytes);
  if (!parsed.ok) return false;
  const { packet, upper } = parsed.value;
  const { ip, transport } = packet;
  if (ip.version === 4) {
    const view = Ipv4View.wrap(bytes);
    if (!view.ok || !verifyIpv4HeaderChecksum(view.value)) return false;
  }
  const { src, dst } = ip.repr;
  switch (transport.protocol) {
    case 'tcp':
      return verifyTcpChecksum(upper, src, dst);
    case 'udp':
      return verifyUdpChecksum(upper, src, dst);
    case 'icmpv4':
      return verifyIcmpv4Checksum(upper);
    case 'icmpv6':
      return verifyIcmpv6Checksum(upper, src, dst);
    case 'other':
      return true;
  }
}
