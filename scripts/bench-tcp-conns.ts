// Connection-scale figures of namestack's TCP against the kernel's, in one run (root):
//   - stack memory per idle established connection with --count (10,000) open: namestack in
//     this process on a TUN (checksum and TSO offloads) whose kernel side is a throwaway
//     namespace (nst-bench-conns-<pid>); a kernel client there opens the connections. The
//     figure is the V8 heap used (process.memoryUsage().heapUsed after global.gc(), so run
//     with node --expose-gc) after minus before, over the count: ArrayBuffer backing stores
//     (buffers) are outside the heap and shown on a row of their own.
//   - accept rate: connections the listener takes per second (first to last), the client
//     keeping --inflight non-blocking connects outstanding. The kernel's figures come from a
//     Python listener in a second namespace behind a veth, the same client, the same count.
// Each figure is the median of --repeat (3) runs, namestack and kernel alternating.
// Run: npx tsc -p tsconfig.json && scripts/bench-tcp-conns [--count 10000] [--inflight 256] [--repeat 3] [--record]

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Host } from '../stack/ip/host.js';
import type { TcpConnection } from '../stack/tcp/connection.js';
import { TcpLayer } from '../stack/tcp/layer.js';
import { openTun } from '../tun/device.js';
import { HostRuntime } from '../tun/runtime.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NS = `nst-bench-conns-${process.pid}`;
const KNS = `${NS}-k`;
const CLIENT_ADDR = '10.204.0.1';
const STACK_ADDR = '10.204.0.2';
const KERNEL_ADDR = '10.204.1.2';
/** First listening port; each run takes its own (no TIME_WAIT from the run before). */
const PORT = 9000;
const FLOOR_BYTES = 4096;
const FLOOR_RATE = 5000;

// The kernel client: keeps `inflight` non-blocking connects outstanding until `count` are
// established, reports, then holds them open until its stdin closes.
const CLIENT = `
import json, resource, selectors, socket, sys, time
host, port, count, inflight = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_NOFILE, (count + 1024, count + 1024))
sel = selectors.DefaultSelector()
held = []; started = 0; pending = 0; failed = 0
t0 = time.monotonic()
while len(held) + failed < count:
    while pending < inflight and started < count:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((host, port))
        sel.register(s, selectors.EVENT_WRITE)
        started += 1; pending += 1
    for key, _ in sel.select(timeout=10):
        s = key.fileobj; sel.unregister(s); pending -= 1
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR): failed += 1; s.close()
        else: held.append(s)
t1 = time.monotonic()
print(json.dumps({'established': len(held), 'failed': failed, 'seconds': t1 - t0}), flush=True)
sys.stdin.read()
for s in held: s.close()
`;

// The kernel listener: accepts `count` connections, reports first-to-last accept time, holds
// them until its stdin closes.
const LISTENER = `
import json, resource, socket, sys, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_NOFILE, (count + 1024, count + 1024))
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port)); ls.listen(65535)
print(json.dumps({'ready': True}), flush=True)
held = []
first = None
while len(held) < count:
    s, _ = ls.accept()
    if first is None: first = time.monotonic()
    held.append(s)
last = time.monotonic()
print(json.dumps({'accepted': len(held), 'seconds': last - first}), flush=True)
sys.stdin.read()
for s in held: s.close()
`;

function sh(command: string): string {
  return execFileSync('sh', ['-c', command], { encoding: 'utf8' });
}

function log(line: string): void {
  process.stderr.write(`bench-tcp-conns: ${line}\n`);
}

/** A Python program in a namespace whose JSON lines arrive one by one. */
function python(ns: string, script: string, args: (string | number)[]): { child: ChildProcess; next: () => Promise<Record<string, number>> } {
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', script, ...args.map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<string>((resolve) => child.on('exit', (code) => resolve(`python in ${ns} exited ${code}`)));
  const next = async (): Promise<Record<string, number>> => {
    const line = lines.shift() ?? (await Promise.race([new Promise<string>((resolve) => waiters.push(resolve)), exited.then((m) => Promise.reject(new Error(m)))]));
    return JSON.parse(line) as Record<string, number>;
  };
  return { child, next };
}

function gcHeap(): { heap: number; buffers: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (scripts/bench-tcp-conns does)');
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Figures {
  acceptRate: number;
  clientRate: number;
  heapPerConn?: number;
  buffersPerConn?: number;
  /** This process's CPU time (all threads) from the first accept to the last, per connection (microseconds). */
  cpuPerAccept?: number;
}

async function namestack(count: number, inflight: number, port: number): Promise<Figures> {
  const dev = openTun({ name: 'nstconn%d', netns: NS, mtu: 1500, offloads: { csum: true, tso4: true, tso6: true } });
  dev.addAddress(`${CLIENT_ADDR}/24`);
  const host = new Host({ name: 'namestack' });
  const ifIndex = host.addInterface({ name: dev.name, mtu: dev.mtu, offloads: { checksum: true, gso: true } });
  host.addAddress(ifIndex, STACK_ADDR, 24);
  const tcp = new TcpLayer(host);
  const runtime = new HostRuntime(host);
  runtime.attach(ifIndex, dev);
  const held: TcpConnection[] = [];
  let first = 0;
  let last = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  const cpu = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const before = gcHeap();
  const listener = tcp.listen({
    port,
    backlog: inflight * 4,
    onConnection: (conn) => {
      last = performance.now();
      cpuLast = cpu();
      if (held.length === 0) {
        first = last;
        cpuFirst = cpuLast;
      }
      held.push(conn);
    },
  });
  const client = python(NS, CLIENT, [STACK_ADDR, port, count, inflight]);
  try {
    const report = await client.next();
    if (report.established !== count) throw new Error(`the client established ${report.established} of ${count} (${report.failed} failed)`);
    for (let i = 0; i < 100 && held.length < count; i++) await sleep(50);
    if (held.length !== count) throw new Error(`namestack accepted ${held.length} of ${count}`);
    // Idle: delayed ACKs and the last handshake work are done.
    await sleep(1000);
    const after = gcHeap();
    return {
      acceptRate: (count - 1) / ((last - first) / 1000),
      clientRate: count / report.seconds!,
      heapPerConn: (after.heap - before.heap) / count,
      buffersPerConn: (after.buffers - before.buffers) / count,
      cpuPerAccept: (cpuLast - cpuFirst) / (count - 1),
    };
  } finally {
    client.child.stdin!.end();
    await new Promise((resolve) => client.child.once('exit', resolve));
    listener.close();
    await runtime.stop();
  }
}

async function kernel(count: number, inflight: number, port: number): Promise<Figures> {
  const server = python(KNS, LISTENER, [KERNEL_ADDR, port, count]);
  await server.next();
  const client = python(NS, CLIENT, [KERNEL_ADDR, port, count, inflight]);
  try {
    const report = await client.next();
    const accepted = await server.next();
    if (report.established !== count || accepted.accepted !== count) throw new Error(`kernel: ${report.established} established, ${accepted.accepted} accepted of ${count}`);
    return { acceptRate: (count - 1) / accepted.seconds!, clientRate: count / report.seconds! };
  } finally {
    client.child.stdin!.end();
    server.child.stdin!.end();
    await Promise.all([client, server].map((p) => new Promise((resolve) => p.child.once('exit', resolve))));
  }
}

/** The kernel's per-socket slab objects (struct tcp_sock and the socket inode), from /proc/slabinfo. */
function kernelSocketBytes(): number | undefined {
  try {
    const slab = sh('cat /proc/slabinfo');
    let sum = 0;
    for (const cache of ['TCP', 'sock_inode_cache']) {
      const m = new RegExp(`^${cache}\\s+\\d+\\s+\\d+\\s+(\\d+)`, 'm').exec(slab);
      if (!m) return undefined;
      sum += Number(m[1]);
    }
    return sum;
  } catch {
    return undefined;
  }
}

function setup(count: number): void {
  for (const ns of [NS, KNS]) {
    sh(`ip netns add ${ns}`);
    sh(`ip -n ${ns} link set lo up`);
    sh(`ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535`);
  }
  sh(`ip netns exec ${NS} sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1`);
  // The kernel listener sits behind a veth, the kernel's own counterpart of the TUN.
  sh(`ip -n ${NS} link add nstconnk0 type veth peer name nstconnk1 netns ${KNS}`);
  sh(`ip -n ${NS} address add 10.204.1.1/24 dev nstconnk0 && ip -n ${NS} link set nstconnk0 up`);
  sh(`ip -n ${KNS} address add ${KERNEL_ADDR}/24 dev nstconnk1 && ip -n ${KNS} link set nstconnk1 up`);
  log(`namespaces ${NS} and ${KNS}, ${count} connections`);
}

function cleanup(): void {
  for (const ns of [NS, KNS]) sh(`ip netns del ${ns} 2>/dev/null || true`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Each figure's median over the runs. */
function medians(runs: Figures[]): Figures {
  const pick = (k: keyof Figures): number | undefined => (runs[0]![k] === undefined ? undefined : median(runs.map((r) => r[k]!)));
  return {
    acceptRate: pick('acceptRate')!,
    clientRate: pick('clientRate')!,
    ...(runs[0]!.heapPerConn !== undefined && {
      heapPerConn: pick('heapPerConn')!,
      buffersPerConn: pick('buffersPerConn')!,
      cpuPerAccept: pick('cpuPerAccept')!,
    }),
  };
}

const fmt = (n: number | undefined, digits = 0): string => (n === undefined ? '-' : n.toFixed(digits));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '10000' },
      inflight: { type: 'string', default: '256' },
      repeat: { type: 'string', default: '3' },
      record: { type: 'boolean', default: false },
    },
  });
  const count = Number(values.count);
  const inflight = Number(values.inflight);
  const repeat = Number(values.repeat);
  setup(count);
  const oursRuns: Figures[] = [];
  const theirsRuns: Figures[] = [];
  try {
    // Alternating runs, each figure the median: the machine is shared, one run can be unlucky.
    for (let i = 0; i < repeat; i++) {
      oursRuns.push(await namestack(count, inflight, PORT + 2 * i));
      theirsRuns.push(await kernel(count, inflight, PORT + 2 * i + 1));
      log(`run ${i + 1}: namestack ${fmt(oursRuns[i]!.acceptRate)}/s ${fmt(oursRuns[i]!.heapPerConn)} B ${fmt(oursRuns[i]!.cpuPerAccept, 1)} us CPU/accept, kernel ${fmt(theirsRuns[i]!.acceptRate)}/s`);
    }
  } finally {
    cleanup();
  }
  const ours = medians(oursRuns);
  const theirs = medians(theirsRuns);
  const socketBytes = kernelSocketBytes();
  const rows = [
    '| figure | namestack | kernel | namestack/kernel | floor | met |',
    '|---|---:|---:|---:|---|---|',
    `| memory per idle established connection, heap (bytes) | ${fmt(ours.heapPerConn)} | ${fmt(socketBytes)} (slab: TCP + sock_inode_cache) | ${socketBytes ? fmt(ours.heapPerConn! / socketBytes, 2) : '-'} | <= ${FLOOR_BYTES} | ${ours.heapPerConn! <= FLOOR_BYTES ? 'yes' : 'no'} |`,
    `| buffers per idle connection, ArrayBuffers (bytes) | ${fmt(ours.buffersPerConn)} | - | - | - | - |`,
    `| accept rate, listener side (connections/s) | ${fmt(ours.acceptRate)} | ${fmt(theirs.acceptRate)} | ${fmt(ours.acceptRate / theirs.acceptRate, 2)} | >= ${FLOOR_RATE} | ${ours.acceptRate >= FLOOR_RATE ? 'yes' : 'no'} |`,
    `| CPU per accepted connection, whole process (us); one core's worth of accepts (1/s) | ${fmt(ours.cpuPerAccept, 1)}; ${fmt(1e6 / ours.cpuPerAccept!)} | - | - | - | - |`,
    `| connections established per second, client side | ${fmt(ours.clientRate)} | ${fmt(theirs.clientRate)} | ${fmt(ours.clientRate / theirs.clientRate, 2)} | - | - |`,
  ];
  const body = rows.join('\n');
  process.stdout.write(body + '\n');
  if (values.record) {
    const date = new Date().toISOString().slice(0, 10);
    const machine = `nproc ${cpus().length}, Linux ${release()}, Node ${process.version}`;
    const section = [
      '',
      `## TCP connection scale (scripts/bench-tcp-conns), ${date}`,
      '',
      `Command: \`npx tsc -p tsconfig.json && scripts/bench-tcp-conns --count ${count} --inflight ${inflight} --repeat ${repeat} --record\` (root).`,
      `Date: ${date}. Machine: ${machine}. namestack in the benchmark's process on a TUN (checksum + TSO offloads), a Python`,
      `kernel client in a throwaway namespace keeping ${inflight} non-blocking connects outstanding until ${count} are established`,
      'and holding them open; the kernel listener a Python accept loop behind a veth in a second namespace, same client and',
      'count. Memory: V8 heapUsed after gc with all connections idle, minus before listening, over the count (buffers are',
      "ArrayBuffer backing stores, outside the heap); the kernel column is the slab object sizes of one socket, not a",
      `measured delta. Accept rate: connections the listener took, first to last, per second; CPU per accepted connection is`,
      "this process's CPU time over the same span (all threads), the rate one free core would give. Each figure the median of",
      `${repeat} runs, namestack and kernel alternating.`,
      '',
      body,
      '',
    ].join('\n');
    appendFileSync(join(ROOT, 'docs', 'BENCHMARKS.md'), section);
    log('appended to docs/BENCHMARKS.md');
  }
}

main().catch((err: unknown) => {
  cleanup();
  process.stderr.write(`bench-tcp-conns: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
