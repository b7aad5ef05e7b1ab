// The errors of the name-based socket API, coded the way Node's net and dns modules code
// theirs (err.code), so a caller can tell "no such service" from "no such name" from
// "refused" without parsing messages. Transport, DNS and Happy Eyeballs failures keep the
// code they came with (ECONNREFUSED, ETIMEDOUT, ENOTFOUND, ...).

export type NameSocketErrorCode =
  /** Bad arguments: an invalid name, a wildcard where a name is needed, a port out of range. */
  | 'EINVAL'
  /** A transport thesis Table 1 names but namestack does not offer (SCTP, DCCP). */
  | 'ESOCKTNOSUPPORT'
  /** A transport name that is none of stream, dgram, SCTP, DCCP. */
  | 'EPROTONOSUPPORT'
  /** A service name the service table does not know. */
  | 'ENOSERVICE'
  /** The stack has no layer for this (no MPTCP/TCP, no UDP, no resolver). */
  | 'ENOTSUP'
  /** The socket or listener is closed. */
  | 'ECONNABORTED'
  /** A limit of the name layer is reached (listeners, pending connections, dgram peers). */
  | 'ELIMIT'
  | (string & {});

export class NameSocketError extends Error {
  constructor(
    readonly code: NameSocketErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'NameSocketError';
  }
}
