// `namestack stats [--json]`: the daemon's state: interfaces with their link counters, host
// counters, routes, TCP connections (like `ss -ti`), the name layer (names of every
// connection's ends and the verdict, P, the latest Happy Eyeballs races, MPTCP connections
// with their subflows like `ss -Mi`) and the control socket's streams.

import { parseArgs } from 'node:util';
import { formatMptcpStats, type MptcpConnectionStats } from '../../stack/mptcp/stats.js';
import { controlCall } from '../control/client.js';
import { CLIENT_OPTIONS, controlPath, report } from './common.js';

const USAGE = `usage: namestack stats [--json] [--control PATH]

Shows the daemon's interfaces, counters, routes, TCP connections, name layer
(names, P, races, MPTCP subflows) and streams;
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

/** Milliseconds after `t0`, for race timelines. */
function after(t: unknown, t0: number): string {
  return typeof t === 'number' ? `${+(t - t0).toFixed(1)}` : '?';
}

/** One race on one line: P before -> after, the answers and attempts in ms after its start, the winner. */
function formatRace(r: Json): string {
  const t0 = Number(r.startedAt);
  const answers = ((r.answers as Json[] | undefined) ?? []).map((a) => `${a.family === 6 ? 'AAAA' : 'A'} ${after(a.at, t0)}${a.code ? ` ${String(a.code)}` : ` (${String(a.addresses)})`}`);
  const attempts = ((r.attempts as Json[] | undefined) ?? []).map(
    (a) => `IPv${String(a.family)} ${String(a.address)} ${after(a.startedAt, t0)}-${after(a.endedAt, t0)} ${String(a.outcome)}${a.joined === true ? ' (joined)' : ''}${a.code ? ` ${String(a.code)}` : ''}`,
  );
  const end = r.finishedAt !== undefined ? `${after(r.finishedAt, t0)} ms` : 'running';
  return `${String(r.destination)} P ${String(r.preferenceBefore)} -> ${String(r.preferenceAfter)}, ${end}${r.code ? ` ${String(r.code)}` : ''}: ${[...answers, ...attempts].join('; ')}`;
}

/** The name layer (stats.names): counters, P, races, listeners, named connections, MPTCP connections with their subflows. */
export function formatNames(n: Json | undefined): string[] {
  const out: string[] = ['', 'names:'];
  if (!n || n.available === false) {
    out.push('  not available (this daemon has no nameservers)');
    return out;
  }
  out.push(`  host names: ${((n.names as string[] | undefined) ?? []).join(' ') || '(none)'}`);
  out.push(`  counters: ${kv(n.counters as Json) || 'none'}`);
  if (n.verifier) out.push(`  verifier: ${kv(n.verifier as Json) || 'none'}`);
  if (n.dns) out.push(`  dns: ${kv(n.dns as Json) || 'none'}`);
  const p = Object.entries((n.preferences as Json | undefined) ?? {});
  if (p.length) out.push(`  P: ${p.map(([k, v]) => `${k} ${String(v)}`).join(', ')}`);
  const races = (n.races as Json[] | undefined) ?? [];
  if (races.length) {
    out.push(`  races (latest ${Math.min(5, races.length)} of ${races.length}, ms after the call):`);
    for (const r of races.slice(-5)) out.push(`    ${formatRace(r)}`);
  }
  for (const l of (n.listeners as Json[] | undefined) ?? []) {
    out.push(`  listener ${String(l.transport)} port ${String(l.port)} local ${String(l.localName)} peer ${String(l.peerName)}${l.requireVerified ? ' require-verified' : ''}  ${kv(l, ['transport', 'port', 'localName', 'peerName', 'requireVerified'])}`.trimEnd());
  }
  const conns = (n.connections as Json[] | undefined) ?? [];
  out.push(`  connections: ${conns.length}`);
  for (const c of conns) {
    const verdict = c.peerNameVerified ? 'verified' : `not verified (${String(c.verification)})`;
    out.push(`    ${String(c.role)} ${String(c.transport)} ${String(c.state)} ${endpoint(c.local)} -> ${endpoint(c.remote)}`);
    out.push(`      local name ${String(c.localName ?? '-')}  peer name ${String(c.peerName ?? '-')} ${c.peerName === undefined ? '' : verdict}  exchange ${String(c.exchange)}${c.subflows !== undefined ? `  subflows ${String(c.subflows)}` : ''}`);
  }
  const mptcp = n.mptcp as Json | undefined;
  if (mptcp) {
    const list = (mptcp.connections as MptcpConnectionStats[] | undefined) ?? [];
    out.push('', `mptcp: ${list.length} connections  ${kv(mptcp.counters as Json)}`.trimEnd());
    for (const c of list) out.push(...formatMptcpStats(c).split('\n').map((l) => `  ${l}`));
  }
  return out;
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
  if (s.names !== undefined) out.push(...formatNames(s.names as Json));
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
