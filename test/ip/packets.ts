// Test helpers: build packets with the wire codecs and describe packets as one-line traces,
// so host tests read like packet traces (STYLE.md, smoltcp).

import { formatAddress, parseAddress, type IpAddress } from '../../stack/wire/address.js';
import { emitIcmpv4, icmpv4Length, parseIcmpv4, verifyIcmpv4Checksum, type Icmpv4Repr } from '../../stack/wire/icmpv4.js';
import { emitIcmpv6, icmpv6Length, parseIcmpv6, verifyIcmpv6Checksum, type Icmpv6Repr } from '../../stack/wire/icmpv6.js';
import { emitIpv4Header, parseIpv4, parseIpv4Quoted, type Ipv4Repr } from '../../stack/wire/ipv4.js';
import { emitIpv6Header, ipv6HeaderLength, parseIpv6, parseIpv6Quoted } from '../../stack/wire/ipv6.js';
import type { Ipv6ExtensionHeader } from '../../stack/wire/ipv6-ext.js';
import { EMPTY_BYTES } from '../../stack/wire/bytes.js';
import { emitUdp, parseUdp, verifyUdpChecksum } from '../../stack/wire/udp.js';
import { parseTcp, verifyTcpChecksum } from '../../stack/wire/tcp.js';

export const ip = (text: string): IpAddress => {
  const a = parseAddress(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a;
};

export function ipv4(src: string, dst: string, protocol: number, l4: Uint8Array, extra: Partial<Ipv4Repr> = {}): Uint8Array {
  const repr: Ipv4Repr = {
    dscpEcn: 0,
    identification: 1,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol,
    src: ip(src),
    dst: ip(dst),
    options: EMPTY_BYTES,
    ...extra,
  };
  const out = new Uint8Array(20 + repr.options.length + l4.length);
  const n = emitIpv4Header(repr, l4.length, out, 0);
  out.set(l4, n);
  return out;
}

export function ipv6(src: string, dst: string, protocol: number, l4: Uint8Array, extensionHeaders: Ipv6ExtensionHeader[] = []): Uint8Array {
  const repr = { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: ip(src), dst: ip(dst), extensionHeaders, upperProtocol: protocol };
  const h = ipv6HeaderLength(repr);
  const out = new Uint8Array(h + l4.length);
  emitIpv6Header(repr, l4.length, out, 0);
  out.set(l4, h);
  return out;
}

export function udp(src: string, dst: string, srcPort: number, dstPort: number, payload: Uint8Array | string): Uint8Array {
  const data = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  const out = new Uint8Array(8 + data.length);
  emitUdp({ srcPort, dstPort }, data, out, 0, ip(src), ip(dst));
  return out;
}

export function icmpv4(repr: Icmpv4Repr): Uint8Array {
  const out = new Uint8Array(icmpv4Length(repr));
  emitIcmpv4(repr, out, 0);
  return out;
}

export function icmpv6(repr: Icmpv6Repr, src: string, dst: string): Uint8Array {
  const out = new Uint8Array(icmpv6Length(repr));
  emitIcmpv6(repr, out, 0, ip(src), ip(dst));
  return out;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** One line per packet; checksums are verified and a bad one shows as "BADSUM". */
export function describe(packet: Uint8Array, quoted = false): string {
  const version = packet[0]! >>> 4;
  let src: IpAddress, dst: IpAddress, protocol: number, l4: Uint8Array, head: string;
  if (version === 4) {
    const r = quoted ? parseIpv4Quoted(packet) : parseIpv4(packet);
    if (!r.ok) return `ipv4 ${r.code}`;
    ({ src, dst, protocol } = r.value.repr);
    l4 = r.value.payload;
    head = `${formatAddress(src)} > ${formatAddress(dst)} ttl=${r.value.repr.ttl}`;
  } else {
    const r = quoted ? parseIpv6Quoted(packet) : parseIpv6(packet);
    if (!r.ok) return `ipv6 ${r.code}`;
    ({ src, dst, upperProtocol: protocol } = r.value.repr);
    l4 = r.value.payload;
    head = `${formatAddress(src)} > ${formatAddress(dst)} hlim=${r.value.repr.hopLimit}`;
  }
  return `${head} ${describeL4(protocol, l4, src, dst, quoted)}`;
}

function describeL4(protocol: number, l4: Uint8Array, src: IpAddress, dst: IpAddress, quoted: boolean): string {
  if (protocol === 17) {
    const r = parseUdp(l4);
    if (!r.ok) return quoted ? `udp ${l4.length} bytes` : `udp ${r.code}`;
    const sum = quoted || verifyUdpChecksum(l4, src, dst) ? '' : ' BADSUM';
    return `udp ${r.value.repr.srcPort} > ${r.value.repr.dstPort} "${text(r.value.payload)}"${sum}`;
  }
  if (protocol === 6) {
    const r = parseTcp(l4);
    if (!r.ok) return `tcp ${r.code}`;
    const sum = verifyTcpChecksum(l4, src, dst) ? '' : ' BADSUM';
    return `tcp ${r.value.repr.srcPort} > ${r.value.repr.dstPort} seq=${r.value.repr.seq} flags=0x${r.value.repr.flags.toString(16)} len=${r.value.payload.length}${sum}`;
  }
  if (protocol === 1) {
    const r = parseIcmpv4(l4);
    if (!r.ok) return `icmp ${r.code}`;
    const sum = verifyIcmpv4Checksum(l4) ? '' : ' BADSUM';
    return `icmp ${describeIcmp(r.value)}${sum}`;
  }
  if (protocol === 58) {
    const r = parseIcmpv6(l4);
    if (!r.ok) return `icmpv6 ${r.code}`;
    const sum = verifyIcmpv6Checksum(l4, src, dst) ? '' : ' BADSUM';
    return `icmpv6 ${describeIcmp(r.value)}${sum}`;
  }
  return `proto ${protocol} ${l4.length} bytes`;
}

function describeIcmp(m: Icmpv4Repr | Icmpv6Repr): string {
  switch (m.kind) {
    case 'echoRequest':
    case 'echoReply':
      return `${m.kind} id=${m.identifier} seq=${m.sequence} "${text(m.data)}"`;
    case 'other':
      return `type=${m.type} code=${m.code}`;
    default: {
      const extra = m.kind === 'parameterProblem' ? ` pointer=${m.pointer}` : m.kind === 'packetTooBig' ? ` mtu=${m.mtu}` : '';
      return `${m.kind} code=${m.code}${extra} [${describe(m.invoking, true)}] quoted=${m.invoking.length}`;
    }
  }
}
