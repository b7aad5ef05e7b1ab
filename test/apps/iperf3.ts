// Runs Debian's iperf3 as the peer of `namestack perf` in tests: a server (-s -1 -J) whose
// readiness is seen with ss, or a client (-J), optionally inside a network namespace and
// under `mptcpize run` (the kernel's MPTCP); the JSON iperf3 prints is parsed into the same
// shape as namestack perf's report.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import type { PerfReport } from '../../apps/perf/report.js';

export interface Iperf3Run {
  child: ChildProcess;
  /** iperf3's JSON report when it exits (it prints one document per test with -J). */
  report: Promise<PerfReport>;
}

function inNamespace(netns: string | undefined, command: string[]): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, ...command]] : [command[0]!, command.slice(1)];
}

/** iperf3 processes still running, for killIperf3 after a failed test. */
const running = new Set<ChildProcess>();

/** Kills every iperf3 this module started that is still running (call in afterAll). */
export function killIperf3(): void {
  for (const child of running) child.kill();
}

/** Where and how iperf3 runs. */
export interface Iperf3Options {
  netns?: string;
  /** Under `mptcpize run`: its TCP sockets are MPTCP sockets. */
  mptcp?: boolean;
}

function run(args: string[], opts: Iperf3Options): Iperf3Run {
  const [cmd, argv] = inNamespace(opts.netns, [...(opts.mptcp ? ['mptcpize', 'run'] : []), 'iperf3', ...args]);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('close', () => running.delete(child));
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const report = new Promise<PerfReport>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      try {
        resolve(JSON.parse(out) as PerfReport);
      } catch {
        reject(new Error(`iperf3 ${args.join(' ')} exited ${code} without JSON: ${out.slice(0, 400)} ${err.slice(0, 400)}`));
      }
    });
  });
  return { child, report };
}

/** Whether something listens on TCP `port` (in `netns`). */
function listening(port: number, netns: string | undefined): boolean {
  const [cmd, argv] = inNamespace(netns, ['ss', '-Hltn', `sport = :${port}`]);
  return execFileSync(cmd, argv, { encoding: 'utf8' }).trim() !== '';
}

/** `iperf3 -s -1 -J -p port`, resolved once it listens. */
export async function iperf3Server(port: number, opts: Iperf3Options = {}): Promise<Iperf3Run> {
  const netns = opts.netns;
  const server = run(['-s', '-1', '-J', '-p', String(port)], opts);
  for (let i = 0; i < 200 && !listening(port, netns); i++) await new Promise((r) => setTimeout(r, 25));
  if (!listening(port, netns)) throw new Error(`iperf3 -s did not listen on ${port}`);
  return server;
}

/** `iperf3 -c host -J -p port ...args`. */
export function iperf3Client(host: string, port: number, args: string[], opts: Iperf3Options = {}): Iperf3Run {
  return run(['-c', host, '-J', '-p', String(port), ...args], opts);
}

/** A TCP port nobody uses right now (the kernel's choice for an ephemeral listener). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Waits until `predicate` holds, polling every 10 ms, at most `ms`. */
export async function eventually(predicate: () => boolean, ms = 5000): Promise<void> {
  for (let waited = 0; !predicate(); waited += 10) {
    if (waited >= ms) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
