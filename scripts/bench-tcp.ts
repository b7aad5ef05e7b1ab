// TCP throughput and cost, namestack against the Linux kernel, measured in the same run on
// the same lab path (docs/lab.md) with iperf3's protocol on both:
//
//   kernel:    dave (iperf3 -c)            <-> bob (iperf3 -s)    kernel TCP at both ends
//   namestack: alice (namestack perf -c)   <-> bob (iperf3 -s)    namestack's TCP on alice
//
// Both directions (-R for bob -> client), on path p1 clean and with 1% loss each way and
// 20 ms RTT (10 ms delay each way, the lab's relay). Every kernel end runs CUBIC (iperf3 -C
// cubic; this machine's default is BBR, which ignores random loss), like namestack's default. Per row: receiver goodput in Gbit/s, the
// ratio namestack/kernel, and CPU seconds per GB moved at each end: iperf3's own
// cpu_utilization (user + system of its process) on kernel ends; on alice the CPU time of
// whatever runs the stack and the perf engine.
//
// Where alice's stack runs (--via):
//   in-process (default): this process runs the stack on alice's TUNs (the daemon's link
//     set-up, startHostDaemon, without its control server in the way) and the perf engine
//     on its TcpSockets: one process, like iperf3 on the kernel ends. Needs a lab whose alice
//     has no daemon (this script brings one up so).
//   daemon: the host daemon on alice runs the stack; the engine reaches it through the
//     control socket (a Unix-socket hop per byte). CPU = daemon + this process.
//
// Run: npx tsc -p tsconfig.json && scripts/bench-tcp [--seconds 5] [--prefix bench-tcp]
//      [--via in-process|daemon] [--repeat 3] [--record] [--keep] [--clean-only | --loss-only]
//      [--direction both|send|receive]
// Each cell is the median of --repeat runs, kernel and namestack alternating.
// --record appends a dated section to docs/BENCHMARKS.md; --keep leaves the lab up.

import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { impairPath, labDown, labExec, labStatus, labUp, type LabStatusUp } from '../apps/lab/lab.js';
import { runClient } from '../apps/perf/client.js';
import { controlTransport } from '../apps/perf/control-transport.js';
import { DEFAULT_SETTINGS } from '../apps/perf/protocol.js';
import type { PerfReport } from '../apps/perf/report.js';
import { namestackTransport } from '../apps/perf/stack-transport.js';
import type { PerfTransport } from '../apps/perf/transport.js';
import type { SocketDriver } from '../stack/socket/tcp-socket.js';
import { TcpLayer } from '../stack/tcp/layer.js';
import { bobAddress, flushTcpMetrics, iperf3ServerOnBob, startAliceInProcess, stealMeter } from './lib/lab-bench.js';
import { nodeCommand } from '../apps/node-command.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PORT = 5201;
const PATH = 'p1';
/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;
/** The kernel ends' congestion control: the issue compares against the kernel's CUBIC. */
const CONGESTION = 'cubic';

interface Condition {
  name: string;
  /** Per-direction impairment of path p1 (the lab applies it to each direction). */
  impairment: { delayMs: number; lossRate: number } | null;
  /** The floor for namestack/kernel on this condition. */
  floor: number;
}

const CONDITIONS: Condition[] = [
  { name: 'clean', impairment: null, floor: 0.5 },
  { name: '1% loss, 20 ms RTT', impairment: { delayMs: 10, lossRate: 0.01 }, floor: 0.8 },
];

interface Measurement {
  gbps: number;
  bytes: number;
  /** CPU seconds per GB moved at the sending and the receiving end. */
  senderCpuPerGB: number;
  receiverCpuPerGB: number;
  retransmits: number | undefined;
}

type Outcome = { ok: true; m: Measurement } | { ok: false; why: string };

interface Row {
  condition: Condition;
  direction: string;
  kernel: Outcome;
  namestack: Outcome;
}

function log(line: string): void {
  process.stderr.write(`bench-tcp: ${line}\n`);
}

function perGB(cpuSeconds: number, bytes: number): number {
  return bytes > 0 ? cpuSeconds / (bytes / 1e9) : NaN;
}

/** utime + stime of a process in seconds (proc(5)); fields counted after the command's closing paren. */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of the whole line are the 12th and 13th after the paren (state is the 1st).
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** dave -> bob (or bob -> dave with -R), iperf3 at both ends. */
async function kernelRun(status: LabStatusUp, seconds: number, reverse: boolean): Promise<Measurement> {
  await flushTcpMetrics(status.prefix);
  const server = await iperf3ServerOnBob(status.prefix, { port: PORT });
  let report: PerfReport;
  try {
    const client = await labExec(status.prefix, 'dave', ['iperf3', '-c', bobAddress(status, PATH), '-p', String(PORT), '-t', String(seconds), '-C', CONGESTION, '-J', ...(reverse ? ['-R'] : [])], {
      timeoutMs: (seconds + 30) * 1000,
    });
    report = JSON.parse(client.stdout) as PerfReport;
  } finally {
    await server.stop();
  }
  if (report.error || !report.end) throw new Error(`iperf3 -c on dave: ${report.error ?? 'no result'}`);
  // iperf3 reports CPU as a percentage of the test's wall time at each end.
  const cpu = report.end.cpu_utilization_percent;
  const duration = report.end.sum_sent.seconds;
  return measurement(report.end, (cpu.host_total / 100) * duration, (cpu.remote_total / 100) * duration, reverse);
}

/** A test's goodput and cost from its end section and the CPU seconds at each end. */
function measurement(end: NonNullable<PerfReport['end']>, clientCpu: number, serverCpu: number, reverse: boolean): Measurement {
  const bytes = end.sum_received.bytes;
  return {
    gbps: end.sum_received.bits_per_second / 1e9,
    bytes,
    senderCpuPerGB: perGB(reverse ? serverCpu : clientCpu, bytes),
    receiverCpuPerGB: perGB(reverse ? clientCpu : serverCpu, bytes),
    retransmits: end.sum_sent.retransmits,
  };
}

/** Alice's stack as the benchmark uses it: a transport and the CPU seconds it has used so far. */
interface AliceStack {
  via: 'in-process' | 'daemon';
  transport: PerfTransport;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * The stack on alice's TUNs in this process (scripts/lib/lab-bench.ts), the perf engine's
 * TcpSockets on its TcpLayer.
 */
async function inProcessStack(status: LabStatusUp): Promise<AliceStack> {
  const alice = await startAliceInProcess(status, 'bench-tcp', (host, runtime): SocketDriver => ({ tcp: new TcpLayer(host), now: () => runtime.now(), kick: () => runtime.kick() }));
  return { via: 'in-process', transport: namestackTransport(alice.parts), cpuSeconds: ownCpuSeconds, stop: alice.stop };
}

/** The host daemon on alice, through its control socket. */
function daemonStack(status: LabStatusUp): AliceStack {
  const alice = status.hosts.alice!;
  if (!alice.controlSocket || !alice.daemon?.running) throw new Error('no namestack daemon on alice');
  const pid = alice.daemon.pid;
  return {
    via: 'daemon',
    transport: controlTransport(alice.controlSocket),
    cpuSeconds: () => processCpuSeconds(pid) + ownCpuSeconds(),
    stop: async () => {},
  };
}

/** alice -> bob (or bob -> alice with -R): namestack perf on alice's stack, iperf3 on bob. */
async function namestackRun(status: LabStatusUp, alice: AliceStack, seconds: number, reverse: boolean): Promise<Measurement> {
  await flushTcpMetrics(status.prefix);
  const server = await iperf3ServerOnBob(status.prefix, { port: PORT });
  const cpu0 = alice.cpuSeconds();
  const report = await runClient({
    host: bobAddress(status, PATH),
    port: PORT,
    transport: alice.transport,
    // -C reaches bob's iperf3, which sends with it in -R.
    settings: { ...DEFAULT_SETTINGS, durationSeconds: seconds, reverse, congestion: CONGESTION },
  });
  const aliceCpu = alice.cpuSeconds() - cpu0;
  await server.stop();
  if (report.error || !report.end) throw new Error(report.error ?? 'no result');
  const bobCpu = (report.end.cpu_utilization_percent.remote_total / 100) * report.end.sum_sent.seconds;
  return measurement(report.end, aliceCpu, bobCpu, reverse);
}

/** The run with the median goodput (the lower middle one of an even count); a failure if none succeeded. */
function median(runs: Outcome[]): Outcome {
  const ok = runs.filter((o): o is Extract<Outcome, { ok: true }> => o.ok).sort((a, b) => a.m.gbps - b.m.gbps);
  return ok.length > 0 ? ok[Math.floor((ok.length - 1) / 2)]! : runs[0]!;
}

/** Gbit/s with three significant digits below 10 (a lossy path moves a few Mbit/s). */
function rate(gbps: number): string {
  return gbps >= 10 ? gbps.toFixed(1) : gbps.toPrecision(3);
}

async function attempt(what: string, f: () => Promise<Measurement>): Promise<Outcome> {
  try {
    const m = await f();
    log(`${what}: ${rate(m.gbps)} Gbit/s`);
    return { ok: true, m };
  } catch (err) {
    const why = (err as Error).message.split('\n')[0]!;
    log(`${what}: not measured: ${why}`);
    return { ok: false, why };
  }
}

function fmt(o: Outcome, f: (m: Measurement) => string): string {
  return o.ok ? f(o.m) : 'n/a';
}

function table(rows: Row[]): string {
  const lines = [
    '| path p1 | direction | kernel dave<->bob Gbit/s | namestack alice<->bob Gbit/s | ratio (floor) | kernel CPU s/GB sender / receiver | namestack CPU s/GB sender / receiver | retransmits kernel / namestack |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const ratio = r.kernel.ok && r.namestack.ok ? (r.namestack.m.gbps / r.kernel.m.gbps).toFixed(2) : 'n/a';
    const cpu = (m: Measurement): string => `${m.senderCpuPerGB.toFixed(2)} / ${m.receiverCpuPerGB.toFixed(2)}`;
    lines.push(
      `| ${r.condition.name} | ${r.direction} | ${fmt(r.kernel, (m) => rate(m.gbps))} | ${fmt(r.namestack, (m) => rate(m.gbps))} | ${ratio} (${r.condition.floor}) | ${fmt(r.kernel, cpu)} | ${fmt(r.namestack, cpu)} | ${fmt(r.kernel, (m) => String(m.retransmits ?? '-'))} / ${fmt(r.namestack, (m) => String(m.retransmits ?? '-'))} |`,
    );
  }
  return lines.join('\n');
}

function notes(rows: Row[], steal: number): string[] {
  const out: string[] = [`- CPU steal (time the hypervisor gave to other guests) over the runs: ${(100 * steal).toFixed(0)}% of this machine's CPU time.`];
  const reasons = new Set(rows.flatMap((r) => [r.kernel, r.namestack]).flatMap((o) => (o.ok ? [] : [o.why])));
  for (const why of reasons) out.push(`- not measured: ${why}`);
  return out;
}

/** The daemon command for `labUp({ daemon })`, when the build has one. */
function daemonCommand(): string[] | undefined {
  const cli = join(ROOT, 'build', 'apps', 'cli.js');
  return existsSync(join(ROOT, 'build', 'apps', 'host', 'command.js')) ? nodeCommand(cli, 'host') : undefined;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      prefix: { type: 'string', default: 'bench-tcp' },
      record: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'clean-only': { type: 'boolean', default: false },
      'loss-only': { type: 'boolean', default: false },
      via: { type: 'string', default: 'in-process' },
      repeat: { type: 'string', default: '3' },
      direction: { type: 'string', default: 'both' },
    },
  });
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) throw new Error('--repeat must be 1..20');
  const directions = { both: [false, true], send: [false], receive: [true] }[values.direction!];
  if (!directions) throw new Error('--direction must be both, send (client -> bob) or receive (bob -> client)');
  if (values.record && directions.length < 2) throw new Error('--record needs both directions');
  const via = values.via;
  if (via !== 'in-process' && via !== 'daemon') throw new Error('--via must be in-process or daemon');
  const seconds = Number(values.seconds);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600) throw new Error('--seconds must be 1..600');
  const prefix = values.prefix!;
  const wasUp = (await labStatus(prefix)).up;
  log(`lab '${prefix}' ${wasUp ? 'already up' : 'coming up'}`);
  const daemon = via === 'daemon' ? daemonCommand() : undefined;
  const status = await labUp({ prefix, ...(daemon && { daemon }) });
  const rows: Row[] = [];
  const steal = stealMeter();
  let alice: AliceStack | { error: string };
  try {
    alice = via === 'daemon' ? daemonStack(status) : await inProcessStack(status);
  } catch (err) {
    alice = { error: (err as Error).message };
  }
  try {
    for (const condition of values['clean-only'] ? CONDITIONS.slice(0, 1) : values['loss-only'] ? CONDITIONS.slice(1) : CONDITIONS) {
      await impairPath(prefix, PATH, condition.impairment);
      for (const reverse of directions) {
        const direction = reverse ? 'bob -> client (-R)' : 'client -> bob';
        const what = `${condition.name}, ${direction}`;
        // Alternating, so load from elsewhere on the machine falls on both alike.
        const kernelRuns: Outcome[] = [];
        const namestackRuns: Outcome[] = [];
        for (let i = 0; i < repeat; i++) {
          kernelRuns.push(await attempt(`kernel ${what}`, () => kernelRun(status, seconds, reverse)));
          namestackRuns.push(await attempt(`namestack ${what}`, () => ('error' in alice ? Promise.reject(new Error(alice.error)) : namestackRun(status, alice, seconds, reverse))));
        }
        rows.push({ condition, direction, kernel: median(kernelRuns), namestack: median(namestackRuns) });
      }
    }
  } finally {
    if (!('error' in alice)) await alice.stop();
    await impairPath(prefix, PATH, null).catch(() => undefined);
    if (!wasUp && !values.keep) await labDown(prefix);
  }

  const machine = `nproc ${cpus().length}, Linux ${release()}, Node ${process.version}`;
  const date = new Date().toISOString().slice(0, 10);
  const body = [table(rows), '', ...notes(rows, steal())].join('\n');
  process.stdout.write(body + '\n');
  if (values.record) {
    const section = [
      '',
      `## TCP throughput vs the kernel (scripts/bench-tcp), ${date}`,
      '',
      `Command: \`npx tsc -p tsconfig.json && scripts/bench-tcp --seconds ${seconds} --repeat ${repeat} --via ${via}${values['clean-only'] ? ' --clean-only' : ''}${values['loss-only'] ? ' --loss-only' : ''} --record\` (root).`,
      `Date: ${date}. Machine: ${machine}. Single-stream tests of ${seconds} s on path p1 of the lab`,
      `(through router r1), each cell the median of ${repeat} runs, kernel and namestack alternating;`,
      'CUBIC at every kernel end (iperf3 -C cubic; the default here is BBR) and in namestack. The',
      'impaired rows go through the lab relay (user space, ~1 Gbit/s at most), far above what CUBIC',
      'reaches at 1% loss (Mathis: 1.22 MSS / (RTT sqrt(p)), about 6 Mbit/s at 24 ms). Goodput is what',
      "the receiver counted. CPU seconds per GB are each end's process CPU time over the bytes",
      "received: iperf3's cpu_utilization on kernel ends; on alice " +
        (via === 'daemon' ? 'the host daemon running the stack plus the perf engine reaching it through the control socket.' : 'the one process running the stack and the perf engine.'),
      'The namestack columns are both ends of the namestack test: alice (namestack) and bob (kernel).',
      '',
      body,
      '',
    ].join('\n');
    appendFileSync(join(ROOT, 'docs', 'BENCHMARKS.md'), section);
    log('appended to docs/BENCHMARKS.md');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-tcp: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
