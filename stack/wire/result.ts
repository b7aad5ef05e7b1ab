// Every parser in stack/ faces hostile bytes. Parsers never throw: they return a
// ParseResult, and the packet path counts and drops the errors (see stack/ip/counters.ts).

/** Why a packet (or part of it) was rejected. `code` is stable and machine-readable. */
export interface WireError {
  readonly ok: false;
  /** e.g. 'TRUNCATED', 'BAD_VERSION', 'BAD_LENGTH', 'BAD_CHECKSUM', 'BAD_OPTION'. */
  readonly code: WireErrorCode;
  /** Which format produced the error: 'ipv4', 'ipv6', 'tcp', 'mptcp', 'udp', 'icmpv4', ... */
  readonly layer: string;
  readonly message: string;
}

export type WireErrorCode =
  | 'TRUNCATED'
  | 'BAD_VERSION'
  | 'BAD_LENGTH'
  | 'BAD_HEADER_LENGTH'
  | 'BAD_CHECKSUM'
  | 'BAD_OPTION'
  | 'BAD_FIELD'
  | 'UNSUPPORTED';

export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}

export type ParseResult<T> = Ok<T> | WireError;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

export function wireError(layer: string, code: WireErrorCode, message: string): WireError {
  return { ok: false, layer, code, message };
}
