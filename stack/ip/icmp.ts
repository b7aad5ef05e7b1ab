// The host's ICMP and ICMPv6: answering echo requests to our addresses (RFC 1122 3.2.2.6,
// RFC 4443 4.2), generating port/protocol unreachable and IPv6 parameter problem errors
// under a rate limit (never about an ICMP error), and
// handing received errors (unreachable, packet too big, time exceeded, parameter problem)
// to the transport that sent the invoking packet, found by parsing the quoted packet.

import type { IpAddress, IpFamily } from '../wire/address.js';
import { IPV6_MAX_EXTENSION_HEADERS, extensionHeaderLength, parseExtensionHeaders } from '../wire/ipv6-ext.js';
import {
  emitIcmpv4,
  ICMPV4_CODE_FRAGMENTATION_NEEDED,
  ICMPV4_CODE_PORT_UNREACHABLE,
  ICMPV4_CODE_PROTOCOL_UNREACHABLE,
  IPPROTO_ICMP,
  parseIcmpv4,
  verifyIcmpv4Checksum,
  type Icmpv4Repr,
} from '../wire/icmpv4.js';
import {
  emitIcmpv6,
  ICMPV6_CODE_PORT_UNREACHABLE,
  ICMPV6_CODE_UNRECOGNIZED_NEXT_HEADER,
  ICMPV6_ECHO_REQUEST,
  IPPROTO_ICMPV6,
  parseIcmpv6,
  verifyIcmpv6Checksum,
  type Icmpv6Repr,
} from '../wire/icmpv6.js';
import { parseIpv4Quoted } from '../wire/ipv4.js';
import { IPV6_HEADER_LENGTH, parseIpv6Quoted } from '../wire/ipv6.js';
import { ok, wireError, type ParseResult } from '../wire/result.js';
import type { HostCounters, RxDropReason } from './counters.js';
import type { IcmpErrorReport, InboundPacket, SendRequest, SendResult, TransportHandler } from './host.js';
import type { IcmpRateLimiter } from './icmp-ratelimit.js';
import type { InterfaceTable } from './interfaces.js';

/** What the ICMP layer needs from its host. */
export interface IcmpHost {
  readonly config: { ip: { answerEcho: boolean } };
  readonly counters: HostCounters;
  readonly interfaces: InterfaceTable;
  send(req: SendRequest, now: number): SendResult;
  transport(protocol: number): TransportHandler | undefined;
  lowerPathMtu(dst: IpAddress, reportedMtu: number, now: number): number | undefined;
  routeMtu(dst: IpAddress, src?: IpAddress): number | undefined;
  drop(reason: RxDropReason): void;
}

/**
 * Largest ICMP error we send, so the quote stays within what every link carries: RFC 1812
 * 4.3.2.3 (576 bytes for IPv4) and RFC 4443 2.4(c) (the IPv6 minimum MTU).
 */
const MAX_ERROR_PACKET = { 4: 576, 6: 1280 } as const;
const IP_HEADER = { 4: 20, 6: 40 } as const;
const ICMP_ERROR_HEADER = 8;

/** Who a generated error goes back to: the source of the invoking packet, from the address it was sent to. */
export type ErrorTarget = Pick<InboundPacket, 'family' | 'src' | 'dst'>;

/** RFC 1191 7: MTU plateaus, for a Fragmentation Needed from a router that left the MTU field 0. */
const MTU_PLATEAUS = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

type ErrorKind = IcmpErrorReport['kind'];

export class IcmpLayer {
  constructor(
    private readonly host: IcmpHost,
    private readonly limiter: IcmpRateLimiter,
  ) {}

  input(p: InboundPacket, now: number): void {
    const c = this.host.counters;
    if (p.family === 4) {
      if (!verifyIcmpv4Checksum(p.l4)) return c.parseError(wireError('icmpv4', 'BAD_CHECKSUM', 'ICMP checksum'));
      const r = parseIcmpv4(p.l4);
      if (!r.ok) return c.parseError(r);
      c.icmpIn++;
      this.dispatch(p, r.value, now);
    } else {
      if (!verifyIcmpv6Checksum(p.l4, p.src, p.dst)) return c.parseError(wireError('icmpv6', 'BAD_CHECKSUM', 'ICMPv6 checksum'));
      const r = parseIcmpv6(p.l4);
      if (!r.ok) return c.parseError(r);
      c.icmpIn++;
      this.dispatch(p, r.value, now);
    }
  }

  /** Port unreachable for a datagram no socket wanted (RFC 1122 3.2.2.1, RFC 4443 3.1). */
  sendPortUnreachable(p: ErrorTarget, ipPacket: Uint8Array, now: number): void {
    this.sendError(p, ipPacket, now, (invoking) =>
      p.family === 4
        ? { kind: 'destinationUnreachable', code: ICMPV4_CODE_PORT_UNREACHABLE, nextHopMtu: 0, invoking }
        : { kind: 'destinationUnreachable', code: ICMPV6_CODE_PORT_UNREACHABLE, invoking },
    );
  }

  /**
   * Protocol unreachable (RFC 1122 3.2.2.1); for IPv6 a parameter problem pointing at the
   * Next Header field that named the protocol (RFC 8200 4, RFC 4443 3.4 code 1).
   */
  sendProtocolUnreachable(p: InboundPacket, ipPacket: Uint8Array, now: number): void {
    if (p.family === 4) {
      return this.sendError(p, ipPacket, now, (invoking) => ({ kind: 'destinationUnreachable', code: ICMPV4_CODE_PROTOCOL_UNREACHABLE, nextHopMtu: 0, invoking }));
    }
    const last = p.ipv6Extensions[p.ipv6Extensions.length - 1];
    const l4Offset = p.l4.byteOffset - ipPacket.byteOffset;
    // The Next Header field is byte 6 of the fixed header, or the first byte of the last extension header.
    const pointer = last ? l4Offset - extensionHeaderLength(last) : 6;
    this.sendParameterProblem(p, ipPacket, now, ICMPV6_CODE_UNRECOGNIZED_NEXT_HEADER, pointer);
  }

  /**
   * ICMPv6 parameter problem (RFC 4443 3.4) with `pointer` at the octet of the invoking
   * packet in error: an unrecognized option (RFC 8200 4.2, code 2), routing type (4.4, code
   * 0) or next header (4, code 1).
   */
  sendParameterProblem(p: ErrorTarget, ipPacket: Uint8Array, now: number, code: number, pointer: number): void {
    this.sendError(p, ipPacket, now, (invoking) => ({ kind: 'parameterProblem', code, pointer, invoking }));
  }

  private dispatch(p: InboundPacket, m: Icmpv4Repr | Icmpv6Repr, now: number): void {
    switch (m.kind) {
      case 'echoRequest': {
        const reply = { kind: 'echoReply', identifier: m.identifier, sequence: m.sequence, data: m.data } as const;
        return this.answerEcho(p, now, (out, offset, src, dst) => (p.family === 4 ? emitIcmpv4(reply, out, offset) : emitIcmpv6(reply, out, offset, src, dst)));
      }
      case 'destinationUnreachable':
        // RFC 1191: ICMPv4's "fragmentation needed" is IPv6's packet too big.
        if ('nextHopMtu' in m && m.code === ICMPV4_CODE_FRAGMENTATION_NEEDED) return this.deliverError(p, 'packetTooBig', m.code, m.invoking, now, m.nextHopMtu);
        return this.deliverError(p, 'unreachable', m.code, m.invoking, now);
      case 'packetTooBig':
        return this.deliverError(p, 'packetTooBig', m.code, m.invoking, now, m.mtu);
      case 'timeExceeded':
        return this.deliverError(p, 'timeExceeded', m.code, m.invoking, now);
      case 'parameterProblem':
        return this.deliverError(p, 'parameterProblem', m.code, m.invoking, now, undefined, m.pointer);
      default:
        return this.host.drop('icmpUnhandled');
    }
  }

  /** The reply goes from the address the request was sent to; echo replies are not rate limited (like Linux). */
  private answerEcho(p: InboundPacket, now: number, writeL4: SendRequest['writeL4']): void {
    const c = this.host.counters;
    if (!this.host.config.ip.answerEcho) return this.host.drop('icmpUnhandled');
    c.delivered++;
    const sent = this.host.send({ src: p.dst, dst: p.src, protocol: protocolOf(p.family), l4Length: p.l4.length, writeL4 }, now);
    if (sent.ok) {
      c.icmpOut++;
      c.echoRepliesOut++;
    }
  }

  private deliverError(
    p: InboundPacket,
    kind: ErrorKind,
    code: number,
    invoking: Uint8Array,
    now: number,
    reportedMtu?: number,
    pointer?: number,
  ): void {
    const host = this.host;
    const quoted = parseInvoking(p.family, invoking);
    if (!quoted.ok) return host.counters.parseError(quoted);
    const original = quoted.value;
    // Only packets we could have sent: their source is one of our addresses (RFC 5927 4.1 first check).
    if (!host.interfaces.owner(original.src)) return host.drop('icmpForged');
    const handler = host.transport(original.protocol);
    if (!handler?.icmpError) return host.drop('icmpUnhandled');
    const report: IcmpErrorReport = {
      kind,
      family: p.family,
      code,
      reporter: p.src.slice(),
      original: { src: original.src, dst: original.dst, protocol: original.protocol, l4Header: original.l4Header },
    };
    if (pointer !== undefined) report.pointer = pointer;
    if (kind === 'packetTooBig') {
      let mtu = reportedMtu ?? 0;
      // RFC 1191 5: an old router says 0; guess the plateau below the size of the packet it refused.
      if (mtu === 0 && p.family === 4) mtu = MTU_PLATEAUS.find((m) => m < original.length) ?? 68;
      host.lowerPathMtu(original.dst, mtu, now);
      const inForce = host.routeMtu(original.dst, original.src);
      if (inForce !== undefined) report.mtu = inForce;
    }
    host.counters.icmpErrorsIn++;
    host.counters.delivered++;
    handler.icmpError(report, now);
  }

  /** Sends the error `build` makes from the quoted invoking packet, unless the rate limit says no. */
  private sendError(p: ErrorTarget, ipPacket: Uint8Array, now: number, build: (quote: Uint8Array) => Icmpv4Repr | Icmpv6Repr): void {
    const c = this.host.counters;
    // RFC 1122 3.2.2, RFC 4443 2.4(e.1): never an error about an error (two hosts could bounce them forever).
    if (isIcmpError(p.family, ipPacket)) return;
    if (!this.limiter.allow(p.src, now)) {
      c.icmpRateLimited++;
      return;
    }
    const family = p.family;
    const quote = ipPacket.subarray(0, Math.min(ipPacket.length, MAX_ERROR_PACKET[family] - IP_HEADER[family] - ICMP_ERROR_HEADER));
    const message = build(quote);
    const writeL4: SendRequest['writeL4'] =
      family === 4
        ? (out, offset) => emitIcmpv4(message as Icmpv4Repr, out, offset)
        : (out, offset, src, dst) => emitIcmpv6(message as Icmpv6Repr, out, offset, src, dst);
    // RFC 1812 4.3.2.4 / RFC 4443 2.2: the error comes from the address the packet was sent to.
    const sent = this.host.send({ src: p.dst, dst: p.src, protocol: protocolOf(family), l4Length: ICMP_ERROR_HEADER + quote.length, writeL4 }, now);
    if (sent.ok) {
      c.icmpOut++;
      c.icmpErrorsOut++;
    }
  }
}

/** The quoted invoking packet: addresses (copied), transport protocol, its IP length and the quoted transport bytes. */
function parseInvoking(family: IpFamily, invoking: Uint8Array): ParseResult<IcmpErrorReport['original'] & { length: number }> {
  if (family === 4) {
    const r = parseIpv4Quoted(invoking);
    if (!r.ok) return r;
    const { repr, payload } = r.value;
    return ok({ src: repr.src, dst: repr.dst, protocol: repr.protocol, l4Header: payload, length: repr.totalLength ?? invoking.length });
  }
  const r = parseIpv6Quoted(invoking);
  if (!r.ok) return r;
  const { repr, payload } = r.value;
  return ok({ src: repr.src, dst: repr.dst, protocol: repr.upperProtocol, l4Header: payload, length: 40 + (repr.payloadLength ?? 0) });
}

// RFC 792: the ICMPv4 types that are informational (echo, timestamp, information, address
// mask); like Linux (icmp_pointers), every other type, unknown ones included, counts as an error.
const ICMPV4_INFORMATIONAL: ReadonlySet<number> = new Set([0, 8, 13, 14, 15, 16, 17, 18]);

/**
 * Whether the (validated) packet is an ICMP error message, or an ICMP message whose type
 * cannot be read (Linux's icmp_send and is_ineligible answer neither). A fragment after
 * the first carries no ICMP header, so it is not one.
 */
function isIcmpError(family: IpFamily, ipPacket: Uint8Array): boolean {
  if (family === 4) {
    if (ipPacket[9] !== IPPROTO_ICMP || (((ipPacket[6]! << 8) | ipPacket[7]!) & 0x1fff) !== 0) return false;
    const type = ipPacket[(ipPacket[0]! & 0x0f) * 4];
    return type === undefined || !ICMPV4_INFORMATIONAL.has(type);
  }
  // Walk to the upper layer through atomic fragment headers (each one ends a parse), no
  // further than the host accepts; a chain that does not parse has no readable ICMP type.
  let next = ipPacket[6]!;
  let at = IPV6_HEADER_LENGTH;
  for (let walks = 0; ; walks++) {
    if (walks === IPV6_MAX_EXTENSION_HEADERS) return false;
    const chain = parseExtensionHeaders(ipPacket, next, at, ipPacket.length);
    if (!chain.ok) return false;
    next = chain.value.upperProtocol;
    at = chain.value.upperOffset;
    const last = chain.value.headers[chain.value.headers.length - 1];
    if (last?.kind !== 'fragment') break;
    if (last.fragmentOffset !== 0) return false;
  }
  if (next !== IPPROTO_ICMPV6) return false;
  const type = ipPacket[at];
  // RFC 4443 2.1: types 0-127 are errors, 128-255 informational.
  return type === undefined || type < ICMPV6_ECHO_REQUEST;
}

function protocolOf(family: IpFamily): number {
  return family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
}
