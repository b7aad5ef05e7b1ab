// The errors a TCP connection or the TCP layer reports, with the codes a Node developer
// knows from `net` (err.code), so the socket wrapper can pass them on unchanged.

export type TcpErrorCode =
  /** A RST answered our SYN (RFC 9293 3.10.7.3), or an ICMP port unreachable did. */
  | 'ECONNREFUSED'
  /** The peer reset an established connection (RFC 9293 3.10.7.4 second check). */
  | 'ECONNRESET'
  /** Retransmissions, keepalive or zero-window probes went unanswered too long (RFC 1122 4.2.3.5). */
  | 'ETIMEDOUT'
  /** write() after end(): the send side is closed. */
  | 'EPIPE'
  /** The local address and port are taken (RFC 9293 3.10.1 "connection already exists"). */
  | 'EADDRINUSE'
  /** The local address is not ours, or no ephemeral port is free. */
  | 'EADDRNOTAVAIL'
  /** No route toward the peer. */
  | 'ENETUNREACH'
  /** An ICMP error made the connection attempt fail (host unreachable, prohibited). */
  | 'EHOSTUNREACH'
  /** The connection was destroyed by its owner. */
  | 'ECONNABORTED'
  /** Bad arguments. */
  | 'EINVAL';

export class TcpError extends Error {
  constructor(
    readonly code: TcpErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'TcpError';
  }
}
