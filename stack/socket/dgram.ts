// Name-based dgram sockets (thesis 2.3 with SOCK_DGRAM, 2.4 "for transport protocols like
// UDP, which does not have an initial handshake, the initiating host sends the name on every
// packet until it receives an acknowledgement"). The opener's UDP socket is connected to one
// address of the peer and carries the names until the peer's come back. There is no race:
// the thesis's Happy Eyeballs (5.2) races connection attempts, and a datagram has no
// handshake whose outcome could pick a family or teach P. The family is the one P prefers
// (IPv6 for P >= 0, which is also where names can ride, thesis 2.7), the other only when the
// preferred one has no address; P is read, never learned. Resolution follows RFC 8305 3: the
// preferred family's answer decides at once, an answer of the other family waits at most
// resolutionDelayMs for it. A listener keeps one responder exchange per
// peer (address and port): its first datagram is checked against the listener's name and
// peer filter (refused: dropped, and so is everything after from that peer), later ones
// answer with both names until one arrives without them. Each peer is a session taken with
// accept(); with requireVerified its datagrams wait until its name is verified.

import { familyOf, formatAddress, type IpAddress, type IpFamily } from '../wire/address.js';
import type { Ipv6ExtensionHeader } from '../wire/ipv6-ext.js';
import type { DnsQueryHandle } from '../dns/resolver.js';
import type { DnsResult } from '../dns/result.js';
import type { TimerClient } from '../ip/host.js';
import { NameExchange, ANY_NAME } from '../name/exchange.js';
import type { Verification } from '../name/verify.js';
import type { UdpSocket } from '../udp/socket.js';
import { NameSocketError } from './errors.js';
import type { NameStackCore } from './name-stack.js';

/** Datagrams a session holds before the application reads them (beyond: dropped, counted). */
const SESSION_QUEUE_LIMIT = 256;
/** Peers a dgram listener keeps sessions for (beyond: new peers are dropped, counted). */
const MAX_SESSIONS = 1024;

export interface Datagram {
  data: Uint8Array;
  at: number;
}

/** One named peer of a dgram socket: the exchange, the verdict, the datagrams waiting. */
abstract class DgramPeer {
  /** Called when datagrams are waiting (and, with requireVerified, the peer is verified). */
  onMessage: (() => void) | undefined = undefined;
  readonly counters = { sent: 0, received: 0, queueDrops: 0 };
  protected readonly queue: Datagram[] = [];
  protected verdict: Verification | undefined = undefined;
  protected closed = false;

  constructor(
    protected readonly core: NameStackCore,
    readonly exchange: NameExchange,
    readonly address: IpAddress,
    readonly port: number,
    private readonly requestedPeer: string | undefined,
  ) {}

  get localName(): string | undefined {
    return this.exchange.localName;
  }

  get peerName(): string | undefined {
    return this.exchange.peerName ?? this.requestedPeer;
  }

  get peerNameVerified(): boolean {
    return this.verdict?.state === 'verified';
  }

  get verification(): Verification | undefined {
    return this.verdict;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The next datagram received, if any. */
  receive(): Datagram | undefined {
    return this.queue.shift();
  }

  /** Sends one datagram with the names while the exchange asks for them. */
  send(data: Uint8Array, now: number): void {
    if (this.closed) throw new NameSocketError('ECONNABORTED', 'the socket is closed');
    const r = this.socket.send(data, now, { address: this.address, port: this.port }, this.exchange.extensionsFor());
    if (!r.ok) throw new NameSocketError(r.code, r.message);
    this.counters.sent++;
  }

  protected abstract get socket(): UdpSocket;

  /** A datagram from this peer whose names went through the exchange already. */
  protected enqueue(data: Uint8Array, at: number): void {
    this.counters.received++;
    if (this.queue.length >= SESSION_QUEUE_LIMIT) {
      this.counters.queueDrops++;
      return;
    }
    this.queue.push({ data, at });
  }

  protected checkName(now: number, then?: (v: Verification) => void): void {
    const name = this.peerName;
    if (name === undefined || this.verdict !== undefined) return;
    const first = this.core.verify(name, this.address, now, (v) => {
      this.verdict = v;
      then?.(v);
    });
    if (first.state === 'pending') this.verdict = first;
  }

  describe(): Record<string, unknown> {
    return {
      transport: 'dgram',
      remote: `${formatAddress(this.address)}:${this.port}`,
      localName: this.localName,
      peerName: this.peerName,
      peerNameVerified: this.peerNameVerified,
      verification: this.verdict?.state ?? 'none',
      exchange: this.exchange.state,
      ...this.counters,
    };
  }
}

/** open() with dgram: a connected UDP socket carrying the names until the peer's come back. */
export class NameDgramSocket extends DgramPeer {
  private constructor(
    core: NameStackCore,
    exchange: NameExchange,
    private readonly udp: UdpSocket,
    address: IpAddress,
    port: number,
    peerName: string,
  ) {
    super(core, exchange, address, port, peerName);
    udp.connect(address, port);
    udp.ipv6Hook = (headers, src) => (exchange.onPacket(headers, src).verdict === 'accept' ? 'accept' : 'drop');
    udp.onReadable = (what) => {
      if (what !== 'datagram') return;
      for (let d = udp.receive(); d; d = udp.receive()) this.enqueue(d.data, d.at);
      this.checkName(core.tcp.now);
      this.onMessage?.();
    };
  }

  protected get socket(): UdpSocket {
    return this.udp;
  }

  /**
   * Resolves the peer, takes an address of the family P prefers (IPv6 for P >= 0), of the
   * other family when the preferred one has none, binds and connects. RFC 8305 3: decided
   * as soon as the preferred family answers; an answer of the other family first waits up to
   * eyeballs.resolutionDelayMs for the preferred one.
   */
  static open(core: NameStackCore, req: { peerName: string; localName: string | undefined; port: number }, now: number, done: (r: { ok: true; socket: NameDgramSocket } | { ok: false; error: NameSocketError }) => void): void {
    const udp = core.udp;
    if (!udp) return done({ ok: false, error: new NameSocketError('ENOTSUP', 'this stack has no UDP layer') });
    const eyeballs = core.config.eyeballs;
    const preferred: IpFamily = eyeballs.usePreference && core.preferences.get(req.peerName) < 0 ? 4 : 6;
    const other: IpFamily = preferred === 6 ? 4 : 6;
    const answers: Partial<Record<IpFamily, DnsResult>> = {};
    const pick = (f: IpFamily): IpAddress | undefined => {
      const a = answers[f];
      return a?.ok ? a.addresses.find((x) => familyOf(x) === f) : undefined;
    };
    let decided = false;
    let lookup: DnsQueryHandle | undefined;
    let deadline: number | undefined;
    const timer: TimerClient = {
      nextTimeout: () => deadline,
      onTimeout: (t) => {
        if (deadline !== undefined && t >= deadline) decide(t);
      },
    };
    const removeTimer = core.host.addTimerClient(timer);
    const decide = (at: number): void => {
      if (decided) return;
      decided = true;
      removeTimer();
      lookup?.cancel();
      const address = pick(preferred) ?? pick(other);
      if (!address) {
        const codes = [answers[6], answers[4]].map((a) => (a && !a.ok ? a.code : 'ENODATA'));
        const code = codes.find((c) => c === 'ENOTFOUND') ?? codes.find((c) => c !== 'ENODATA') ?? 'ENODATA';
        return done({ ok: false, error: new NameSocketError(code, `cannot open ${req.peerName}: ${code}`) });
      }
      const fam = familyOf(address);
      const bound = udp.bind({ family: fam });
      if (!bound.ok) return done({ ok: false, error: new NameSocketError(bound.code, bound.message) });
      const x = NameExchange.initiator({ family: fam, transport: 'dgram', peerName: req.peerName, ...(req.localName !== undefined && { localName: req.localName }) }, core.config.name);
      if (!x.ok) {
        bound.socket.close();
        return done({ ok: false, error: new NameSocketError('EINVAL', x.message) });
      }
      const socket = new NameDgramSocket(core, x.value, bound.socket, address, req.port, req.peerName);
      socket.checkName(at);
      done({ ok: true, socket });
    };
    lookup = core.resolver.lookupBoth(req.peerName, now, (family, r, at) => {
      answers[family] = r;
      if (pick(preferred) || (answers[preferred] && answers[other])) return decide(at);
      if (family === other && pick(other) && deadline === undefined) deadline = at + eyeballs.resolutionDelayMs;
    });
    // Answers from the cache come back inside lookupBoth, before `lookup` was set.
    if (decided) lookup.cancel();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.udp.close();
  }
}

/** One peer of a dgram listener (thesis accept(): "a separate socket for the incoming session"). */
export class NameDgramSession extends DgramPeer {
  /** Handed to the listener's application (onSession or the accept queue). */
  offered = false;

  constructor(
    core: NameStackCore,
    exchange: NameExchange,
    private readonly listener: NameDgramListener,
    private readonly via: UdpSocket,
    address: IpAddress,
    port: number,
  ) {
    super(core, exchange, address, port, undefined);
  }

  protected get socket(): UdpSocket {
    return this.via;
  }

  /** Called by the listener for each datagram of this peer. */
  deliver(data: Uint8Array, at: number): void {
    if (this.closed) return;
    this.enqueue(data, at);
    if (this.ready) this.onMessage?.();
  }

  /** A session is handed to the application once its name is good enough for the listener. */
  get ready(): boolean {
    return !this.listener.request.requireVerified || this.peerNameVerified;
  }

  verifyThen(now: number, then: (v: Verification) => void): void {
    this.checkName(now, then);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.listener.forget(this);
  }
}

export interface DgramListenRequest {
  localName: string;
  peerName: string;
  port: number;
  address?: IpAddress;
  requireVerified: boolean;
}

export class NameDgramListener {
  /** Called for every new peer ready to be accepted; false (or no handler) leaves it waiting for accept(). */
  onSession: ((s: NameDgramSession) => boolean) | undefined = undefined;
  readonly counters = { sessions: 0, refusedDestinationName: 0, refusedPeerFilter: 0, refusedUnverified: 0, sessionLimit: 0 };
  private readonly sockets: UdpSocket[] = [];
  private readonly sessions = new Map<string, NameDgramSession | 'refused'>();
  private readonly waiting: NameDgramSession[] = [];
  private closed = false;

  constructor(
    private readonly core: NameStackCore,
    readonly request: DgramListenRequest,
  ) {
    const udp = core.udp;
    if (!udp) throw new NameSocketError('ENOTSUP', 'this stack has no UDP layer');
    const binds = request.address ? [{ address: request.address }] : [{ family: 6 as const }, { family: 4 as const }];
    for (const b of binds) {
      const r = udp.bind({ ...b, port: request.port });
      if (!r.ok) {
        this.close();
        throw new NameSocketError(r.code, r.message);
      }
      this.sockets.push(r.socket);
      this.attach(r.socket);
    }
  }

  get port(): number {
    return this.request.port;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The oldest new peer from `peerName` (`*`: any) whose session is ready. */
  accept(peerName: string = ANY_NAME): NameDgramSession | undefined {
    const i = this.waiting.findIndex((s) => s.ready && (peerName === ANY_NAME || s.peerName === peerName));
    return i < 0 ? undefined : this.waiting.splice(i, 1)[0];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.close();
    this.sessions.clear();
    this.waiting.length = 0;
  }

  forget(s: NameDgramSession): void {
    this.sessions.delete(key(s.address, s.port));
  }

  describe(): Record<string, unknown> {
    return {
      transport: 'dgram',
      port: this.port,
      localName: this.request.localName,
      peerName: this.request.peerName,
      requireVerified: this.request.requireVerified,
      pending: this.waiting.length,
      ...this.counters,
      sessions: [...this.sessions.values()].filter((s): s is NameDgramSession => s !== 'refused').map((s) => s.describe()),
    };
  }

  private attach(socket: UdpSocket): void {
    // The names are read (and a first datagram refused) before the datagram is queued.
    socket.ipv6Hook = (headers, address, port) => this.onNames(socket, headers, address, port);
    socket.onReadable = (what) => {
      if (what !== 'datagram') return;
      for (let d = socket.receive(); d; d = socket.receive()) {
        const s = this.sessions.get(key(d.address, d.port));
        if (s && s !== 'refused') s.deliver(d.data, d.at);
      }
    };
  }

  private onNames(socket: UdpSocket, headers: readonly Ipv6ExtensionHeader[], address: IpAddress, port: number): 'accept' | 'drop' {
    const k = key(address, port);
    const known = this.sessions.get(k);
    if (known === 'refused') return 'drop';
    if (known) return known.exchange.onPacket(headers, address).verdict === 'accept' ? 'accept' : 'drop';
    if (this.sessions.size >= MAX_SESSIONS) {
      this.counters.sessionLimit++;
      return 'drop';
    }
    const r = this.request;
    const x = NameExchange.responder(
      { family: familyOf(address), transport: 'dgram', localNames: r.localName === ANY_NAME ? this.core.names : [r.localName], peerFilter: r.peerName },
      this.core.config.name,
    );
    if (!x.ok) return 'drop';
    const verdict = x.value.onPacket(headers, address);
    if (verdict.verdict === 'refuse') {
      if (verdict.reason === 'destinationName') this.counters.refusedDestinationName++;
      else this.counters.refusedPeerFilter++;
      this.sessions.set(k, 'refused');
      return 'drop';
    }
    const session = new NameDgramSession(this.core, x.value, this, socket, address.slice(), port);
    this.sessions.set(k, session);
    this.counters.sessions++;
    const now = this.core.tcp.now;
    if (r.requireVerified && session.peerName === undefined) {
      this.refuseUnverified(k);
      return 'drop';
    }
    session.verifyThen(now, (v) => {
      if (!r.requireVerified) return;
      if (v.state !== 'verified') return this.refuseUnverified(k);
      this.offer(session);
      session.onMessage?.();
    });
    if (!r.requireVerified) this.offer(session);
    // A verdict known at once may have refused the peer already.
    return this.sessions.get(k) === 'refused' ? 'drop' : 'accept';
  }

  private refuseUnverified(k: string): void {
    this.counters.refusedUnverified++;
    this.core.counters.refusedUnverified++;
    this.sessions.set(k, 'refused');
  }

  private offer(s: NameDgramSession): void {
    if (this.closed || s.offered) return;
    s.offered = true;
    if (!this.onSession?.(s)) this.waiting.push(s);
  }
}

function key(address: IpAddress, port: number): string {
  return `${formatAddress(address)} ${port}`;
}
