// namestack perf against Debian's iperf3 across real links, IPv4 and IPv6, both roles, in
// throwaway network namespaces (prefix nst-perf-<pid>-). The same tests run over two
// transports (gVisor's packetimpact idea: the kernel is the oracle):
// - the kernel's TCP (Node's net): iperf3's namespace is joined to this process's by a
//   veth pair with a 1500-byte MTU;
// - namestack's TCP: a Host on a TUN (checksum and TSO offloads) whose kernel side is
//   iperf3's namespace, driven by a HostRuntime in this process, the sockets TcpSocket /
//   TcpServer.
// And namestack's MPTCP on the same TUN against iperf3 under `mptcpize run` (the kernel's
// MPTCP), both roles, the kernel's MPTcpExt counters confirming every connection was MPTCP.
// (iperf3 close()s its data sockets at the end of a test while bytes still arrive, so the
// kernel resets them then, as between two kernels; the tests check that every test
// completes with the byte counts both sides agree on instead of counting resets.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClient } from '../../apps/perf/client.js';
import { DEFAULT_SETTINGS, type TestSettings } from '../../apps/perf/protocol.js';
import type { PerfReport } from '../../apps/perf/report.js';
import { startServer, type PerfServer } from '../../apps/perf/server.js';
import { namestackTransport } from '../../apps/perf/stack-transport.js';
import { kernelTransport, type PerfTransport } from '../../apps/perf/transport.js';
import { Host } from '../../stack/ip/host.js';
import { MptcpLayer } from '../../stack/mptcp/layer.js';
import { TcpLayer } from '../../stack/tcp/layer.js';
import { openTun } from '../../tun/device.js';
import { HostRuntime } from '../../tun/runtime.js';
import { iperf3Client, iperf3Server, killIperf3 } from '../apps/iperf3.js';
import { Namespaces, sh } from './tun-lab.js';

const namespaces = new Namespaces(`nst-perf-${process.pid}-`);
// Per-process subnets, so parallel runs never share a route in this namespace.
const octet3 = (process.pid >> 6) & 0xff;
const octet4 = (process.pid & 0x3f) << 2;
// Every group non-zero, so the text is already the canonical form Node reports.
const NET6 = `fd02:${((process.pid & 0xffff) | 0x1000).toString(16)}:${((process.pid >> 16) + 1).toString(16)}::`;
/** The veth: this namespace's end (the kernel transport's side) and iperf3's. */
const VETH_OURS = { 4: `10.202.${octet3}.${octet4 + 1}`, 6: `${NET6}1` } as const;
const VETH_THEIRS = { 4: `10.202.${octet3}.${octet4 + 2}`, 6: `${NET6}2` } as const;
const VETH = `nsp${process.pid % 1000000}`;
const TUN = `nstp${process.pid % 100000}x%d`;
// The TUN's namespace: the kernel owns .1, the stack .2.
const TUN_KERNEL = { 4: '10.204.0.1', 6: 'fd20:204::1' } as const;
const TUN_STACK = { 4: '10.204.0.2', 6: 'fd20:204::2' } as const;
const PORT = 5201;

let vethNs = '';
let tunNs = '';
let runtime: HostRuntime | undefined;
let stack: PerfTransport;
let stackMptcp: PerfTransport;
let server: PerfServer | undefined;

/** Where a test runs: our transport, iperf3's namespace, iperf3's address and ours. */
interface Setup {
  transport: () => PerfTransport;
  netns: () => string;
  theirs: string;
  ours: string;
}

const SETUPS: [string, 4 | 6, Setup][] = ([4, 6] as const).flatMap((family) => [
  ['kernel TCP over a veth', family, { transport: () => kernelTransport, netns: () => vethNs, theirs: VETH_THEIRS[family], ours: VETH_OURS[family] }],
  ['namestack TCP on a TUN', family, { transport: () => stack, netns: () => tunNs, theirs: TUN_KERNEL[family], ours: TUN_STACK[family] }],
]);

/** iperf3's defaults, 1 s long, with `overrides`. */
function settings(overrides: Partial<TestSettings> = {}): TestSettings {
  return { ...DEFAULT_SETTINGS, durationSeconds: 1, ...overrides };
}

function ended(report: PerfReport): NonNullable<PerfReport['end']> {
  expect(report.error).toBeUndefined();
  return report.end!;
}

beforeAll(() => {
  namespaces.cleanup();
  vethNs = namespaces.create(true);
  sh(`ip link add ${VETH} type veth peer name eth0 netns ${vethNs}`);
  sh(`ip addr add ${VETH_OURS[4]}/30 dev ${VETH} && ip addr add ${VETH_OURS[6]}/64 dev ${VETH} nodad && ip link set ${VETH} up`);
  sh(`ip -n ${vethNs} addr add ${VETH_THEIRS[4]}/30 dev eth0 && ip -n ${vethNs} addr add ${VETH_THEIRS[6]}/64 dev eth0 nodad && ip -n ${vethNs} link set eth0 up`);

  tunNs = namespaces.create(true);
  const dev = openTun({ name: TUN, netns: tunNs, mtu: 1500 });
  dev.addAddress(`${TUN_KERNEL[4]}/24`);
  sh(`ip -n ${tunNs} address add ${TUN_KERNEL[6]}/64 dev ${dev.name} nodad`);
  const host = new Host({ name: 'namestack' });
  const ifIndex = host.addInterface({ name: dev.name, mtu: dev.mtu, offloads: { checksum: true, gso: true } });
  host.addAddress(ifIndex, TUN_STACK[4], 24);
  host.addAddress(ifIndex, TUN_STACK[6], 64);
  const tcp = new TcpLayer(host);
  const r = new HostRuntime(host);
  r.attach(ifIndex, dev);
  runtime = r;
  const driver = { tcp, now: () => r.now(), kick: () => r.kick() };
  stack = namestackTransport(driver);
  stackMptcp = namestackTransport(driver, new MptcpLayer(host, tcp));
});

afterAll(async () => {
  server?.close();
  killIperf3();
  await runtime?.stop();
  // Deleting the namespace deletes eth0 and with it its peer here.
  namespaces.cleanup();
});

describe.each(SETUPS)('%s, IPv%i', (name, _family, setup) => {
  const gbps = (bitsPerSecond: number): string => `${(bitsPerSecond / 1e9).toFixed(2)} Gbit/s`;

  it('our client sends to iperf3 -s with two streams', async () => {
    const iperf = await iperf3Server(PORT, { netns: setup.netns() });
    const report = await runClient({ host: setup.theirs, port: PORT, settings: settings({ parallel: 2 }), transport: setup.transport() });
    const us = ended(report);
    const them = ended(await iperf.report);
    expect(us.streams).toHaveLength(2);
    expect(them.streams).toHaveLength(2);
    // Our receiver figures are iperf3's (its results message); what it received we sent.
    expect(us.sum_received.bytes).toBe(them.sum_received.bytes);
    expect(them.streams[0]!.receiver.bytes).toBe(us.streams[0]!.receiver.bytes);
    expect(them.sum_received.bytes).toBeGreaterThan(0);
    expect(them.sum_received.bytes).toBeLessThanOrEqual(us.sum_sent.bytes);
    expect(report.start.transport).toBe(setup.transport().name);
    expect(report.start.connected[0]!.local_host).toBe(setup.ours);
    expect(report.start.connected[0]!.remote_host).toBe(setup.theirs);
    // Both transports count the sender's retransmissions (TCP_INFO, or the stack's counters).
    expect(us.sum_sent.retransmits).toBeGreaterThanOrEqual(0);
    console.log(`${name}: our client sent ${gbps(them.sum_received.bits_per_second)} (2 streams)`);
  });

  it('our client receives from iperf3 -s (-R)', async () => {
    const iperf = await iperf3Server(PORT, { netns: setup.netns() });
    const us = ended(await runClient({ host: setup.theirs, port: PORT, settings: settings({ reverse: true }), transport: setup.transport() }));
    const them = ended(await iperf.report);
    expect(us.sum_sent.bytes).toBe(them.sum_sent.bytes);
    expect(us.sum_received.bytes).toBeGreaterThan(0);
    expect(us.sum_received.bytes).toBeLessThanOrEqual(them.sum_sent.bytes);
    console.log(`${name}: our client received ${gbps(us.sum_received.bits_per_second)}`);
  });

  it('iperf3 -c sends to our server, and receives from it with -R -P 2', async () => {
    const reports: PerfReport[] = [];
    server?.close();
    server = await startServer({ port: 0, transport: setup.transport(), onReport: (r) => reports.push(r) });
    const forward = ended(await iperf3Client(setup.ours, server.port, ['-t', '1'], { netns: setup.netns() }).report);
    const reverse = ended(await iperf3Client(setup.ours, server.port, ['-t', '1', '-R', '-P', '2'], { netns: setup.netns() }).report);
    expect(reports).toHaveLength(2);
    expect(forward.sum_received.bytes).toBe(ended(reports[0]!).sum_received.bytes);
    expect(forward.sum_received.bytes).toBeGreaterThan(0);
    expect(reverse.sum_sent.bytes).toBe(ended(reports[1]!).sum_sent.bytes);
    expect(reverse.sum_received.bytes).toBeGreaterThan(0);
    expect(reverse.streams).toHaveLength(2);
    expect(reports[0]!.start.accepted_connection?.host).toBe(setup.theirs);
    console.log(`${name}: our server received ${gbps(forward.sum_received.bits_per_second)}, sent ${gbps(reverse.sum_received.bits_per_second)} (2 streams)`);
  });
});

/** The kernel's MPTCP counters in the TUN's namespace (nstat -az, absolute values). */
function mptcpCounters(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of sh(`ip netns exec ${tunNs} nstat -az`).matchAll(/^(MPTcpExt\w+)\s+(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

function counted(before: Record<string, number>, name: string): number {
  return (mptcpCounters()[name] ?? 0) - (before[name] ?? 0);
}

describe.each([4, 6] as const)('namestack MPTCP on a TUN and iperf3 under mptcpize, IPv%i', (family) => {
  const FALLBACKS = ['MPTcpExtMPCapableFallbackACK', 'MPTcpExtMPCapableFallbackSYNACK', 'MPTcpExtMPCapableDataFallback', 'MPTcpExtDSSNoMatchTCP'];

  it('our client sends to and receives from mptcpize iperf3 -s', async () => {
    for (const reverse of [false, true]) {
      const before = mptcpCounters();
      const iperf = await iperf3Server(PORT, { netns: tunNs, mptcp: true });
      const report = await runClient({ host: TUN_KERNEL[family], port: PORT, settings: settings({ reverse, parallel: 2 }), transport: stackMptcp });
      const us = ended(report);
      const them = ended(await iperf.report);
      if (reverse) expect(us.sum_sent.bytes).toBe(them.sum_sent.bytes);
      else expect(us.sum_received.bytes).toBe(them.sum_received.bytes);
      expect(us.sum_received.bytes).toBeGreaterThan(0);
      expect(us.sum_received.bytes).toBeLessThanOrEqual(us.sum_sent.bytes);
      expect(report.start.transport).toBe('namestack-mptcp');
      // The control connection and both data streams were MPTCP at the kernel's end.
      expect(counted(before, 'MPTcpExtMPCapableSYNRX')).toBe(3);
      for (const f of FALLBACKS) expect(counted(before, f), f).toBe(0);
    }
  });

  it('mptcpize iperf3 -c sends to and receives from our server', async () => {
    const reports: PerfReport[] = [];
    // TcpLayer listeners take a fixed port (no ephemeral choice below TcpServer).
    const mptcpServer = await startServer({ port: PORT + family, transport: stackMptcp, onReport: (r) => reports.push(r) });
    try {
      for (const reverse of [false, true]) {
        const before = mptcpCounters();
        const them = ended(await iperf3Client(TUN_STACK[family], mptcpServer.port, ['-t', '1', ...(reverse ? ['-R'] : [])], { netns: tunNs, mptcp: true }).report);
        const us = ended(reports.at(-1)!);
        if (reverse) expect(them.sum_sent.bytes).toBe(us.sum_sent.bytes);
        else expect(them.sum_received.bytes).toBe(us.sum_received.bytes);
        expect(them.sum_received.bytes).toBeGreaterThan(0);
        expect(them.sum_received.bytes).toBeLessThanOrEqual(them.sum_sent.bytes);
        // Control connection and data stream: our SYN-ACKs carried MP_CAPABLE.
        expect(counted(before, 'MPTcpExtMPCapableSYNACKRX')).toBe(2);
        for (const f of FALLBACKS) expect(counted(before, f), f).toBe(0);
      }
      expect(reports).toHaveLength(2);
    } finally {
      mptcpServer.close();
    }
  });
});
