// TCP on a Host (the TransportHandler for IP protocol 6): demultiplexing by 4-tuple
// (connection-table.ts), listeners by (address or any, port), LISTEN-state processing
// (RFC 9293 3.10.7.2) with the SYN queue and SYN cookies, resets for segments nobody owns
// (3.10.7.1), ephemeral ports (RFC 6056), ISNs (RFC 6528, isn.ts), ICMP errors routed to
// their connection, and the earliest timer over all connections (timer-heap.ts).

import type { TcpConfig } from '../config.js';
import type { Host, IcmpErrorReport, InboundPacket, TransportHandler } from '../ip/host.js';
import { addressEquals, familyOf, parseAddress, type IpAddress } from '../wire/address.js';
import { copyBytes, readU16 } from '../wire/bytes.js';
import { wireError } from '../wire/result.js';
import { NOP_OPTION, SACK_PERMITTED_OPTION, type TcpOption } from '../wire/tcp-options.js';
import { emitTcp, TCP_ACK, TCP_ECE, TCP_PROTOCOL, TCP_RST, TCP_SYN, tcpHeaderLength, verifyTcpChecksum, type TcpRepr } from '../wire/tcp.js';
import type { ConnectionOptions, ConnectOptions, IncomingSyn, ListenOptions } from './connection-options.js';
import { ConnectionTable } from './connection-table.js';
import { acceptsEcnSetup, ECN_MASK, type EcnCounters } from './ecn.js';
import { TcpConnection, type ConnectionOwner, type ConnectionParams, type ConnectionStart } from './connection.js';
import { TcpError } from './errors.js';
import type { Ipv6HeaderHook } from './ipv6-hook.js';
import { IsnGenerator } from './isn.js';
import { TcpListener, type ListenerOwner } from './listener.js';
import { TimestampState } from './paws.js';
import { ReceivedSegment } from './received-segment.js';
import { sendResetFor } from './reset.js';
import { SegmentWriter } from './segment-writer.js';
import { PacketAllocator } from '../ip/packet-alloc.js';
import { seqAdd } from './seq.js';
import { COOKIE_MSS_IPV4, COOKIE_MSS_IPV6, cookieOptionsFromEcho, cookieTimestamp, SynCookies } from './syn-cookies.js';
import { TimerHeap } from './timer-heap.js';
import type { FourTuple } from './tuple-hash.js';
import { chooseWindowScale } from './window.js';

export interface TcpCounters extends EcnCounters {
  /** Connections opened by connect() (RFC 4022 tcpActiveOpens). */
  activeOpens: number;
  /** Connections created for a listener's SYN or cookie (tcpPassiveOpens). */
  passiveOpens: number;
  /** Segments received (tcpInSegs). */
  inSegments: number;
  /** Segments dropped as malformed or with a bad checksum (tcpInErrs). */
  inErrors: number;
  /** Resets sent for segments no connection or listener owns (part of tcpOutRsts). */
  resetsForNoSocket: number;
  /** SYN cookies sent and ACKs carrying a valid / an invalid one (Linux SyncookiesSent/Recv/Failed). */
  synCookiesSent: number;
  synCookiesValid: number;
  synCookiesFailed: number;
  /** SYNs dropped because a listener's queues were full (Linux ListenDrops). */
  listenDrops: number;
  /** ICMP errors handed to a connection. */
  icmpErrors: number;
}

/** RFC 9293 3.10.7.2: the passive-open reply to a cookie SYN is built here, stateless. */
const MAX_ATTEMPTS_PER_PORT_SEARCH = 64;

export class TcpLayer implements TransportHandler, ConnectionOwner, ListenerOwner {
  readonly config: TcpConfig;
  readonly counters: TcpCounters = {
    activeOpens: 0,
    passiveOpens: 0,
    inSegments: 0,
    inErrors: 0,
    resetsForNoSocket: 0,
    synCookiesSent: 0,
    synCookiesValid: 0,
    synCookiesFailed: 0,
    listenDrops: 0,
    icmpErrors: 0,
    ecnConnections: 0,
    ecnCeReceived: 0,
    ecnEceReceived: 0,
    ecnCwrSent: 0,
    ecnCwndReductions: 0,
  };
  /** The latest time seen. */
  now = 0;
  private readonly table = new ConnectionTable<TcpConnection>();
  private readonly listeners = new Map<number, TcpListener[]>();
  /** Embryonic passive connections and the listener each belongs to. */
  private readonly embryos = new Map<TcpConnection, TcpListener>();
  private readonly timers = new TimerHeap<TcpConnection>();
  private readonly isn: IsnGenerator;
  private readonly cookies: SynCookies;
  private readonly segment = new ReceivedSegment();
  readonly writer: SegmentWriter;
  readonly allocator = new PacketAllocator();
  private challengeWindowStart = -Infinity;
  private challengeCount = 0;

  /** Creates the TCP layer and registers it with `host` for IP protocol 6. */
  constructor(readonly host: Host) {
    this.config = host.config.tcp;
    this.writer = new SegmentWriter(host);
    this.isn = new IsnGenerator(host.random.bytes(32));
    this.cookies = new SynCookies(host.random.bytes(32), this.config.synCookieMaxAgeMs);
    host.registerTransport(TCP_PROTOCOL, this);
  }

  /** Connections in the table (every state but CLOSED). */
  get connectionCount(): number {
    return this.table.size;
  }

  /** Every connection in the table. */
  connections(): IterableIterator<TcpConnection> {
    return this.table.values();
  }

  // ---- application side ------------------------------------------------------------------

  /**
   * Active open (RFC 9293 3.10.1): sends the SYN now. Throws TcpError EINVAL (bad
   * arguments), ENETUNREACH (no route), EADDRNOTAVAIL (local address not ours, or no free
   * ephemeral port), EADDRINUSE (the local port is taken for this peer or by a listener).
   */
  connect(opts: ConnectOptions, now: number): TcpConnection {
    this.advance(now);
    const remote = toAddress(opts.remoteAddress, 'remoteAddress');
    if (!validPort(opts.remotePort) || opts.remotePort === 0) throw new TcpError('EINVAL', `remote port ${opts.remotePort}`);
    let local: IpAddress | undefined;
    if (opts.localAddress !== undefined) {
      local = toAddress(opts.localAddress, 'localAddress');
      if (local.length !== remote.length) throw new TcpError('EINVAL', 'local and remote addresses of different families');
      if (!this.host.interfaces.owner(local)) throw new TcpError('EADDRNOTAVAIL', 'the local address is not one of ours');
    } else {
      local = this.host.selectSource(remote);
      if (local === undefined) throw new TcpError('ENETUNREACH', 'no route to the remote address');
      local = local.slice();
    }
    if (this.host.routeMtu(remote, local) === undefined) throw new TcpError('ENETUNREACH', 'no route to the remote address');
    let port = opts.localPort ?? 0;
    if (!validPort(port)) throw new TcpError('EINVAL', `local port ${port}`);
    if (port === 0) {
      const found = this.ephemeralPort(local, remote, opts.remotePort);
      if (found === undefined) throw new TcpError('EADDRNOTAVAIL', 'no free ephemeral port');
      port = found;
    } else if (this.table.get(local, port, remote, opts.remotePort) !== undefined || this.listenerOn(local, port) !== undefined) {
      throw new TcpError('EADDRINUSE', `local port ${port} is in use`);
    }
    const tuple: FourTuple = { localAddress: local, localPort: port, remoteAddress: remote, remotePort: opts.remotePort };
    const conn = new TcpConnection(this, this.params(tuple, now, opts, opts.extension, opts.ipv6Hook), { kind: 'active' }, now);
    this.table.add(conn);
    this.counters.activeOpens++;
    return conn;
  }

  /**
   * Passive open (RFC 9293 3.10.1 with a listener): throws TcpError EINVAL, EADDRNOTAVAIL
   * (address not ours), EADDRINUSE (another listener covers the address and port).
   */
  listen(opts: ListenOptions): TcpListener {
    if (!validPort(opts.port) || opts.port === 0) throw new TcpError('EINVAL', `port ${opts.port}`);
    let address: IpAddress | undefined;
    if (opts.address !== undefined) {
      address = toAddress(opts.address, 'address').slice();
      if (!this.host.interfaces.owner(address)) throw new TcpError('EADDRNOTAVAIL', 'the address is not one of ours');
    }
    const list = this.listeners.get(opts.port) ?? [];
    for (const l of list) {
      if (l.address === undefined || address === undefined || addressEquals(l.address, address)) {
        throw new TcpError('EADDRINUSE', `port ${opts.port} is already listened on`);
      }
    }
    const backlog = Math.max(1, opts.backlog ?? this.config.listenBacklog);
    const listener = new TcpListener(this, opts, address, backlog);
    list.push(listener);
    this.listeners.set(opts.port, list);
    return listener;
  }

  // ---- TransportHandler ------------------------------------------------------------------

  input(p: InboundPacket, now: number): void {
    this.advance(now);
    const seg = this.segment;
    const host = this.host;
    this.counters.inSegments++;
    if (!seg.decode(p.l4)) {
      this.counters.inErrors++;
      return host.counters.parseError(wireError('tcp', 'TRUNCATED', 'not a TCP header'));
    }
    if (!p.checksumVerified && !verifyTcpChecksum(p.l4, p.src, p.dst)) {
      this.counters.inErrors++;
      return host.counters.parseError(wireError('tcp', 'BAD_CHECKSUM', 'TCP checksum'));
    }
    if (seg.srcPort === 0 || seg.dstPort === 0) {
      this.counters.inErrors++;
      return host.counters.parseError(wireError('tcp', 'BAD_FIELD', 'port 0'));
    }
    seg.ipEcn = p.trafficClass & ECN_MASK;
    seg.owned = p.owned;
    let conn = this.table.get(p.dst, seg.dstPort, p.src, seg.srcPort);
    if (conn !== undefined && conn.state === 'TIME_WAIT' && conn.recycleForSyn(seg, now)) conn = undefined;
    if (conn !== undefined) {
      if (conn.ipv6Hook !== undefined && conn.ipv6Hook.incomingIpv6(p.ipv6Extensions, p.src) === 'drop') return;
      conn.input(seg, now);
      return;
    }
    const listener = this.listenerFor(p.dst, seg.dstPort);
    if (listener !== undefined) {
      this.listenInput(listener, p, seg, now);
      return;
    }
    if (sendResetFor(host, p.dst, p.src, seg, now)) this.counters.resetsForNoSocket++;
  }

  icmpError(e: IcmpErrorReport, now: number): void {
    this.advance(now);
    const h = e.original.l4Header;
    if (h.length < 4) return;
    const conn = this.table.get(e.original.src, readU16(h, 0), e.original.dst, readU16(h, 2));
    if (conn === undefined) return;
    this.counters.icmpErrors++;
    conn.icmpError(e, now);
  }

  nextTimeout(): number | undefined {
    return this.timers.peek();
  }

  onTimeout(now: number): void {
    this.advance(now);
    // Collect first: a connection rescheduled for `now` again waits for the next call.
    const due: TcpConnection[] = [];
    for (let conn = this.timers.popDue(now); conn !== undefined; conn = this.timers.popDue(now)) due.push(conn);
    for (const conn of due) conn.onTimeout(now);
    this.timers.compact(this.table.size);
  }

  // ---- ConnectionOwner / ListenerOwner ---------------------------------------------------

  schedule(conn: TcpConnection): void {
    this.timers.schedule(conn, conn.deadline);
  }

  release(conn: TcpConnection): void {
    this.table.remove(conn);
    const listener = this.embryos.get(conn);
    if (listener !== undefined) {
      this.embryos.delete(conn);
      listener.synQueue--;
    }
  }

  challengeAckAllowed(now: number): boolean {
    if (now - this.challengeWindowStart >= 1000) {
      this.challengeWindowStart = now;
      this.challengeCount = 0;
    }
    return this.challengeCount++ < this.config.challengeAckPerSecond;
  }

  established(conn: TcpConnection): void {
    const listener = this.embryos.get(conn);
    if (listener === undefined) return;
    this.embryos.delete(conn);
    listener.synQueue--;
    if (listener.isClosed) {
      conn.destroy();
      return;
    }
    listener.deliver(conn);
  }

  unlisten(listener: TcpListener): void {
    const list = this.listeners.get(listener.port);
    if (list === undefined) return;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.listeners.delete(listener.port);
  }

  // ---- LISTEN state (RFC 9293 3.10.7.2) --------------------------------------------------

  private listenInput(listener: TcpListener, p: InboundPacket, seg: ReceivedSegment, now: number): void {
    const f = seg.flags;
    if (f & TCP_RST) return;
    if (f & TCP_ACK) {
      // An ACK in LISTEN is bad unless it completes a SYN-cookie handshake.
      if (!(f & TCP_SYN) && this.config.synCookies && this.acceptCookie(listener, p, seg, now)) return;
      if (sendResetFor(this.host, p.dst, p.src, seg, now)) this.counters.resetsForNoSocket++;
      return;
    }
    if (!(f & TCP_SYN)) return;
    // Linux tcp_conn_request: a full accept queue drops the SYN (the client will retry).
    if (!listener.canQueue) {
      listener.overflows++;
      this.counters.listenDrops++;
      return;
    }
    if (listener.synQueue >= listener.backlog) {
      if (this.config.synCookies) this.sendCookie(listener, p, seg, now);
      else {
        listener.overflows++;
        this.counters.listenDrops++;
      }
      return;
    }
    const local = copyBytes(p.dst, 0, p.dst.length);
    const remote = copyBytes(p.src, 0, p.src.length);
    const syn: IncomingSyn = { segment: seg, localAddress: local, remoteAddress: remote, ipv6Extensions: p.ipv6Extensions };
    const hook = listener.ipv6HookFor?.(syn);
    if (hook === 'drop') {
      listener.hookDrops++;
      return;
    }
    const ext = listener.extensionFor?.(syn);
    if (ext === 'reset' || (ext !== undefined && 'resetWith' in ext)) {
      sendResetFor(this.host, p.dst, p.src, seg, now, ext === 'reset' ? undefined : ext.resetWith);
      return;
    }
    const tuple: FourTuple = { localAddress: local, localPort: seg.dstPort, remoteAddress: remote, remotePort: seg.srcPort };
    this.openPassive(listener, this.params(tuple, now, listener.options, ext, hook), { kind: 'passive', syn: seg }, now);
  }

  private openPassive(listener: TcpListener, params: ConnectionParams, start: ConnectionStart, now: number): TcpConnection {
    const conn = new TcpConnection(this, params, start, now);
    if (conn.state !== 'CLOSED') {
      this.table.add(conn);
      this.embryos.set(conn, listener);
      listener.synQueue++;
    }
    this.counters.passiveOpens++;
    return conn;
  }

  /** A stateless SYN-ACK whose ISN is a cookie (syn-cookies.ts), options folded into TSval. */
  private sendCookie(listener: TcpListener, p: InboundPacket, seg: ReceivedSegment, now: number): void {
    const c = this.config;
    const local = copyBytes(p.dst, 0, p.dst.length);
    const remote = copyBytes(p.src, 0, p.src.length);
    const tuple: FourTuple = { localAddress: local, localPort: seg.dstPort, remoteAddress: remote, remotePort: seg.srcPort };
    const v4 = familyOf(remote) === 4;
    const clientMss = seg.mss >= 0 ? seg.mss : v4 ? c.defaultMssIpv4 : c.defaultMssIpv6;
    const { isn } = this.cookies.encode(now, tuple, seg.seq, clientMss, v4 ? COOKIE_MSS_IPV4 : COOKIE_MSS_IPV6);
    const mtu = this.host.routeMtu(remote, local) ?? (v4 ? 576 : 1280);
    const options: TcpOption[] = [{ kind: 'mss', mss: Math.min(mtu - (v4 ? 20 : 40) - 20, 0xffff) }];
    // Without timestamps a cookie cannot carry window scale, SACK or ECN: offer none (Linux tcp_conn_request, cookie_ecn_ok).
    const ecn = c.timestamps && seg.hasTimestamps && acceptsEcnSetup(c.ecn, seg.flags);
    if (c.timestamps && seg.hasTimestamps) {
      const ts = new TimestampState(this.isn.timestampOffset(tuple));
      const wscale = c.windowScaling && seg.windowScale >= 0 ? seg.windowScale : undefined;
      const sack = c.sack && seg.sackPermitted;
      const tsVal = cookieTimestamp(ts.tsval(now), { windowScale: wscale, sackPermitted: sack, ecn });
      options.push(sack ? SACK_PERMITTED_OPTION : NOP_OPTION, ...(sack ? [] : [NOP_OPTION]), { kind: 'timestamps', tsVal, tsEcr: seg.tsVal });
      if (wscale !== undefined) options.push(NOP_OPTION, { kind: 'windowScale', shift: this.ourWindowScale(listener.options) });
    }
    const repr: TcpRepr = {
      srcPort: seg.dstPort,
      dstPort: seg.srcPort,
      seq: isn,
      ack: seqAdd(seg.seq, 1),
      // RFC 3168 6.1.1: an ECN-setup SYN-ACK (ECE, no CWR).
      flags: TCP_SYN | TCP_ACK | (ecn ? TCP_ECE : 0),
      window: Math.min(listener.options.receiveBufferBytes ?? c.receiveBufferBytes, 0xffff),
      urgentPointer: 0,
      checksum: 0,
      options,
    };
    const length = tcpHeaderLength(repr);
    const sent = this.host.send(
      {
        src: local,
        dst: remote,
        protocol: TCP_PROTOCOL,
        l4Length: length,
        writeL4: (out, offset, src, dst) => emitTcp(repr, undefined, 0, out, offset, { mode: 'full', src, dst }),
      },
      now,
    );
    if (sent.ok) {
      listener.cookiesSent++;
      this.counters.synCookiesSent++;
    }
  }

  /** The ACK of a cookie SYN-ACK: a connection, established from what the cookie kept. */
  private acceptCookie(listener: TcpListener, p: InboundPacket, seg: ReceivedSegment, now: number): boolean {
    const local = copyBytes(p.dst, 0, p.dst.length);
    const remote = copyBytes(p.src, 0, p.src.length);
    const tuple: FourTuple = { localAddress: local, localPort: seg.dstPort, remoteAddress: remote, remotePort: seg.srcPort };
    const v4 = familyOf(remote) === 4;
    const mss = this.cookies.check(now, tuple, seg.seq, seg.ack, v4 ? COOKIE_MSS_IPV4 : COOKIE_MSS_IPV6);
    if (mss === undefined) {
      this.counters.synCookiesFailed++;
      return false;
    }
    if (!listener.canQueue) {
      listener.overflows++;
      this.counters.listenDrops++;
      return true; // dropped: the client's retransmission may find room
    }
    const echo = this.config.timestamps && seg.hasTimestamps ? cookieOptionsFromEcho(seg.tsEcr) : undefined;
    const syn: IncomingSyn = { segment: seg, localAddress: local, remoteAddress: remote, ipv6Extensions: p.ipv6Extensions };
    const hook = listener.ipv6HookFor?.(syn);
    if (hook === 'drop') {
      listener.hookDrops++;
      return true;
    }
    const ext = listener.extensionFor?.(syn);
    if (ext === 'reset' || (ext !== undefined && 'resetWith' in ext)) {
      sendResetFor(this.host, p.dst, p.src, seg, now, ext === 'reset' ? undefined : ext.resetWith);
      return true;
    }
    this.counters.synCookiesValid++;
    const params = this.params(tuple, now, listener.options, ext, hook);
    params.iss = seqAdd(seg.ack, -1);
    const conn = this.openPassive(listener, params, { kind: 'cookie', ack: seg, mss, windowScale: echo?.windowScale, sackPermitted: echo?.sackPermitted ?? false, ecn: echo?.ecn ?? false }, now);
    if (conn.state !== 'CLOSED') conn.input(seg, now);
    return true;
  }

  // ---- helpers ---------------------------------------------------------------------------

  private params(tuple: FourTuple, now: number, o: ConnectionOptions, extension: ConnectionParams['extension'], ipv6Hook?: Ipv6HeaderHook): ConnectionParams {
    const c = this.config;
    return {
      localAddress: tuple.localAddress,
      localPort: tuple.localPort,
      remoteAddress: tuple.remoteAddress,
      remotePort: tuple.remotePort,
      iss: this.isn.isn(now, tuple),
      tsOffset: this.isn.timestampOffset(tuple),
      noDelay: o.noDelay ?? !c.nagle,
      keepAliveInitialDelayMs: o.keepAliveInitialDelayMs,
      congestionControl: o.congestionControl ?? c.congestionControl,
      sendBufferBytes: o.sendBufferBytes ?? c.sendBufferBytes,
      receiveBufferBytes: o.receiveBufferBytes ?? c.receiveBufferBytes,
      extension,
      ipv6Hook: familyOf(tuple.remoteAddress) === 6 ? ipv6Hook : undefined,
    };
  }

  private ourWindowScale(o: ConnectionOptions): number {
    return chooseWindowScale(Math.max(this.config.receiveBufferMaxBytes, o.receiveBufferBytes ?? this.config.receiveBufferBytes));
  }

  /** The listener for a segment to `local`:`port`: the one on that address, else the wildcard. */
  private listenerFor(local: IpAddress, port: number): TcpListener | undefined {
    const list = this.listeners.get(port);
    if (list === undefined) return undefined;
    let wildcard: TcpListener | undefined;
    for (const l of list) {
      if (l.address === undefined) wildcard = l;
      else if (addressEquals(l.address, local)) return l;
    }
    return wildcard;
  }

  /** A listener that would take `local`:`port` (specific or wildcard). */
  private listenerOn(local: IpAddress, port: number): TcpListener | undefined {
    return this.listenerFor(local, port);
  }

  /**
   * RFC 6056 3.3.1 (algorithm 1): a random port, redrawn on collision; then a linear scan
   * so a nearly full range still finds the last free port.
   */
  private ephemeralPort(local: IpAddress, remote: IpAddress, remotePort: number): number | undefined {
    const { ephemeralPortMin: min, ephemeralPortMax: max } = this.config;
    const count = max - min + 1;
    const free = (port: number): boolean => this.table.get(local, port, remote, remotePort) === undefined && this.listenerOn(local, port) === undefined;
    for (let i = 0; i < MAX_ATTEMPTS_PER_PORT_SEARCH; i++) {
      const port = min + (this.host.random.uint32() % count);
      if (free(port)) return port;
    }
    const start = this.host.random.uint32() % count;
    for (let i = 0; i < count; i++) {
      const port = min + ((start + i) % count);
      if (free(port)) return port;
    }
    return undefined;
  }

  private advance(now: number): void {
    if (now > this.now) this.now = now;
  }
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 0xffff;
}

function toAddress(a: IpAddress | string, what: string): IpAddress {
  const parsed = typeof a === 'string' ? parseAddress(a) : a;
  if (parsed === undefined || (parsed.length !== 4 && parsed.length !== 16)) throw new TcpError('EINVAL', `bad ${what}`);
  return parsed;
}
