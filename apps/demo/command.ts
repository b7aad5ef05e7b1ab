// `namestack demo`: the README's main job. Brings up the embedded lab, runs each step with
// readable progress, tears the lab down, and exits non-zero if any step failed.

import { createHash, randomBytes } from 'node:crypto';
import { labDown, labExec, labUp, type LabStatusUp } from '../lab/lab.js';
import { streamThroughDaemon } from '../lab/namestack-transfer.js';
import { startTransferPeer } from '../lab/transfer-peer.js';
import { NAME_STEPS } from './name-steps.js';
import { PATH_STEPS } from './path-steps.js';
import { cliCommand } from '../node-command.js';

interface DemoContext {
  prefix: string;
  lab: LabStatusUp;
}

interface Step {
  title: string;
  /** Returns a short line of what was shown; throws when the step fails. */
  run(ctx: DemoContext): Promise<string>;
}

const USAGE = `usage: namestack demo [--prefix P] [--keep]

Brings up the embedded lab (namestack lab up --prefix P, default 'demo'), runs the demo
steps, then tears the lab down (unless --keep). Exit status 0 when every step passed.
`;

function addressOf(lab: LabStatusUp, host: string, path: string, family: 4 | 6): string {
  const a = lab.hosts[host]?.addresses.find((x) => x.path === path);
  if (!a) throw new Error(`the lab has no ${host} on ${path}`);
  return family === 4 ? a.ipv4 : a.ipv6;
}

async function expectPing(ctx: DemoContext, from: string, src: string, dst: string): Promise<number> {
  const r = await labExec(ctx.prefix, from, ['ping', '-n', '-c', '2', '-i', '0.05', '-W', '2', '-I', src, dst]);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
  if (r.code !== 0 || !rtt) throw new Error(`${from} could not ping ${dst} from ${src}: ${r.stdout.trim() || r.stderr.trim()}`);
  return Number(rtt[1]);
}

async function nstatCounter(ctx: DemoContext, node: string, name: string): Promise<number> {
  const r = await labExec(ctx.prefix, node, ['nstat', '-az', name]);
  return Number(new RegExp(`${name}\\s+(\\d+)`).exec(r.stdout)?.[1] ?? 0);
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A transfer both ways at once between a namestack host (through its daemon) and a kernel server. */
async function namestackToKernel(ctx: DemoContext, from: string, to: string, dst: string, port: number, size: number): Promise<string> {
  const server = startTransferPeer(ctx.prefix, to, { role: 'server', protocol: 'mptcp', host: dst.includes(':') ? '::' : '0.0.0.0', port, size });
  await server.ready;
  const payload = randomBytes(size);
  const control = ctx.lab.hosts[from]?.controlSocket;
  if (!control) throw new Error(`${from} has no namestack daemon`);
  const [received, report] = await Promise.all([streamThroughDaemon(control, dst, port, payload), server.done]);
  if (report.received !== size || report.receivedSha256 !== sha256(payload)) throw new Error(`${from} -> ${to}: ${to} received ${report.received} bytes, SHA-256 differs`);
  if (received.length !== report.sent || sha256(received) !== report.sentSha256) throw new Error(`${to} -> ${from}: ${from} received ${received.length} bytes, SHA-256 differs`);
  return `${size + received.length} bytes, SHA-256 equal both ways`;
}

const STEPS: Step[] = [
  {
    title: 'paths: dave reaches bob on every path, IPv4 and IPv6',
    async run(ctx) {
      const rtts: string[] = [];
      for (const path of Object.keys(ctx.lab.paths)) {
        for (const family of [4, 6] as const) {
          const rtt = await expectPing(ctx, 'dave', addressOf(ctx.lab, 'dave', path, family), addressOf(ctx.lab, 'bob', path, family));
          rtts.push(`${path}/v${family} ${rtt.toFixed(2)} ms`);
        }
      }
      return rtts.join(', ');
    },
  },
  {
    title: 'DNS: bob.lab.test resolves to all of bob\'s addresses',
    async run(ctx) {
      const r = await labExec(ctx.prefix, 'dave', ['getent', 'ahosts', 'bob.lab.test']);
      const found = new Set(r.stdout.split('\n').map((l) => l.split(/\s+/)[0]).filter(Boolean));
      const want = Object.keys(ctx.lab.paths).flatMap((p) => [addressOf(ctx.lab, 'bob', p, 4), addressOf(ctx.lab, 'bob', p, 6)]);
      const missing = want.filter((a) => !found.has(a));
      if (missing.length) throw new Error(`bob.lab.test lacks ${missing.join(', ')}`);
      return `${want.length} addresses`;
    },
  },
  {
    title: 'kernel reference: MPTCP dave <-> bob, 4 MB each way, SHA-256 checked',
    async run(ctx) {
      const size = 4 << 20;
      const port = 7001;
      const joinsBefore = await nstatCounter(ctx, 'bob', 'MPTcpExtMPJoinAckRx');
      const server = startTransferPeer(ctx.prefix, 'bob', { role: 'server', protocol: 'mptcp', host: '::', port, size });
      await server.ready;
      const client = startTransferPeer(ctx.prefix, 'dave', {
        role: 'client',
        protocol: 'mptcp',
        host: addressOf(ctx.lab, 'bob', 'p1', 4),
        port,
        size,
      });
      const [c, s] = await Promise.all([client.done, server.done]);
      if (c.sent !== s.received || c.sentSha256 !== s.receivedSha256) throw new Error('dave -> bob bytes differ');
      if (s.sent !== c.received || s.sentSha256 !== c.receivedSha256) throw new Error('bob -> dave bytes differ');
      const joins = (await nstatCounter(ctx, 'bob', 'MPTcpExtMPJoinAckRx')) - joinsBefore;
      if (joins < 1) throw new Error('the kernel opened no second subflow');
      return `${c.sent + c.received} bytes, SHA-256 equal, ${joins + 1} subflows`;
    },
  },
  {
    title: 'namestack: alice\'s stack answers bob\'s pings on every path, IPv4 and IPv6',
    async run(ctx) {
      const rtts: string[] = [];
      for (const path of Object.keys(ctx.lab.paths)) {
        for (const family of [4, 6] as const) {
          const rtt = await expectPing(ctx, 'bob', addressOf(ctx.lab, 'bob', path, family), addressOf(ctx.lab, 'alice', path, family));
          rtts.push(`${path}/v${family} ${rtt.toFixed(2)} ms`);
        }
      }
      return rtts.join(', ');
    },
  },
  {
    title: 'namestack TCP: alice <-> bob (kernel), 4 MB each way over IPv4 and IPv6, SHA-256 checked',
    async run(ctx) {
      const v4 = await namestackToKernel(ctx, 'alice', 'bob', addressOf(ctx.lab, 'bob', 'p1', 4), 7002, 4 << 20);
      const v6 = await namestackToKernel(ctx, 'alice', 'bob', addressOf(ctx.lab, 'bob', 'p2', 6), 7003, 4 << 20);
      return `IPv4: ${v4}; IPv6: ${v6}`;
    },
  },
  ...NAME_STEPS,
  ...PATH_STEPS,
];

/**
 * The daemon the lab starts on alice and carol: this program's own `host` command. P starts
 * at 5 (IPv6 preferred, its first attempt 50 ms ahead: thesis 5.2.1, a host's preference
 * for IPv6), so the name-based steps connect over IPv6, where names travel, and the Happy
 * Eyeballs step shows P learning from there.
 */
function daemonCommand(): string[] {
  return cliCommand('host', '--set', 'eyeballs.initialPreference=5');
}

export async function run(args: string[]): Promise<number> {
  let prefix = 'demo';
  let keep = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--prefix' && args[i + 1]) prefix = args[++i]!;
    else if (a === '--keep') keep = true;
    else {
      process.stderr.write(a === '--help' || a === '-h' ? '' : `namestack demo: unknown argument '${a}'\n`);
      process.stderr.write(USAGE);
      return a === '--help' || a === '-h' ? 0 : 2;
    }
  }
  const say = (line: string): boolean => process.stdout.write(line + '\n');
  const total = STEPS.length;
  let failed = 0;
  const started = Date.now();
  say(`namestack demo: bringing up the lab '${prefix}'...`);
  let lab: LabStatusUp;
  try {
    lab = await labUp({ prefix, daemon: daemonCommand() });
  } catch (err) {
    say(`  FAIL lab up: ${(err as Error).message}`);
    return 1;
  }
  say(`  lab up: ${Object.keys(lab.hosts).length} hosts, paths ${Object.keys(lab.paths).join(', ')}`);
  try {
    for (const [i, step] of STEPS.entries()) {
      const t0 = Date.now();
      say(`[${i + 1}/${total}] ${step.title}`);
      try {
        const detail = await step.run({ prefix, lab });
        say(`      ok   ${detail} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (err) {
        failed++;
        say(`      FAIL ${(err as Error).message}`);
      }
    }
  } finally {
    if (!keep) {
      say(`namestack demo: tearing down the lab '${prefix}'`);
      await labDown(prefix);
    }
  }
  say(`namestack demo: ${total - failed} of ${total} steps passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return failed === 0 ? 0 : 1;
}
