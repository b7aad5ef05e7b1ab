// A TCP connection of the stack as a Node Duplex that feels like net.Socket (STYLE.md, Node
// `net`): connect / end / destroy / resetAndDestroy, events connect, ready, data, end,
// finish, close, error (codes ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, EADDRINUSE,
// EADDRNOTAVAIL, ...), backpressure through write() and 'drain', allowHalfOpen, addresses,
// setNoDelay, setKeepAlive, bytesRead / bytesWritten.
//
// It lives in stack/ because it is pure plumbing between two in-memory state machines (the
// TcpConnection and a node:stream Duplex): no I/O, no timers, no clock of its own. Time and
// "run the stack now" come from a SocketDriver (the HostRuntime on a TUN, or a simulator).
//
// Flow control: the connection is paused until the stream asks for data (_read) and paused
// again when push() reports a full readable buffer, so an application that does not read
// closes the TCP receive window; write() takes bytes into the connection's send buffer
// until it is full, then the stream buffers up to its highWaterMark and write() returns
// false until the connection reports room ('drain').
//
// Buffers passed to write() are sent by reference (stack/tcp/send-buffer.ts takes large
// writes without a copy): do not modify a buffer after writing it.

import { Duplex } from 'node:stream';
import { MptcpConnection } from '../mptcp/connection.js';
import type { TcpConnection, TcpConnectionStats } from '../tcp/connection.js';
import type { TcpConnectionHandler } from '../tcp/connection-options.js';
import type { TcpLayer } from '../tcp/layer.js';
import { formatAddress } from '../wire/address.js';

/**
 * What a socket carries: a TCP connection, or an MPTCP one (the name layer's stream
 * transport), whose application API has the same shape (stack/mptcp/connection.ts).
 */
export type StreamConnection = TcpConnection | MptcpConnection;

/** What a socket needs from whoever runs the stack. */
export interface SocketDriver {
  readonly tcp: TcpLayer;
  /** The clock the stack runs on, ms. */
  now(): number;
  /** Run the stack soon: called after every call that may produce output. */
  kick(): void;
}

export interface TcpSocketOptions {
  driver: SocketDriver;
  /** Keep the writable side open after the peer's FIN (net.Socket's allowHalfOpen). Default false. */
  allowHalfOpen?: boolean;
  /** An established connection to wrap (what TcpServer hands out). */
  connection?: StreamConnection;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
}

export interface TcpConnectOptions {
  port: number;
  /** An IPv4 or IPv6 address (names are resolved by the name layer, above this socket). */
  host: string;
  localAddress?: string;
  localPort?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

/** A Node-style socket error: `code`, `syscall`, and the peer's address and port when known. */
export interface SocketError extends Error {
  code: string;
  syscall: string;
  address?: string;
  port?: number;
}

export function socketError(code: string, syscall: string, detail?: string, address?: string, port?: number): SocketError {
  const where = address !== undefined ? ` ${address}${port !== undefined ? `:${port}` : ''}` : '';
  const err = new Error(`${syscall} ${code}${where}${detail ? ` (${detail})` : ''}`) as SocketError;
  err.code = code;
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined) err.port = port;
  return err;
}

/** The message a TcpError carries after its "CODE: " prefix. */
function detailOf(err: { code?: string; message: string }): string {
  return err.code && err.message.startsWith(`${err.code}: `) ? err.message.slice(err.code.length + 2) : err.message;
}

type PendingWrite = { chunk: Uint8Array; callback: (error?: Error | null) => void };

export class TcpSocket extends Duplex {
  /** True from connect() until the handshake completes. */
  connecting = false;
  /** Bytes received from the peer and handed to the stream. */
  bytesRead = 0;
  private readonly driver: SocketDriver;
  private conn: StreamConnection | undefined;
  /** Bytes the connection took from write(). */
  private bytesTaken = 0;
  /** A write the send buffer could not take whole: the rest waits for onWritable. */
  private blocked: PendingWrite | undefined;
  /** Writes, end() and options before connect() gave us a connection. */
  private beforeConnect: PendingWrite[] = [];
  private finalBeforeConnect: ((error?: Error | null) => void) | undefined;
  /** The stream asked for data before there was a connection (a 'data' listener before open()): Node asks only once. */
  private readBeforeConnect = false;
  private noDelay: boolean | undefined;
  private keepAlive: { enable: boolean; initialDelay: number } | undefined;
  private resetting = false;

  constructor(opts: TcpSocketOptions) {
    super({
      allowHalfOpen: opts.allowHalfOpen ?? false,
      // Node's net.Socket keeps the stream open for the writer's end() ('finish') and the
      // reader's end separately; autoDestroy emits 'close' when both are done.
      emitClose: true,
      autoDestroy: true,
      ...(opts.readableHighWaterMark !== undefined && { readableHighWaterMark: opts.readableHighWaterMark }),
      ...(opts.writableHighWaterMark !== undefined && { writableHighWaterMark: opts.writableHighWaterMark }),
    });
    this.driver = opts.driver;
    if (opts.connection) this.attach(opts.connection);
  }

  // ---- net.Socket API ------------------------------------------------------------------

  /** Active open; 'connect' when established, 'error' (ECONNREFUSED, ETIMEDOUT, ...) when not. */
  connect(options: TcpConnectOptions, connectListener?: () => void): this;
  connect(port: number, host: string, connectListener?: () => void): this;
  connect(a: TcpConnectOptions | number, b?: string | (() => void), c?: () => void): this {
    const opts: TcpConnectOptions = typeof a === 'number' ? { port: a, host: String(b) } : a;
    const listener = typeof b === 'function' ? b : c;
    if (listener) this.once('connect', listener);
    if (this.conn || this.connecting) throw socketError('EISCONN', 'connect', 'the socket is already connected or connecting');
    const host = opts.host;
    this.connecting = true;
    if (opts.noDelay !== undefined) this.noDelay = opts.noDelay;
    if (opts.keepAlive) this.keepAlive = { enable: true, initialDelay: opts.keepAliveInitialDelay ?? 0 };
    let conn: TcpConnection;
    try {
      conn = this.driver.tcp.connect(
        {
          remoteAddress: host,
          remotePort: opts.port,
          ...(opts.localAddress !== undefined && { localAddress: opts.localAddress }),
          ...(opts.localPort !== undefined && { localPort: opts.localPort }),
        },
        this.driver.now(),
      );
    } catch (err) {
      const e = err as { code?: string; message: string };
      // Like net.Socket: a failed connect is reported asynchronously, as 'error'.
      queueMicrotask(() => this.destroy(socketError(e.code ?? 'EINVAL', 'connect', detailOf(e), host, opts.port)));
      return this;
    }
    this.attach(conn);
    this.driver.kick();
    return this;
  }

  /** Abort with a RST (net.Socket.resetAndDestroy): unsent data is dropped. */
  resetAndDestroy(): this {
    this.resetting = true;
    this.destroy();
    return this;
  }

  setNoDelay(noDelay = true): this {
    this.noDelay = noDelay;
    if (this.conn && this.conn.state !== 'CLOSED') {
      this.conn.setNoDelay(noDelay);
      this.driver.kick();
    }
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.keepAlive = { enable, initialDelay };
    if (this.conn && this.conn.state !== 'CLOSED' && !(this.conn instanceof MptcpConnection)) {
      this.conn.setKeepAlive(enable, initialDelay);
      this.driver.kick();
    }
    return this;
  }

  /** The stack has no event-loop handle per socket: ref/unref change nothing. */
  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  get remoteAddress(): string | undefined {
    return this.conn && formatAddress(this.conn.remoteAddress);
  }

  get remotePort(): number | undefined {
    return this.conn?.remotePort;
  }

  get remoteFamily(): 'IPv4' | 'IPv6' | undefined {
    return this.conn && (this.conn.remoteAddress.length === 4 ? 'IPv4' : 'IPv6');
  }

  get localAddress(): string | undefined {
    return this.conn && formatAddress(this.conn.localAddress);
  }

  get localPort(): number | undefined {
    return this.conn?.localPort;
  }

  get localFamily(): 'IPv4' | 'IPv6' | undefined {
    return this.remoteFamily;
  }

  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } | Record<string, never> {
    return this.conn ? { address: this.localAddress!, family: this.localFamily!, port: this.localPort! } : {};
  }

  /** Bytes written, including those still waiting in the stream (as net.Socket counts them). */
  get bytesWritten(): number {
    return this.bytesTaken + this.writableLength;
  }

  /** True before connect() was called. */
  get pending(): boolean {
    return this.conn === undefined;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (!this.conn || this.destroyed) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  /** The connection's state and counters, like `ss -ti` (undefined before connect); MPTCP: its initial subflow's. */
  tcpInfo(): TcpConnectionStats | undefined {
    const c = this.conn;
    return c instanceof MptcpConnection ? c.subflows[0]?.tcp?.stats() : c?.stats();
  }

  // ---- Duplex internals ----------------------------------------------------------------

  override _read(): void {
    const conn = this.conn;
    if (!conn) {
      this.readBeforeConnect = true;
      return;
    }
    if (conn.state === 'CLOSED') return;
    conn.resume();
    this.driver.kick();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.conn) {
      this.beforeConnect.push({ chunk, callback });
      return;
    }
    this.writeChunk({ chunk, callback });
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.conn) {
      this.finalBeforeConnect = callback;
      return;
    }
    this.conn.end();
    this.driver.kick();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const conn = this.conn;
    if (conn && conn.state !== 'CLOSED') {
      // As close(2) on a kernel socket: FIN, or a reset when received bytes are left unread
      // (TcpConnection.close); a connection still in SYN_SENT is simply dropped.
      if (this.resetting || conn.state === 'SYN_SENT') conn.destroy();
      else conn.close();
      this.driver.kick();
    }
    // Whatever the connection still reports (an orphan finishing its close) is nobody's business.
    if (conn) conn.handler = {};
    const pending = [...this.beforeConnect, ...(this.blocked ? [this.blocked] : [])];
    this.beforeConnect = [];
    this.blocked = undefined;
    for (const p of pending) p.callback(error ?? socketError('EPIPE', 'write', 'the socket was destroyed'));
    this.connecting = false;
    callback(error);
  }

  // ---- the connection's events ---------------------------------------------------------

  /** Takes `conn` as this socket's connection (a subclass may call it once its own connect is done). */
  protected attach(conn: StreamConnection): void {
    this.conn = conn;
    // Nothing is read until the stream asks (_read): the window closes while nobody reads.
    conn.pause();
    if (this.noDelay !== undefined) conn.setNoDelay(this.noDelay);
    if (this.keepAlive && !(conn instanceof MptcpConnection)) conn.setKeepAlive(this.keepAlive.enable, this.keepAlive.initialDelay);
    const handler: TcpConnectionHandler = {
      onConnect: () => {
        this.connecting = false;
        this.emit('connect');
        this.emit('ready');
      },
      onData: (_c, data) => {
        this.bytesRead += data.length;
        if (!this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength))) conn.pause();
      },
      onEnd: () => {
        this.push(null);
      },
      onWritable: () => {
        const b = this.blocked;
        if (!b) return;
        this.blocked = undefined;
        this.writeChunk(b);
      },
      onClose: (_c, error) => {
        if (error) {
          const e = error as { code?: string; message: string };
          this.destroy(socketError(e.code ?? 'EIO', this.connecting ? 'connect' : 'read', detailOf(e), this.remoteAddress, this.remotePort));
          return;
        }
        // A clean close may leave bytes the reader has not asked for yet: hand them over
        // (the receive buffer bounds them), then the end of stream.
        for (let chunk = conn.read(); chunk !== undefined; chunk = conn.read()) {
          this.bytesRead += chunk.length;
          this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        }
        if (!this.readableEnded) this.push(null);
      },
    };
    // Both connection kinds report the same events (the handler ignores which one it is).
    conn.handler = handler as TcpConnectionHandler & MptcpConnection['handler'];
    // Work that waited for a connection.
    for (const p of this.beforeConnect.splice(0)) this.writeChunk(p);
    const final = this.finalBeforeConnect;
    this.finalBeforeConnect = undefined;
    if (final) this._final(final);
    if (this.readBeforeConnect) {
      this.readBeforeConnect = false;
      this._read();
    }
  }

  private writeChunk(p: PendingWrite): void {
    const conn = this.conn!;
    let n: number;
    try {
      n = conn.write(p.chunk);
    } catch (err) {
      // The send side is gone (the connection closed under us): EPIPE, as net.Socket says.
      const e = err as { code?: string; message: string };
      p.callback(socketError(e.code ?? 'EPIPE', 'write', detailOf(e), this.remoteAddress, this.remotePort));
      return;
    }
    this.bytesTaken += n;
    if (n > 0) this.driver.kick();
    if (n === p.chunk.length) p.callback();
    else this.blocked = { chunk: p.chunk.subarray(n), callback: p.callback };
  }
}

/** net.createConnection: a new socket, connecting. */
export function createConnection(driver: SocketDriver, options: TcpConnectOptions & { allowHalfOpen?: boolean }, connectListener?: () => void): TcpSocket {
  const socket = new TcpSocket({ driver, ...(options.allowHalfOpen !== undefined && { allowHalfOpen: options.allowHalfOpen }) });
  return socket.connect(options, connectListener);
}
