// What the control server needs from a transport: connect, listen, and per-connection
// information for stats. The shape is Node's net.Socket / net.Server (a socket is a Duplex
// with addresses, byte counts, setNoDelay and resetAndDestroy), so the stack's TcpSocket
// (stack/socket/) fits it and so does Node's own `net`, which the control-protocol tests use
// to check the daemon's stream handling against the kernel's TCP.

import type { Duplex } from 'node:stream';
import type { Endpoint, ListenNames, StreamNames } from '../control/protocol.js';

export interface StreamSocket extends Duplex {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  setNoDelay(noDelay?: boolean): this;
  /** Aborts the connection with a reset (RFC 9293 3.10.4 ABORT), dropping unsent data. */
  resetAndDestroy(): this;
  /** A name-based stream's names (stack/socket/name-socket.ts). */
  nameInfo?(): StreamNames | undefined;
}

export interface StreamListener {
  readonly local: Endpoint;
  close(): void;
}

export interface ConnectOptions {
  address: string;
  port: number;
  localAddress?: string;
  localPort?: number;
  noDelay?: boolean;
}

export interface ListenOptions {
  port: number;
  address?: string;
  backlog: number;
  /** Listen by name (a transport without a name layer ignores this). */
  names?: ListenNames;
}

/** A name-based open (thesis Table 1 open(local_name, peer_name, service, transport)). */
export interface OpenOptions {
  peerName: string;
  port: number;
  localName?: string;
  transport?: string;
  noDelay?: boolean;
}

export interface StreamTransport {
  /** Resolves once established; rejects with an Error carrying a Node `code` (ECONNREFUSED, ETIMEDOUT, ...). */
  connect(opts: ConnectOptions): Promise<StreamSocket>;
  /** Rejects with EADDRINUSE, EADDRNOTAVAIL, ... */
  listen(opts: ListenOptions, onConnection: (socket: StreamSocket) => void): Promise<StreamListener>;
  /** Per-connection state like `ss -ti`, plus counters, for the stats request. */
  stats(): Record<string, unknown>;
  /** Open by name; rejects like connect, plus ENOTFOUND (DNS), EINVAL (a bad name). Absent: no name layer. */
  open?(opts: OpenOptions): Promise<StreamSocket>;
  /** The name layer's stats: races, P per destination, verification counters, named connections. */
  nameStats?(): Record<string, unknown>;
}

/** A coded Error, the way Node reports socket errors. */
export function codedError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** The transport of a daemon without a TCP layer: connect and listen fail with ENOTSUP. */
export const NO_TRANSPORT: StreamTransport = {
  connect: () => Promise.reject(codedError('ENOTSUP', 'this daemon has no TCP layer')),
  listen: () => Promise.reject(codedError('ENOTSUP', 'this daemon has no TCP layer')),
  stats: () => ({ available: false }),
};

export function endpointOf(address: string | undefined, port: number | undefined): Endpoint {
  return { address: address ?? '', port: port ?? 0 };
}
