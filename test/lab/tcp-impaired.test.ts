// namestack's TCP through the host daemon against the kernel in the lab (prefix nst-ti-<pid>):
// alice's daemon (a stack on her TUNs) and bob's kernel exchange random files of 256 KB to
// 8 MB both ways at once over path p1, IPv4 and IPv6, with namestack as client (connect
// through the control socket to a kernel transfer peer on bob) and as server (a daemon
// listener, bob's transfer peer connecting), on each impairment profile of p1's relay:
// clean, 1% and 5% loss, reordering, duplication, 50 ms delay — the kernel selftest
// mptcp_connect.sh pattern. Both sides compare SHA-256; bob's kernel must abort no
// connection (TcpExtTCPAbortOn*), and a generous per-transfer guard catches stalls.

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { impairPath, labDown, labExec, labStatus, labUp, type LabStatusUp, type PathImpairment } from '../../apps/lab/lab.js';
import { listenThroughDaemon, streamThroughDaemon } from '../../apps/lab/namestack-transfer.js';
import { startTransferPeer, type RunningPeer, type TransferReport } from '../../apps/lab/transfer-peer.js';
import { seededRandom } from '../../stack/random.js';
import { privateBuild } from './daemon-process.js';
import { nodeCommand } from '../../apps/node-command.js';

const PREFIX = `nst-ti-${process.pid}`;
let build: ReturnType<typeof privateBuild> | undefined;
let status: LabStatusUp;
const peers: RunningPeer[] = [];
const random = seededRandom('tcp-impaired');

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Profile {
  name: string;
  impairment: Partial<PathImpairment> | null;
  /** Largest transfer per direction: lossy profiles move less so the file stays short. */
  maxSize: number;
  /** The relay counter this profile must have moved (the transfers really met the impairment). */
  acts?: RelayCount;
}

const KB = 1 << 10;
const MB = 1 << 20;
const PROFILES: Profile[] = [
  { name: 'clean', impairment: null, maxSize: 8 * MB },
  { name: 'loss 1%', impairment: { lossRate: 0.01 }, maxSize: 2 * MB, acts: 'lost' },
  { name: 'loss 5%', impairment: { lossRate: 0.05 }, maxSize: 512 * KB, acts: 'lost' },
  { name: 'reorder 2% (5 ms delay)', impairment: { delayMs: 5, reorderRate: 0.02 }, maxSize: 2 * MB, acts: 'reordered' },
  { name: 'duplicate 1%', impairment: { duplicateRate: 0.01 }, maxSize: 4 * MB, acts: 'duplicated' },
  { name: 'delay 50 ms', impairment: { delayMs: 50 }, maxSize: 1 * MB, acts: 'offered' },
];

/** A size from 256 KB to `max`, reproducible run to run. */
function size(max: number): number {
  return 256 * KB + Math.floor(random.float() * (max - 256 * KB + 1));
}

function addr(host: string, family: 4 | 6): string {
  const a = status.hosts[host]!.addresses.find((x) => x.path === 'p1')!;
  return family === 4 ? a.ipv4 : a.ipv6;
}

/** Bob's kernel's aborts of live connections (data after close, timeout, memory, linger...). */
async function bobAborts(): Promise<number> {
  const r = await labExec(PREFIX, 'bob', ['nstat', '-asz', 'TcpExtTCPAbort*']);
  let n = 0;
  for (const m of r.stdout.matchAll(/TcpExtTCPAbort\w+\s+(\d+)/g)) n += Number(m[1]);
  return n;
}

type RelayCount = 'offered' | 'lost' | 'reordered' | 'duplicated';

/** p1's relay counters summed over both directions (zeros while p1 is plain forwarding). */
async function relayCounts(): Promise<Record<RelayCount, number>> {
  const st = await labStatus(PREFIX);
  const sum = { offered: 0, lost: 0, reordered: 0, duplicated: 0 };
  if (!st.up) return sum;
  for (const dir of Object.values(st.paths.p1?.relay?.stats ?? {})) {
    for (const k of Object.keys(sum) as RelayCount[]) sum[k] += dir[k];
  }
  return sum;
}

/** Hang guard: a transfer that has not finished by then stalled (not a speed threshold). */
function guard<T>(p: Promise<T>, what: string, ms = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: stalled (no end within ${ms / 1000} s)`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function expectBothWays(what: string, payload: Uint8Array, received: Buffer, report: TransferReport): void {
  expect(report.error, `${what}: bob's peer`).toBeUndefined();
  expect(report.received, `${what}: bytes at bob`).toBe(payload.length);
  expect(report.receivedSha256, `${what}: SHA-256 at bob`).toBe(sha(payload));
  expect(received.length, `${what}: bytes at alice`).toBe(report.sent);
  expect(sha(received), `${what}: SHA-256 at alice`).toBe(report.sentSha256);
}

let nextPort = 7100;

/** alice connects through her daemon to a transfer peer listening on bob. */
async function namestackClient(family: 4 | 6, what: string, max: number): Promise<void> {
  const port = nextPort++;
  const up = random.bytes(size(max));
  const server = startTransferPeer(PREFIX, 'bob', { role: 'server', protocol: 'tcp', host: addr('bob', family), port, size: size(max) });
  peers.push(server);
  await guard(server.ready, `${what}: bob's listener`, 10_000);
  const [received, report] = await guard(Promise.all([streamThroughDaemon(status.hosts.alice!.controlSocket!, addr('bob', family), port, up), server.done]), what);
  expectBothWays(what, up, received, report);
}

/** bob's transfer peer connects to a listener of alice's daemon. */
async function namestackServer(family: 4 | 6, what: string, max: number): Promise<void> {
  const port = nextPort++;
  const down = random.bytes(size(max));
  const listener = await listenThroughDaemon(status.hosts.alice!.controlSocket!, port, down, addr('alice', family));
  try {
    const client = startTransferPeer(PREFIX, 'bob', { role: 'client', protocol: 'tcp', host: addr('alice', family), port, size: size(max) });
    peers.push(client);
    const [received, report] = await guard(Promise.all([listener.received, client.done]), what);
    expectBothWays(what, down, received, report);
  } finally {
    listener.close();
  }
}

beforeAll(async () => {
  build = privateBuild();
  status = await labUp({ prefix: PREFIX, daemon: nodeCommand(build.cli, 'host') });
}, 120_000);

afterAll(async () => {
  for (const p of peers) p.child.kill('SIGKILL');
  await labDown(PREFIX);
  build?.remove();
}, 60_000);

describe('namestack (alice, through her daemon) <-> kernel (bob) on an impaired path', () => {
  for (const profile of PROFILES) {
    it(`${profile.name}: both roles, IPv4 and IPv6, SHA-256 equal both ways, no kernel abort`, async () => {
      await impairPath(PREFIX, 'p1', profile.impairment);
      const before = await bobAborts();
      const relayBefore = await relayCounts();
      for (const family of [4, 6] as const) {
        await namestackClient(family, `${profile.name}, IPv${family}, namestack client`, profile.maxSize);
        await namestackServer(family, `${profile.name}, IPv${family}, namestack server`, profile.maxSize);
      }
      expect(await bobAborts(), `${profile.name}: bob's TcpExtTCPAbortOn* grew`).toBe(before);
      if (profile.acts) {
        const relayAfter = await relayCounts();
        expect(relayAfter[profile.acts], `${profile.name}: p1's relay ${profile.acts}`).toBeGreaterThan(relayBefore[profile.acts]);
      }
    }, 150_000);
  }
});
