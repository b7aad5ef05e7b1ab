// listen() and accept() for stream sockets (thesis 2.3 Listen/Accept): an MPTCP (or TCP)
// listener whose SYNs go through the name exchange first. A SYN for a name this listener
// does not answer to, or from a peer its filter does not take, is dropped before any state
// exists (connection-names.ts). An established connection's peer name is verified in DNS;
// a listener that requires verified peers resets the connection when the verdict is not
// "verified" (and takes no peer that sent no name). accept(peerName) takes the oldest
// waiting connection from that peer (or any, for `*`).

import { ConnectionNames, respondWithNames } from '../name/connection-names.js';
import { ANY_NAME, type RefuseReason } from '../name/exchange.js';
import type { Verification } from '../name/verify.js';
import type { IncomingSyn } from '../tcp/connection-options.js';
import { TcpError } from '../tcp/errors.js';
import type { TcpListener } from '../tcp/listener.js';
import type { IpAddress } from '../wire/address.js';
import { NameSocketError } from './errors.js';
import { NameConnection, type StreamConnection } from './name-connection.js';
import type { NameStackCore } from './name-stack.js';

export interface StreamListenRequest {
  /** Normalized local name, or `*`: every name of this host (any name when it has none). */
  localName: string;
  /** Normalized peer name the listener takes, or `*`. */
  peerName: string;
  port: number;
  /** Listen on one address only. */
  address?: IpAddress;
  requireVerified: boolean;
  multipath: boolean;
  /** Connections waiting for accept() (and SYN queue): tcp.listenBacklog by default. */
  backlog?: number;
  noDelay?: boolean;
}

export interface NameListenerCounters {
  accepted: number;
  /** SYNs dropped: the destination name is not ours / the peer filter did not match. */
  refusedDestinationName: number;
  refusedPeerFilter: number;
  /** Connections reset because the peer's name was not verified (requireVerified). */
  refusedUnverified: number;
  /** Connections reset because accept() had too many waiting. */
  overflows: number;
}

/** An MP_JOIN SYN: the connection's initial subflow carried the names already. */
function isJoin(syn: IncomingSyn): boolean {
  for (const o of syn.segment.options()) if (o.kind === 'mptcp' && o.option.subtype === 'mpJoinSyn') return true;
  return false;
}

export class NameListener {
  /**
   * Called for every connection ready to be accepted; false (or no handler) leaves it
   * waiting for accept().
   */
  onConnection: ((c: NameConnection) => boolean) | undefined = undefined;
  readonly counters: NameListenerCounters = { accepted: 0, refusedDestinationName: 0, refusedPeerFilter: 0, refusedUnverified: 0, overflows: 0 };
  readonly tcpListener: TcpListener;
  private readonly queue: NameConnection[] = [];
  private readonly backlog: number;
  private closed = false;

  constructor(
    private readonly core: NameStackCore,
    readonly request: StreamListenRequest,
  ) {
    this.backlog = request.backlog ?? core.config.tcp.listenBacklog;
    const localNames = request.localName === ANY_NAME ? core.names : [request.localName];
    const factory = respondWithNames(
      { localNames, peerFilter: request.peerName, skip: isJoin, onRefused: (reason) => this.refused(reason) },
      core.config.name,
    );
    if (!factory.ok) throw new NameSocketError('EINVAL', factory.message);
    const opts = {
      port: request.port,
      ...(request.address !== undefined && { address: request.address }),
      backlog: this.backlog,
      ...(request.noDelay !== undefined && { noDelay: request.noDelay }),
      ipv6Hook: factory.value,
      onConnection: (conn: StreamConnection) => this.incoming(conn),
    };
    try {
      this.tcpListener = request.multipath && core.mptcp ? core.mptcp.listen(opts) : core.tcp.listen(opts);
    } catch (e) {
      if (e instanceof TcpError) throw new NameSocketError(e.code, e.message.replace(/^\w+: /, ''));
      throw e;
    }
  }

  get port(): number {
    return this.tcpListener.port;
  }

  /** Connections waiting for accept(). */
  get pending(): number {
    return this.queue.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Thesis accept(peer_name, fd): the oldest waiting connection from `peerName` (`*`: from anyone). */
  accept(peerName: string = ANY_NAME): NameConnection | undefined {
    const i = this.queue.findIndex((c) => c.conn.state !== 'CLOSED' && (peerName === ANY_NAME || c.peerName === peerName));
    if (i < 0) return undefined;
    return this.queue.splice(i, 1)[0];
  }

  describe(): Record<string, unknown> {
    const r = this.request;
    return { transport: 'stream', port: this.port, localName: r.localName, peerName: r.peerName, requireVerified: r.requireVerified, pending: this.queue.length, ...this.counters };
  }

  /** Stops listening; connections not accepted are reset. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tcpListener.close();
    for (const c of this.queue.splice(0)) c.conn.destroy();
  }

  private refused(reason: RefuseReason): void {
    if (reason === 'destinationName') this.counters.refusedDestinationName++;
    else this.counters.refusedPeerFilter++;
  }

  private incoming(conn: StreamConnection): void {
    if (this.closed) return conn.destroy();
    const tcp = NameConnection.initialTcp(conn);
    const names = tcp?.ipv6Hook instanceof ConnectionNames ? tcp.ipv6Hook : undefined;
    const own = this.request.localName === ANY_NAME ? undefined : this.request.localName;
    const c = new NameConnection(conn, 'responder', names, own, undefined, undefined);
    this.core.track(c);
    if (c.peerName === undefined) {
      if (this.request.requireVerified) return this.refuseUnverified(c);
      return this.deliver(c);
    }
    const now = this.core.tcp.now;
    if (!this.request.requireVerified) {
      this.deliver(c);
      this.core.verifyPeer(c, now);
      return;
    }
    this.core.verifyPeer(c, now, (v: Verification) => {
      if (v.state === 'verified') this.deliver(c);
      else this.refuseUnverified(c);
    });
  }

  private refuseUnverified(c: NameConnection): void {
    this.counters.refusedUnverified++;
    this.core.counters.refusedUnverified++;
    c.conn.destroy();
  }

  private deliver(c: NameConnection): void {
    if (this.closed || c.conn.state === 'CLOSED') return;
    this.counters.accepted++;
    if (this.onConnection?.(c)) return;
    if (this.queue.length >= this.backlog) {
      this.counters.overflows++;
      c.conn.destroy();
      return;
    }
    this.queue.push(c);
  }
}
