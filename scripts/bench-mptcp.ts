// MPTCP throughput, scheduling and failover, namestack against the Linux kernel, measured in
// the same run on the same two lab paths (docs/lab.md), bob's kernel MPTCP the far end of both:
//
//   kernel:    dave (mptcpize run iperf3 -c)   <-> bob (mptcpize run iperf3 -s)
//   namestack: alice (perf engine on namestack's MptcpLayer, in this process) <-> bob (same)
//
// Figures (issue 5 item 6):
//   1. p1 and p2 limited to 200 Mbit/s each (tbf): aggregate vs the 400 Mbit/s sum and vs kernel;
//   2. heterogeneous: p1 100 Mbit/s at 10 ms RTT, p2 50 Mbit/s at 60 ms RTT with 0.5% loss
//      each way: every namestack scheduler vs the kernel;
//   3. failover on the 200 Mbit/s paths: the client's p1 link goes down mid-transfer
//      (setLink); the longest receiver goodput stall from bob's iperf3 intervals (0.1 s), and
//      bytes lost from a separate SHA-256-checked transfer (transfer-peer.ts) cut the same way;
//   4. unlimited paths: throughput vs kernel MPTCP.
// Every kernel end runs CUBIC (-C cubic; this machine's default is BBR). namestack runs its
// defaults (LIA coupled congestion control) unless a scheduler is named.
// bob's MPTcpExt counters (/proc/net/netstat) are read around every run, so a row that fell
// back to plain TCP or ran on one subflow shows it.
//
// Run: npx tsc -p tsconfig.json && scripts/bench-mptcp [--seconds 5] [--prefix bmp] [--record] [--keep]

import { appendFileSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readConfigFile } from '../apps/host/config.js';
import { startHostDaemon } from '../apps/host/daemon.js';
import { createLogger } from '../apps/host/log.js';
import { NO_TRANSPORT } from '../apps/host/transport.js';
import { attachNamestackLink, impairPath, labDown, labExec, labSpawn, labStatus, labUp, setLink, type LabStatusUp } from '../apps/lab/lab.js';
import { startTransferPeer } from '../apps/lab/transfer-peer.js';
import { runClient } from '../apps/perf/client.js';
import { DEFAULT_SETTINGS } from '../apps/perf/protocol.js';
import type { PerfReport } from '../apps/perf/report.js';
import { namestackTransport } from '../apps/perf/stack-transport.js';
import type { PerfTransport } from '../apps/perf/transport.js';
import { DEFAULT_CONFIG, type MptcpCongestionControl, type MptcpConfig, type MptcpSchedulerName } from '../stack/config.js';
import { MptcpLayer } from '../stack/mptcp/layer.js';
import { SCHEDULER_NAMES } from '../stack/mptcp/scheduler.js';
import { formatMptcpStats, mptcpConnectionStats } from '../stack/mptcp/stats.js';
import { TcpLayer } from '../stack/tcp/layer.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PORT = 5201;
const TRANSFER_PORT = 5301;
const CONGESTION = 'cubic';
/** bob's iperf3 reports receiver goodput every this many seconds (the stall resolution). */
const INTERVAL_S = 0.1;
const PATHS = ['p1', 'p2'] as const;
const PARTS = ['2x200', 'hetero', 'unlimited', 'failover'] as const;
const HELP = `scripts/bench-mptcp [options]   (root; npx tsc -p tsconfig.json first)
  --seconds N        length of every iperf3 test (default 5)
  --part P           run only this part (repeatable): ${PARTS.join(', ')}
  --scheduler S      hetero part: only this namestack scheduler (repeatable): ${SCHEDULER_NAMES.join(', ')}
  --prefix P         lab prefix (default bmp); --keep leaves the lab up
  --record           append the table to docs/BENCHMARKS.md (whole bench only)
`;

type Outcome = { ok: true; mbps: number; note: string } | { ok: false; why: string };

function log(line: string): void {
  process.stderr.write(`bench-mptcp: ${line}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `p`, or a rejection naming `what` after `ms` (a stuck transfer must not stop the run). */
function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** bob's MPTcpExt counters (the kernel's view: MP_CAPABLE and MP_JOIN seen as server). */
async function bobMptcpCounters(prefix: string): Promise<Record<string, number>> {
  const r = await labExec(prefix, 'bob', ['cat', '/proc/net/netstat']);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('MPTcpExt:'));
  const out: Record<string, number> = {};
  if (lines.length < 2) return out;
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1);
  names.forEach((n, i) => (out[n] = Number(values[i])));
  return out;
}

function counterNote(before: Record<string, number>, after: Record<string, number>): string {
  const d = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
  return `bob saw MP_CAPABLE SYN ${d('MPCapableSYNRX')}, MP_JOIN ACK ${d('MPJoinAckRx')}, fallbacks ${d('MPCapableFallbackACK') + d('MPCapableFallbackSYNACK')}`;
}

interface Iperf3Server {
  report: Promise<PerfReport>;
  stop(): Promise<void>;
}

/** `mptcpize run iperf3 -s -1 -J` on bob, once it listens. */
async function iperf3ServerOnBob(prefix: string): Promise<Iperf3Server> {
  const child = labSpawn(prefix, 'bob', ['mptcpize', 'run', 'iperf3', '-s', '-1', '-J', '-i', String(INTERVAL_S), '-p', String(PORT)], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const report = exited.then(() => {
    try {
      return JSON.parse(out) as PerfReport;
    } catch {
      throw new Error(`iperf3 -s on bob printed no JSON: ${out.slice(0, 200)}`);
    }
  });
  report.catch(() => {});
  // iperf3 -s -1 writes its JSON after the client's end; a client that failed never comes.
  const stop = async (): Promise<void> => {
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill();
    return exited;
  };
  for (let i = 0; i < 200; i++) {
    const ss = await labExec(prefix, 'bob', ['ss', '-Hltn', `sport = :${PORT}`]);
    if (ss.stdout.trim() !== '') return { report, stop };
    await sleep(25);
  }
  await stop();
  throw new Error('iperf3 -s on bob did not listen');
}

function bobAddress(status: LabStatusUp, path = 'p1'): string {
  return status.hosts.bob!.addresses.find((a) => a.path === path)!.ipv4;
}

/** Alice's namestack stack in this process, with an MptcpLayer for the perf engine. */
interface Alice {
  transport: PerfTransport;
  mptcp: MptcpLayer;
  stop(): Promise<void>;
}

async function startAlice(status: LabStatusUp): Promise<Alice> {
  const alice = status.hosts.alice!;
  if (alice.daemon?.running) throw new Error(`alice in lab '${status.prefix}' runs a daemon: use another --prefix`);
  const config = readConfigFile(alice.configFile!);
  config.control = join(tmpdir(), `bench-mptcp-${process.pid}.sock`);
  for (const link of config.links) link.netns = alice.namespace;
  let parts: { transport: PerfTransport; mptcp: MptcpLayer } | undefined;
  const daemon = await startHostDaemon(config, {
    log: createLogger('error'),
    transport: (host, runtime) => {
      const tcp = new TcpLayer(host);
      const mptcp = new MptcpLayer(host, tcp);
      parts = { mptcp, transport: namestackTransport({ tcp, now: () => runtime.now(), kick: () => runtime.kick() }, mptcp) };
      return NO_TRANSPORT;
    },
  });
  try {
    for (const [i, a] of alice.addresses.entries()) await attachNamestackLink(status.prefix, 'alice', a.path, config.links[i]!.tun);
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  return { ...parts!, stop: () => daemon.stop() };
}

/**
 * Paths whose relay stopped passing packets (dave pings bob over each). The lab relay (apps/lab/
 * relay.ts, a node process with one poll worker per TUN) has been seen to stop reading one of
 * its TUNs under load: one poll thread left in /proc/<pid>/task, the router's qdisc sending
 * into the TUN, the TUN's TX counter and the relay's `offered` frozen. Every connection on the
 * path then hangs, kernel and namestack alike.
 */
async function stalledRelays(status: LabStatusUp): Promise<string[]> {
  const out: string[] = [];
  for (const p of PATHS) {
    const r = await labExec(status.prefix, 'dave', ['ping', '-c', '3', '-i', '0.2', '-W', '1', bobAddress(status, p)]).catch(() => ({ stdout: '' }));
    if (!/ [1-3] received/.test(r.stdout)) out.push(p);
  }
  return out;
}

/** Restarts the relays of `paths` (stopped here; impairPath starts a new one) under `impairment`. */
async function restartRelays(status: LabStatusUp, impairments: Record<string, Parameters<typeof impairPath>[2]>, paths: string[]): Promise<void> {
  const now = await labStatus(status.prefix);
  for (const p of paths) {
    const pid = now.up ? now.paths[p]?.relay?.pid : undefined;
    if (pid) process.kill(pid, 'SIGKILL');
    await sleep(200);
    await impairPath(status.prefix, p, impairments[p] ?? null);
  }
}

/** What a stuck namestack run looked like: alice's MPTCP connections (ss -Mi form) and bob's ss -Mti. */
async function dumpState(prefix: string, alice: Alice): Promise<void> {
  for (const c of alice.mptcp.connections()) log(`alice: ${formatMptcpStats(mptcpConnectionStats(c))}`);
  const ss = await labExec(prefix, 'bob', ['ss', '-Mtin']).catch((e: Error) => ({ stdout: e.message }));
  log(`bob ss -Mtin:\n${ss.stdout}`);
}

interface Run {
  client: PerfReport;
  server: PerfReport;
  note: string;
}

/** One iperf3 test to bob from dave (kernel) or alice (namestack); `during` runs alongside. */
async function iperfRun(status: LabStatusUp, who: 'kernel' | Alice, seconds: number, during?: () => Promise<void>): Promise<Run> {
  const before = await bobMptcpCounters(status.prefix);
  const server = await iperf3ServerOnBob(status.prefix);
  let client: PerfReport;
  try {
    const side = during?.();
    if (who === 'kernel') {
      const r = await labExec(status.prefix, 'dave', ['mptcpize', 'run', 'iperf3', '-c', bobAddress(status), '-p', String(PORT), '-t', String(seconds), '-C', CONGESTION, '-J'], {
        timeoutMs: (seconds + 30) * 1000,
      });
      client = JSON.parse(r.stdout) as PerfReport;
    } else {
      const run = runClient({ host: bobAddress(status), port: PORT, transport: who.transport, settings: { ...DEFAULT_SETTINGS, durationSeconds: seconds, congestion: CONGESTION } });
      client = await within('the namestack iperf3 client', (seconds + 20) * 1000, run).catch(async (e: unknown) => {
        await dumpState(status.prefix, who);
        throw e;
      });
    }
    await side;
  } finally {
    await server.stop();
  }
  if (client.error || !client.end) throw new Error(`client: ${client.error ?? 'no result'}`);
  const serverReport = await server.report;
  return { client, server: serverReport, note: counterNote(before, await bobMptcpCounters(status.prefix)) };
}

function mbps(run: Run): number {
  return run.client.end!.sum_received.bits_per_second / 1e6;
}

async function attempt(what: string, f: () => Promise<Outcome & { ok: true }>): Promise<Outcome> {
  try {
    const o = await f();
    log(`${what}: ${o.mbps.toFixed(1)} (${o.note})`);
    return o;
  } catch (err) {
    const why = (err as Error).message.split('\n')[0]!;
    log(`${what}: not measured: ${why}`);
    return { ok: false, why };
  }
}

async function throughput(status: LabStatusUp, who: 'kernel' | Alice, seconds: number): Promise<Outcome & { ok: true }> {
  const run = await iperfRun(status, who, seconds);
  return { ok: true, mbps: mbps(run), note: run.note };
}

/** Sets the scheduler of the connections alice opens from now on (MptcpLayer reads config.mptcp at connect). */
function useScheduler(alice: Alice, name: MptcpSchedulerName): void {
  (alice.mptcp.config as MptcpConfig).scheduler = name;
}

function useCongestion(alice: Alice, name: MptcpCongestionControl): void {
  (alice.mptcp.config as MptcpConfig).congestionControl = name;
}

/**
 * The longest stretch after `cutAt` seconds in which bob's receiver goodput stayed under a
 * tenth of its median before the cut (s, at INTERVAL_S resolution).
 */
function longestStall(server: PerfReport, cutAt: number): number {
  const iv = server.intervals.map((i) => ({ start: i.sum.start, end: i.sum.end, bps: i.sum.bits_per_second }));
  const before = iv.filter((i) => i.end <= cutAt).map((i) => i.bps).sort((a, b) => a - b);
  if (before.length === 0) throw new Error('no interval before the cut');
  const threshold = before[Math.floor(before.length / 2)]! / 10;
  let longest = 0;
  let run = 0;
  for (const i of iv.filter((x) => x.end > cutAt)) {
    if (i.bps < threshold) run += i.end - i.start;
    else run = 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

async function cutLater(prefix: string, host: string, ms: number): Promise<void> {
  await sleep(ms);
  await setLink(prefix, host, 'p1', false);
}

/** Failover stall: an iperf3 test whose client loses p1 halfway. */
async function failoverStall(status: LabStatusUp, who: 'kernel' | Alice, seconds: number): Promise<{ stall: number; note: string }> {
  const host = who === 'kernel' ? 'dave' : 'alice';
  const cutAt = seconds / 2;
  try {
    // The client's test starts ~0.1 s after the server listens; the interval clock is bob's.
    const run = await iperfRun(status, who, seconds, () => cutLater(status.prefix, host, cutAt * 1000));
    return { stall: longestStall(run.server, cutAt + 0.2), note: `${mbps(run).toFixed(1)} Mbit/s overall; ${run.note}` };
  } finally {
    await setLink(status.prefix, host, 'p1', true);
  }
}

/**
 * Bytes lost: a SHA-256-checked transfer of `size` bytes each way between the client and bob,
 * the client's p1 cut mid-way. Both ends send (a peer that half-closed at once would keep
 * namestack from joining: no new subflows after a DATA_FIN either way), so both directions
 * cross the cut; lost = sent - received summed over both.
 */
async function failoverLoss(status: LabStatusUp, who: 'kernel' | Alice, size: number, cutMs: number): Promise<string> {
  const host = who === 'kernel' ? 'dave' : 'alice';
  const bob = startTransferPeer(status.prefix, 'bob', { role: 'server', protocol: 'mptcp', host: '0.0.0.0', port: TRANSFER_PORT, size });
  try {
    await bob.ready;
    const cut = cutLater(status.prefix, host, cutMs);
    let ours: { sent: number; sentSha256: string; received: number; receivedSha256: string };
    if (who === 'kernel') {
      const dave = startTransferPeer(status.prefix, 'dave', { role: 'client', protocol: 'mptcp', host: bobAddress(status), port: TRANSFER_PORT, size });
      ours = await within("dave's transfer peer", 60_000, dave.done);
    } else {
      const payload = randomBytes(size);
      const socket = await who.transport.connect(bobAddress(status), TRANSFER_PORT);
      const h = createHash('sha256');
      let received = 0;
      const done = new Promise<void>((resolve, reject) => {
        socket.on('data', (d: Buffer) => {
          h.update(d);
          received += d.length;
        });
        socket.once('end', () => resolve());
        socket.once('error', reject);
      });
      socket.end(payload);
      await within('the namestack transfer', 60_000, done).finally(() => socket.destroy());
      ours = { sent: size, sentSha256: createHash('sha256').update(payload).digest('hex'), received, receivedSha256: h.digest('hex') };
    }
    await cut;
    const r = await within("bob's transfer peer", 60_000, bob.done).catch(async (e: unknown) => {
      if (who !== 'kernel') await dumpState(status.prefix, who);
      throw e;
    });
    const lost = ours.sent - r.received + (r.sent - ours.received);
    const same = r.receivedSha256 === ours.sentSha256 && ours.receivedSha256 === r.sentSha256;
    return `${lost} (each way ${size}; bob received ${r.received}, ${host} received ${ours.received}; SHA-256 ${same ? 'equal both ways' : 'DIFFERENT'})`;
  } finally {
    bob.child.kill();
    await setLink(status.prefix, host, 'p1', true);
  }
}

async function safe<T>(what: string, f: () => Promise<T>): Promise<T | { error: string }> {
  try {
    const v = await f();
    log(`${what}: ${JSON.stringify(v)}`);
    return v;
  } catch (err) {
    const error = (err as Error).message.split('\n')[0]!;
    log(`${what}: not measured: ${error}`);
    return { error };
  }
}

const cell = (o: Outcome): string => (o.ok ? o.mbps.toFixed(1) : `not measured (${o.why})`);
const ratio = (a: Outcome, b: Outcome | number): string => {
  const d = typeof b === 'number' ? b : b.ok ? b.mbps : NaN;
  return a.ok && Number.isFinite(d) && d > 0 ? (a.mbps / d).toFixed(2) : 'n/a';
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      prefix: { type: 'string', default: 'bmp' },
      record: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      part: { type: 'string', multiple: true },
      scheduler: { type: 'string', multiple: true },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const parts = new Set<string>(values.part ?? PARTS);
  for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`--part must be one of ${PARTS.join(', ')}`);
  const schedulers = (values.scheduler ?? SCHEDULER_NAMES) as MptcpSchedulerName[];
  for (const s of schedulers) if (!SCHEDULER_NAMES.includes(s)) throw new Error(`--scheduler must be one of ${SCHEDULER_NAMES.join(', ')}`);
  if (values.record && (values.part || values.scheduler)) throw new Error('--record needs the whole bench (no --part, no --scheduler)');
  const seconds = Number(values.seconds);
  if (!Number.isInteger(seconds) || seconds < 2 || seconds > 600) throw new Error('--seconds must be 2..600');
  const prefix = values.prefix!;
  const wasUp = (await labStatus(prefix)).up;
  const status = await labUp({ prefix });
  // A run killed during failover leaves a client link down; every figure needs both paths.
  for (const host of ['alice', 'dave']) for (const p of PATHS) await setLink(prefix, host, p, true);
  const alice = await startAlice(status);
  const lines: string[] = [];
  const notes: string[] = [];
  const clear = async (): Promise<void> => {
    for (const p of PATHS) await impairPath(prefix, p, null);
  };
  try {
    lines.push('| figure | kernel dave<->bob | namestack alice<->bob | namestack / kernel | other |', '|---|---:|---:|---:|---|');
    // 1. two paths at 200 Mbit/s each
    if (parts.has('2x200')) {
    for (const p of PATHS) await impairPath(prefix, p, { rateBitsPerSecond: 200e6 });
    const k200 = await attempt('kernel 2x200', () => throughput(status, 'kernel', seconds));
    useScheduler(alice, 'default');
    const n200 = await attempt('namestack 2x200', () => throughput(status, alice, seconds));
    // The kernel couples nothing (CUBIC per subflow): the same for namestack, for comparison.
    useCongestion(alice, 'uncoupled');
    const u200 = await attempt('namestack 2x200 uncoupled', () => throughput(status, alice, seconds));
    useCongestion(alice, DEFAULT_CONFIG.mptcp.congestionControl);
    lines.push(
      `| 2 paths x 200 Mbit/s, Mbit/s | ${cell(k200)} | ${cell(n200)} | ${ratio(n200, k200)} | of the 400 sum: kernel ${ratio(k200, 400)}, namestack ${ratio(n200, 400)} (floor 0.95) |`,
      `| 2 paths x 200 Mbit/s, namestack uncoupled CUBIC (as the kernel), Mbit/s | ${cell(k200)} | ${cell(u200)} | ${ratio(u200, k200)} | of the 400 sum: namestack ${ratio(u200, 400)} |`,
    );
    for (const [w, o] of [['kernel', k200], ['namestack', n200], ['namestack uncoupled', u200]] as const) if (o.ok) notes.push(`- 2x200 ${w}: ${o.note}`);
    }

    // 2. heterogeneous paths
    if (parts.has('hetero')) {
    const hetero = { p1: { rateBitsPerSecond: 100e6, delayMs: 5 }, p2: { rateBitsPerSecond: 50e6, delayMs: 30, lossRate: 0.005 } };
    for (const p of PATHS) await impairPath(prefix, p, hetero[p]);
    // A stalled relay hangs whatever runs next: check before every run, restart and say so.
    const healthy = async (what: string): Promise<void> => {
      const bad = await stalledRelays(status);
      if (bad.length === 0) return;
      log(`${what}: the relay of ${bad.join(', ')} passes nothing (stalled); restarting it`);
      notes.push(`- relay of ${bad.join(', ')} found stalled after ${what} (restarted)`);
      await restartRelays(status, hetero, bad);
    };
    await healthy('setting up the heterogeneous paths');
    const kh = await attempt('kernel hetero', () => throughput(status, 'kernel', seconds));
    await healthy('kernel hetero');
    const nh: [string, Outcome][] = [];
    for (const s of schedulers) {
      useScheduler(alice, s);
      nh.push([s, await attempt(`namestack hetero ${s}`, () => throughput(status, alice, seconds))]);
      await healthy(`namestack hetero ${s}`);
    }
    useScheduler(alice, 'default');
    for (const [s, o] of nh) {
      lines.push(`| heterogeneous (100M/10ms + 50M/60ms 0.5% loss), scheduler ${s}, Mbit/s | ${cell(kh)} | ${cell(o)} | ${ratio(o, kh)} | of the 150 sum: ${ratio(o, 150)} |`);
      if (o.ok) notes.push(`- heterogeneous ${s}: ${o.note}`);
    }
    if (kh.ok) notes.push(`- heterogeneous kernel: ${kh.note}`);
    }

    // 4. unlimited
    await clear();
    if (parts.has('unlimited')) {
    const ku = await attempt('kernel unlimited', () => throughput(status, 'kernel', seconds));
    const nu = await attempt('namestack unlimited', () => throughput(status, alice, seconds));
    lines.push(`| unlimited paths, Mbit/s | ${cell(ku)} | ${cell(nu)} | ${ratio(nu, ku)} | |`);
    for (const [w, o] of [['kernel', ku], ['namestack', nu]] as const) if (o.ok) notes.push(`- unlimited ${w}: ${o.note}`);
    }
    // 3. failover last (a connection that never recovers must not weigh on the other figures),
    // on the 200 Mbit/s paths again; links restored after each
    if (parts.has('failover')) {
    for (const p of PATHS) await impairPath(prefix, p, { rateBitsPerSecond: 200e6 });
    const fk = await safe('kernel failover stall', () => failoverStall(status, 'kernel', seconds));
    const fn = await safe('namestack failover stall', () => failoverStall(status, alice, seconds));
    const size = 64 * 1024 * 1024;
    const lk = await safe('kernel failover bytes lost', () => failoverLoss(status, 'kernel', size, 600));
    const ln = await safe('namestack failover bytes lost', () => failoverLoss(status, alice, size, 600));
    const stall = (v: { stall: number } | { error: string }): string => ('error' in v ? `not measured (${v.error})` : v.stall.toFixed(1));
    const str = (v: string | { error: string }): string => (typeof v === 'string' ? v : `not measured (${v.error})`);
    lines.push(
      `| failover: longest goodput stall after p1 dies, s (floor < 1) | ${stall(fk)} | ${stall(fn)} | | 0.1 s intervals at bob; < 10% of the pre-cut median counts as stalled |`,
      `| failover: bytes lost (must be 0), 64 MiB each way | ${str(lk)} | ${str(ln)} | | |`,
    );
    for (const [w, v] of [['kernel', fk], ['namestack', fn]] as const) if (!('error' in v)) notes.push(`- failover ${w}: ${v.note}`);
    }

  } finally {
    await alice.stop();
    await clear().catch(() => undefined);
    if (!wasUp && !values.keep) await labDown(prefix);
  }

  const machine = `nproc ${cpus().length}, Linux ${release()}, Node ${process.version}`;
  const date = new Date().toISOString();
  const body = [...lines, '', ...notes].join('\n');
  process.stdout.write(body + '\n');
  if (values.record) {
    appendFileSync(
      join(ROOT, 'docs', 'BENCHMARKS.md'),
      [
        '',
        `## MPTCP vs kernel MPTCP (scripts/bench-mptcp), ${date.slice(0, 10)}`,
        '',
        `Command: \`npx tsc -p tsconfig.json && scripts/bench-mptcp --seconds ${seconds} --record\` (root).`,
        `Date: ${date}. Machine: ${machine}. One run, each figure a single ${seconds} s iperf3 test`,
        'client -> bob (bob under `mptcpize run iperf3 -s`), dave as kernel client under `mptcpize run',
        "iperf3 -C cubic`, alice as namestack's MptcpLayer in the benchmark's process (LIA, scheduler",
        "as named, 'default' elsewhere). Rates are tbf on the routers (both directions), delay and loss",
        "the lab relay, per direction (so 10 ms RTT = 5 ms each way). Failover: the client's p1 link",
        'is set down half-way through the test (setLink) and restored after it.',
        '',
        body,
        '',
      ].join('\n'),
    );
    log('appended to docs/BENCHMARKS.md');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-mptcp: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
