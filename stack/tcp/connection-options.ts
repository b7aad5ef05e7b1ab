// What an application passes to connect() and listen(), and the handler through which a
// connection reports events (Node net.Socket's events as plain callbacks; the Duplex
// wrapper in stack/socket maps them onto a stream).

import type { CongestionControlName } from '../config.js';
import type { IpAddress } from '../wire/address.js';
import type { TcpOption } from '../wire/tcp-options.js';
import type { TcpError } from './errors.js';
import type { TcpExtension } from './extension.js';
import type { Ipv6HeaderHook, Ipv6HookVerdict } from './ipv6-hook.js';
import type { Ipv6ExtensionHeader } from '../wire/ipv6-ext.js';
import type { ReceivedSegment } from './received-segment.js';
import type { TcpConnection } from './connection.js';

/** Per-connection choices; every one defaults to the host's tcp config. */
export interface ConnectionOptions {
  /** Disable Nagle's algorithm (Node socket.setNoDelay(true)). */
  noDelay?: boolean;
  /** Keepalive probes after this long idle (Node socket.setKeepAlive(true, initialDelay)); off when absent. */
  keepAliveInitialDelayMs?: number;
  congestionControl?: CongestionControlName;
  sendBufferBytes?: number;
  /** Initial receive buffer; auto-tuning may grow it up to tcp.receiveBufferMaxBytes. */
  receiveBufferBytes?: number;
}

export interface ConnectOptions extends ConnectionOptions {
  remoteAddress: IpAddress | string;
  remotePort: number;
  /** Our address; source selection picks one when absent. */
  localAddress?: IpAddress | string;
  /** Our port; an ephemeral one when absent or 0. */
  localPort?: number;
  /** Rides on the connection from its SYN on (extension.ts). */
  extension?: TcpExtension;
  /** Rides on the connection's IPv6 headers from its SYN on (ipv6-hook.ts: the name exchange). */
  ipv6Hook?: Ipv6HeaderHook;
}

/** The listener's view of a SYN, for its extension factory. */
export interface IncomingSyn {
  segment: ReceivedSegment;
  localAddress: IpAddress;
  remoteAddress: IpAddress;
  /** The packet's IPv6 extension headers (empty for IPv4); views valid during the call only. */
  ipv6Extensions: readonly Ipv6ExtensionHeader[];
}

export interface ListenOptions extends ConnectionOptions {
  port: number;
  /** Listen on one of our addresses only; on every address of both families when absent. */
  address?: IpAddress | string;
  /** SYN queue and accept queue bound (tcp.listenBacklog). */
  backlog?: number;
  /** Called for every established connection; without it, connections wait for accept(). */
  onConnection?: (conn: TcpConnection) => void;
  /**
   * Called for every SYN (and for the ACK completing a SYN-cookie handshake, whose options
   * carry what the SYN did): an extension for the new connection, none, or 'reset' to
   * refuse it with a RST (with these options: { resetWith }).
   */
  extension?: (syn: IncomingSyn) => TcpExtension | 'reset' | { resetWith: readonly TcpOption[] } | undefined;
  /**
   * Called for the same segments before `extension`: an IPv6 header hook for the new
   * connection (ipv6-hook.ts), none, or 'drop' to discard the SYN silently (no state, no RST).
   */
  ipv6Hook?: (syn: IncomingSyn) => Ipv6HookVerdict;
}

/**
 * Events of a connection. Called after the segment or timer that caused them was fully
 * processed, so a handler may call any method of the connection.
 */
export interface TcpConnectionHandler {
  /** The handshake completed (active open), or the connection was accepted. */
  onConnect?(conn: TcpConnection): void;
  /** Flowing mode: in-order data; the chunk belongs to the handler. Set this or onReadable. */
  onData?(conn: TcpConnection, data: Uint8Array): void;
  /** Pull mode: data is waiting in read(). */
  onReadable?(conn: TcpConnection): void;
  /** The peer's FIN arrived after all its data was delivered (Node 'end'). */
  onEnd?(conn: TcpConnection): void;
  /** The send buffer has room again after write() took less than offered (Node 'drain'). */
  onWritable?(conn: TcpConnection): void;
  /** The connection is gone; `error` when it failed (Node 'error' + 'close'). */
  onClose?(conn: TcpConnection, error?: TcpError): void;
}
