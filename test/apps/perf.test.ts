// namestack perf against Debian's iperf3 over the kernel's TCP on loopback (Node's net): our
// client with `iperf3 -s`, `iperf3 -c` with our server, both directions, several streams,
// byte-limited and rate-limited tests. iperf3's own JSON is the oracle: the numbers the two
// sides exchange in the results message must agree exactly, and what one side sent and the
// other received must agree within what can still be in flight when the test stops.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runClient } from '../../apps/perf/client.js';
import { DEFAULT_SETTINGS, DEFAULT_TCP_BLOCK_SIZE, State, encodeCookie, makeCookie, type TestSettings } from '../../apps/perf/protocol.js';
import type { PerfReport } from '../../apps/perf/report.js';
import { startServer, type PerfServer } from '../../apps/perf/server.js';
import { SEPARATOR, TextReport } from '../../apps/perf/text-report.js';
import { kernelTransport } from '../../apps/perf/transport.js';
import { freePort, iperf3Client, iperf3Server, killIperf3 } from './iperf3.js';

/** iperf3's defaults, 1 s long, with `overrides`. */
function settings(overrides: Partial<TestSettings> = {}): TestSettings {
  return { ...DEFAULT_SETTINGS, durationSeconds: 1, ...overrides };
}

/** The largest value of a tcp_rmem / tcp_wmem sysctl (its third field). */
function sysctlMax(name: string): number {
  return Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
}

/**
 * Bytes that can be between a sender's count and a receiver's when the test stops, per
 * stream: both sockets' buffers on loopback at their auto-tuned maxima (tcp_wmem and
 * tcp_rmem, 4 and 32 MiB on this machine kind) and what Node holds above them (4 MiB).
 */
const IN_FLIGHT_PER_STREAM = sysctlMax('tcp_wmem') + sysctlMax('tcp_rmem') + 4 * 1024 * 1024;

/** What the receiver counted may fall short of what the sender wrote by the bytes in flight at the stop. */
function expectDelivered(received: number, sent: number, streams = 1): void {
  expect(received).toBeGreaterThan(0);
  expect(received).toBeLessThanOrEqual(sent);
  expect(received).toBeGreaterThan(sent - streams * IN_FLIGHT_PER_STREAM);
}

function ended(report: PerfReport): NonNullable<PerfReport['end']> {
  expect(report.error).toBeUndefined();
  expect(report.end).toBeDefined();
  return report.end!;
}

afterAll(killIperf3);

describe('namestack perf client against iperf3 -s', () => {
  it('sends for -t 1 and both sides agree on the bytes', async () => {
    const port = await freePort();
    const iperf = await iperf3Server(port);
    const ours = ended(await runClient({ host: '127.0.0.1', port, settings: settings(), transport: kernelTransport }));
    const theirs = ended(await iperf.report);
    expect(ours.streams).toHaveLength(1);
    expect(theirs.streams).toHaveLength(1);
    // Our receiver numbers are iperf3's own, from its results message.
    expect(ours.sum_received.bytes).toBe(theirs.sum_received.bytes);
    expectDelivered(theirs.sum_received.bytes, ours.sum_sent.bytes);
    expect(ours.sum_sent.seconds).toBeGreaterThan(0.9);
    expect(ours.sum_sent.sender).toBe(true);
    expect(ours.cpu_utilization_percent.remote_total).toBe(theirs.cpu_utilization_percent.host_total);
  });

  it('receives with -R -P 2 over IPv6', async () => {
    const port = await freePort();
    const iperf = await iperf3Server(port);
    const report = await runClient({ host: '::1', port, settings: settings({ reverse: true, parallel: 2 }), transport: kernelTransport });
    const ours = ended(report);
    const theirs = ended(await iperf.report);
    expect(ours.streams).toHaveLength(2);
    expect(theirs.streams).toHaveLength(2);
    expect(report.start.connected.map((c) => c.remote_host)).toEqual(['::1', '::1']);
    expect(ours.sum_sent.bytes).toBe(theirs.sum_sent.bytes);
    expectDelivered(ours.sum_received.bytes, theirs.sum_sent.bytes, 2);
    for (const s of ours.streams) expect(s.receiver.bytes).toBeGreaterThan(0);
    expect(ours.sum_sent.sender).toBe(false);
    // Each interval has one entry per stream and their sum.
    expect(report.intervals.length).toBeGreaterThanOrEqual(1);
    const iv = report.intervals[0]!;
    expect(iv.streams).toHaveLength(2);
    expect(iv.sum.bytes).toBe(iv.streams[0]!.bytes + iv.streams[1]!.bytes);
  });

  it('stops after -n bytes', async () => {
    const port = await freePort();
    const iperf = await iperf3Server(port);
    const bytes = 200 * 1024 * 1024;
    const ours = ended(await runClient({ host: '127.0.0.1', port, settings: settings({ durationSeconds: 0, bytes }), transport: kernelTransport }));
    const theirs = ended(await iperf.report);
    // Whole blocks, as iperf3 sends them: at least the target, less than one block over.
    expect(ours.sum_sent.bytes).toBeGreaterThanOrEqual(bytes);
    expect(ours.sum_sent.bytes).toBeLessThan(bytes + DEFAULT_TCP_BLOCK_SIZE);
    expect(theirs.sum_received.bytes).toBe(ours.sum_received.bytes);
    expectDelivered(theirs.sum_received.bytes, ours.sum_sent.bytes);
  });

  it('asks the server for a congestion control with -C and reports both ends\' (the host default is not cubic here)', async () => {
    const port = await freePort();
    const iperf = await iperf3Server(port);
    const ours = ended(await runClient({ host: '127.0.0.1', port, settings: settings({ congestion: 'reno' }), transport: kernelTransport }));
    const theirs = ended(await iperf.report);
    expect(theirs.receiver_tcp_congestion).toBe('reno');
    expect(ours.receiver_tcp_congestion).toBe('reno');
    expect(ours.sender_tcp_congestion).toBe('reno');
  });

  it('paces each stream to -b', async () => {
    const port = await freePort();
    const iperf = await iperf3Server(port);
    const rate = 200e6;
    const ours = ended(await runClient({ host: '127.0.0.1', port, settings: settings({ durationSeconds: 2, parallel: 2, rate }), transport: kernelTransport }));
    await iperf.report;
    for (const s of ours.streams) {
      expect(s.sender.bits_per_second).toBeGreaterThan(rate * 0.8);
      expect(s.sender.bits_per_second).toBeLessThan(rate * 1.2);
    }
  });
});

describe('iperf3 -c against the namestack perf server', () => {
  let server: PerfServer | undefined;
  afterEach(() => {
    server?.close();
    server = undefined;
  });

  async function serve(): Promise<{ port: number; reports: PerfReport[] }> {
    const reports: PerfReport[] = [];
    server = await startServer({ port: 0, transport: kernelTransport, onReport: (r) => reports.push(r) });
    return { port: server.port, reports };
  }

  it('receives from iperf3 -c -t 1', async () => {
    const { port, reports } = await serve();
    const theirs = ended(await iperf3Client('127.0.0.1', port, ['-t', '1']).report);
    expect(reports).toHaveLength(1);
    const ours = ended(reports[0]!);
    expect(ours.streams).toHaveLength(1);
    // iperf3's receiver figures are ours (our results message), its sender figures its own.
    expect(theirs.sum_received.bytes).toBe(ours.sum_received.bytes);
    expect(ours.sum_sent.bytes).toBe(theirs.sum_sent.bytes);
    expectDelivered(ours.sum_received.bytes, theirs.sum_sent.bytes);
    expect(reports[0]!.start.accepted_connection?.host).toBe('127.0.0.1');
  });

  it('prints the summary lines iperf3 prints for the same test', async () => {
    const { port, reports } = await serve();
    // Asynchronously: our server runs in this process.
    const { stdout } = await promisify(execFile)('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', '1', '-P', '2'], { encoding: 'utf8' });
    const text = stdout.split('\n');
    // iperf3's summary: from the last separator to the blank line before "iperf Done.".
    const from = text.lastIndexOf(SEPARATOR);
    const theirs = text.slice(from, text.indexOf('', from));
    const ours: string[] = [];
    new TextReport((l) => ours.push(l)).end(ended(reports[0]!), 'client');
    expect(theirs).toHaveLength(1 + 1 + 2 * 2 + 2);
    // The [ID] column is iperf3's socket descriptor (5, 7 here); ours counts from 5.
    const noId = (l: string): string => l.replace(/^\[\s*\d+\]/, '[ID]');
    expect(ours.map(noId)).toEqual(theirs.map(noId));
  });

  it('sends to iperf3 -c -R -P 2 over IPv6, then serves the next test', async () => {
    const { port, reports } = await serve();
    const theirs = ended(await iperf3Client('::1', port, ['-t', '1', '-R', '-P', '2']).report);
    const ours = ended(reports[0]!);
    expect(theirs.streams).toHaveLength(2);
    expect(ours.streams).toHaveLength(2);
    expect(theirs.sum_sent.bytes).toBe(ours.sum_sent.bytes);
    expectDelivered(theirs.sum_received.bytes, ours.sum_sent.bytes, 2);
    // iperf3 learns our retransmission count (TCP_INFO of the kernel sockets we send on).
    expect(theirs.sum_sent.retransmits).toBe(ours.sum_sent.retransmits);
    const next = ended(await iperf3Client('127.0.0.1', port, ['-n', '8M']).report);
    expect(next.sum_sent.bytes).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    expect(reports).toHaveLength(2);
  });

  it('sets the congestion control iperf3 -C asks for on its kernel sockets', async () => {
    const { port, reports } = await serve();
    const theirs = ended(await iperf3Client('127.0.0.1', port, ['-t', '1', '-R', '-C', 'reno']).report);
    expect(theirs.sender_tcp_congestion).toBe('reno');
    expect(ended(reports[0]!).sender_tcp_congestion).toBe('reno');
  });

  it('paces -R -b on our side', async () => {
    const { port } = await serve();
    const theirs = ended(await iperf3Client('127.0.0.1', port, ['-t', '2', '-R', '-b', '100M']).report);
    expect(theirs.sum_received.bits_per_second).toBeGreaterThan(80e6);
    expect(theirs.sum_received.bits_per_second).toBeLessThan(120e6);
  });

  it('leaves the -O omit period out of the results, as iperf3 does', async () => {
    const { port, reports } = await serve();
    const theirs = await iperf3Client('127.0.0.1', port, ['-t', '1', '-O', '1']).report;
    const them = ended(theirs);
    const ours = reports[0]!;
    expect(ours.intervals[0]!.streams[0]!.omitted).toBe(true);
    expect(ours.intervals.at(-1)!.streams[0]!.omitted).toBe(false);
    expect(theirs.intervals[0]!.streams[0]!.omitted).toBe(true);
    // After the omit period both sides restart their counts and clocks, each on its own
    // timer (so the receiver may count a little more than the sender: its period ended first).
    expect(them.sum_received.bytes).toBe(ended(ours).sum_received.bytes);
    expect(ended(ours).sum_received.seconds).toBeLessThan(1.5);
    expect(them.sum_received.bytes).toBeGreaterThan(0);
  });

  it('tells a second client the server is busy', async () => {
    const { port, reports } = await serve();
    const first = iperf3Client('127.0.0.1', port, ['-t', '2']);
    // Wait until the first test runs, then try another.
    await new Promise((r) => setTimeout(r, 700));
    const second = await iperf3Client('127.0.0.1', port, ['-t', '1']).report;
    expect(second.error).toMatch(/busy/);
    ended(await first.report);
    expect(reports).toHaveLength(1);
  });

  it('refuses UDP and bidirectional tests with iperf3 error numbers', async () => {
    const { port } = await serve();
    const udp = await iperf3Client('127.0.0.1', port, ['-u', '-t', '1']).report;
    expect(udp.error).toMatch(/protocol does not exist/i);
    const bidir = await iperf3Client('127.0.0.1', port, ['--bidir', '-t', '1']).report;
    expect(bidir.error).toMatch(/not implemented/i);
  });

  it('answers SERVER_ERROR to our own client asking for too many streams', async () => {
    const { port, reports } = await serve();
    const report = await runClient({ host: '127.0.0.1', port, settings: settings({ parallel: 129 }), transport: kernelTransport });
    expect(report.error).toMatch(/server error: number of parallel streams too large/);
    expect(report.end).toBeUndefined();
    expect(reports).toHaveLength(0);
  });

  it('survives hostile control connections and keeps serving', async () => {
    const { port, reports } = await serve();
    const hostile = (payload: (state: number) => Buffer | undefined): Promise<void> =>
      new Promise((resolve) => {
        const s = connect(port, '127.0.0.1', () => s.write(encodeCookie(makeCookie())));
        s.on('data', (d: Buffer) => {
          const reply = payload(d[0]!);
          if (reply) s.write(reply);
        });
        s.on('error', () => {});
        s.on('close', () => resolve());
      });
    // A JSON length of 4 GiB: refused without allocating it.
    await hostile((state) => (state === State.PARAM_EXCHANGE ? Buffer.from([0xff, 0xff, 0xff, 0xff]) : undefined));
    // Not JSON at all: SERVER_ERROR (unable to receive parameters).
    let refused = 0;
    await hostile((state) => {
      if (state === State.PARAM_EXCHANGE) return Buffer.from([0, 0, 0, 3, 0x7b, 0x7b, 0x7b]);
      if ((state << 24) >> 24 === State.SERVER_ERROR) refused++;
      return undefined;
    });
    expect(refused).toBe(1);
    ended(await iperf3Client('127.0.0.1', port, ['-n', '1M']).report);
    expect(reports.filter((r) => r.end)).toHaveLength(1);
  });
});
