// The host daemon's control protocol (docs/control-protocol.md), shared by the daemon and its
// clients: one JSON request line per Unix connection, one JSON reply line, and then, for a
// stream request, raw bytes. This file holds the message shapes and the request validator;
// it does no I/O, so any client (or a test) can use it.

/** Bumped when a message changes incompatibly; `ping` reports it. */
export const PROTOCOL_VERSION = 1;

/** Where `namestack host` listens unless told otherwise (--control). */
export const DEFAULT_CONTROL_PATH = '/run/namestack/host.sock';

/** Longest request line, newline included; a longer one is refused with ETOOBIG. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** Longest host name or address in a connect request (a DNS name is at most 253 characters). */
const MAX_HOST_LENGTH = 255;
/** Longest service name (/etc/services names are short; this only bounds hostile input). */
const MAX_SERVICE_LENGTH = 64;

/**
 * Protocol-level error codes; the stack's own (ECONNREFUSED, ETIMEDOUT, ENETUNREACH,
 * EADDRINUSE, EADDRNOTAVAIL, ...) pass through unchanged.
 */
export type ProtocolErrorCode =
  | 'EBADREQ' // not JSON, not an object, or a field missing / of the wrong type
  | 'ETOOBIG' // request line longer than MAX_REQUEST_BYTES
  | 'EBADOP' // unknown `op`
  | 'ETIMEDOUT' // no complete request line within the daemon's request timeout
  | 'ELIMIT' // a connection limit of the daemon (per client or in total) is reached
  | 'ENOENT' // no such pending connection / connection id
  | 'ENOTFOUND' // a host name neither an address nor in the daemon's static host map
  | 'ENOSERVICE' // a service name not in /etc/services
  | 'ENOTSUP' // the operation exists but this daemon cannot do it (no TCP layer)
  | 'ESHUTDOWN'; // the daemon is stopping

export interface ErrorBody {
  code: string;
  message: string;
}

export interface Endpoint {
  address: string;
  port: number;
}

export type ControlRequest =
  | { op: 'ping' }
  | { op: 'version' }
  | { op: 'stats' }
  | {
      op: 'connect';
      host: string;
      port: number | string;
      /** Bind the connection to one of the stack's addresses (its uplink, thesis 3.5). */
      localAddress?: string;
      localPort?: number;
      /** Disable Nagle's algorithm (RFC 1122 4.2.3.4), like socket.setNoDelay(). */
      noDelay?: boolean;
    }
  | {
      /** Name-based open (thesis Table 1): resolve the name in DNS, Happy Eyeballs, names exchanged. */
      op: 'open';
      peerName: string;
      service: number | string;
      /** The name to send; the daemon's own name when absent. */
      localName?: string;
      /** stream (MPTCP falling back to TCP; the only one on a control stream). */
      transport?: string;
      noDelay?: boolean;
    }
  | {
      op: 'listen';
      port: number | string;
      address?: string;
      backlog?: number;
      /** Present for a name-based listener (the request gave `service`, or a name field). */
      names?: ListenNames;
    }
  | { op: 'accept'; id: number }
  | { op: 'wait'; id: number };

export type ControlOp = ControlRequest['op'];

/** A name-based listener's names (thesis Table 1 listen(local_name, peer_name, ...)); `*` or absent: any. */
export interface ListenNames {
  localName?: string;
  peerName?: string;
  /** Take only peers whose name is verified in DNS. */
  requireVerified?: boolean;
  transport?: string;
}

/** The name-based listen as a client writes it (parseRequest turns it into `listen` with `names`). */
export interface NameListenRequest extends ListenNames {
  op: 'listen';
  service: number | string;
  address?: string;
  backlog?: number;
}

/** The names of a stream's two ends, in replies and events of name-based streams. */
export interface StreamNames {
  localName?: string;
  peerName?: string;
  peerNameVerified?: boolean;
}

const OPS: readonly ControlOp[] = ['ping', 'version', 'stats', 'connect', 'open', 'listen', 'accept', 'wait'];

export type ReplyError = { ok: false; error: ErrorBody };

/** Reply to connect, open and accept; the Unix connection carries the stream's bytes after it. */
export interface StreamReply extends StreamNames {
  ok: true;
  id: number;
  local: Endpoint;
  remote: Endpoint;
}

/** Reply to listen; event lines follow on the same connection. */
export interface ListenReply {
  ok: true;
  id: number;
  local: Endpoint;
}

/** Reply to wait (and the `closed` event): how a stream ended. */
export interface StreamOutcome {
  id: number;
  /** null: both directions finished cleanly (FIN each way). */
  error: ErrorBody | null;
  bytesRead: number;
  bytesWritten: number;
}

/** One line on a listen connection after its reply. */
export type ListenEvent =
  | ({ event: 'connection'; id: number; local: Endpoint; remote: Endpoint } & StreamNames)
  | ({ event: 'closed' } & StreamOutcome);

export function errorReply(code: string, message: string): ReplyError {
  return { ok: false, error: { code, message } };
}

/** One line of the protocol: compact JSON and a newline. */
export function encodeLine(message: unknown): string {
  return JSON.stringify(message) + '\n';
}

export type Validated = { ok: true; request: ControlRequest } | ReplyError;

/** Parses and checks one request line (without its newline); never throws. */
export function parseRequest(line: string): Validated {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return errorReply('EBADREQ', `request is not JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return errorReply('EBADREQ', 'request must be a JSON object');
  const r = value as Record<string, unknown>;
  if (typeof r.op !== 'string') return errorReply('EBADREQ', 'request needs a string "op"');
  if (!(OPS as readonly string[]).includes(r.op)) return errorReply('EBADOP', `unknown op ${JSON.stringify(r.op.slice(0, 32))}; known: ${OPS.join(', ')}`);
  const op = r.op as ControlOp;
  const bad = (field: string, what: string): ReplyError => errorReply('EBADREQ', `${op}: "${field}" must be ${what}`);
  switch (op) {
    case 'ping':
    case 'version':
    case 'stats':
      return { ok: true, request: { op } };
    case 'connect': {
      if (typeof r.host !== 'string' || r.host.length === 0 || r.host.length > MAX_HOST_LENGTH) return bad('host', `a non-empty string of at most ${MAX_HOST_LENGTH} characters`);
      if (!isPortOrService(r.port)) return bad('port', 'a port number (1-65535) or a service name');
      if (r.localAddress !== undefined && (typeof r.localAddress !== 'string' || r.localAddress.length > MAX_HOST_LENGTH)) return bad('localAddress', 'an address');
      if (r.localPort !== undefined && !isPort(r.localPort, 0)) return bad('localPort', 'a port number (0-65535)');
      if (r.noDelay !== undefined && typeof r.noDelay !== 'boolean') return bad('noDelay', 'a boolean');
      return {
        ok: true,
        request: {
          op,
          host: r.host,
          port: r.port,
          ...(r.localAddress !== undefined && { localAddress: r.localAddress }),
          ...(r.localPort !== undefined && { localPort: r.localPort as number }),
          ...(r.noDelay !== undefined && { noDelay: r.noDelay }),
        },
      };
    }
    case 'open': {
      if (!isName(r.peerName)) return bad('peerName', `a name of at most ${MAX_HOST_LENGTH} characters`);
      if (!isPortOrService(r.service)) return bad('service', 'a service name or a port number (1-65535)');
      if (r.localName !== undefined && !isName(r.localName)) return bad('localName', 'a name or "*"');
      if (r.transport !== undefined && !isName(r.transport)) return bad('transport', 'a string');
      if (r.noDelay !== undefined && typeof r.noDelay !== 'boolean') return bad('noDelay', 'a boolean');
      return {
        ok: true,
        request: {
          op,
          peerName: r.peerName,
          service: r.service,
          ...(r.localName !== undefined && { localName: r.localName }),
          ...(r.transport !== undefined && { transport: r.transport }),
          ...(r.noDelay !== undefined && { noDelay: r.noDelay }),
        },
      };
    }
    case 'listen': {
      // The name-based form says `service` (and may give names); `port` is the address-based form.
      const named = r.service !== undefined || r.localName !== undefined || r.peerName !== undefined || r.requireVerified !== undefined;
      if (r.service !== undefined && r.port !== undefined) return bad('service', 'given alone (service or port, not both)');
      if (r.service !== undefined) r.port = r.service;
      if (!isPortOrService(r.port, 0)) return bad(r.service !== undefined ? 'service' : 'port', 'a port number (0-65535, 0 = any) or a service name');
      for (const field of ['localName', 'peerName', 'transport'] as const) if (r[field] !== undefined && !isName(r[field])) return bad(field, 'a name or "*"');
      if (r.requireVerified !== undefined && typeof r.requireVerified !== 'boolean') return bad('requireVerified', 'a boolean');
      const names: ListenNames = {
        ...(r.localName !== undefined && { localName: r.localName as string }),
        ...(r.peerName !== undefined && { peerName: r.peerName as string }),
        ...(r.requireVerified !== undefined && { requireVerified: r.requireVerified }),
        ...(r.transport !== undefined && { transport: r.transport as string }),
      };
      if (r.address !== undefined && (typeof r.address !== 'string' || r.address.length > MAX_HOST_LENGTH)) return bad('address', 'an address');
      if (r.backlog !== undefined && !(Number.isInteger(r.backlog) && (r.backlog as number) >= 1 && (r.backlog as number) <= 65535)) return bad('backlog', 'an integer from 1 to 65535');
      return {
        ok: true,
        request: {
          op,
          port: r.port,
          ...(r.address !== undefined && { address: r.address }),
          ...(r.backlog !== undefined && { backlog: r.backlog as number }),
          ...(named && { names }),
        },
      };
    }
    case 'accept':
    case 'wait':
      if (!Number.isSafeInteger(r.id) || (r.id as number) < 1) return bad('id', 'a positive integer');
      return { ok: true, request: { op, id: r.id as number } };
  }
}

function isPort(v: unknown, min = 1): v is number {
  return Number.isInteger(v) && (v as number) >= min && (v as number) <= 65535;
}

function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_HOST_LENGTH;
}

function isPortOrService(v: unknown, min = 1): v is number | string {
  return isPort(v, min) || (typeof v === 'string' && v.length > 0 && v.length <= MAX_SERVICE_LENGTH);
}
