// namestack perf against Debian's iperf3 across a real link: iperf3 runs in a throwaway
// network namespace (prefix nst-perf-<pid>-) joined to this process's namespace by a veth
// pair with a 1500-byte MTU, IPv4 and IPv6, both roles. The engine here uses the kernel's
// TCP (Node's net), the reference the namestack transport is measured against.
//
// The namestack transport (a Host on a TUN in the namespace) joins these tests once the
// stack's TCP sockets exist (docs/BENCHMARKS.md lists what remains).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClient } from '../../apps/perf/client.js';
import { DEFAULT_PACING_TIMER_US, DEFAULT_TCP_BLOCK_SIZE, type TestSettings } from '../../apps/perf/protocol.js';
import type { PerfReport } from '../../apps/perf/report.js';
import { startServer, type PerfServer } from '../../apps/perf/server.js';
import { kernelTransport } from '../../apps/perf/transport.js';
import { iperf3Client, iperf3Server, killIperf3 } from '../apps/iperf3.js';
import { Namespaces, sh } from './tun-lab.js';

const namespaces = new Namespaces(`nst-perf-${process.pid}-`);
// Per-process subnets, so parallel runs never share a route in this namespace.
const octet3 = (process.pid >> 6) & 0xff;
const octet4 = (process.pid & 0x3f) << 2;
const OURS4 = `10.202.${octet3}.${octet4 + 1}`;
const THEIRS4 = `10.202.${octet3}.${octet4 + 2}`;
// Every group non-zero, so the text is already the canonical form Node reports.
const NET6 = `fd02:${((process.pid & 0xffff) | 0x1000).toString(16)}:${((process.pid >> 16) + 1).toString(16)}::`;
const OURS6 = `${NET6}1`;
const THEIRS6 = `${NET6}2`;
const VETH = `nsp${process.pid % 1000000}`;
const PORT = 5201;

let ns = '';
let server: PerfServer | undefined;

function settings(overrides: Partial<TestSettings>): TestSettings {
  return {
    omitSeconds: 0,
    durationSeconds: 1,
    bytes: 0,
    blocks: 0,
    parallel: 1,
    reverse: false,
    blockSize: DEFAULT_TCP_BLOCK_SIZE,
    rate: 0,
    pacingTimerUs: DEFAULT_PACING_TIMER_US,
    noDelay: false,
    ...overrides,
  };
}

function ended(report: PerfReport): NonNullable<PerfReport['end']> {
  expect(report.error).toBeUndefined();
  return report.end!;
}

beforeAll(() => {
  namespaces.cleanup();
  ns = namespaces.create(true);
  sh(`ip link add ${VETH} type veth peer name eth0 netns ${ns}`);
  sh(`ip addr add ${OURS4}/30 dev ${VETH} && ip addr add ${OURS6}/64 dev ${VETH} nodad && ip link set ${VETH} up`);
  sh(`ip -n ${ns} addr add ${THEIRS4}/30 dev eth0 && ip -n ${ns} addr add ${THEIRS6}/64 dev eth0 nodad && ip -n ${ns} link set eth0 up`);
});

afterAll(() => {
  server?.close();
  killIperf3();
  // Deleting the namespace deletes eth0 and with it its peer here.
  namespaces.cleanup();
});

describe.each([
  ['IPv4', THEIRS4, OURS4],
  ['IPv6', THEIRS6, OURS6],
])('over a veth, %s', (_family, theirs, ours) => {
  it('our client sends to iperf3 -s with two streams', async () => {
    const iperf = await iperf3Server(PORT, ns);
    const report = await runClient({ host: theirs, port: PORT, settings: settings({ parallel: 2 }), transport: kernelTransport });
    const us = ended(report);
    const them = ended(await iperf.report);
    expect(us.streams).toHaveLength(2);
    expect(them.streams).toHaveLength(2);
    expect(us.sum_received.bytes).toBe(them.sum_received.bytes);
    expect(them.sum_received.bytes).toBeGreaterThan(0);
    expect(them.sum_received.bytes).toBeLessThanOrEqual(us.sum_sent.bytes);
    expect(report.start.connected[0]!.remote_host).toBe(theirs);
    expect(them.streams[0]!.receiver.bytes).toBe(us.streams[0]!.receiver.bytes);
  });

  it('our client receives from iperf3 -s (-R)', async () => {
    const iperf = await iperf3Server(PORT, ns);
    const us = ended(await runClient({ host: theirs, port: PORT, settings: settings({ reverse: true }), transport: kernelTransport }));
    const them = ended(await iperf.report);
    expect(us.sum_sent.bytes).toBe(them.sum_sent.bytes);
    expect(us.sum_received.bytes).toBeGreaterThan(0);
    expect(us.sum_received.bytes).toBeLessThanOrEqual(them.sum_sent.bytes);
  });

  it('iperf3 -c sends to our server, and receives with -R', async () => {
    const reports: PerfReport[] = [];
    server?.close();
    server = await startServer({ port: 0, transport: kernelTransport, onReport: (r) => reports.push(r) });
    const forward = ended(await iperf3Client(ours, server.port, ['-t', '1'], ns).report);
    const reverse = ended(await iperf3Client(ours, server.port, ['-t', '1', '-R', '-P', '2'], ns).report);
    expect(reports).toHaveLength(2);
    expect(forward.sum_received.bytes).toBe(ended(reports[0]!).sum_received.bytes);
    expect(forward.sum_received.bytes).toBeGreaterThan(0);
    expect(reverse.sum_sent.bytes).toBe(ended(reports[1]!).sum_sent.bytes);
    expect(reverse.streams).toHaveLength(2);
    expect(reports[0]!.start.accepted_connection?.host).toBe(theirs);
  });
});
