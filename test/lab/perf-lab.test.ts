// The `namestack perf` command in the lab, through the host daemon on alice (root; prefix
// nst-pl-<pid>): `namestack perf -c <bob>` against bob's `iperf3 -s`, and bob's `iperf3 -c
// <alice>` against `namestack perf -s`, both directions, each side's -J report checked
// against the other's. This is issue 4's "done when" for perf, run as a user would.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labExec, labSpawn, labUp, type LabStatusUp } from '../../apps/lab/lab.js';
import { controlCall } from '../../apps/control/client.js';
import type { PerfReport } from '../../apps/perf/report.js';
import { privateBuild, runCommand, startCommand } from './daemon-process.js';
import { nodeCommand } from '../../apps/node-command.js';

const PREFIX = `nst-pl-${process.pid}`;
const PORT = 5201;
let build: ReturnType<typeof privateBuild>;
let status: LabStatusUp;

function address(host: string, family: 'ipv4' | 'ipv6'): string {
  return status.hosts[host]!.addresses.find((a) => a.path === 'p1')![family];
}

function perf(...args: string[]): string[] {
  return nodeCommand(build.cli, 'perf', ...args, '-J', '--control', status.hosts.alice!.controlSocket!);
}

function ended(report: PerfReport): NonNullable<PerfReport['end']> {
  expect(report.error).toBeUndefined();
  return report.end!;
}

/**
 * The client's report holds both sides' figures (the results exchange): the server's half
 * must be what the server measured itself, and the receiver cannot have more than was sent.
 */
function expectAgreement(client: NonNullable<PerfReport['end']>, server: NonNullable<PerfReport['end']>, clientSends: boolean): void {
  if (clientSends) expect(client.sum_received.bytes).toBe(server.sum_received.bytes);
  else expect(client.sum_sent.bytes).toBe(server.sum_sent.bytes);
  expect(client.sum_received.bytes).toBeGreaterThan(0);
  expect(client.sum_received.bytes).toBeLessThanOrEqual(client.sum_sent.bytes);
}

/** Runs `command` on bob and parses the JSON iperf3 prints. */
async function onBob(command: string[], timeoutMs = 30_000): Promise<PerfReport> {
  const r = await labExec(PREFIX, 'bob', command, { timeoutMs });
  return JSON.parse(r.stdout) as PerfReport;
}

/** Waits until alice's daemon has a listener on `port` (its stats list the control server's listeners). */
async function daemonListens(port: number): Promise<void> {
  const listening = async (): Promise<boolean> => {
    const stats = await controlCall<{ control: { listeners: { local: { port: number } }[] } }>(status.hosts.alice!.controlSocket!, { op: 'stats' });
    return stats.control.listeners.some((l) => l.local.port === port);
  };
  for (let i = 0; i < 200 && !(await listening()); i++) await new Promise((r) => setTimeout(r, 25));
  if (!(await listening())) throw new Error(`alice's daemon does not listen on ${port}`);
}

beforeAll(async () => {
  build = privateBuild();
  status = await labUp({ prefix: PREFIX, daemon: nodeCommand(build.cli, 'host') });
});

afterAll(async () => {
  await labDown(PREFIX);
  build?.remove();
});

describe.each(['ipv4', 'ipv6'] as const)('namestack perf on alice and iperf3 on bob, %s', (family) => {
  it('namestack perf -c bob against iperf3 -s, then -R', async () => {
    for (const reverse of [false, true]) {
      const server = labSpawn(PREFIX, 'bob', ['iperf3', '-s', '-1', '-J', '-p', String(PORT)], { stdio: ['ignore', 'pipe', 'ignore'] });
      let serverOut = '';
      server.stdout!.on('data', (d: Buffer) => (serverOut += d.toString()));
      const serverDone = new Promise((resolve) => server.once('close', resolve));
      for (let i = 0; i < 200 && (await labExec(PREFIX, 'bob', ['ss', '-Hltn', `sport = :${PORT}`])).stdout.trim() === ''; i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      const client = await runCommand(perf('-c', address('bob', family), '-p', String(PORT), '-t', '1', ...(reverse ? ['-R'] : [])));
      await serverDone;
      expect(client.status).toBe(0);
      const ours = JSON.parse(client.stdout.toString()) as PerfReport;
      const theirs = JSON.parse(serverOut) as PerfReport;
      expect(ours.start.transport).toBe('namestack');
      expect(ours.start.connected[0]!.local_host).toBe(address('alice', family));
      expectAgreement(ended(ours), ended(theirs), !reverse);
    }
  });

  it('iperf3 -c alice against namestack perf -s, then -R', async () => {
    for (const reverse of [false, true]) {
      const server = startCommand(perf('-s', '-1', '-p', String(PORT)));
      await daemonListens(PORT);
      const theirs = await onBob(['iperf3', '-c', address('alice', family), '-p', String(PORT), '-t', '1', '-J', ...(reverse ? ['-R'] : [])]);
      const served = await server.result;
      expect(served.status).toBe(0);
      const ours = JSON.parse(served.stdout.toString()) as PerfReport;
      expect(ours.start.accepted_connection?.host).toBe(address('bob', family));
      expectAgreement(ended(theirs), ended(ours), !reverse);
    }
  });
});
