// A listener of the stack that feels like net.Server: listen(), 'listening', 'connection'
// with a TcpSocket per accepted connection, 'error' (EADDRINUSE, EADDRNOTAVAIL), close()
// and 'close' once the listener and every connection it handed out are gone.

import { EventEmitter } from 'node:events';
import type { TcpConnection } from '../tcp/connection.js';
import type { TcpListener } from '../tcp/listener.js';
import { formatAddress, familyOf } from '../wire/address.js';
import { socketError, TcpSocket, type SocketDriver } from './tcp-socket.js';

export interface TcpServerOptions {
  /** Accepted sockets keep their writable side after the peer's FIN. Default false. */
  allowHalfOpen?: boolean;
  /** Accepted sockets start paused (net.Server's pauseOnConnect). */
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

export interface TcpListenOptions {
  /** 0 or absent: an ephemeral port. */
  port?: number;
  /** One of the stack's addresses; every address of both families when absent. */
  host?: string;
  backlog?: number;
}

/** Tries this many random ephemeral ports for port 0 before giving up (EADDRINUSE). */
const EPHEMERAL_ATTEMPTS = 256;

export class TcpServer extends EventEmitter {
  private listener: TcpListener | undefined;
  private readonly sockets = new Set<TcpSocket>();
  private closing = false;

  constructor(
    private readonly driver: SocketDriver,
    private readonly options: TcpServerOptions = {},
    connectionListener?: (socket: TcpSocket) => void,
  ) {
    super();
    if (connectionListener) this.on('connection', connectionListener);
  }

  get listening(): boolean {
    return this.listener !== undefined && !this.listener.isClosed;
  }

  /** Starts listening; 'listening' (and `callback`) follow asynchronously, or 'error'. */
  listen(options: TcpListenOptions, callback?: () => void): this;
  listen(port: number, host?: string, callback?: () => void): this;
  listen(a: TcpListenOptions | number, b?: string | (() => void), c?: () => void): this {
    const opts: TcpListenOptions = typeof a === 'number' ? { port: a, ...(typeof b === 'string' && { host: b }) } : a;
    const callback = typeof b === 'function' ? b : c;
    if (callback) this.once('listening', callback);
    if (this.listener) throw socketError('ERR_SERVER_ALREADY_LISTEN', 'listen', 'listen() was called twice');
    this.closing = false;
    try {
      this.listener = this.open(opts);
    } catch (err) {
      const e = err as { code?: string; message: string };
      queueMicrotask(() => this.emit('error', socketError(e.code ?? 'EINVAL', 'listen', e.message, opts.host ?? '::', opts.port ?? 0)));
      return this;
    }
    queueMicrotask(() => this.emit('listening'));
    return this;
  }

  /** `{ address, family, port }` while listening, else null (as net.Server). */
  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } | null {
    const l = this.listener;
    if (!l || l.isClosed) return null;
    if (!l.address) return { address: '::', family: 'IPv6', port: l.port };
    return { address: formatAddress(l.address), family: familyOf(l.address) === 4 ? 'IPv4' : 'IPv6', port: l.port };
  }

  /** Stops accepting; 'close' once every accepted socket has closed too. */
  close(callback?: (err?: Error) => void): this {
    if (!this.listener) {
      if (callback) queueMicrotask(() => callback(socketError('ERR_SERVER_NOT_RUNNING', 'close', 'the server is not running')));
      return this;
    }
    if (callback) this.once('close', callback);
    this.closing = true;
    this.listener.close();
    this.listener = undefined;
    this.driver.kick();
    this.maybeClosed();
    return this;
  }

  getConnections(callback: (err: Error | null, count: number) => void): this {
    queueMicrotask(() => callback(null, this.sockets.size));
    return this;
  }

  private open(opts: TcpListenOptions): TcpListener {
    const tcp = this.driver.tcp;
    const listen = (port: number): TcpListener =>
      tcp.listen({
        port,
        ...(opts.host !== undefined && { address: opts.host }),
        ...(opts.backlog !== undefined && { backlog: opts.backlog }),
        ...(this.options.noDelay !== undefined && { noDelay: this.options.noDelay }),
        ...(this.options.keepAlive && { keepAliveInitialDelayMs: this.options.keepAliveInitialDelay ?? 0 }),
        onConnection: (conn) => this.accept(conn),
      });
    if (opts.port) return listen(opts.port);
    // Port 0: an unused port from the ephemeral range (RFC 6056 3.2, random start).
    const { ephemeralPortMin: min, ephemeralPortMax: max } = tcp.config;
    const span = max - min + 1;
    const start = tcp.host.random.uint32() % span;
    for (let i = 0; i < Math.min(span, EPHEMERAL_ATTEMPTS); i++) {
      try {
        return listen(min + ((start + i) % span));
      } catch (err) {
        if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
      }
    }
    throw socketError('EADDRINUSE', 'listen', 'no free ephemeral port');
  }

  private accept(conn: TcpConnection): void {
    const socket = new TcpSocket({ driver: this.driver, connection: conn, ...(this.options.allowHalfOpen !== undefined && { allowHalfOpen: this.options.allowHalfOpen }) });
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.maybeClosed();
    });
    if (this.options.pauseOnConnect) socket.pause();
    this.emit('connection', socket);
  }

  private maybeClosed(): void {
    if (this.closing && this.sockets.size === 0) {
      this.closing = false;
      queueMicrotask(() => this.emit('close'));
    }
  }
}

/** net.createServer for the stack. */
export function createServer(driver: SocketDriver, options?: TcpServerOptions, connectionListener?: (socket: TcpSocket) => void): TcpServer {
  return new TcpServer(driver, options, connectionListener);
}
