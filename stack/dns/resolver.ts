// A DNS stub resolver (RFC 1035 7, RFC 1123 6.1.3) on namestack's own UDP, sans I/O: it
// sends through the Host, its timers run from the Host's nextTimeout/onTimeout (it is a
// timer client), and answers arrive through the UDP sockets it binds.
//
// - Each query has a random ID and its own UDP socket on a random ephemeral port (both from
//   host.random), and accepts a response only from a server it was sent to, from the DNS
//   port, with its ID and its exact question (RFC 5452 9.1). Everything else is dropped and
//   counted; a datagram that does not parse never throws.
// - Timeouts double every round over the server list (transmission k goes to server
//   (first + k) mod n after timeoutMs * 2^floor(k / n), capped); a server that times out
//   stops being the first one asked. An ICMP error, a send failure, a truncated answer
//   (no TCP fallback) or SERVFAIL/REFUSED/NOTIMP moves on to the next transmission at once.
//   FORMERR to a query with EDNS repeats it without (RFC 6891 7).
// - Answers and negative answers are cached (cache.ts); identical lookups in flight share
//   one query; CNAMEs are followed across queries with a bound on the chain.
// - Callbacks run synchronously when the answer is already known (cache, bad name) and
//   otherwise from inside the Host's input() or onTimeout().

import type { DnsConfig } from '../config.js';
import type { Host, TimerClient } from '../ip/host.js';
import { normalizeName } from '../name/domain-name.js';
import type { UdpSocket, UdpDatagram, UdpSocketError } from '../udp/socket.js';
import type { UdpLayer } from '../udp/udp.js';
import { addressEquals, familyOf, parseAddress, type IpAddress, type IpFamily } from '../wire/address.js';
import { DnsCache } from './cache.js';
import { answersQuestion, decodeResponse, DNS_PORT, encodeQuery, interpret, type DnsResponse, type QueryType } from './message.js';
import type { DnsErrorCode, DnsFailure, DnsResult } from './result.js';

export interface DnsServer {
  address: IpAddress;
  port: number;
}

export interface ResolverOptions {
  /** Servers in order of preference: addresses (text or bytes, port 53) or { address, port }. */
  servers: readonly (string | IpAddress | DnsServer)[];
}

export interface DnsCounters {
  /** resolve() calls (lookupBoth makes two, or one ANY). */
  lookups: number;
  /** Lookups answered from the cache, negative answers included. */
  cacheHits: number;
  /** Queries that went to the network (CNAME chases included). */
  queries: number;
  /** Query datagrams sent, and how many of them were retransmissions. */
  transmissions: number;
  retransmissions: number;
  /** Transmissions that got no usable answer in time. */
  timeouts: number;
  /** Responses accepted (NOERROR or NXDOMAIN). */
  answers: number;
  /** Of those, NXDOMAIN or NODATA. */
  negativeAnswers: number;
  cnamesFollowed: number;
  /** Lookups that ended without an answer (timeouts, server errors, ...). */
  failures: number;
  /** Dropped responses: not DNS, not a response, from elsewhere, another ID, another question. */
  malformed: number;
  wrongSource: number;
  wrongId: number;
  wrongQuestion: number;
  /** Responses with the TC bit (dropped: no TCP fallback). */
  truncated: number;
  /** SERVFAIL, REFUSED, NOTIMP, FORMERR responses. */
  serverErrors: number;
  icmpErrors: number;
  sendErrors: number;
  /** Lookups refused because dns.maxOutstanding queries were in flight. */
  limited: number;
}

export interface DnsQueryHandle {
  /** The callback will not be called; the query stops when nobody else waits for it. */
  cancel(): void;
}

interface Waiter {
  callback: (r: DnsResult, now: number) => void;
  active: boolean;
}

interface Query {
  readonly name: string;
  readonly type: QueryType;
  /** Names of the CNAME chain before this one (a chase); empty for a lookup of its own. */
  readonly earlier: readonly string[];
  readonly id: number;
  readonly waiters: Waiter[];
  readonly sockets: Map<IpFamily, UdpSocket>;
  readonly sentTo: DnsServer[];
  readonly firstServer: number;
  /** Transmissions so far; the next goes to server (firstServer + transmissions) mod n. */
  transmissions: number;
  /** The server of the latest transmission. */
  current: DnsServer | undefined;
  deadline: number;
  edns: boolean;
  /** The most telling failure so far; ETIMEOUT when there was none. */
  lastError: { code: DnsErrorCode; message: string } | undefined;
}

const NOOP_HANDLE: DnsQueryHandle = { cancel: () => {} };

const RCODE_ERRORS: Record<string, DnsErrorCode> = { SERVFAIL: 'ESERVFAIL', REFUSED: 'EREFUSED', NOTIMP: 'ENOTIMP', FORMERR: 'EFORMERR' };

function toServer(s: string | IpAddress | DnsServer): DnsServer {
  if (typeof s === 'string') {
    const address = parseAddress(s);
    if (!address) throw new RangeError(`bad DNS server address ${s}`);
    return { address, port: DNS_PORT };
  }
  if (s instanceof Uint8Array) return { address: s, port: DNS_PORT };
  return s;
}

export class DnsResolver implements TimerClient {
  readonly counters: DnsCounters = {
    lookups: 0,
    cacheHits: 0,
    queries: 0,
    transmissions: 0,
    retransmissions: 0,
    timeouts: 0,
    answers: 0,
    negativeAnswers: 0,
    cnamesFollowed: 0,
    failures: 0,
    malformed: 0,
    wrongSource: 0,
    wrongId: 0,
    wrongQuestion: 0,
    truncated: 0,
    serverErrors: 0,
    icmpErrors: 0,
    sendErrors: 0,
    limited: 0,
  };
  readonly servers: readonly DnsServer[];
  private readonly config: DnsConfig;
  private readonly cache: DnsCache;
  private readonly active = new Set<Query>();
  /** Lookups of their own in flight, by type and name, so identical ones share a query. */
  private readonly shared = new Map<string, Query>();
  /** Index of the server a new query asks first. */
  private preferred = 0;
  private readonly removeTimerClient: () => void;

  constructor(
    private readonly host: Host,
    private readonly udp: UdpLayer,
    opts: ResolverOptions,
  ) {
    if (opts.servers.length === 0) throw new RangeError('a resolver needs at least one server');
    this.servers = opts.servers.map(toServer);
    this.config = host.config.dns;
    this.cache = new DnsCache(this.config.cacheEntries);
    this.removeTimerClient = host.addTimerClient(this);
  }

  /** Queries in flight. */
  get outstanding(): number {
    return this.active.size;
  }

  /**
   * Looks up `name` (A, AAAA or ANY) and calls `callback` once with the result and the time
   * it came: at once for a cached answer or an invalid name, else when an answer arrives or
   * every try failed.
   */
  resolve(name: string, type: QueryType, now: number, callback: (r: DnsResult, now: number) => void): DnsQueryHandle {
    this.counters.lookups++;
    const n = normalizeName(name);
    if (!n.ok) {
      callback({ ok: false, name, type, code: 'EBADNAME', message: n.message, fromCache: false }, now);
      return NOOP_HANDLE;
    }
    const cached = this.cache.get(n.value, type, now);
    if (cached) {
      this.counters.cacheHits++;
      callback(cached, now);
      return NOOP_HANDLE;
    }
    const waiter: Waiter = { callback, active: true };
    const q = this.shared.get(`${type} ${n.value}`) ?? this.startQuery(n.value, type, [], now, waiter);
    if (!q) return NOOP_HANDLE;
    if (!q.waiters.includes(waiter)) q.waiters.push(waiter);
    return {
      cancel: () => {
        waiter.active = false;
        if (q.waiters.every((w) => !w.active) && this.active.has(q)) this.stop(q);
      },
    };
  }

  /**
   * AAAA and A for `name`, each reported to `onAnswer` as it arrives; with dns.lookupWithAny
   * one ANY query whose addresses are split by family (and the pair asked after all when the
   * ANY answer holds no address). RFC 8305 3 asks AAAA first, A right after: that is for a
   * host that prefers IPv6; `first` 4 (a caller whose learned preference is IPv4) asks A
   * first, so the answer its race starts on is sent, answered and read first.
   */
  lookupBoth(name: string, now: number, onAnswer: (family: IpFamily, r: DnsResult, now: number) => void, first: IpFamily = 6): DnsQueryHandle {
    const pair = (at: number): DnsQueryHandle => {
      const ask = (family: IpFamily): DnsQueryHandle => this.resolve(name, family === 6 ? 'AAAA' : 'A', at, (r, t) => onAnswer(family, r, t));
      const a = ask(first);
      const b = ask(first === 6 ? 4 : 6);
      return { cancel: () => (a.cancel(), b.cancel()) };
    };
    if (!this.config.lookupWithAny) return pair(now);
    let fallback: DnsQueryHandle | undefined;
    const any = this.resolve(name, 'ANY', now, (r, t) => {
      if (!r.ok && r.code === 'ENODATA') {
        // RFC 8482: a server may answer ANY with a stand-in record (HINFO "RFC8482").
        fallback = pair(t);
        return;
      }
      for (const family of [6, 4] as const) onAnswer(family, splitFamily(r, family), t);
    });
    return { cancel: () => (any.cancel(), fallback?.cancel()) };
  }

  /** The cached result for `name`, without asking anyone. */
  peek(name: string, type: QueryType, now: number): DnsResult | undefined {
    const n = normalizeName(name);
    return n.ok ? this.cache.get(n.value, type, now) : undefined;
  }

  nextTimeout(): number | undefined {
    let t: number | undefined;
    for (const q of this.active) if (t === undefined || q.deadline < t) t = q.deadline;
    return t;
  }

  onTimeout(now: number): void {
    for (const q of [...this.active]) {
      if (q.deadline > now || !this.active.has(q)) continue;
      this.counters.timeouts++;
      // A server that does not answer stops being asked first.
      const timedOut = this.servers.indexOf(q.current!);
      if (timedOut === this.preferred) this.preferred = (timedOut + 1) % this.servers.length;
      this.transmit(q, now);
    }
  }

  /** Stops every query (their callbacks are not called) and leaves the Host's timers. */
  close(): void {
    for (const q of [...this.active]) this.stop(q);
    this.removeTimerClient();
  }

  // ---- queries -----------------------------------------------------------------------------

  private startQuery(name: string, type: QueryType, earlier: readonly string[], now: number, waiter: Waiter): Query | undefined {
    if (this.active.size >= this.config.maxOutstanding) {
      this.counters.limited++;
      waiter.callback(this.failure(name, type, 'ENOBUFS', `${this.config.maxOutstanding} DNS queries in flight`), now);
      return undefined;
    }
    this.counters.queries++;
    const q: Query = {
      name,
      type,
      earlier,
      id: this.host.random.uint32() & 0xffff,
      waiters: [waiter],
      sockets: new Map(),
      sentTo: [],
      firstServer: this.preferred,
      transmissions: 0,
      current: undefined,
      deadline: Infinity,
      edns: this.config.ednsUdpSize > 0,
      lastError: undefined,
    };
    this.active.add(q);
    if (earlier.length === 0) this.shared.set(`${type} ${name}`, q);
    this.transmit(q, now);
    return q;
  }

  /** Sends the next transmission of `q`, or ends it when every one has been used. */
  private transmit(q: Query, now: number): void {
    const n = this.servers.length;
    while (q.transmissions < n * this.config.rounds) {
      const k = q.transmissions++;
      const server = this.servers[(q.firstServer + k) % n]!;
      q.current = server;
      const socket = this.socketFor(q, familyOf(server.address));
      if (!socket.ok) {
        q.lastError = socket.error;
        continue;
      }
      const sent = socket.value.send(encodeQuery(q.id, q.name, q.type, q.edns ? this.config.ednsUdpSize : 0), now, server);
      if (!sent.ok) {
        this.counters.sendErrors++;
        q.lastError = { code: sent.code, message: sent.message };
        continue;
      }
      this.counters.transmissions++;
      if (k > 0) this.counters.retransmissions++;
      if (!q.sentTo.includes(server)) q.sentTo.push(server);
      q.deadline = now + Math.min(this.config.timeoutMs * 2 ** Math.floor(k / n), this.config.maxTimeoutMs);
      return;
    }
    const e = q.lastError ?? { code: 'ETIMEOUT', message: `no answer from ${n} server(s) in ${this.config.rounds} round(s)` };
    this.counters.failures++;
    this.finish(q, this.failure(q.name, q.type, e.code, e.message), now);
  }

  private socketFor(q: Query, family: IpFamily): { ok: true; value: UdpSocket } | { ok: false; error: { code: DnsErrorCode; message: string } } {
    const existing = q.sockets.get(family);
    if (existing) return { ok: true, value: existing };
    // One socket asks every server: recvErrors, so a refusing server fails over at once.
    const bound = this.udp.bind({ family, recvErrors: true });
    if (!bound.ok) return { ok: false, error: { code: bound.code === 'EADDRINUSE' ? 'ENOBUFS' : 'EINVAL', message: bound.message } };
    const socket = bound.socket;
    socket.onReadable = (what) => {
      if (what === 'error') {
        const e = socket.takeError();
        if (e) this.icmpError(q, e);
        return;
      }
      for (let d = socket.receive(); d; d = socket.receive()) {
        if (!this.active.has(q)) return;
        this.datagram(q, d);
      }
    };
    q.sockets.set(family, socket);
    return { ok: true, value: socket };
  }

  private icmpError(q: Query, e: UdpSocketError): void {
    this.counters.icmpErrors++;
    if (!this.active.has(q)) return;
    q.lastError = { code: e.code, message: `ICMP ${e.icmp.kind} from the server` };
    // Only an error about the latest transmission moves on; one about an earlier is old news.
    if (q.current && addressEquals(q.current.address, e.address) && q.current.port === e.port) this.transmit(q, e.at);
  }

  private datagram(q: Query, d: UdpDatagram): void {
    const c = this.counters;
    if (!q.sentTo.some((s) => s.port === d.port && addressEquals(s.address, d.address))) return void c.wrongSource++;
    const r = decodeResponse(d.data);
    if (!r) return void c.malformed++;
    if (r.id !== q.id) return void c.wrongId++;
    if (!answersQuestion(r, q.name, q.type)) return void c.wrongQuestion++;
    const now = d.at;
    if (r.truncated) {
      c.truncated++;
      q.lastError = { code: 'ETRUNCATED', message: 'the answer was truncated (TC) and TCP is not used' };
      return this.transmit(q, now);
    }
    if (r.rcode !== 'NOERROR' && r.rcode !== 'NXDOMAIN') {
      c.serverErrors++;
      if (r.rcode === 'FORMERR' && q.edns) q.edns = false;
      q.lastError = { code: RCODE_ERRORS[r.rcode] ?? 'ESERVFAIL', message: `${r.rcode} from the server` };
      return this.transmit(q, now);
    }
    c.answers++;
    this.preferred = this.servers.findIndex((s) => s.port === d.port && addressEquals(s.address, d.address));
    this.answer(q, r, now);
  }

  private answer(q: Query, r: DnsResponse, now: number): void {
    const cfg = this.config;
    const i = interpret(r, q.name, q.type, cfg.maxCnameChain, q.earlier);
    switch (i.kind) {
      case 'addresses':
        return this.finish(
          q,
          {
            ok: true,
            name: q.name,
            type: q.type,
            canonicalName: i.canonicalName,
            addresses: i.addresses,
            expiresAt: now + Math.min(i.ttl * 1000, cfg.maxTtlMs),
            fromCache: false,
          },
          now,
        );
      case 'negative': {
        this.counters.negativeAnswers++;
        const f = this.failure(q.name, q.type, i.code, `${i.code === 'ENOTFOUND' ? 'NXDOMAIN' : 'no records of the type'} for ${i.canonicalName}`);
        const keep = i.negativeTtl !== undefined ? Math.min(i.negativeTtl * 1000, cfg.negativeMaxTtlMs) : cfg.negativeNoSoaTtlMs;
        if (keep > 0) f.expiresAt = now + keep;
        return this.finish(q, f, now);
      }
      case 'bad':
        this.counters.failures++;
        return this.finish(q, this.failure(q.name, q.type, 'EBADRESP', i.message), now);
      case 'cname':
        return this.chase(q, i.target, i.chain.slice(0, -1), now + Math.min(i.ttl * 1000, cfg.maxTtlMs), now);
    }
  }

  /** RFC 1034 5.3.3: asks for the CNAME target and answers `q`'s waiters with that, under q's name. */
  private chase(q: Query, target: string, earlier: string[], chainExpiresAt: number, now: number): void {
    this.counters.cnamesFollowed++;
    const waiters = q.waiters.splice(0);
    this.stop(q);
    const deliver = (r: DnsResult, at: number): void => {
      const merged: DnsResult = { ...r, name: q.name, type: q.type, fromCache: false };
      if (merged.expiresAt !== undefined) merged.expiresAt = Math.min(merged.expiresAt, chainExpiresAt);
      this.cache.put(merged, at);
      for (const w of waiters) if (w.active) w.callback(merged, at);
    };
    const cached = this.cache.get(target, q.type, now);
    if (cached) return deliver(cached, now);
    // A chase never joins a shared query: two chains crossing each other would wait on each other.
    this.startQuery(target, q.type, earlier, now, { callback: deliver, active: true });
  }

  private finish(q: Query, result: DnsResult, now: number): void {
    const waiters = q.waiters.splice(0);
    this.stop(q);
    this.cache.put(result, now);
    for (const w of waiters) if (w.active) w.callback(result, now);
  }

  /** Forgets `q`: no more timers, its sockets closed (late answers then meet a closed port). */
  private stop(q: Query): void {
    this.active.delete(q);
    const key = `${q.type} ${q.name}`;
    if (this.shared.get(key) === q) this.shared.delete(key);
    for (const s of q.sockets.values()) s.close();
    q.sockets.clear();
  }

  private failure(name: string, type: QueryType, code: DnsErrorCode, message: string): DnsFailure {
    return { ok: false, name, type, code, message, fromCache: false };
  }
}

/** One family's share of an ANY result, as if that family had been asked alone. */
function splitFamily(r: DnsResult, family: IpFamily): DnsResult {
  const type = family === 6 ? 'AAAA' : 'A';
  if (!r.ok) return { ...r, type };
  const addresses = r.addresses.filter((a) => familyOf(a) === family);
  if (addresses.length > 0) return { ...r, type, addresses };
  return { ok: false, name: r.name, type, code: 'ENODATA', message: `no ${type} records in the ANY answer`, fromCache: r.fromCache };
}
