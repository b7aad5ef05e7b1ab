// The daemon's Unix control socket (docs/control-protocol.md): every connection sends one
// JSON request line and gets one JSON reply line; connect and accept then turn the connection
// into the stream's bytes (bridge.ts), listen keeps it for event lines, wait holds it until a
// stream ends. Bad requests get a coded error reply and cost the daemon nothing; limits bound
// connections per client process and in total; a client that dies only loses its own streams.

import { chmodSync, mkdirSync, unlinkSync, lstatSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { parseAddress } from '../../stack/wire/address.js';
import { LineReader, TOO_BIG } from '../control/line-reader.js';
import {
  MAX_REQUEST_BYTES,
  PROTOCOL_VERSION,
  encodeLine,
  errorReply,
  parseRequest,
  type ControlRequest,
  type Endpoint,
  type ErrorBody,
  type ListenEvent,
  type StreamNames,
  type StreamOutcome,
} from '../control/protocol.js';
import { resolvePort } from '../control/services.js';
import { bridge, errorBody, type Bridge } from './bridge.js';
import type { ControlLimits } from './config.js';
import type { Logger } from './log.js';
import { codedError, endpointOf, type StreamListener, type StreamSocket, type StreamTransport } from './transport.js';
import { peerCredentials, watchHangup } from './unix-peer.js';

export interface ControlServerOptions {
  path: string;
  transport: StreamTransport;
  limits: ControlLimits;
  log: Logger;
  /** Addresses for a name (the static host map until DNS lands); undefined when unknown. */
  resolveHost: (name: string) => readonly string[] | undefined;
  /** The daemon's part of a stats reply (host counters, interfaces, ...). */
  stats: () => Record<string, unknown>;
  /** Reported by ping/version. */
  info: { version: string; name?: string };
}

interface ListenerRecord {
  id: number;
  unix: Socket;
  client: string;
  listener?: StreamListener;
  local?: Endpoint;
  backlog: number;
  pending: Set<number>;
}

interface StreamRecord {
  id: number;
  kind: 'connect' | 'accept';
  socket: StreamSocket;
  /** The client process holding the stream (counted against its limit). */
  client: string;
  local: Endpoint;
  remote: Endpoint;
  since: number;
  /** From the listener that announced it (gets its `closed` event). */
  listener?: ListenerRecord;
  /** Set while announced and not yet accepted. */
  acceptTimer?: NodeJS.Timeout;
  /** Removes the pending-state handlers once accepted. */
  detachPending?: () => void;
  bridge?: Bridge;
  waiters: Set<Socket>;
}

/** Listen connections whose client stops reading events are dropped beyond this many queued bytes. */
const MAX_EVENT_BACKLOG_BYTES = 1 << 20;
/** After an error reply, a client that keeps the connection open is dropped after this, ms. */
const LINGER_MS = 1000;

export class ControlServer {
  private readonly server: Server;
  private readonly controls = new Set<Socket>();
  private readonly streams = new Map<number, StreamRecord>();
  private readonly listeners = new Map<number, ListenerRecord>();
  /** Finished streams' outcomes for wait, oldest first. */
  private readonly outcomes = new Map<number, { outcome: StreamOutcome; at: number }>();
  /** Streams (and connects in progress) per client process. */
  private readonly perClient = new Map<string, number>();
  private connecting = 0;
  private nextId = 1;
  private stopping = false;
  private readonly startedAt = Date.now();

  constructor(private readonly opts: ControlServerOptions) {
    // allowHalfOpen: a client may shut down its sending side after the request (or during a
    // stream) and still read the reply.
    this.server = createServer({ allowHalfOpen: true }, (unix) => this.onConnection(unix));
  }

  get path(): string {
    return this.opts.path;
  }

  /** Binds the socket with mode 0600, replacing a stale socket file but never a live daemon's. */
  async start(): Promise<void> {
    const path = this.opts.path;
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    await removeStaleSocket(path);
    // The umask makes the socket 0600 from the moment it exists (chmod after would leave a window).
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(path, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(old);
    }
    chmodSync(path, 0o600);
    this.server.on('error', (err) => this.opts.log.error('control socket error', { error: (err as Error).message }));
  }

  /**
   * Stops serving: no new control connections, listeners closed (their waiting connections
   * reset), streams end with FIN; those still open after `graceMs` are reset. Removes the
   * socket file.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.opts.path);
    } catch {
      // Already gone.
    }
    for (const l of this.listeners.values()) this.closeListener(l);
    for (const s of this.streams.values()) s.bridge?.drain();
    const deadline = Date.now() + graceMs;
    while (this.streams.size > 0 && Date.now() < deadline) await sleep(20);
    for (const s of [...this.streams.values()]) {
      if (s.bridge) s.bridge.abort();
      else s.socket.resetAndDestroy();
    }
    // Give the resets a moment to reach the transport before the caller tears it down.
    while (this.streams.size > 0 && Date.now() < deadline + 500) await sleep(10);
    for (const c of this.controls) c.destroy();
    await closed;
  }

  /** The control server's part of stats: its connections, listeners and streams. */
  snapshot(): Record<string, unknown> {
    return {
      controlConnections: this.controls.size,
      connecting: this.connecting,
      listeners: [...this.listeners.values()].map((l) => ({ id: l.id, client: l.client, local: l.local, pending: l.pending.size, backlog: l.backlog })),
      streams: [...this.streams.values()].map((s) => ({
        id: s.id,
        kind: s.kind,
        state: s.bridge ? 'open' : 'pending',
        client: s.client,
        local: s.local,
        remote: s.remote,
        bytesRead: s.socket.bytesRead,
        bytesWritten: s.socket.bytesWritten,
        ageMs: Date.now() - s.since,
        ...(s.listener && { listener: s.listener.id }),
      })),
    };
  }

  // ---- one control connection ------------------------------------------------------------

  private onConnection(unix: Socket): void {
    unix.on('error', (err) => this.opts.log.debug('control connection error', { error: err.message }));
    if (this.stopping) return refuse(unix, 'ESHUTDOWN', 'the daemon is stopping');
    if (this.controls.size >= this.opts.limits.maxControlConnections) {
      this.opts.log.warn('control connection refused: limit reached', { limit: this.opts.limits.maxControlConnections });
      return refuse(unix, 'ELIMIT', `the daemon serves at most ${this.opts.limits.maxControlConnections} control connections`);
    }
    this.controls.add(unix);
    unix.on('close', () => this.controls.delete(unix));
    const reader = new LineReader(MAX_REQUEST_BYTES);
    let requested = false;
    const timer = setTimeout(() => {
      unix.off('data', onData);
      refuse(unix, 'ETIMEDOUT', `no complete request line within ${this.opts.limits.requestTimeoutMs} ms`);
    }, this.opts.limits.requestTimeoutMs);
    unix.once('close', () => clearTimeout(timer));
    const onData = (chunk: Buffer): void => {
      reader.push(chunk);
      const line = reader.next();
      if (line === undefined) return;
      requested = true;
      clearTimeout(timer);
      unix.off('data', onData);
      unix.pause();
      if (line === TOO_BIG) return refuse(unix, 'ETOOBIG', `request line longer than ${MAX_REQUEST_BYTES} bytes`);
      const v = parseRequest(line);
      if (!v.ok) {
        this.opts.log.info('bad request', { code: v.error.code });
        return refuse(unix, v.error.code, v.error.message);
      }
      this.dispatch(unix, v.request, reader.rest()).catch((err: unknown) => {
        this.opts.log.error('request failed', { op: v.request.op, error: (err as Error).message });
        refuse(unix, 'EIO', (err as Error).message);
      });
    };
    unix.on('data', onData);
    // EOF before a complete request: the client gave up (allowHalfOpen would keep the socket).
    unix.once('end', () => {
      if (requested) return;
      clearTimeout(timer);
      unix.destroy();
    });
  }

  private async dispatch(unix: Socket, req: ControlRequest, rest: Buffer): Promise<void> {
    switch (req.op) {
      case 'ping':
      case 'version':
        return reply(unix, { ok: true, protocol: PROTOCOL_VERSION, version: this.opts.info.version, pid: process.pid, ...(this.opts.info.name && { name: this.opts.info.name }) });
      case 'stats':
        return reply(unix, {
          ok: true,
          version: this.opts.info.version,
          pid: process.pid,
          uptimeMs: Date.now() - this.startedAt,
          ...this.opts.stats(),
          tcp: this.opts.transport.stats(),
          ...(this.opts.transport.nameStats && { names: this.opts.transport.nameStats() }),
          control: this.snapshot(),
        });
      case 'connect':
        return this.connect(unix, req, rest);
      case 'open':
        return this.open(unix, req, rest);
      case 'listen':
        return this.listen(unix, req);
      case 'accept':
        return this.accept(unix, req.id, rest);
      case 'wait':
        return this.wait(unix, req.id);
    }
  }

  private async connect(unix: Socket, req: Extract<ControlRequest, { op: 'connect' }>, rest: Buffer): Promise<void> {
    if (this.stopping) return refuse(unix, 'ESHUTDOWN', 'the daemon is stopping');
    const port = resolvePort(req.port);
    if (port === undefined) return refuse(unix, 'ENOSERVICE', `unknown service ${JSON.stringify(req.port)} (not in /etc/services)`);
    const addresses = parseAddress(req.host) ? [req.host] : this.opts.resolveHost(req.host.toLowerCase());
    if (!addresses?.length) return refuse(unix, 'ENOTFOUND', `${req.host} is neither an address nor a known host name`);
    await this.connectAddresses(unix, addresses, port, req, rest, { host: req.host, port });
  }

  /** Counts a new stream against its client's limits; refuses and answers undefined when over. */
  private admit(unix: Socket): string | undefined {
    const client = clientOf(unix);
    const limited = this.overLimit(client);
    if (limited) {
      refuse(unix, 'ELIMIT', limited);
      return undefined;
    }
    this.take(client);
    return client;
  }

  /** Plain TCP to each address in turn until one answers (the static hosts map and literal addresses). */
  private async connectAddresses(
    unix: Socket,
    addresses: readonly string[],
    port: number,
    opts: { localAddress?: string; localPort?: number; noDelay?: boolean },
    rest: Buffer,
    what: Record<string, unknown>,
  ): Promise<void> {
    const client = this.admit(unix);
    if (client === undefined) return;
    this.connecting++;
    let socket: StreamSocket | undefined;
    let lastError: unknown;
    try {
      for (const address of addresses) {
        if (unix.destroyed) break;
        try {
          socket = await this.opts.transport.connect({
            address,
            port,
            ...(opts.localAddress !== undefined && { localAddress: opts.localAddress }),
            ...(opts.localPort !== undefined && { localPort: opts.localPort }),
            ...(opts.noDelay !== undefined && { noDelay: opts.noDelay }),
          });
          break;
        } catch (err) {
          lastError = err;
        }
      }
    } finally {
      this.connecting--;
    }
    this.connected(unix, socket, lastError, client, rest, what);
  }

  /** Name-based open: the transport resolves the name and races its addresses (Happy Eyeballs). */
  private async open(unix: Socket, req: Extract<ControlRequest, { op: 'open' }>, rest: Buffer): Promise<void> {
    if (this.stopping) return refuse(unix, 'ESHUTDOWN', 'the daemon is stopping');
    const port = resolvePort(req.service);
    if (port === undefined) return refuse(unix, 'ENOSERVICE', `unknown service ${JSON.stringify(req.service)} (not in /etc/services)`);
    // The config's static hosts map comes before DNS (like nsswitch "files dns"): such a peer
    // is reached by plain TCP to its listed addresses, without a name exchange.
    const listed = this.opts.resolveHost(req.peerName.toLowerCase());
    if (listed?.length) return this.connectAddresses(unix, listed, port, req, rest, { peerName: req.peerName, port });
    const transport = this.opts.transport;
    if (!transport.open) return refuse(unix, 'ENOTSUP', 'this daemon has no name layer');
    const client = this.admit(unix);
    if (client === undefined) return;
    this.connecting++;
    let socket: StreamSocket | undefined;
    let error: unknown;
    try {
      socket = await transport.open({
        peerName: req.peerName,
        port,
        ...(req.localName !== undefined && { localName: req.localName }),
        ...(req.transport !== undefined && { transport: req.transport }),
        ...(req.noDelay !== undefined && { noDelay: req.noDelay }),
      });
    } catch (err) {
      error = err;
    } finally {
      this.connecting--;
    }
    this.connected(unix, socket, error, client, rest, { peerName: req.peerName, port });
  }

  /** The end of connect/open: the stream starts, or the client gets the error. */
  private connected(unix: Socket, socket: StreamSocket | undefined, lastError: unknown, client: string, rest: Buffer, what: Record<string, unknown>): void {
    if (!socket) {
      this.release(client);
      const e = errorBody(lastError ?? codedError('ECONNABORTED', 'the client went away'));
      this.opts.log.info('connect failed', { ...what, code: e.code });
      return refuse(unix, e.code, e.message);
    }
    if (unix.destroyed || this.stopping) {
      // The client gave up while we connected, or the daemon is stopping.
      this.release(client);
      socket.resetAndDestroy();
      return;
    }
    const s = this.addStream('connect', socket, client);
    this.opts.log.info('connected', { id: s.id, local: fmt(s.local), remote: fmt(s.remote), client });
    this.startStream(s, unix, rest);
  }

  private async listen(unix: Socket, req: Extract<ControlRequest, { op: 'listen' }>): Promise<void> {
    if (this.stopping) return refuse(unix, 'ESHUTDOWN', 'the daemon is stopping');
    const port = resolvePort(req.port, 'tcp', undefined, 0);
    if (port === undefined) return refuse(unix, 'ENOSERVICE', `unknown service ${JSON.stringify(req.port)} (not in /etc/services)`);
    if (this.listeners.size >= this.opts.limits.maxListeners) return refuse(unix, 'ELIMIT', `the daemon holds at most ${this.opts.limits.maxListeners} listeners`);
    const l: ListenerRecord = {
      id: this.nextId++,
      unix,
      client: clientOf(unix),
      backlog: Math.min(req.backlog ?? this.opts.limits.defaultBacklog, this.opts.limits.defaultBacklog),
      pending: new Set(),
    };
    this.listeners.set(l.id, l);
    // Until the transport answers, a client that goes away must not leave a listener behind.
    unix.once('close', () => this.closeListener(l));
    try {
      l.listener = await this.opts.transport.listen(
        { port, backlog: l.backlog, ...(req.address !== undefined && { address: req.address }), ...(req.names && { names: req.names }) },
        (socket) => this.announce(l, socket),
      );
    } catch (err) {
      this.listeners.delete(l.id);
      const e = errorBody(err);
      return refuse(unix, e.code, e.message);
    }
    if (!this.listeners.has(l.id)) {
      // The client left while the listener was being set up.
      l.listener.close();
      return;
    }
    l.local = l.listener.local;
    this.opts.log.info('listening', { id: l.id, local: fmt(l.local), client: l.client });
    unix.write(encodeLine({ ok: true, id: l.id, local: l.local }));
    // Nothing more is expected from a listen client: what it sends is dropped. Its EOF alone
    // does not close the listener (it may have half-closed after the request); its going away does.
    unix.resume();
    unix.on('end', () => watchHangup(unix, () => unix.destroy()));
  }

  private announce(l: ListenerRecord, socket: StreamSocket): void {
    if (!this.listeners.has(l.id) || this.stopping || l.pending.size >= l.backlog || this.streams.size >= this.opts.limits.maxStreams) {
      this.opts.log.info('incoming connection reset: backlog or stream limit', { listener: l.id, pending: l.pending.size });
      socket.resetAndDestroy();
      return;
    }
    // Not read until accepted: the receive window closes once the socket's buffer is full.
    socket.pause();
    const s = this.addStream('accept', socket, l.client);
    s.listener = l;
    l.pending.add(s.id);
    // An error before accept (a reset by the peer) ends the pending stream; close reports it.
    let pendingError: ErrorBody | null = null;
    const onError = (err: unknown): void => {
      pendingError ??= errorBody(err);
    };
    const onClose = (): void => this.finishStream(s, pendingError ?? { code: 'ECONNRESET', message: 'closed before it was accepted' });
    socket.on('error', onError);
    socket.once('close', onClose);
    s.acceptTimer = setTimeout(() => {
      pendingError = { code: 'ETIMEDOUT', message: `not accepted within ${this.opts.limits.acceptTimeoutMs} ms` };
      socket.resetAndDestroy();
    }, this.opts.limits.acceptTimeoutMs);
    s.acceptTimer.unref();
    s.detachPending = () => {
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    this.opts.log.info('incoming connection', { id: s.id, listener: l.id, remote: fmt(s.remote) });
    this.sendEvent(l, { event: 'connection', id: s.id, local: s.local, remote: s.remote, ...namesOf(socket) });
  }

  private async accept(unix: Socket, id: number, rest: Buffer): Promise<void> {
    const s = this.streams.get(id);
    if (!s || s.kind !== 'accept' || s.bridge || !s.acceptTimer) return refuse(unix, 'ENOENT', `no connection ${id} waiting for accept`);
    const client = clientOf(unix);
    if (client !== s.client) {
      const limited = this.overLimit(client);
      if (limited) return refuse(unix, 'ELIMIT', limited);
      this.release(s.client);
      this.take(client);
      s.client = client;
    }
    clearTimeout(s.acceptTimer);
    delete s.acceptTimer;
    s.detachPending?.();
    s.listener?.pending.delete(s.id);
    this.opts.log.info('accepted', { id, client });
    this.startStream(s, unix, rest);
  }

  private wait(unix: Socket, id: number): void {
    const s = this.streams.get(id);
    if (s) {
      s.waiters.add(unix);
      unix.once('close', () => s.waiters.delete(unix));
      unix.resume();
      return;
    }
    const done = this.outcome(id);
    if (done) return reply(unix, { ok: true, ...done });
    refuse(unix, 'ENOENT', `no stream ${id} (unknown, or finished too long ago)`);
  }

  // ---- streams -------------------------------------------------------------------------

  private addStream(kind: StreamRecord['kind'], socket: StreamSocket, client: string): StreamRecord {
    const s: StreamRecord = {
      id: this.nextId++,
      kind,
      socket,
      client,
      local: endpointOf(socket.localAddress, socket.localPort),
      remote: endpointOf(socket.remoteAddress, socket.remotePort),
      since: Date.now(),
      waiters: new Set(),
    };
    if (kind === 'accept') this.take(client);
    this.streams.set(s.id, s);
    return s;
  }

  private startStream(s: StreamRecord, unix: Socket, rest: Buffer): void {
    unix.write(encodeLine({ ok: true, id: s.id, local: s.local, remote: s.remote, ...namesOf(s.socket) }));
    s.bridge = bridge(unix, s.socket, rest, { orphanTimeoutMs: this.opts.limits.orphanTimeoutMs }, (error) => this.finishStream(s, error));
    unix.resume();
    s.socket.resume();
  }

  private finishStream(s: StreamRecord, error: ErrorBody | null): void {
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    clearTimeout(s.acceptTimer);
    s.listener?.pending.delete(s.id);
    this.release(s.client);
    const outcome: StreamOutcome = { id: s.id, error, bytesRead: s.socket.bytesRead, bytesWritten: s.socket.bytesWritten };
    this.remember(outcome);
    this.opts.log.info('stream closed', { id: s.id, code: error?.code ?? 'ok', bytesRead: outcome.bytesRead, bytesWritten: outcome.bytesWritten });
    for (const w of s.waiters) reply(w, { ok: true, ...outcome });
    if (s.listener) this.sendEvent(s.listener, { event: 'closed', ...outcome });
  }

  private remember(outcome: StreamOutcome): void {
    const now = Date.now();
    this.outcomes.set(outcome.id, { outcome, at: now });
    for (const [id, o] of this.outcomes) {
      if (this.outcomes.size <= this.opts.limits.outcomeMemory && now - o.at <= this.opts.limits.outcomeTtlMs) break;
      this.outcomes.delete(id);
    }
  }

  private outcome(id: number): StreamOutcome | undefined {
    const o = this.outcomes.get(id);
    return o && Date.now() - o.at <= this.opts.limits.outcomeTtlMs ? o.outcome : undefined;
  }

  // ---- listeners -----------------------------------------------------------------------

  private sendEvent(l: ListenerRecord, event: ListenEvent): void {
    if (l.unix.destroyed || l.unix.writableEnded) return;
    if (l.unix.writableLength > MAX_EVENT_BACKLOG_BYTES) {
      this.opts.log.warn('listen client does not read its events; dropping it', { listener: l.id });
      l.unix.destroy();
      return;
    }
    l.unix.write(encodeLine(event));
  }

  private closeListener(l: ListenerRecord): void {
    if (!this.listeners.delete(l.id)) return;
    l.listener?.close();
    for (const id of [...l.pending]) this.streams.get(id)?.socket.resetAndDestroy();
    if (!l.unix.destroyed) l.unix.end();
    this.opts.log.info('listener closed', { id: l.id });
  }

  // ---- limits --------------------------------------------------------------------------

  private overLimit(client: string): string | undefined {
    const { maxStreams, maxStreamsPerClient } = this.opts.limits;
    if (this.streams.size + this.connecting >= maxStreams) return `the daemon holds at most ${maxStreams} streams`;
    if ((this.perClient.get(client) ?? 0) >= maxStreamsPerClient) return `a client may hold at most ${maxStreamsPerClient} streams`;
    return undefined;
  }

  private take(client: string): void {
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
  }

  private release(client: string): void {
    const n = (this.perClient.get(client) ?? 1) - 1;
    if (n > 0) this.perClient.set(client, n);
    else this.perClient.delete(client);
  }
}

// ---- helpers ---------------------------------------------------------------------------

function reply(unix: Socket, message: unknown): void {
  if (unix.destroyed) return;
  unix.end(encodeLine(message));
  linger(unix);
}

/** Sends a coded error reply and closes; the client may read it at leisure. */
function refuse(unix: Socket, code: string, message: string): void {
  reply(unix, errorReply(code, message));
}

/** Reads and drops anything more the client sends (closing with unread bytes would reset it), then lets go. */
function linger(unix: Socket): void {
  unix.removeAllListeners('data');
  unix.on('data', () => {});
  unix.resume();
  setTimeout(() => unix.destroy(), LINGER_MS).unref();
}

/** The client process (SO_PEERCRED), the unit of the per-client limit. */
function clientOf(unix: Socket): string {
  const cred = peerCredentials(unix);
  return cred ? `pid:${cred.pid}` : 'unknown';
}

/** A name-based stream's names for its reply and events (nothing for an address-based one). */
function namesOf(socket: StreamSocket): StreamNames {
  const n = socket.nameInfo?.();
  if (!n) return {};
  return {
    ...(n.localName !== undefined && { localName: n.localName }),
    ...(n.peerName !== undefined && { peerName: n.peerName }),
    peerNameVerified: n.peerNameVerified ?? false,
  };
}

function fmt(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A socket file left by a daemon that died is removed; one a live daemon answers on is not
 * (EADDRINUSE, with the advice to stop it or pick another --control path).
 */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) throw codedError('EEXIST', `${path} exists and is not a socket; remove it or choose another --control path`);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return;
    throw e;
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw codedError('EADDRINUSE', `another daemon serves ${path}; stop it or choose another --control path`);
  unlinkSync(path);
}
