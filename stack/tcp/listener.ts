// A listening endpoint (RFC 9293 3.10.7.2, state LISTEN): the local address (or any) and
// port, the backlog, the SYN queue count (embryonic connections in SYN_RECEIVED, owned by
// the layer's table) and the accept queue of established connections waiting for the
// application. Segment handling for LISTEN is the layer's (layer.ts): it needs the table,
// the ISN generator and the SYN cookies.

import type { IpAddress } from '../wire/address.js';
import type { ListenOptions } from './connection-options.js';
import type { TcpConnection } from './connection.js';

/** What the layer needs to let a listener go. */
export interface ListenerOwner {
  unlisten(listener: TcpListener): void;
}

export class TcpListener {
  readonly port: number;
  /** The one address listened on; undefined: every address of both families. */
  readonly address: IpAddress | undefined;
  readonly backlog: number;
  /** Called for each established connection; without it they wait in accept(). */
  onConnection: ((conn: TcpConnection) => void) | undefined;
  readonly extensionFor: ListenOptions['extension'];
  readonly ipv6HookFor: ListenOptions['ipv6Hook'];
  /** Connection options every accepted connection gets. */
  readonly options: Omit<ListenOptions, 'port' | 'address' | 'backlog' | 'onConnection' | 'extension' | 'ipv6Hook'>;
  /** SYNs the IPv6 hook dropped (a name-bound listener refusing another name). */
  hookDrops = 0;
  /** Embryonic connections (SYN received, handshake not complete). */
  synQueue = 0;
  /** SYNs answered with a cookie because the SYN queue was full. */
  cookiesSent = 0;
  /** SYNs or handshake completions dropped because a queue was full (Linux ListenOverflows). */
  overflows = 0;
  private readonly acceptQueue: TcpConnection[] = [];
  private closed = false;

  constructor(
    private readonly owner: ListenerOwner,
    opts: ListenOptions,
    address: IpAddress | undefined,
    backlog: number,
  ) {
    this.port = opts.port;
    this.address = address;
    this.backlog = backlog;
    this.onConnection = opts.onConnection;
    this.extensionFor = opts.extension;
    this.ipv6HookFor = opts.ipv6Hook;
    const { port: _p, address: _a, backlog: _b, onConnection: _o, extension: _e, ipv6Hook: _h, ...rest } = opts;
    this.options = rest;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Connections waiting for accept(). */
  get pending(): number {
    return this.acceptQueue.length;
  }

  /** The accept queue has room for one more completed handshake (Linux sk_acceptq_is_full). */
  get canQueue(): boolean {
    return this.onConnection !== undefined || this.acceptQueue.length < this.backlog;
  }

  /** The oldest established connection not yet taken, if any. */
  accept(): TcpConnection | undefined {
    while (this.acceptQueue.length > 0) {
      const conn = this.acceptQueue.shift()!;
      if (conn.state !== 'CLOSED') return conn;
    }
    return undefined;
  }

  /** Stop listening; connections not yet accepted are reset (as Linux does on close of a listener). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.unlisten(this);
    for (const conn of this.acceptQueue.splice(0)) conn.destroy();
  }

  /** A handshake completed: hand the connection over. */
  deliver(conn: TcpConnection): void {
    if (this.onConnection) this.onConnection(conn);
    else this.acceptQueue.push(conn);
  }
}
