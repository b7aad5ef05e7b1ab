// The name layer of one Host (thesis chapter 2, sans I/O): open and listen by name and
// service, the name exchange on every connection, verification of peers' names in DNS, and
// Happy Eyeballs with the thesis's P for every open. It sits on the Host's transports (MPTCP
// over TCP for stream, UDP for dgram) and on the stack's own resolver; the Duplex form and
// thesis Table 1's functions (api.ts, name-socket.ts) are built on it.

import type { StackConfig } from '../config.js';
import type { DnsResolver } from '../dns/resolver.js';
import { PreferenceTable } from '../eyeballs/preference.js';
import type { RaceRecord } from '../eyeballs/race.js';
import type { Host } from '../ip/host.js';
import type { MptcpLayer } from '../mptcp/layer.js';
import { ANY_NAME } from '../name/exchange.js';
import { NameVerifier, type Verification } from '../name/verify.js';
import type { TcpLayer } from '../tcp/layer.js';
import type { UdpLayer } from '../udp/udp.js';
import { formatAddress, parseAddress, type IpAddress } from '../wire/address.js';
import { parseName, parseTransport, resolveService, type NameTransport, type ServiceLookup } from './arguments.js';
import { NameDgramListener, NameDgramSocket } from './dgram.js';
import { NameSocketError } from './errors.js';
import type { NameConnection } from './name-connection.js';
import { NameListener } from './name-listener.js';
import { StreamOpen, type OpenResult } from './stream-open.js';

export interface NameStackOptions {
  tcp: TcpLayer;
  /** Stream sockets use MPTCP (falling back to TCP) when present, TCP otherwise. */
  mptcp?: MptcpLayer;
  /** For dgram sockets. */
  udp?: UdpLayer;
  resolver: DnsResolver;
  /** This host's names; the first is the local name of a socket opened without one. */
  names?: readonly string[];
  /** Service names to ports (apps pass /etc/services); numbers always work. */
  services?: ServiceLookup;
  /** Races and connections kept for stats. */
  historySize?: number;
}

/** Thesis Table 1 open(local_name, peer_name, service, transport), as an object. */
export interface OpenArgs {
  peerName: string;
  service: string | number;
  /** `*` or absent: this host's first name (none when it has none). */
  localName?: string;
  transport?: string;
  noDelay?: boolean;
}

/** Thesis Table 1 listen(local_name, peer_name, service, transport), as an object. */
export interface ListenArgs {
  service: string | number;
  /** `*` or absent: every name of this host. */
  localName?: string;
  /** `*` or absent: any peer. */
  peerName?: string;
  transport?: string;
  /** Take only peers whose name is verified in DNS (and no unnamed peers). */
  requireVerified?: boolean;
  /** One of our addresses to listen on; all when absent. */
  address?: string;
  backlog?: number;
  noDelay?: boolean;
}

export interface NameStackCounters {
  opens: number;
  openFailures: number;
  listens: number;
  verified: number;
  unverified: number;
  verificationFailed: number;
  refusedUnverified: number;
}

/** What the opener, listeners and dgram sockets use of the stack. */
export interface NameStackCore {
  readonly host: Host;
  readonly config: StackConfig;
  readonly tcp: TcpLayer;
  readonly mptcp: MptcpLayer | undefined;
  readonly udp: UdpLayer | undefined;
  readonly resolver: DnsResolver;
  readonly preferences: PreferenceTable;
  readonly names: readonly string[];
  readonly counters: NameStackCounters;
  track(c: NameConnection): void;
  recordRace(r: RaceRecord): void;
  /** Verifies the connection's peer name against its address; `then` gets the final verdict. */
  verifyPeer(c: NameConnection, now: number, then?: (v: Verification) => void): void;
  /** Verifies `name` against `address` (dgram peers). */
  verify(name: string, address: IpAddress, now: number, then: (v: Verification) => void): Verification;
}

export class NameStack implements NameStackCore {
  readonly config: StackConfig;
  readonly tcp: TcpLayer;
  readonly mptcp: MptcpLayer | undefined;
  readonly udp: UdpLayer | undefined;
  readonly resolver: DnsResolver;
  readonly verifier: NameVerifier;
  readonly preferences: PreferenceTable;
  readonly names: readonly string[];
  readonly counters: NameStackCounters = { opens: 0, openFailures: 0, listens: 0, verified: 0, unverified: 0, verificationFailed: 0, refusedUnverified: 0 };
  /** The latest races, oldest first (thesis 5.2: attempts, winner, P before and after). */
  readonly races: RaceRecord[] = [];
  private readonly connections: NameConnection[] = [];
  private readonly listeners = new Set<NameListener | NameDgramListener>();
  private readonly services: ServiceLookup | undefined;
  private readonly historySize: number;

  constructor(
    readonly host: Host,
    opts: NameStackOptions,
  ) {
    this.config = host.config;
    this.tcp = opts.tcp;
    this.mptcp = opts.mptcp;
    this.udp = opts.udp;
    this.resolver = opts.resolver;
    this.verifier = new NameVerifier(opts.resolver);
    this.preferences = new PreferenceTable(host.config.eyeballs);
    this.names = (opts.names ?? []).map((n) => parseName(n, 'host name', { wildcard: false }));
    this.services = opts.services;
    this.historySize = opts.historySize ?? 64;
  }

  /**
   * Thesis open(): resolves `peerName`, races its addresses (stream) and calls `done` with
   * the connection or the error. Argument errors throw NameSocketError at once. Returns a
   * handle whose abort() gives up.
   */
  openStream(args: OpenArgs, now: number, done: (r: OpenResult) => void): StreamOpen {
    const req = this.openRequest(args, 'stream');
    this.counters.opens++;
    return new StreamOpen(this, { ...req, multipath: true, ...(args.noDelay !== undefined && { noDelay: args.noDelay }) }, now, (r) => {
      if (!r.ok) this.counters.openFailures++;
      done(r);
    });
  }

  /** Thesis open() for dgram: a UDP socket to the peer's preferred address, names on every datagram until acknowledged. */
  openDgram(args: OpenArgs, now: number, done: (r: { ok: true; socket: NameDgramSocket } | { ok: false; error: NameSocketError }) => void): void {
    const req = this.openRequest(args, 'dgram');
    this.counters.opens++;
    NameDgramSocket.open(this, req, now, (r) => {
      if (!r.ok) this.counters.openFailures++;
      done(r);
    });
  }

  /** Thesis listen() for stream. */
  listenStream(args: ListenArgs): NameListener {
    const transport = parseTransport(args.transport);
    if (transport !== 'stream') throw new NameSocketError('EINVAL', 'listenStream() with a dgram transport');
    const listener = new NameListener(this, {
      ...this.listenRequest(args, transport),
      requireVerified: args.requireVerified ?? false,
      multipath: true,
      ...(args.backlog !== undefined && { backlog: args.backlog }),
      ...(args.noDelay !== undefined && { noDelay: args.noDelay }),
    });
    this.listeners.add(listener);
    this.counters.listens++;
    return listener;
  }

  /** Thesis listen() for dgram. */
  listenDgram(args: ListenArgs): NameDgramListener {
    const transport = parseTransport(args.transport);
    if (transport !== 'dgram') throw new NameSocketError('EINVAL', 'listenDgram() with a stream transport');
    const listener = new NameDgramListener(this, { ...this.listenRequest(args, transport), requireVerified: args.requireVerified ?? false });
    this.listeners.add(listener);
    this.counters.listens++;
    return listener;
  }

  // ---- NameStackCore -----------------------------------------------------------------------

  track(c: NameConnection): void {
    this.connections.push(c);
    // Closed connections leave the list first; beyond the history, the oldest goes anyway.
    if (this.connections.length > this.historySize) {
      const i = this.connections.findIndex((x) => x.conn.state === 'CLOSED');
      this.connections.splice(i >= 0 ? i : 0, 1);
    }
  }

  recordRace(r: RaceRecord): void {
    this.races.push(r);
    if (this.races.length > this.historySize) this.races.shift();
  }

  verifyPeer(c: NameConnection, now: number, then?: (v: Verification) => void): void {
    const name = c.peerName;
    if (name === undefined) return;
    const first = this.verify(name, c.remoteAddress, now, (v) => {
      c.setVerification(v);
      then?.(v);
    });
    if (first.state === 'pending') c.setVerification(first);
  }

  verify(name: string, address: IpAddress, now: number, then: (v: Verification) => void): Verification {
    return this.verifier.verify(name, address, now, (v) => {
      if (v.state === 'verified') this.counters.verified++;
      else if (v.state === 'unverified') this.counters.unverified++;
      else this.counters.verificationFailed++;
      then(v);
    });
  }

  // ---- stats -------------------------------------------------------------------------------

  /** JSON-ready: counters, P per destination raced, the latest races and connections. */
  stats(): Record<string, unknown> {
    const listeners = [...this.listeners].filter((l) => !l.isClosed);
    for (const l of this.listeners) if (l.isClosed) this.listeners.delete(l);
    return {
      names: this.names,
      counters: { ...this.counters },
      verifier: { ...this.verifier.counters },
      dns: { ...this.resolver.counters },
      preferences: Object.fromEntries(this.races.map((r) => [r.destination, this.preferences.get(r.destination)])),
      races: this.races.map(describeRace),
      listeners: listeners.map((l) => l.describe()),
      connections: this.connections.filter((c) => c.conn.state !== 'CLOSED').map((c) => c.describe()),
    };
  }

  // ---- arguments ---------------------------------------------------------------------------

  private openRequest(args: OpenArgs, expected: NameTransport): { peerName: string; localName: string | undefined; port: number } {
    const transport = parseTransport(args.transport);
    if (transport !== expected) throw new NameSocketError('EINVAL', `transport ${transport} where ${expected} was expected`);
    const peerName = parseName(args.peerName, 'peer name', { wildcard: false });
    const local = parseName(args.localName, 'local name', { wildcard: true });
    return {
      peerName,
      // Thesis 2.3: "while sending, a valid arbitrary name may automatically be chosen".
      localName: local === ANY_NAME ? this.names[0] : local,
      port: resolveService(args.service, transport, this.services),
    };
  }

  private listenRequest(args: ListenArgs, transport: NameTransport): { localName: string; peerName: string; port: number; address?: IpAddress } {
    let address: IpAddress | undefined;
    if (args.address !== undefined) {
      address = parseAddress(args.address);
      if (!address) throw new NameSocketError('EINVAL', `bad address ${args.address}`);
    }
    return {
      localName: parseName(args.localName, 'local name', { wildcard: true }),
      peerName: parseName(args.peerName, 'peer name', { wildcard: true }),
      port: resolveService(args.service, transport, this.services),
      ...(address && { address }),
    };
  }
}

/** A race record with addresses as text, for stats and logs. */
export function describeRace(r: RaceRecord): Record<string, unknown> {
  return {
    destination: r.destination,
    mode: r.mode,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    preferenceBefore: r.preferenceBefore,
    preferenceAfter: r.preferenceAfter,
    firstFamily: r.firstFamily,
    answers: r.answers,
    attempts: r.attempts.map((a) => ({ ...a, address: formatAddress(a.address) })),
    winner: r.winner ? { family: r.winner.family, address: formatAddress(r.winner.address), at: r.winner.endedAt } : undefined,
    ...(r.code !== undefined && { code: r.code }),
  };
}
