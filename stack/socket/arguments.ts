// The arguments of thesis Table 1 (section 2.3): names that may be the wildcard `*`, an IANA
// service name (or a port number), and the transport. Checked once here so every entry
// point (in-process, control socket, CLI) refuses the same things with the same codes.

import { normalizeName } from '../name/domain-name.js';
import { ANY_NAME } from '../name/exchange.js';
import { NameSocketError } from './errors.js';

/** stream: MPTCP, falling back to TCP; dgram: UDP (thesis 2.3 SOCK_STREAM / SOCK_DGRAM). */
export type NameTransport = 'stream' | 'dgram';

/** Looks a service name up for a protocol (services(5): `/etc/services`); undefined when unknown. */
export type ServiceLookup = (name: string, protocol: 'tcp' | 'udp') => number | undefined;

/**
 * The transport named by `t` (default stream). Table 1's SOCK_SCTP and SOCK_DCCP are named
 * by the thesis but out of its scope and ours: refused with ESOCKTNOSUPPORT, as a kernel
 * refuses a socket type it does not support.
 */
export function parseTransport(t: string | undefined): NameTransport {
  const name = (t ?? 'stream').toLowerCase().replace(/^sock_/, '');
  if (name === 'stream' || name === 'dgram') return name;
  if (name === 'sctp' || name === 'dccp') {
    throw new NameSocketError('ESOCKTNOSUPPORT', `transport ${t} is not supported (stream and dgram are)`);
  }
  throw new NameSocketError('EPROTONOSUPPORT', `unknown transport ${JSON.stringify(t)} (stream or dgram)`);
}

/**
 * The port of `service`: a number, a decimal string, or an IANA service name looked up for
 * the transport's protocol (tcp for stream, udp for dgram).
 */
export function resolveService(service: string | number, transport: NameTransport, lookup: ServiceLookup | undefined): number {
  const text = String(service);
  if (/^\d{1,5}$/.test(text)) {
    const port = Number(text);
    if (port >= 1 && port <= 0xffff) return port;
    throw new NameSocketError('EINVAL', `port ${text} out of range`);
  }
  const port = lookup?.(text, transport === 'stream' ? 'tcp' : 'udp');
  if (port === undefined) throw new NameSocketError('ENOSERVICE', `unknown service ${JSON.stringify(text)}`);
  return port;
}

/** A name argument: `*` (or absent) stays `*` where a wildcard is allowed; anything else must be a valid host name, normalized. */
export function parseName(name: string | undefined, what: string, opts: { wildcard: boolean }): string {
  if (name === undefined || name === ANY_NAME) {
    if (opts.wildcard) return ANY_NAME;
    throw new NameSocketError('EINVAL', `${what} must be a name, not a wildcard`);
  }
  const n = normalizeName(name);
  if (!n.ok) throw new NameSocketError('EINVAL', `${what}: ${n.message}`);
  return n.value;
}
