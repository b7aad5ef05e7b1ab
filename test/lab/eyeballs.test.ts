// The thesis's chapter 6 (section 6.2), automated in the lab (root; prefix nst-he-<pid>):
// a server with its IPv6 and IPv4 addresses on separate paths (bob-split.lab.test: AAAA on
// p1, A on p2, bob's kernel answering with MPTCP), namestack on alice in this process (the
// daemon's code, apps/lab/inprocess-host.ts) so P can be set as the thesis set it before
// each scenario, tcpdump on both of alice's path veths as the thesis used Wireshark. Each
// scenario asserts, from the captures, which family's SYN went first and the gap to the
// other's, and from the race record the winner and P after (Table 2). The thesis's module
// reset the loser, so the scenarios run with eyeballs.keepOtherFamilyForMptcp off; the last
// test turns it on and checks on bob's side that the loser's path joined the winner.

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAcceptLoop } from '../../apps/lab/accept-loop.js';
import { startTransferPeer } from '../../apps/lab/transfer-peer.js';
import { startInProcessHost, type InProcessHost } from '../../apps/lab/inprocess-host.js';
import { impairPath, labDown, labExec, labUp, type LabStatusUp } from '../../apps/lab/lab.js';
import { DnsResolver } from '../../stack/dns/resolver.js';
import type { RaceRecord } from '../../stack/eyeballs/race.js';
import { NameSocket } from '../../stack/socket/name-socket.js';
import { NameStack } from '../../stack/socket/name-stack.js';
import type { OpenResult } from '../../stack/socket/stream-open.js';
import { startCapture } from './capture.js';
import { tshark } from './tun-lab.js';

const PREFIX = `nst-he-${process.pid}`;
const SERVER = 'bob-split.lab.test';
const PORT = 7800;
const tmp = mkdtempSync(join(tmpdir(), 'nst-he-'));
const children: ChildProcess[] = [];
let status: LabStatusUp;
let alice: InProcessHost;



/** The first SYN toward the server on each of alice's paths, epoch seconds, while `during` runs. */
async function synTimes<T>(during: () => Promise<T>): Promise<{ result: T; p1?: number; p2?: number }> {
  const files = { p1: join(tmp, `p1-${Date.now()}.pcap`), p2: join(tmp, `p2-${Date.now()}.pcap`) };
  const dumps = [];
  // `ip6`, not `tcp port`: BPF misses TCP behind the names' destination options header.
  for (const p of ['p1', 'p2'] as const) dumps.push(await startCapture(PREFIX, 'alice', p, files[p], `ip6 or (tcp port ${PORT})`));
  const result = await during();
  await new Promise((r) => setTimeout(r, 100));
  for (const d of dumps) await d.stop();
  const first = (file: string): number | undefined => {
    const lines = tshark(`-r ${file} -Y "tcp.dstport == ${PORT} and tcp.flags.syn == 1 and tcp.flags.ack == 0 and not icmpv6" -T fields -e frame.time_epoch`);
    return lines.length ? Number(lines[0]) : undefined;
  };
  return { result, p1: first(files.p1), p2: first(files.p2) };
}

/** A name stack over alice's layers with its own resolver asking the DNS server on `path` (the unimpaired one). */
function stackAsking(path: 'p1' | 'p2', p: number): NameStack {
  const ns = status.nameservers.find((n) => n.path === path)!;
  const base = alice.names;
  const resolver = new DnsResolver(base.host, base.udp!, { servers: [ns.ipv6, ns.ipv4] });
  const names = new NameStack(base.host, { tcp: base.tcp, mptcp: base.mptcp!, udp: base.udp!, resolver, names: [...base.names] });
  names.preferences.set(SERVER, p);
  return names;
}

/**
 * `names` with both of the server's answers in its resolver's cache, so a race gets them in
 * one turn: the two lookups otherwise come back in separate reads now and then.
 */
function withAnswers(names: NameStack): Promise<NameStack> {
  return new Promise((resolve) => {
    let answers = 0;
    names.resolver.lookupBoth(SERVER, alice.driver.now(), () => ++answers === 2 && resolve(names));
    alice.driver.kick();
  });
}

function open(names: NameStack): Promise<RaceRecord> {
  return new Promise((resolve, reject) => {
    names.openStream({ peerName: SERVER, service: PORT }, alice.driver.now(), (r: OpenResult) => {
      if (!r.ok) return reject(r.error);
      r.connection.conn.destroy();
      alice.driver.kick();
      resolve(r.connection.race!);
    });
    alice.driver.kick();
  });
}

beforeAll(async () => {
  status = await labUp({ prefix: PREFIX });
  alice = await startInProcessHost(PREFIX, 'alice', { control: join(tmp, 'alice.sock'), stack: { eyeballs: { keepOtherFamilyForMptcp: false } } });
  children.push(await startAcceptLoop(PREFIX, 'bob', PORT));
}, 120_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await alice?.stop();
  await labDown(PREFIX);
  rmSync(tmp, { recursive: true, force: true });
});

describe("Happy Eyeballs with P in the lab (thesis 6.2, Table 2)", () => {
  it('scenario 1, P = 0: IPv6 and IPv4 attempted at once; the faster family wins and P moves by one', async () => {
    const names = await withAnswers(stackAsking('p1', 0));
    const { result: race, p1, p2 } = await synTimes(() => open(names));
    expect(p1 && p2).toBeTruthy();
    // Both attempts start in the same turn of the stack (no preference delay between them);
    // on the wire, far less apart than any fallback delay (RFC 8305's 250 ms).
    const t = race.attempts[0]!.startedAt;
    expect(race.attempts.map((a) => [a.family, a.startedAt])).toEqual([[6, t], [4, t]]);
    expect(Math.abs(p2! - p1!) * 1000).toBeLessThan(250);
    expect(race.preferenceAfter).toBe(race.winner!.family === 6 ? 1 : -1);
  });

  it('scenario 2, P = 1 with 1000 ms more on the IPv6 path: IPv6 first, IPv4 10 ms later wins, P halves to 0', async () => {
    await impairPath(PREFIX, 'p1', { delayMs: 1000 });
    try {
      const { result: race, p1, p2 } = await synTimes(() => open(stackAsking('p2', 1)));
      expect(p1! < p2!).toBe(true);
      const gapMs = (p2! - p1!) * 1000;
      // |P| x 10 ms: the timer never fires early; the upper bound only rules out waiting for IPv6.
      expect(gapMs).toBeGreaterThanOrEqual(9.5);
      expect(gapMs).toBeLessThan(500);
      expect(race.attempts.map((a) => [a.family, a.outcome])).toEqual([[6, 'cancelled'], [4, 'won']]);
      expect([race.preferenceBefore, race.preferenceAfter]).toEqual([1, 0]);
    } finally {
      await impairPath(PREFIX, 'p1', null);
    }
  });

  it('scenario 3, P = -1 with 1000 ms more on the IPv4 path: IPv4 first, IPv6 10 ms later wins, P halves to 0', async () => {
    await impairPath(PREFIX, 'p2', { delayMs: 1000 });
    try {
      const { result: race, p1, p2 } = await synTimes(() => open(stackAsking('p1', -1)));
      expect(p2! < p1!).toBe(true);
      const gapMs = (p1! - p2!) * 1000;
      expect(gapMs).toBeGreaterThanOrEqual(9.5);
      expect(gapMs).toBeLessThan(500);
      expect(race.attempts.map((a) => [a.family, a.outcome])).toEqual([[4, 'cancelled'], [6, 'won']]);
      expect([race.preferenceBefore, race.preferenceAfter]).toEqual([-1, 0]);
    } finally {
      await impairPath(PREFIX, 'p2', null);
    }
  });

  it('IPv6 blackholed: IPv4 wins, P learns -1, -2, -3; once learned IPv4 goes first and IPv6 waits |P| x 10 ms', async () => {
    const bob6 = status.hosts.bob!.addresses.find((a) => a.path === 'p1')!.ipv6;
    await labExec(PREFIX, 'r1', ['ip', '-6', 'route', 'add', 'blackhole', `${bob6}/128`]);
    try {
      const names = stackAsking('p2', 0);
      const seen: { before: number; after: number; first: number }[] = [];
      for (let i = 0; i < 3; i++) {
        const { result: race, p1, p2 } = await synTimes(() => open(names));
        expect(p2).toBeDefined();
        expect(race.winner?.family).toBe(4);
        const [a, b] = race.attempts;
        if (race.preferenceBefore < 0) {
          // IPv4 first; an IPv6 attempt only if IPv4 had not connected within |P| x 10 ms,
          // and then (its SYN dropped in r1) after IPv4's on the wire too.
          if (b) expect(b.startedAt - a!.startedAt).toBeGreaterThanOrEqual(Math.abs(race.preferenceBefore) * 10);
          if (p1 !== undefined) expect(p1).toBeGreaterThan(p2!);
        }
        seen.push({ before: race.preferenceBefore, after: race.preferenceAfter, first: a!.family });
      }
      expect(seen).toEqual([
        { before: 0, after: -1, first: 6 },
        { before: -1, after: -2, first: 4 },
        { before: -2, after: -3, first: 4 },
      ]);
    } finally {
      await labExec(PREFIX, 'r1', ['ip', '-6', 'route', 'del', 'blackhole', `${bob6}/128`]);
    }
  });

  it("keepOtherFamilyForMptcp: both families connect, the loser's path joins the winner; bob (no signal endpoints) sees one MPTCP connection with a subflow on each family", async () => {
    // bob as a Linux server by default: no endpoints, so it announces nothing and a subflow on
    // the other family can only come from the race.
    const endpoints = (await labExec(PREFIX, 'bob', ['ip', 'mptcp', 'endpoint', 'show'])).stdout.trim().split('\n').filter(Boolean);
    await labExec(PREFIX, 'bob', ['ip', 'mptcp', 'endpoint', 'flush']);
    const config = alice.names.host.config.eyeballs;
    config.keepOtherFamilyForMptcp = true;
    const port = PORT + 1;
    // bob sends 8 MB: Linux takes joins only while its side is open (mptcp_can_accept_new_subflow).
    const peer = startTransferPeer(PREFIX, 'bob', { role: 'server', protocol: 'mptcp', host: '::', port, size: 8 << 20 });
    children.push(peer.child);
    try {
      await peer.ready;
      // An A answer that came after the IPv6 winner would leave no IPv4 attempt to keep.
      const names = await withAnswers(stackAsking('p1', 0));
      // Half-open: alice's side stays open after bob's end, so bob's socket can be looked at.
      const socket = new NameSocket({ driver: alice.driver, names, allowHalfOpen: true });
      const got: Buffer[] = [];
      socket.on('data', (d: Buffer) => got.push(d));
      const ended = new Promise<void>((resolve, reject) => {
        socket.on('end', resolve);
        socket.on('error', reject);
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.open({ peerName: SERVER, service: port }, resolve);
      });
      const data = Buffer.alloc(256 << 10, 7);
      socket.write(data);
      // The join starts once the connection is fully established (bob's first DSS), long
      // before bob's 8 MB are through.
      await ended;
      const ss = (await labExec(PREFIX, 'bob', ['ss', '-Mni', 'sport', `= :${port}`])).stdout;
      const tcp = (await labExec(PREFIX, 'bob', ['ss', '-tni', 'sport', `= :${port}`])).stdout;
      socket.end();
      const report = await peer.done;
      const race = socket.raceInfo() as { attempts: { family: number; address: string; outcome: string; joined?: boolean }[]; winner: { family: number } };
      const loser = race.attempts.find((a) => a.family !== race.winner.family)!;
      expect([loser.outcome, loser.joined]).toEqual(['extra', true]);
      // bob: one MPTCP connection with one more subflow, a TCP subflow to the loser's address (the other family).
      expect(ss).toMatch(/subflows:1/);
      expect(tcp).toContain(loser.address);
      const alice4 = status.hosts.alice!.addresses.find((a) => a.path === 'p2')!.ipv4;
      const alice6 = status.hosts.alice!.addresses.find((a) => a.path === 'p1')!.ipv6;
      expect(tcp).toContain(alice4);
      expect(tcp).toContain(alice6);
      expect(report).toMatchObject({ mptcp: true, received: data.length });
      expect(Buffer.concat(got).length).toBe(8 << 20);
    } finally {
      config.keepOtherFamilyForMptcp = false;
      for (const e of endpoints) await labExec(PREFIX, 'bob', ['ip', 'mptcp', 'endpoint', 'add', ...e.split(/\s+/)]);
    }
  });
});
