// `namestack stats [--json]`: the daemon's state: interfaces with their link counters, host
// counters, routes, TCP connections (like `ss -ti`) and the control socket's streams.

import { parseArgs } from 'node:util';
import { controlCall } from '../control/client.js';
import { CLIENT_OPTIONS, controlPath, report } from './common.js';

const USAGE = `usage: namestack stats [--json] [--control PATH]

Shows the daemon's interfaces, counters, routes, TCP connections and streams;
--json prints the daemon's reply as it is (docs/control-protocol.md "stats").
`;

type Json = Record<string, unknown>;

function kv(o: Json | undefined, skip: readonly string[] = []): string {
  if (!o) return '';
  return Object.entries(o)
    .filter(([k, v]) => !skip.includes(k) && v !== undefined && v !== null && typeof v !== 'object' && v !== 0 && v !== false)
    .map(([k, v]) => `${k}:${typeof v === 'number' && !Number.isInteger(v) ? +v.toFixed(2) : String(v)}`)
    .join(' ');
}

function endpoint(e: unknown): string {
  const x = e as { address?: string; port?: number } | string | undefined;
  if (typeof x === 'string') return x;
  if (!x?.address) return '*';
  return x.address.includes(':') ? `[${x.address}]:${x.port}` : `${x.address}:${x.port}`;
}

/** The human form of a stats reply. */
export function formatStats(s: Json): string {
  const out: string[] = [];
  out.push(`namestack host ${String(s.name ?? '')} pid ${String(s.pid)} version ${String(s.version)} up ${Math.round(Number(s.uptimeMs) / 1000)}s`);
  out.push('', 'interfaces:');
  for (const i of (s.interfaces as Json[] | undefined) ?? []) {
    const tun = i.tun as Json | undefined;
    out.push(`  ${String(i.index)}: ${String(i.name)} mtu ${String(i.mtu)} ${i.up ? 'up' : 'down'}${i.netns ? ` netns ${String(i.netns)}` : ''}  ${(i.addresses as string[]).join(' ')}`);
    if (tun) out.push(`     rx ${String(tun.rxPackets)} pkts ${String(tun.rxBytes)} bytes  tx ${String(tun.txPackets)} pkts ${String(tun.txBytes)} bytes  ${kv(tun, ['rxPackets', 'rxBytes', 'txPackets', 'txBytes', 'rxBatches'])}`.trimEnd());
  }
  out.push('', 'routes:');
  for (const r of (s.routes as Json[] | undefined) ?? []) {
    out.push(`  ${String(r.destination)}${r.gateway ? ` via ${String(r.gateway)}` : ''} dev#${String(r.ifIndex)} metric ${String(r.metric)}${r.source ? ` from ${String(r.source)}` : ''}`);
  }
  out.push('', `counters: ${kv(s.counters as Json) || 'none'}`);
  const tcp = s.tcp as Json | undefined;
  out.push('', 'tcp:');
  if (tcp?.available === false) out.push('  not available (this daemon has no TCP layer)');
  else {
    const counters = tcp?.counters as Json | undefined;
    if (counters) out.push(`  counters: ${kv(counters) || 'none'}`);
    for (const c of (tcp?.connections as Json[] | undefined) ?? []) {
      out.push(`  ${String(c.state).padEnd(12)} ${endpoint(c.local).padEnd(24)} ${endpoint(c.remote)}`);
      out.push(`     ${kv(c, ['state'])}`);
    }
  }
  const control = s.control as Json | undefined;
  out.push('', `control: ${String(control?.controlConnections ?? 0)} connections`);
  for (const l of (control?.listeners as Json[] | undefined) ?? []) out.push(`  listener ${String(l.id)} ${endpoint(l.local)} pending ${String(l.pending)}/${String(l.backlog)} (${String(l.client)})`);
  for (const st of (control?.streams as Json[] | undefined) ?? []) {
    out.push(`  stream ${String(st.id)} ${String(st.kind)} ${String(st.state)} ${endpoint(st.local)} -> ${endpoint(st.remote)} in ${String(st.bytesRead)} out ${String(st.bytesWritten)} (${String(st.client)})`);
  }
  return out.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      json: { type: 'boolean' },
    },
  });
  if (values.help || positionals.length > 0) {
    (values.help ? process.stdout : process.stderr).write(USAGE);
    return values.help ? 0 : 2;
  }
  let s: Json;
  try {
    s = await controlCall<Json>(controlPath(values.control), { op: 'stats' });
  } catch (err) {
    return report('stats', err);
  }
  delete s.ok;
  process.stdout.write(values.json ? JSON.stringify(s, null, 2) + '\n' : formatStats(s));
  return 0;
}
