// What the lab benchmarks (bench-tcp, bench-mptcp) share: iperf3 as the server on bob, bob's
// address on a path, and alice's namestack stack started in the benchmark's own process (the
// daemon's start-up, its TUNs moved into alice's namespace, without a control server in the
// way) so the perf engine drives the stack directly.

import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConfigFile } from '../../apps/host/config.js';
import { startHostDaemon, type HostDaemon } from '../../apps/host/daemon.js';
import { createLogger } from '../../apps/host/log.js';
import { NO_TRANSPORT } from '../../apps/host/transport.js';
import { attachNamestackLink, labExec, labSpawn, type LabStatusUp } from '../../apps/lab/lab.js';
import { sleep } from '../../apps/lab/run.js';
import type { PerfReport } from '../../apps/perf/report.js';
import type { Host } from '../../stack/ip/host.js';
import type { HostRuntime } from '../../tun/runtime.js';

export interface Iperf3Server {
  /** iperf3's JSON once it exits after its one test (rejects when it printed none). */
  report: Promise<PerfReport>;
  /** Waits a little for it to exit by itself (it writes its JSON after the client's end), then ends it; resolves once it has exited. */
  stop(): Promise<void>;
}

export interface Iperf3ServerOptions {
  /** Default 5201. */
  port?: number;
  /** Run it under `mptcpize run`, so it accepts MPTCP. Default false. */
  mptcp?: boolean;
  /** `-i`: interval reports every this many seconds (in the JSON's intervals). Default iperf3's 1 s. */
  intervalSeconds?: number;
}

/** How long stop() lets iperf3 -s -1 finish its JSON before ending it (a client that failed never comes). */
const EXIT_WAIT_MS = 5000;

/** `[mptcpize run] iperf3 -s -1 -J` on bob, resolved once it listens. */
export async function iperf3ServerOnBob(prefix: string, opts: Iperf3ServerOptions = {}): Promise<Iperf3Server> {
  const port = opts.port ?? 5201;
  const command = [
    ...(opts.mptcp ? ['mptcpize', 'run'] : []),
    'iperf3', '-s', '-1', '-J',
    ...(opts.intervalSeconds !== undefined ? ['-i', String(opts.intervalSeconds)] : []),
    '-p', String(port),
  ];
  const child = labSpawn(prefix, 'bob', command, { stdio: ['ignore', 'pipe', 'ignore'] });
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
  const stop = async (): Promise<void> => {
    await Promise.race([exited, sleep(EXIT_WAIT_MS)]);
    if (child.exitCode === null && child.signalCode === null) child.kill();
    return exited;
  };
  for (let i = 0; i < 200; i++) {
    const ss = await labExec(prefix, 'bob', ['ss', '-Hltn', `sport = :${port}`]);
    if (ss.stdout.trim() !== '') return { report, stop };
    await sleep(25);
  }
  child.kill();
  await exited;
  throw new Error('iperf3 -s on bob did not listen');
}

/** bob's IPv4 address on `path`. */
export function bobAddress(status: LabStatusUp, path = 'p1'): string {
  return status.hosts.bob!.addresses.find((a) => a.path === path)!.ipv4;
}

export interface InProcessAlice<T> {
  /** What `build` made over alice's host. */
  parts: T;
  daemon: HostDaemon;
  /** The daemon's graceful stop: connections closed, TUNs deleted. */
  stop(): Promise<void>;
}

/**
 * Alice's stack in this process: the daemon's own start-up from the lab's per-host file,
 * links moved into alice's namespace and plugged into their paths as the lab's daemon hook
 * does. `build` makes what the benchmark drives (TcpLayer, MptcpLayer, a perf transport) over
 * the host; the control server gets no transport. `tag` names the control socket. Throws
 * when alice runs a daemon of her own (her TUNs are taken): use a lab without one.
 */
export async function startAliceInProcess<T>(status: LabStatusUp, tag: string, build: (host: Host, runtime: HostRuntime) => T): Promise<InProcessAlice<T>> {
  const alice = status.hosts.alice!;
  if (alice.daemon?.running) throw new Error(`alice in lab '${status.prefix}' runs a daemon: an in-process stack needs a lab without one (another --prefix)`);
  const config = readConfigFile(alice.configFile!);
  config.control = join(tmpdir(), `${tag}-${process.pid}.sock`);
  for (const link of config.links) link.netns = alice.namespace;
  let parts: { value: T } | undefined;
  const daemon = await startHostDaemon(config, {
    log: createLogger('error'),
    transport: (host, runtime) => {
      parts = { value: build(host, runtime) };
      return NO_TRANSPORT;
    },
  });
  try {
    for (const [i, a] of alice.addresses.entries()) await attachNamestackLink(status.prefix, 'alice', a.path, config.links[i]!.tun);
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  return { parts: parts!.value, daemon, stop: () => daemon.stop() };
}

/** The aggregate `cpu` line of /proc/stat (proc(5)): ticks per state. */
function cpuTicks(): { steal: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is inside user.
  return { steal: fields[7] ?? 0, total: fields.slice(0, 8).reduce((a, b) => a + b, 0) };
}

/**
 * The share of CPU time the hypervisor took from this virtual machine (steal) since the call:
 * on a shared host the benchmarks' wall-clock rates move with it, kernel and namestack alike.
 */
export function stealMeter(): () => number {
  const start = cpuTicks();
  return () => {
    const now = cpuTicks();
    const total = now.total - start.total;
    return total > 0 ? (now.steal - start.steal) / total : 0;
  };
}

/**
 * Forgets what the kernels of bob and dave learned about their peers (`ip tcp_metrics
 * flush`): Linux starts a new connection from the cached ssthresh and RTT of the last one to
 * the same address, so without this each run of a series starts where the previous ended
 * (in congestion avoidance, say) instead of as the first did.
 */
export async function flushTcpMetrics(prefix: string): Promise<void> {
  for (const node of ['bob', 'dave']) await labExec(prefix, node, ['ip', 'tcp_metrics', 'flush']);
}
