// The sans-I/O host (DESIGN.md "Core rule", quinn-proto's shape): the driver hands packets
// to input(), takes packets from pollTransmit(), asks nextTimeout() and calls onTimeout().
// The Host owns interfaces, addresses, routes, the output queue and ICMP; transports
// (UDP, TCP, ...) register a handler per IP protocol number and send through send().
//
// Byte ownership: input() only borrows `packet` for the duration of the call (everything a
// handler sees, l4 and the addresses included, is a view into it: copy what you keep), so a
// driver may reuse its receive buffer, unless the driver gives the packet away (RxMeta.owned):
// then a handler may keep views into it instead of copying (the TCP receiver does, for
// payloads that fill most of their buffer). A packet returned by pollTransmit() belongs to
// the driver.

import type { PartialConfig, StackConfig } from '../config.js';
import { resolveConfig } from '../config.js';
import { cryptoRandom, type RandomSource } from '../random.js';
import { addressEquals, familyOf, parseAddress, type IpAddress, type IpFamily } from '../wire/address.js';
import { copyParts, EMPTY_BYTES, readU32, totalLength } from '../wire/bytes.js';
import { emitIpv4Header, Ipv4View, verifyIpv4HeaderChecksum, IPV4_MIN_HEADER_LENGTH } from '../wire/ipv4.js';
import { emitIpv6Header, Ipv6View, IPV6_HEADER_LENGTH } from '../wire/ipv6.js';
import {
  IPPROTO_DSTOPTS,
  IPPROTO_FRAGMENT,
  IPPROTO_HOPOPTS,
  IPPROTO_NONE,
  IPPROTO_ROUTING,
  IPV6_MAX_EXTENSION_HEADERS,
  extensionHeaderLength,
  ipv6OptionAction,
  parseExtensionHeaders,
  type Ipv6ExtensionHeader,
} from '../wire/ipv6-ext.js';
import { wireError } from '../wire/result.js';
import { TCP_MIN_HEADER_LENGTH, TCP_PROTOCOL, TcpView } from '../wire/tcp.js';
import { IPPROTO_UDP } from '../wire/udp.js';
import { HostCounters, type RxDropReason } from './counters.js';
import { FlowLabeler } from './flow-label.js';
import { finishPartialChecksum, segmentSuperPacket } from './gso.js';
import { IPPROTO_ICMP } from '../wire/icmpv4.js';
import { ICMPV6_CODE_ERRONEOUS_HEADER, ICMPV6_CODE_UNRECOGNIZED_OPTION, IPPROTO_ICMPV6 } from '../wire/icmpv6.js';
import { IcmpLayer } from './icmp.js';
import { IcmpRateLimiter } from './icmp-ratelimit.js';
import { InterfaceTable, type NetInterface } from './interfaces.js';
import type { TxOffload } from './offload.js';
import { PacketAllocator } from './packet-alloc.js';
import { PmtuCache } from './pmtu.js';
import { RouteTable, type Route } from './routes.js';

/** What the driver knows about a received packet. */
export interface RxMeta {
  /** The transport checksum needs no check (TUN offload: kernel-verified, or NEEDS_CSUM from a local sender). */
  checksumVerified?: boolean;
  /** The driver never touches the packet again: the stack may keep views into it (see the ownership note above). */
  owned?: boolean;
}

export interface OutboundPacket {
  ifIndex: number;
  packet: Uint8Array;
  /** Present only when the interface declared the matching offload (see addInterface). */
  offload?: TxOffload;
  /**
   * Only toward an interface that gathers (InterfaceOptions.offloads.gather): the packet's
   * payload, which follows `packet` (its headers, whose length fields count these bytes), as
   * views of the sender's buffers; they never change.
   */
  payload?: readonly Uint8Array[];
}

/** A packet for a transport handler. Every byte array is a view into the input packet: borrowed unless `owned`. */
export interface InboundPacket {
  ifIndex: number;
  family: IpFamily;
  src: IpAddress;
  dst: IpAddress;
  protocol: number;
  hopLimit: number;
  /** IPv4 DSCP+ECN byte or IPv6 traffic class (ECN is the low two bits, RFC 3168). */
  trafficClass: number;
  /** The transport header and payload, bounded by the IP length fields. */
  l4: Uint8Array;
  /** IPv6 extension headers as parsed (empty for IPv4), so the name layer can read destination options. */
  ipv6Extensions: readonly Ipv6ExtensionHeader[];
  checksumVerified: boolean;
  /** The input packet was given away (RxMeta.owned): views into it may be kept. */
  owned: boolean;
}

/** An ICMP/ICMPv6 error about a packet we sent, for the transport that sent it. */
export interface IcmpErrorReport {
  kind: 'unreachable' | 'packetTooBig' | 'timeExceeded' | 'parameterProblem';
  family: IpFamily;
  /** The ICMP code as received (e.g. 3 = port unreachable for ICMPv4, 4 for ICMPv6). */
  code: number;
  /** packetTooBig: the path MTU now in force toward original.dst (after the floor of PmtuCache). */
  mtu?: number;
  /** parameterProblem: the pointer field. */
  pointer?: number;
  /** Who sent the error (a router on the path or the destination itself). */
  reporter: IpAddress;
  original: {
    src: IpAddress;
    dst: IpAddress;
    protocol: number;
    /** The first bytes of the invoking transport header (at least 8 when the reporter quoted them). */
    l4Header: Uint8Array;
  };
}

/** What a transport's input may answer: 'portUnreachable' makes the host count the drop and send the ICMP error. */
export type TransportVerdict = 'portUnreachable';

export interface TransportHandler {
  input(p: InboundPacket, now: number): TransportVerdict | void;
  icmpError?(e: IcmpErrorReport, now: number): void;
  nextTimeout?(): number | undefined;
  onTimeout?(now: number): void;
}

/** A layer above the transports with timers of its own (the DNS resolver, Happy Eyeballs races): the driver reaches it through the Host's nextTimeout/onTimeout. */
export interface TimerClient {
  nextTimeout(): number | undefined;
  onTimeout(now: number): void;
}

/**
 * An address or link change on the host, for layers that follow the host's paths (the MPTCP
 * path manager opens and closes subflows on them, RFC 8684 3.4) and the daemon's event stream.
 */
export type HostNetworkEvent =
  | { kind: 'address-added'; ifIndex: number; address: IpAddress }
  | { kind: 'address-removed'; ifIndex: number; address: IpAddress }
  | { kind: 'link'; ifIndex: number; up: boolean };

export interface SendRequest {
  /** Our address to send from; chosen by source selection when absent. */
  src?: IpAddress;
  dst: IpAddress;
  protocol: number;
  hopLimit?: number;
  /** DSCP+ECN (IPv4) or traffic class (IPv6); 0 when absent. */
  trafficClass?: number;
  ipv6Extensions?: Ipv6ExtensionHeader[];
  l4Length: number;
  /** Writes the transport header and payload at out[offset..offset+l4Length), less the `payload` views' bytes. */
  writeL4: (out: Uint8Array, offset: number, src: IpAddress, dst: IpAddress) => void;
  /**
   * The last bytes of the transport payload, as views that never change (a TCP send buffer's
   * chunks), counted in l4Length: an interface that gathers gets them as they are, no copy
   * (OutboundPacket.payload); for any other the host copies them behind what writeL4 wrote.
   * Only with a partial checksum (offload), which needs no pass over the payload.
   */
  payload?: readonly Uint8Array[];
  /**
   * The L4 checksum is partial (its field holds the pseudo-header sum, virtio NEEDS_CSUM),
   * at `checksumOffset` within the L4 header; with `gsoSize` the packet is a TCP super-packet
   * to be cut into segments of that many payload bytes. The host fills in the rest of
   * TxOffload (it knows the L4 offset and the family) and finishes in software what the
   * interface cannot.
   */
  offload?: { checksumOffset: number; gsoSize?: number };
}

export type SendErrorCode = 'ENETUNREACH' | 'EADDRNOTAVAIL' | 'EMSGSIZE' | 'ENOBUFS' | 'EINVAL';

export type SendResult =
  | { ok: true; ifIndex: number; src: IpAddress }
  | { ok: false; code: SendErrorCode; message: string; /** EMSGSIZE: the MTU in force. */ mtu?: number };

export interface InterfaceOptions {
  name: string;
  mtu: number;
  /**
   * What the device finishes itself; the host does the rest in software before pollTransmit.
   * `gather`: the driver writes a packet from its headers and payload views (writev), so a
   * payload handed over as views (SendRequest.payload) is not copied; needs `checksum`.
   */
  offloads?: { checksum?: boolean; gso?: boolean; gather?: boolean };
}

export interface RouteOptions {
  destination: string | IpAddress;
  prefixLength: number;
  ifIndex: number;
  gateway?: string | IpAddress;
  /** Policy routing: only for packets from this source (an address, or a prefix with sourcePrefixLength). */
  source?: string | IpAddress;
  sourcePrefixLength?: number;
  /** Policy routing: only for packets from an address of this route's interface (one table per uplink). */
  sourceInterface?: boolean;
  metric?: number;
}

const NO_EXTENSIONS: readonly Ipv6ExtensionHeader[] = Object.freeze([]);

function toAddress(a: string | IpAddress, what: string): IpAddress {
  if (typeof a !== 'string') {
    if (a.length !== 4 && a.length !== 16) throw new RangeError(`${what}: an address has 4 or 16 bytes`);
    return a;
  }
  const parsed = parseAddress(a);
  if (!parsed) throw new RangeError(`${what}: bad address ${a}`);
  return parsed;
}

/** The network prefix of `a` (host bits cleared). */
function maskPrefix(a: IpAddress, prefixLength: number): IpAddress {
  const out = a.slice();
  for (let bit = prefixLength; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

/** RFC 1122 3.2.1.3 / RFC 4291 2.5: sources no packet from the wire may carry. */
function badSource(src: IpAddress): boolean {
  if (src.length === 4) {
    const a = src[0]!;
    // 0/8 "this network", 127/8 loopback, 224/4 multicast, 240/4 incl. 255.255.255.255 broadcast.
    return a === 0 || a === 127 || a >= 224;
  }
  if (src[0] === 0xff) return true; // multicast
  for (let i = 0; i < 15; i++) if (src[i] !== 0) return false;
  return src[15] === 0 || src[15] === 1; // :: unspecified, ::1 loopback
}

function isConnectedRoute(ifIndex: number, destination: IpAddress, prefixLength: number): (r: Route) => boolean {
  return (r) => r.connected && r.ifIndex === ifIndex && r.prefixLength === prefixLength && addressEquals(r.destination, destination);
}

export class Host {
  readonly config: StackConfig;
  readonly counters = new HostCounters();
  readonly random: RandomSource;
  readonly name: string;
  /** Read freely; change only through the Host's methods (they keep routes and addresses consistent). */
  readonly interfaces = new InterfaceTable();
  readonly routes: RouteTable;
  private readonly pmtu: PmtuCache;
  private readonly icmp: IcmpLayer;
  private readonly transports = new Map<number, TransportHandler>();
  private readonly timerClients: TimerClient[] = [];
  private readonly networkListeners: ((e: HostNetworkEvent) => void)[] = [];
  private readonly offloads = new Map<number, { checksum: boolean; gso: boolean; gather: boolean }>();
  // The output queue: one FIFO, consumed from `outHead` (amortized O(1) shift).
  private outQueue: OutboundPacket[] = [];
  private outHead = 0;
  private readonly allocator = new PacketAllocator();
  private loopbackQueue: OutboundPacket[] = [];
  private loopbackDue: number | undefined;
  private ipv4Id: number;
  private readonly flowLabels: FlowLabeler;
  /** The latest time seen; lets routeMtu expire path MTUs without a `now` argument. */
  private clock = 0;

  constructor(opts: { config?: PartialConfig; random?: RandomSource; name?: string } = {}) {
    this.config = resolveConfig(opts.config);
    this.random = opts.random ?? cryptoRandom();
    this.name = opts.name ?? 'host';
    this.routes = new RouteTable(this.interfaces);
    const ip = this.config.ip;
    this.pmtu = new PmtuCache({ expiryMs: ip.pmtuExpiryMs, minIpv4: ip.pmtuMinIpv4, limit: ip.pmtuCacheLimit });
    this.icmp = new IcmpLayer(this, new IcmpRateLimiter({
      intervalMs: ip.icmpErrorIntervalMs,
      burst: ip.icmpErrorBurst,
      globalPerSecond: ip.icmpGlobalPerSecond,
      globalBurst: ip.icmpGlobalBurst,
      peers: ip.icmpRateLimitPeers,
    }));
    this.ipv4Id = this.random.uint32() & 0xffff;
    this.flowLabels = new FlowLabeler(this.random);
  }

  // ---- configuration -------------------------------------------------------------------

  addInterface(opts: InterfaceOptions): number {
    const iface = this.interfaces.add(opts.name, opts.mtu);
    const checksum = opts.offloads?.checksum ?? false;
    this.offloads.set(iface.index, { checksum, gso: opts.offloads?.gso ?? false, gather: checksum && (opts.offloads?.gather ?? false) });
    return iface.index;
  }

  /** Adds an address and, like Linux, the connected route for its prefix. */
  addAddress(ifIndex: number, address: IpAddress | string, prefixLength: number): void {
    const a = this.interfaces.addAddress(ifIndex, toAddress(address, 'addAddress'), prefixLength);
    const destination = maskPrefix(a.address, prefixLength);
    if (prefixLength < a.address.length * 8 && !this.routes.all().some(isConnectedRoute(ifIndex, destination, prefixLength))) {
      // Linux: IPv4 connected routes have metric 0, IPv6 ones 256.
      this.routes.add({ destination, prefixLength, ifIndex, metric: a.family === 4 ? 0 : 256, connected: true });
    }
    this.emitNetworkEvent({ kind: 'address-added', ifIndex, address: a.address });
  }

  /** Removes an address and its connected route (unless another address on the interface shares the prefix). */
  removeAddress(ifIndex: number, address: IpAddress | string): void {
    const removed = this.interfaces.removeAddress(ifIndex, toAddress(address, 'removeAddress'));
    if (!removed) return;
    const prefix = maskPrefix(removed.address, removed.prefixLength);
    const stillUsed = this.interfaces
      .get(ifIndex)!
      .addresses.some((a) => a.prefixLength === removed.prefixLength && addressEquals(maskPrefix(a.address, a.prefixLength), prefix));
    if (!stillUsed) this.routes.remove(isConnectedRoute(ifIndex, prefix, removed.prefixLength));
    this.emitNetworkEvent({ kind: 'address-removed', ifIndex, address: removed.address });
  }

  addRoute(r: RouteOptions): void {
    const destination = toAddress(r.destination, 'addRoute destination');
    const source = r.source === undefined ? undefined : toAddress(r.source, 'addRoute source');
    this.routes.add({
      destination: maskPrefix(destination, r.prefixLength),
      prefixLength: r.prefixLength,
      ifIndex: r.ifIndex,
      ...(r.gateway !== undefined && { gateway: toAddress(r.gateway, 'addRoute gateway') }),
      ...(source && { source: { prefix: maskPrefix(source, r.sourcePrefixLength ?? source.length * 8), prefixLength: r.sourcePrefixLength ?? source.length * 8 } }),
      ...(r.sourceInterface && { sourceInterface: true }),
      metric: r.metric ?? (destination.length === 4 ? 0 : 1024),
      connected: false,
    });
  }

  /** A down link neither sends nor receives; routes through it are skipped. */
  setLinkUp(ifIndex: number, up: boolean): void {
    const iface = this.interfaces.get(ifIndex);
    if (!iface) throw new Error(`no interface ${ifIndex}`);
    if (iface.up === up) return;
    iface.up = up;
    this.emitNetworkEvent({ kind: 'link', ifIndex, up });
  }

  /** Calls `listener` after every address or link change; returns the function that removes it. */
  onNetworkEvent(listener: (e: HostNetworkEvent) => void): () => void {
    this.networkListeners.push(listener);
    return () => {
      const i = this.networkListeners.indexOf(listener);
      if (i >= 0) this.networkListeners.splice(i, 1);
    };
  }

  private emitNetworkEvent(e: HostNetworkEvent): void {
    for (const l of [...this.networkListeners]) l(e);
  }

  registerTransport(protocol: number, handler: TransportHandler): void {
    if (protocol === IPPROTO_ICMP || protocol === IPPROTO_ICMPV6) throw new Error('ICMP belongs to the host');
    if (this.transports.has(protocol)) throw new Error(`protocol ${protocol} already has a handler`);
    this.transports.set(protocol, handler);
  }

  /** Adds a timer client; returns the function that removes it. */
  addTimerClient(client: TimerClient): () => void {
    this.timerClients.push(client);
    return () => {
      const i = this.timerClients.indexOf(client);
      if (i >= 0) this.timerClients.splice(i, 1);
    };
  }

  // ---- queries -------------------------------------------------------------------------

  /** The source address we would use toward `dst` (the destination itself when it is ours). */
  selectSource(dst: IpAddress): IpAddress | undefined {
    if (this.interfaces.owner(dst)) return dst;
    const found = this.routes.lookup(dst);
    return found && this.routes.selectSource(dst, found.route);
  }

  /** The largest IP packet toward `dst` (from `src`): the interface MTU, lowered by a learned path MTU. */
  routeMtu(dst: IpAddress, src?: IpAddress): number | undefined {
    const local = this.interfaces.owner(dst);
    if (local) return local.mtu;
    const found = this.routes.lookup(dst, src);
    return found && this.pathMtu(dst, found.ifIndex);
  }

  /** The MTU of `ifIndex`, lowered by what the path toward `dst` taught us. */
  private pathMtu(dst: IpAddress, ifIndex: number): number {
    const mtu = this.interfaces.get(ifIndex)!.mtu;
    return Math.min(mtu, this.pmtu.get(dst, this.clock) ?? mtu);
  }

  /** Looks up the handler for a protocol (ICMP delivers errors through it). */
  transport(protocol: number): TransportHandler | undefined {
    return this.transports.get(protocol);
  }

  // ---- driver side ---------------------------------------------------------------------

  input(ifIndex: number, packet: Uint8Array, now: number, meta?: RxMeta): void {
    this.receive(ifIndex, packet, now, meta?.checksumVerified ?? false, true, meta?.owned ?? false);
  }

  pollTransmit(): OutboundPacket | undefined {
    while (this.outHead < this.outQueue.length) {
      const q = this.outQueue[this.outHead]!;
      this.outQueue[this.outHead++] = undefined as unknown as OutboundPacket;
      if (this.outHead === this.outQueue.length) {
        this.outQueue = [];
        this.outHead = 0;
      }
      // A link that went down after the packet was queued does not send it.
      if (!this.interfaces.get(q.ifIndex)?.up) {
        this.counters.txDropped.linkDown++;
        continue;
      }
      return q;
    }
    return undefined;
  }

  nextTimeout(): number | undefined {
    let t = this.loopbackDue;
    for (const h of this.transports.values()) {
      const ht = h.nextTimeout?.();
      if (ht !== undefined && (t === undefined || ht < t)) t = ht;
    }
    for (const c of this.timerClients) {
      const ct = c.nextTimeout();
      if (ct !== undefined && (t === undefined || ct < t)) t = ct;
    }
    return t;
  }

  onTimeout(now: number): void {
    this.advance(now);
    if (this.loopbackDue !== undefined && this.loopbackDue <= now) {
      // Only what was looped back before this call: answers to it wait for the next one.
      const batch = this.loopbackQueue;
      this.loopbackQueue = [];
      this.loopbackDue = undefined;
      for (const q of batch) this.receive(q.ifIndex, q.packet, now, true, false, true);
    }
    for (const h of this.transports.values()) {
      const t = h.nextTimeout?.();
      if (t !== undefined && t <= now) h.onTimeout?.(now);
    }
    // A copy: a client may remove itself (or another) when its timer fires.
    for (const c of [...this.timerClients]) {
      const t = c.nextTimeout();
      if (t !== undefined && t <= now) c.onTimeout(now);
    }
  }

  // ---- transport side ------------------------------------------------------------------

  /**
   * Routes, selects the source, builds the IP header and the L4 bytes in one buffer, and
   * queues the packet (or loops it back when `dst` is ours).
   */
  send(out: SendRequest, now: number): SendResult {
    this.advance(now);
    const { dst } = out;
    if ((dst.length !== 4 && dst.length !== 16) || (out.src && out.src.length !== dst.length)) {
      return this.sendError('invalid', 'EINVAL', 'addresses must be IPv4 or IPv6 of the same family');
    }
    if (!(out.l4Length >= 0) || !Number.isInteger(out.l4Length)) return this.sendError('invalid', 'EINVAL', `transport length ${out.l4Length}`);
    if (out.offload) {
      const { checksumOffset, gsoSize } = out.offload;
      if (!(checksumOffset >= 0 && checksumOffset + 2 <= out.l4Length) || !Number.isInteger(checksumOffset)) {
        return this.sendError('invalid', 'EINVAL', `checksum field at ${checksumOffset} outside the transport bytes`);
      }
      if (gsoSize !== undefined) {
        if (out.protocol !== TCP_PROTOCOL) return this.sendError('invalid', 'EINVAL', 'segmentation offload is for TCP only');
        if (!(gsoSize > 0) || !Number.isInteger(gsoSize)) return this.sendError('invalid', 'EINVAL', `segment size ${gsoSize}`);
      }
    }
    if (out.src && !this.interfaces.owner(out.src)) return this.sendError('noSource', 'EADDRNOTAVAIL', 'source is not an address of this host');
    const family = familyOf(dst);
    const local = this.interfaces.owner(dst);
    let ifIndex: number;
    let src = out.src;
    let mtu: number;
    if (local) {
      ifIndex = local.index;
      src ??= dst;
      mtu = local.mtu;
    } else {
      const found = this.routes.lookup(dst, src);
      if (!found) return this.sendError('noRoute', 'ENETUNREACH', 'no route to the destination');
      ifIndex = found.ifIndex;
      src ??= this.routes.selectSource(dst, found.route);
      if (!src) return this.sendError('noSource', 'EADDRNOTAVAIL', 'no source address for the route');
      mtu = this.pathMtu(dst, ifIndex);
    }
    const extensions = out.ipv6Extensions ?? NO_EXTENSIONS;
    if (family === 4 && extensions.length > 0) return this.sendError('invalid', 'EINVAL', 'IPv6 extension headers on an IPv4 packet');
    let headerLength = family === 4 ? IPV4_MIN_HEADER_LENGTH : IPV6_HEADER_LENGTH;
    for (let i = 0; i < extensions.length; i++) headerLength += extensionHeaderLength(extensions[i]!);
    const total = headerLength + out.l4Length;
    const gsoSize = out.offload?.gsoSize;
    // A super-packet only has to fit once cut (checked again below with its real TCP header).
    const onWire = gsoSize !== undefined ? headerLength + TCP_MIN_HEADER_LENGTH + gsoSize : total;
    if (onWire > mtu || total > 0xffff) return this.tooBig(onWire, mtu);
    if (this.queuedCount() >= this.config.ip.outputQueueLimit) return this.sendError('queueFull', 'ENOBUFS', 'output queue full');

    // Gathered: the payload views stay where they are, the packet holds the headers only. A
    // super-packet the host must cut, or a looped-back one, is made whole here.
    const payload = out.payload;
    const payloadBytes = payload ? totalLength(payload) : 0;
    if (payloadBytes > out.l4Length || (payload && !out.offload)) return this.sendError('invalid', 'EINVAL', 'payload views need a partial checksum and must fit in l4Length');
    const caps = this.offloads.get(ifIndex)!;
    const gather = payloadBytes > 0 && !local && caps.gather && (gsoSize === undefined || caps.gso);
    const packet = this.allocator.alloc(gather ? total - payloadBytes : total);
    if (payload && !gather) copyParts(payload, packet, total - payloadBytes);
    if (family === 4) {
      emitIpv4Header(
        {
          dscpEcn: out.trafficClass ?? 0,
          // RFC 6864 4.1: the ID of an atomic datagram (DF set, never fragmented) carries no meaning.
          identification: this.ipv4Id,
          dontFragment: true,
          moreFragments: false,
          fragmentOffset: 0,
          ttl: out.hopLimit ?? this.config.ip.defaultTtl,
          protocol: out.protocol,
          src,
          dst,
          options: EMPTY_BYTES,
        },
        out.l4Length,
        packet,
        0,
      );
    } else {
      emitIpv6Header(
        {
          trafficClass: out.trafficClass ?? 0,
          flowLabel: 0,
          hopLimit: out.hopLimit ?? this.config.ip.defaultTtl,
          src,
          dst,
          extensionHeaders: extensions as Ipv6ExtensionHeader[],
          upperProtocol: out.protocol,
        },
        out.l4Length,
        packet,
        0,
      );
    }
    out.writeL4(packet, headerLength, src, dst);
    if (family === 6 && (out.protocol === TCP_PROTOCOL || out.protocol === IPPROTO_UDP) && out.l4Length >= 4) {
      // RFC 6437: TCP connections and UDP flows are labeled (flow-label.ts), once the
      // transport has written its ports (its first 4 bytes; RFC 9293 3.1, RFC 768). Other
      // packets (ICMPv6, the name layer's probes) stay unlabeled (0).
      const label = this.flowLabels.label(src, dst, out.protocol, readU32(packet, headerLength));
      packet[1] = (packet[1]! & 0xf0) | (label >>> 16);
      packet[2] = (label >>> 8) & 0xff;
      packet[3] = label & 0xff;
    }
    let segments = 1;
    if (gsoSize !== undefined) {
      const tcp = TcpView.wrap(packet.subarray(headerLength));
      if (!tcp.ok) return this.sendError('invalid', 'EINVAL', `super-packet without a TCP header: ${tcp.message}`);
      const tcpHeaderLength = tcp.value.headerLength;
      if (headerLength + tcpHeaderLength + gsoSize > mtu) return this.tooBig(headerLength + tcpHeaderLength + gsoSize, mtu);
      segments = Math.max(1, Math.ceil((out.l4Length - tcpHeaderLength) / gsoSize));
    }
    // Software segmentation numbers the IPv4 IDs of the segments upward from this one.
    if (family === 4) this.ipv4Id = (this.ipv4Id + segments) & 0xffff;
    // Object literals with a fixed shape, no spreads: this runs per packet (spreads cost 4x in Host.send).
    let offload: TxOffload | undefined;
    if (out.offload) {
      offload =
        gsoSize === undefined
          ? { checksumStart: headerLength, checksumOffset: out.offload.checksumOffset }
          : { checksumStart: headerLength, checksumOffset: out.offload.checksumOffset, gsoSize, gsoType: family === 4 ? 'tcpv4' : 'tcpv6' };
    }
    if (local) {
      // Loopback never leaves the host: no checksum to finish, and a super-packet is delivered whole.
      this.counters.loopback++;
      this.loopbackQueue.push({ ifIndex, packet });
      this.loopbackDue ??= now;
      return { ok: true, ifIndex, src };
    }
    if (gather) this.push({ ifIndex, packet, offload: offload!, payload: payload! });
    else this.enqueue(ifIndex, packet, offload);
    return { ok: true, ifIndex, src };
  }

  // ---- used by the ICMP layer ------------------------------------------------------------

  /** Lowers the path MTU toward `dst`; returns the new value when it went down. */
  lowerPathMtu(dst: IpAddress, reportedMtu: number, now: number): number | undefined {
    const current = this.routeMtu(dst);
    if (current === undefined) return undefined;
    return this.pmtu.lower(dst, reportedMtu, current, now);
  }

  /** Counts an incoming packet dropped for `reason`. */
  drop(reason: RxDropReason): void {
    this.counters.rxDropped[reason]++;
  }

  // ---- internals -----------------------------------------------------------------------

  private advance(now: number): void {
    if (now > this.clock) this.clock = now;
  }

  /** Packets waiting to leave, looped-back ones included: both share outputQueueLimit. */
  private queuedCount(): number {
    return this.outQueue.length - this.outHead + this.loopbackQueue.length;
  }

  private enqueue(ifIndex: number, packet: Uint8Array, offload: TxOffload | undefined): void {
    const caps = this.offloads.get(ifIndex)!;
    if (offload?.gsoSize !== undefined && !caps.gso) {
      for (const segment of segmentSuperPacket(packet, offload)) this.push({ ifIndex, packet: segment });
      return;
    }
    if (offload && !caps.checksum) {
      finishPartialChecksum(packet, offload);
      this.push({ ifIndex, packet });
      return;
    }
    this.push(offload ? { ifIndex, packet, offload } : { ifIndex, packet });
  }

  private push(q: OutboundPacket): void {
    this.counters.sent++;
    this.outQueue.push(q);
  }

  private tooBig(bytes: number, mtu: number): SendResult {
    return { ...this.sendError('tooBig', 'EMSGSIZE', `packet of ${bytes} bytes, MTU ${mtu}`), mtu };
  }

  private sendError(reason: keyof HostCounters['txDropped'], code: SendErrorCode, message: string): { ok: false; code: SendErrorCode; message: string } {
    this.counters.txDropped[reason]++;
    return { ok: false, code, message };
  }

  /** A packet from a link (`fromLink`) or looped back by send(). */
  private receive(ifIndex: number, packet: Uint8Array, now: number, checksumVerified: boolean, fromLink: boolean, owned: boolean): void {
    this.advance(now);
    this.counters.received++;
    const iface = this.interfaces.get(ifIndex);
    if (!iface?.up) return this.drop('linkDown');
    const version = packet.length > 0 ? packet[0]! >>> 4 : 0;
    if (version === 4) this.input4(iface, packet, now, checksumVerified, fromLink, owned);
    else if (version === 6) this.input6(iface, packet, now, checksumVerified, fromLink, owned);
    else this.counters.parseError(wireError('ip', 'BAD_VERSION', `version ${version}`));
  }

  /**
   * A source no packet may carry (badSource), or, from a link, one of our own addresses: only
   * our loopback sends those, and answering a spoofed one would loop a forged ICMP error back
   * to our own sockets (Linux drops them as martian sources, accept_local = 0).
   */
  private spoofedSource(src: IpAddress, fromLink: boolean): boolean {
    return badSource(src) || (fromLink && this.interfaces.owner(src) !== undefined);
  }

  private input4(iface: NetInterface, packet: Uint8Array, now: number, checksumVerified: boolean, fromLink: boolean, owned: boolean): void {
    const r = Ipv4View.wrap(packet);
    if (!r.ok) return this.counters.parseError(r);
    const v = r.value;
    if (!verifyIpv4HeaderChecksum(v)) return this.counters.parseError(wireError('ipv4', 'BAD_CHECKSUM', 'header checksum'));
    if (!this.interfaces.owner(v.dst)) return this.drop('notForUs');
    if (this.spoofedSource(v.src, fromLink) || this.interfaces.isDirectedBroadcast4(v.srcU32)) return this.drop('badSource');
    if (v.moreFragments || v.fragmentOffset !== 0) return this.drop('fragment');
    this.deliver(
      {
        ifIndex: iface.index,
        family: 4,
        src: v.src,
        dst: v.dst,
        protocol: v.protocol,
        hopLimit: v.ttl,
        trafficClass: v.dscpEcn,
        l4: packet.subarray(v.headerLength, v.totalLength),
        ipv6Extensions: NO_EXTENSIONS,
        checksumVerified,
        owned,
      },
      packet.subarray(0, v.totalLength),
      now,
    );
  }

  private input6(iface: NetInterface, packet: Uint8Array, now: number, checksumVerified: boolean, fromLink: boolean, owned: boolean): void {
    const r = Ipv6View.wrap(packet);
    if (!r.ok) return this.counters.parseError(r);
    const v = r.value;
    if (!this.interfaces.owner(v.dst)) return this.drop('notForUs');
    if (this.spoofedSource(v.src, fromLink)) return this.drop('badSource');
    const end = IPV6_HEADER_LENGTH + v.payloadLength;
    let protocol = v.nextHeader;
    let offset = IPV6_HEADER_LENGTH;
    let extensions = NO_EXTENSIONS;
    if (isExtension(protocol)) {
      const headers: Ipv6ExtensionHeader[] = [];
      // A chain stops after a fragment header; an atomic fragment (RFC 6946) goes on, and
      // hop-by-hop options may still only come first (RFC 8200 4.1).
      while (isExtension(protocol)) {
        if (headers.length > 0 && protocol === IPPROTO_HOPOPTS) {
          return this.counters.parseError(wireError('ipv6', 'BAD_FIELD', 'hop-by-hop options header not first'));
        }
        const chain = parseExtensionHeaders(packet, protocol, offset, end);
        if (!chain.ok) return this.counters.parseError(chain);
        // The parser's limit is per call and a call ends at each (atomic) fragment header: count the whole chain.
        if (headers.length + chain.value.headers.length > IPV6_MAX_EXTENSION_HEADERS) {
          return this.counters.parseError(wireError('ipv6', 'UNSUPPORTED', `more than ${IPV6_MAX_EXTENSION_HEADERS} extension headers`));
        }
        for (const h of chain.value.headers) {
          if (h.kind === 'fragment' && (h.fragmentOffset !== 0 || h.moreFragments)) return this.drop('fragment');
          if (h.kind === 'routing' && h.segmentsLeft > 0) {
            // RFC 8200 4.4: we know no routing type (type 0 is deprecated, RFC 5095): point at it.
            this.drop('ipv6Routing');
            const pointer = h.data.byteOffset - packet.byteOffset - 2;
            return this.icmp.sendParameterProblem({ family: 6, src: v.src, dst: v.dst }, packet.subarray(0, end), now, ICMPV6_CODE_ERRONEOUS_HEADER, pointer);
          }
          if (h.kind === 'hopByHop' || h.kind === 'destinationOptions') {
            for (const o of h.options) {
              const action = ipv6OptionAction(o.type);
              if (action === 'skip') continue;
              this.drop('ipv6Option');
              // RFC 8200 4.2: types 10xxxxxx and 11xxxxxx (our destination is never multicast)
              // are reported, pointing at the option's type byte; 01xxxxxx is dropped silently.
              if (action === 'discard') return;
              const pointer = o.data.byteOffset - packet.byteOffset - 2;
              return this.icmp.sendParameterProblem({ family: 6, src: v.src, dst: v.dst }, packet.subarray(0, end), now, ICMPV6_CODE_UNRECOGNIZED_OPTION, pointer);
            }
          }
          headers.push(h);
        }
        protocol = chain.value.upperProtocol;
        offset = chain.value.upperOffset;
      }
      extensions = headers;
    }
    this.deliver(
      {
        ifIndex: iface.index,
        family: 6,
        src: v.src,
        dst: v.dst,
        protocol,
        hopLimit: v.hopLimit,
        trafficClass: v.trafficClass,
        l4: packet.subarray(offset, end),
        ipv6Extensions: extensions,
        checksumVerified,
        owned,
      },
      packet.subarray(0, end),
      now,
    );
  }

  private deliver(p: InboundPacket, ipPacket: Uint8Array, now: number): void {
    if (p.protocol === (p.family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6)) return this.icmp.input(p, now);
    const handler = this.transports.get(p.protocol);
    if (!handler) {
      this.drop('noTransport');
      // RFC 8200 4.7: "no next header" means there is nothing more to process, not an error.
      if (p.protocol !== IPPROTO_NONE) this.icmp.sendProtocolUnreachable(p, ipPacket, now);
      return;
    }
    this.counters.delivered++;
    if (handler.input(p, now) === 'portUnreachable') {
      this.drop('noSocket');
      this.icmp.sendPortUnreachable(p, ipPacket, now);
    }
  }
}

function isExtension(protocol: number): boolean {
  return protocol === IPPROTO_HOPOPTS || protocol === IPPROTO_DSTOPTS || protocol === IPPROTO_ROUTING || protocol === IPPROTO_FRAGMENT;
}
