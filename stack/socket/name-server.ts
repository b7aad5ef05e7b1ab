// The idiomatic form of a name-based stream listener, like net.Server: listen() by service
// and names (thesis 2.3 Listen), 'listening', 'connection' with a NameSocket per accepted
// connection whose names are known (and verified, with requireVerified), 'error', close().
// Without a 'connection' listener connections wait for accept(peerName) (thesis 2.3
// Accept), which resolves with the oldest one from that peer.

import { EventEmitter } from 'node:events';
import { ANY_NAME } from '../name/exchange.js';
import { NameSocketError } from './errors.js';
import type { NameConnection } from './name-connection.js';
import type { NameListener } from './name-listener.js';
import type { ListenArgs, NameStack } from './name-stack.js';
import { NameSocket } from './name-socket.js';
import { socketError, type SocketDriver } from './tcp-socket.js';

interface Waiter {
  peerName: string;
  resolve: (s: NameSocket) => void;
  reject: (e: Error) => void;
}

export class NameServer extends EventEmitter {
  private listener: NameListener | undefined;
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly driver: SocketDriver,
    private readonly names: NameStack,
    private readonly options: { allowHalfOpen?: boolean } = {},
    connectionListener?: (socket: NameSocket) => void,
  ) {
    super();
    if (connectionListener) this.on('connection', connectionListener);
  }

  get listening(): boolean {
    return this.listener !== undefined && !this.listener.isClosed;
  }

  /** The listener's port and names (undefined before listen). */
  get port(): number | undefined {
    return this.listener?.port;
  }

  /** Starts listening; 'listening' (and `callback`) follow asynchronously, or 'error'. */
  listen(args: ListenArgs, callback?: () => void): this {
    if (callback) this.once('listening', callback);
    if (this.listener) throw socketError('ERR_SERVER_ALREADY_LISTEN', 'listen', 'listen() was called twice');
    try {
      this.listener = this.names.listenStream(args);
    } catch (err) {
      const e = err instanceof NameSocketError ? err : new NameSocketError('EINVAL', String(err));
      queueMicrotask(() => this.emit('error', socketError(e.code, 'listen', e.message.replace(/^\S+: /, ''))));
      return this;
    }
    this.listener.onConnection = (c) => this.incoming(c);
    queueMicrotask(() => this.emit('listening'));
    return this;
  }

  /** Thesis accept(peer_name, fd): the next connection from `peerName` (`*`: anyone). */
  accept(peerName: string = ANY_NAME): Promise<NameSocket> {
    const l = this.listener;
    if (!l || l.isClosed) return Promise.reject(socketError('EINVAL', 'accept', 'the server is not listening'));
    const waiting = l.accept(peerName);
    if (waiting) return Promise.resolve(this.wrap(waiting));
    return new Promise((resolve, reject) => this.waiters.push({ peerName, resolve, reject }));
  }

  /** Stops listening: connections not taken are reset, pending accept() calls fail. */
  close(callback?: () => void): this {
    this.listener?.close();
    for (const w of this.waiters.splice(0)) w.reject(socketError('ECONNABORTED', 'accept', 'the server closed'));
    queueMicrotask(() => {
      this.emit('close');
      callback?.();
    });
    return this;
  }

  /** The listener's counters (accepted, refused by name, by peer filter, unverified). */
  stats(): Record<string, unknown> | undefined {
    return this.listener?.describe();
  }

  /** A connection is ready: to a waiting accept(), to 'connection', or (false) into the listener's queue. */
  private incoming(c: NameConnection): boolean {
    const i = this.waiters.findIndex((w) => w.peerName === ANY_NAME || w.peerName === c.peerName);
    if (i >= 0) {
      this.waiters.splice(i, 1)[0]!.resolve(this.wrap(c));
      return true;
    }
    if (this.listenerCount('connection') === 0) return false;
    this.emit('connection', this.wrap(c));
    return true;
  }

  private wrap(c: NameConnection): NameSocket {
    return new NameSocket({ driver: this.driver, names: this.names, connection: c, ...(this.options.allowHalfOpen !== undefined && { allowHalfOpen: this.options.allowHalfOpen }) });
  }
}
