// The idiomatic form of a name-based stream socket: a TcpSocket (a Duplex like net.Socket)
// that opens by name and service instead of address and port, and carries the names of both
// ends and the verdict on the peer's (thesis 2.3, 2.4). Events are net.Socket's plus
// 'verified' (the verdict on the peer's name, once known; a Verification).
//
//   const s = new NameSocket({ driver, names }).open({ peerName: 'carol.lab.test', service: 'echo' });
//   s.on('connect', () => console.log(s.peerName, s.peerNameVerified));

import type { Verification } from '../name/verify.js';
import { NameSocketError } from './errors.js';
import type { NameConnection, NameSummary } from './name-connection.js';
import { describeRace, type NameStack, type OpenArgs } from './name-stack.js';
import type { StreamOpen } from './stream-open.js';
import { socketError, TcpSocket, type SocketDriver } from './tcp-socket.js';

export interface NameSocketOptions {
  driver: SocketDriver;
  names: NameStack;
  /** An accepted connection to wrap (what NameServer hands out). */
  connection?: NameConnection;
  allowHalfOpen?: boolean;
}

export class NameSocket extends TcpSocket {
  private named: NameConnection | undefined;
  private opening: StreamOpen | undefined;
  private readonly names: NameStack;
  private readonly nameDriver: SocketDriver;

  constructor(opts: NameSocketOptions) {
    super({ driver: opts.driver, ...(opts.allowHalfOpen !== undefined && { allowHalfOpen: opts.allowHalfOpen }), ...(opts.connection && { connection: opts.connection.conn }) });
    this.names = opts.names;
    this.nameDriver = opts.driver;
    if (opts.connection) this.adopt(opts.connection);
  }

  /**
   * Thesis open(local_name, peer_name, service, transport) for stream: resolves the peer's
   * name, races its addresses (Happy Eyeballs with P), connects; 'connect' or 'error'
   * (EINVAL, ENOSERVICE, ESOCKTNOSUPPORT, ENOTFOUND, ECONNREFUSED, ETIMEDOUT, ...).
   */
  open(args: OpenArgs, connectListener?: () => void): this {
    if (connectListener) this.once('connect', connectListener);
    if (this.named || this.connecting) throw socketError('EISCONN', 'open', 'the socket is already connected or connecting');
    this.connecting = true;
    try {
      this.opening = this.names.openStream(args, this.nameDriver.now(), (r) => {
        this.opening = undefined;
        if (this.destroyed) {
          if (r.ok) r.connection.conn.destroy();
          return;
        }
        if (!r.ok) return void this.destroy(socketError(r.error.code, 'open', r.error.message.replace(/^\S+: /, ''), args.peerName));
        this.adopt(r.connection);
        this.attach(r.connection.conn);
        this.connecting = false;
        this.emit('connect');
        this.emit('ready');
      });
    } catch (err) {
      const e = err instanceof NameSocketError ? err : new NameSocketError('EINVAL', String(err));
      queueMicrotask(() => this.destroy(socketError(e.code, 'open', e.message.replace(/^\S+: /, ''), args.peerName)));
      return this;
    }
    this.nameDriver.kick();
    return this;
  }

  /** The name this end uses (sent as the source name). */
  get localName(): string | undefined {
    return this.named?.localName;
  }

  /** The peer's name: the one it sent, or the one opened when it sent none. */
  get peerName(): string | undefined {
    return this.named?.peerName;
  }

  /** A forward lookup of the peer's name holds the address the connection comes from. */
  get peerNameVerified(): boolean {
    return this.named?.peerNameVerified ?? false;
  }

  get verification(): Verification | undefined {
    return this.named?.verification;
  }

  /** MPTCP end to end (false: plain TCP, the peer has no MPTCP). */
  get multipath(): boolean {
    return this.named?.multipath ?? false;
  }

  /** Names, verdict and exchange state, for replies and stats. */
  nameInfo(): NameSummary | undefined {
    return this.named?.summary();
  }

  /** The Happy Eyeballs race that opened this socket (attempts, winner, P before and after). */
  raceInfo(): Record<string, unknown> | undefined {
    const r = this.named?.race;
    return r && describeRace(r);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Closed while the race runs: every attempt is reset.
    this.opening?.abort(this.nameDriver.now());
    this.opening = undefined;
    super._destroy(error, callback);
  }

  private adopt(c: NameConnection): void {
    this.named = c;
    const v = c.verification;
    if (v && v.state !== 'pending') queueMicrotask(() => this.emit('verified', v));
    else c.onVerification = (verdict) => this.emit('verified', verdict);
  }
}
