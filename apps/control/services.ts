// Service names to port numbers, from /etc/services (services(5)): `name port/protocol
// [aliases...] [# comment]`. The daemon resolves them so that every client, in any language,
// may say "http" instead of 80.

import { readFileSync } from 'node:fs';

export const SERVICES_FILE = '/etc/services';

export type ServiceProtocol = 'tcp' | 'udp';

/** name or alias -> port, per protocol. */
export type ServiceTable = Record<ServiceProtocol, Map<string, number>>;

/** Parses services(5) text; malformed lines are skipped, the first entry of a name wins (as getservbyname). */
export function parseServices(text: string): ServiceTable {
  const table: ServiceTable = { tcp: new Map(), udp: new Map() };
  for (const raw of text.split('\n')) {
    const hash = raw.indexOf('#');
    const fields = (hash >= 0 ? raw.slice(0, hash) : raw).trim().split(/\s+/);
    if (fields.length < 2) continue;
    const m = /^(\d{1,5})\/(tcp|udp)$/.exec(fields[1]!);
    if (!m) continue;
    const port = Number(m[1]);
    if (port > 65535) continue;
    const names = table[m[2] as ServiceProtocol];
    for (const name of [fields[0]!, ...fields.slice(2)]) if (!names.has(name)) names.set(name, port);
  }
  return table;
}

let cached: ServiceTable | undefined;

/** The system's table, read once (an unreadable file gives an empty table: numbers still work). */
export function systemServices(): ServiceTable {
  if (!cached) {
    let text = '';
    try {
      text = readFileSync(SERVICES_FILE, 'utf8');
    } catch {
      // No /etc/services (minimal containers): only numeric ports resolve.
    }
    cached = parseServices(text);
  }
  return cached;
}

/**
 * A port number from a number, a decimal string or a service name; undefined when the name is
 * unknown or the number out of range. `min` is 0 where "any port" makes sense (listen).
 */
export function resolvePort(value: number | string, protocol: ServiceProtocol = 'tcp', table: ServiceTable = systemServices(), min = 1): number | undefined {
  const n = typeof value === 'number' ? value : /^\d{1,5}$/.test(value) ? Number(value) : undefined;
  if (n !== undefined) return Number.isInteger(n) && n >= min && n <= 65535 ? n : undefined;
  return table[protocol].get(value as string);
}
