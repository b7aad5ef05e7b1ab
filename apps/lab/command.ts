// `namestack lab ...`: the command-line face of lab.ts.

import { parseArgs } from 'node:util';
import {
  DEFAULT_PREFIX,
  impairPath,
  labDown,
  labSpawn,
  labStatus,
  labUp,
  setLink,
  type LabStatusUp,
  type PathImpairment,
} from './lab.js';
import { parseDuration, parsePercent, parseRate } from './units.js';
import { cliCommand } from '../node-command.js';

const USAGE = `usage: namestack lab <subcommand> [--prefix P] ...

  up [--paths N] [--no-daemons] [--json]
                                        build the lab (idempotent; cleans a crashed run)
  down                                  remove everything the lab made
  status [--json]                       hosts, addresses, DNS, paths and their impairment
  exec <node> -- <command...>           run a command in a node's namespace
                                        (alice, dave, bob, carol, dns, r1, r2, ...)
  impair <path> [--delay 20ms] [--jitter 5ms] [--loss 1%] [--reorder 2%]
                [--duplicate 1%] [--rate 100mbit]
  impair <path> --clear                 plain kernel forwarding again
  link <host> <path> up|down            take a host's link on a path down or up

--prefix P   names the lab (namespaces P-alice, P-r1, ...); default '${DEFAULT_PREFIX}'.
Impairment replaces the path's previous one and applies to each direction on its own:
--delay 20ms adds 20 ms one way, 40 ms to a round trip; --loss 1% drops 1% each way.
'up' starts the namestack daemon ('namestack host') on alice and carol; --no-daemons
leaves them without one (for a stack of your own on their TUNs).
`;

export function formatImpairment(imp: PathImpairment): string {
  const parts: string[] = [];
  if (imp.delayMs) parts.push(`delay ${imp.delayMs}ms`);
  if (imp.jitterMs) parts.push(`jitter ${imp.jitterMs}ms`);
  if (imp.lossRate) parts.push(`loss ${+(imp.lossRate * 100).toFixed(4)}%`);
  if (imp.reorderRate) parts.push(`reorder ${+(imp.reorderRate * 100).toFixed(4)}%`);
  if (imp.duplicateRate) parts.push(`duplicate ${+(imp.duplicateRate * 100).toFixed(4)}%`);
  if (imp.rateBitsPerSecond) parts.push(`rate ${formatRate(imp.rateBitsPerSecond)}`);
  return parts.length ? parts.join(' ') : 'none';
}

function formatRate(bits: number): string {
  for (const [unit, f] of [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) if (bits >= f) return `${+(bits / f).toFixed(3)}${unit}`;
  return `${bits}bit`;
}

function formatStatus(s: LabStatusUp): string {
  const out: string[] = [];
  out.push(`lab ${s.prefix}: up${s.problems.length ? '' : ', healthy'}; zone ${s.zone}; state in ${s.stateDir}`);
  for (const p of s.problems) out.push(`  problem: ${p}`);
  out.push(`dns: dnsmasq pid ${s.dns.pid} in ${s.dns.namespace}; nameservers ${s.nameservers.map((n) => `${n.ipv4} ${n.ipv6} (${n.path})`).join(', ')}`);
  out.push('');
  const rows = [['host', 'role', 'namespace', 'path', 'ipv4', 'ipv6', 'link']];
  for (const h of Object.values(s.hosts)) {
    for (const a of h.addresses) rows.push([h.name, h.role, h.namespace, a.path, a.ipv4, a.ipv6, a.linkUp ? 'up' : 'DOWN']);
  }
  out.push(...table(rows));
  for (const h of Object.values(s.hosts)) {
    if (h.role !== 'namestack') continue;
    const daemon = h.daemon ? `pid ${h.daemon.pid}${h.daemon.running ? '' : ' (not running)'}` : 'not started';
    out.push(`${h.name}: control socket ${h.controlSocket}, config ${h.configFile}, daemon ${daemon}`);
  }
  out.push('');
  const prow = [['path', 'router', 'impairment', 'relay']];
  for (const p of Object.values(s.paths)) {
    const relay = p.relay ? `pid ${p.relay.pid}${p.relay.running ? '' : ' (dead)'}${p.diverted ? '' : ', idle'}` : '-';
    prow.push([p.name, p.router, formatImpairment(p.impairment), relay]);
  }
  out.push(...table(prow));
  return out.join('\n') + '\n';
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

function daemonCommand(): string[] {
  return cliCommand('host');
}

export async function run(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const rest = dash >= 0 ? argv.slice(dash + 1) : [];
  const { values, positionals } = parseArgs({
    args: own,
    allowPositionals: true,
    options: {
      prefix: { type: 'string', default: DEFAULT_PREFIX },
      json: { type: 'boolean', default: false },
      paths: { type: 'string' },
      'no-daemons': { type: 'boolean', default: false },
      delay: { type: 'string' },
      jitter: { type: 'string' },
      loss: { type: 'string' },
      reorder: { type: 'string' },
      duplicate: { type: 'string' },
      rate: { type: 'string' },
      clear: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [sub, ...args] = positionals;
  const prefix = values.prefix!;
  if (values.help || sub === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  switch (sub) {
    case 'up': {
      const status = await labUp({
        prefix,
        ...(values.paths ? { paths: Number(values.paths) } : {}),
        ...(values['no-daemons'] ? {} : { daemon: daemonCommand() }),
      });
      process.stdout.write(values.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
      return 0;
    }
    case 'down':
      await labDown(prefix);
      return 0;
    case 'status': {
      const status = await labStatus(prefix);
      if (values.json) process.stdout.write(JSON.stringify(status, null, 2) + '\n');
      else if (status.up) process.stdout.write(formatStatus(status));
      else process.stdout.write(`lab ${prefix}: down${status.leftovers.length ? `; leftover namespaces: ${status.leftovers.join(' ')}` : ''}\n`);
      return status.up ? 0 : 3;
    }
    case 'exec': {
      if (args.length !== 1 || rest.length === 0) break;
      // Interactive use: the command gets our terminal and its exit status becomes ours.
      const child = labSpawn(prefix, args[0]!, rest, { stdio: 'inherit' });
      return await new Promise<number>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
      });
    }
    case 'impair': {
      if (args.length !== 1) break;
      if (values.clear) {
        await impairPath(prefix, args[0]!, null);
        process.stdout.write(`${args[0]}: none\n`);
        return 0;
      }
      const imp: Partial<PathImpairment> = {};
      if (values.delay !== undefined) imp.delayMs = parseDuration(values.delay);
      if (values.jitter !== undefined) imp.jitterMs = parseDuration(values.jitter);
      if (values.loss !== undefined) imp.lossRate = parsePercent(values.loss);
      if (values.reorder !== undefined) imp.reorderRate = parsePercent(values.reorder);
      if (values.duplicate !== undefined) imp.duplicateRate = parsePercent(values.duplicate);
      if (values.rate !== undefined) imp.rateBitsPerSecond = parseRate(values.rate);
      if (Object.keys(imp).length === 0) break;
      const applied = await impairPath(prefix, args[0]!, imp);
      process.stdout.write(`${args[0]}: ${formatImpairment(applied)}\n`);
      return 0;
    }
    case 'link': {
      const [host, path, state] = args;
      if (args.length !== 3 || (state !== 'up' && state !== 'down')) break;
      await setLink(prefix, host!, path!, state === 'up');
      return 0;
    }
    default:
      if (sub !== undefined) process.stderr.write(`namestack lab: unknown subcommand '${sub}'\n`);
  }
  process.stderr.write(USAGE);
  return 2;
}
