// Time to connect with Happy Eyeballs, namestack against Node, in the same run, to the same
// server: bob-split.lab.test (the thesis's chapter 6 server: AAAA on path p1, A on path p2;
// bob's kernel accepting MPTCP), from the client side of the lab (docs/lab.md):
//
//   namestack: open() by name on alice (the daemon's code in this process,
//              apps/lab/inprocess-host.ts): the stack's DNS (AAAA and A in parallel, a fresh
//              resolver per trial, so no cached answer), the race with the thesis's P (kept
//              from trial to trial: "P learned"), MPTCP SYNs carrying the names;
//   Node:      net.connect({ host, port, autoSelectFamily: true }) in dave's namespace (a
//              kernel host on the same side and paths): getaddrinfo through the lab's DNS,
//              then attempts one at a time, each aborted after 250 ms (Node 20's default).
//
// Scenarios: healthy (both families answer), and IPv6 broken (bob's IPv6 address
// blackholed in router r1: SYNs vanish). Each trial is timed from the call to the
// application's connect callback (DNS included; Node: the 'connect' event); a table of medians (and min/max) per scenario and side.
// namestack runs three times: every trial with P = 0 (the first connection to a name: nothing
// learned, both families at once), then a sequence that keeps the P it learns, then that
// sequence again with the TUN's busy poll on (TunDevice.busyPollUs, off by default). Both sides
// first make --warmup unreported connections, back to back, to bob-p2.lab.test (so P for the
// server stays untouched): a process's first connections run interpreted and baseline code
// until V8's optimizing tier has seen enough calls (a few hundred: with 3 warm-ups namestack's
// healthy open took 1.9-2.4 ms, with 500 1.2, in runs of the same hour). The path RTT (ping,
// median) is shown for reference.
//
// Run: npx tsc -p tsconfig.json && scripts/bench-eyeballs [--trials 10] [--warmup 300] [--prefix bench-he] [--record] [--keep] [--verbose] [--phases]
// --record appends a dated section to docs/BENCHMARKS.md; --keep leaves the lab up; --verbose
// prints every trial's race (DNS answers, attempts, the end, in ms after the call); --phases
// splits namestack's time into phases from the packets on alice's TUNs (what went out when
// its write returned, what came in when it was read; see PacketTimes).

import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startAcceptLoop } from '../apps/lab/accept-loop.js';
import { startInProcessHost, type InProcessHost } from '../apps/lab/inprocess-host.js';
import { labDown, labExec, labUp, type LabStatusUp } from '../apps/lab/lab.js';
import { DnsResolver } from '../stack/dns/resolver.js';
import type { RaceRecord } from '../stack/eyeballs/race.js';
import { NameStack } from '../stack/socket/name-stack.js';
import { parsePacket } from '../stack/wire/packet.js';
import { TCP_ACK, TCP_SYN } from '../stack/wire/tcp.js';
import { PcapWriter } from '../tun/pcap.js';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '300' },
    prefix: { type: 'string', default: 'bench-he' },
    record: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    phases: { type: 'boolean', default: false },
  },
});
const TRIALS = Number(args.trials);
const PREFIX = args.prefix!;
const SERVER = 'bob-split.lab.test';
const PORT = 7900;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Unreported connections each side makes first, to WARMUP_SERVER (P for SERVER untouched). */
const WARMUP = Number(args.warmup);
// bob's name on path p2: both families, neither blackholed in the 'IPv6 broken' scenario.
const WARMUP_SERVER = 'bob-p2.lab.test';
/** The last column: the P-learned series with TunDevice.busyPollUs at this (a LAN answers well within it). */
const BUSY_POLL_US = 200;


// Node's side, run in dave's namespace: one JSON line per trial.
const NODE_CLIENT = `
const net = require('node:net');
const { performance } = require('node:perf_hooks');
const [host, warmHost, port, trials, warmup] = [process.argv[1], process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
(async () => {
  // Negative trials warm the process up (its JIT, the resolver library), back to back, and are not reported.
  for (let i = -warmup; i < trials; i++) {
    const t0 = performance.now();
    const r = await new Promise((resolve) => {
      const s = net.connect({ host: i < 0 ? warmHost : host, port, autoSelectFamily: true });
      s.once('connect', () => { resolve({ ms: performance.now() - t0, family: s.remoteFamily }); s.destroy(); });
      s.once('error', (e) => resolve({ ms: performance.now() - t0, error: e.code }));
    });
    if (i < 0) continue;
    console.log(JSON.stringify(r));
    await new Promise((r) => setTimeout(r, 50));
  }
})();
`;

interface Trial {
  ms: number;
  family?: string;
  error?: string;
  p?: number;
  /** --phases: PHASES' durations in ms. */
  phases?: number[];
}

/**
 * --phases: the TUN captures' timestamps (CaptureLink: a packet sent once its write returned,
 * one received when it was read, before the stack saw it) on the clock of the trials
 * (performance.now()). Packets are kept as bytes and parsed after the trial.
 */
class PacketTimes extends PcapWriter {
  readonly packets: { at: number; bytes: Uint8Array }[] = [];

  constructor() {
    super(() => {});
  }

  override writePacket(timestampMs: number, packet: Uint8Array): void {
    this.packets.push({ at: timestampMs - performance.timeOrigin, bytes: packet.slice() });
  }

  /**
   * One open's phases, from the call at `t0` to the callback at `t1`: its DNS queries out, the
   * wait for the first answer, that answer to the first SYN out, the wait for the first SYN-ACK,
   * the SYN-ACK to the callback. Undefined when a packet is missing (a failed open).
   */
  phases(t0: number, t1: number): number[] | undefined {
    let queriesOut: number | undefined;
    let answerIn: number | undefined;
    let synOut: number | undefined;
    let synAckIn: number | undefined;
    for (const { at, bytes } of this.packets) {
      if (at < t0 || at > t1) continue;
      const p = parsePacket(bytes);
      if (!p.ok) continue;
      const t = p.value.transport;
      if (t.protocol === 'udp' && t.repr.dstPort === 53 && answerIn === undefined) queriesOut = at;
      else if (t.protocol === 'udp' && t.repr.srcPort === 53) answerIn ??= at;
      else if (t.protocol === 'tcp' && (t.repr.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) synOut ??= at;
      else if (t.protocol === 'tcp' && (t.repr.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) synAckIn ??= at;
    }
    this.packets.length = 0;
    if (queriesOut === undefined || answerIn === undefined || synOut === undefined || synAckIn === undefined) return undefined;
    return [queriesOut - t0, answerIn - queriesOut, synOut - answerIn, synAckIn - synOut, t1 - synAckIn];
  }
}

const PHASES = ['call to DNS queries out', 'wait for the first answer', 'answer to SYN out', 'wait for the SYN-ACK', 'SYN-ACK to callback'];

const children: ChildProcess[] = [];


async function nodeTrials(): Promise<Trial[]> {
  const r = await labExec(PREFIX, 'dave', [process.execPath, '-e', NODE_CLIENT, SERVER, WARMUP_SERVER, String(PORT), String(TRIALS), String(WARMUP)], { timeoutMs: 120_000 });
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Trial);
}

/** TRIALS opens of SERVER: each with P = 0 (`learn` false), or P kept from trial to trial starting at 0. */
async function namestackTrials(alice: InProcessHost, status: LabStatusUp, learn: boolean): Promise<Trial[]> {
  const base = alice.names;
  const servers = status.nameservers.flatMap((n) => [n.ipv6, n.ipv4]);
  let p = 0;
  const out: Trial[] = [];
  const tap = args.phases ? new PacketTimes() : undefined;
  if (tap) for (const l of alice.daemon.links) l.capture.start(tap);
  // Negative trials warm this process up (JIT) on another name, so P for the server stays untouched.
  for (let i = -WARMUP; i < TRIALS; i++) {
    const name = i < 0 ? WARMUP_SERVER : SERVER;
    // A fresh resolver per trial (Node asks glibc, which caches nothing): the DNS time counts on both sides.
    const resolver = new DnsResolver(base.host, base.udp!, { servers });
    const names = new NameStack(base.host, { tcp: base.tcp, mptcp: base.mptcp!, udp: base.udp!, resolver, names: [...base.names] });
    names.preferences.set(name, p);
    const t0 = alice.driver.now();
    let connectedAt = 0;
    const race = await new Promise<RaceRecord>((resolve, reject) => {
      names.openStream({ peerName: name, service: PORT }, t0, (r) => {
        // The clock when the application hears of it, as Node's 'connect' event: the race's
        // finishedAt is the arrival of the SYN-ACK, before the stack processed it.
        connectedAt = alice.driver.now();
        if (!r.ok) return reject(r.error);
        r.connection.conn.destroy();
        alice.driver.kick();
        resolve(r.connection.race!);
      });
      alice.driver.kick();
    });
    resolver.close();
    if (args.verbose) process.stdout.write(`  trial ${i}: ${timeline(race, t0)}\n`);
    const phases = tap?.phases(t0, connectedAt);
    if (i < 0) continue;
    out.push({ ms: connectedAt - t0, family: race.winner!.family === 6 ? 'IPv6' : 'IPv4', p: race.preferenceBefore, ...(phases && { phases }) });
    if (learn) p = race.preferenceAfter;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (tap) for (const l of alice.daemon.links) l.capture.stop();
  return out;
}

/** --phases: the median of each phase over the trials that have them. */
function phaseCells(ts: Trial[]): string[] {
  const timed = ts.filter((t) => t.phases);
  return PHASES.map((_, i) => (timed.length === 0 ? '-' : median(timed.map((t) => t.phases![i]!)).toFixed(2)));
}

/** A race's events in ms after the call: DNS answers, attempts (start-end outcome), the end. */
function timeline(r: RaceRecord, t0: number): string {
  const ms = (t: number | undefined): string => (t === undefined ? '?' : (t - t0).toFixed(1));
  const answers = r.answers.map((a) => `${a.family === 6 ? 'AAAA' : 'A'} ${ms(a.at)}`);
  const attempts = r.attempts.map((a) => `IPv${a.family} ${ms(a.startedAt)}-${ms(a.endedAt)} ${a.outcome}`);
  return `P ${r.preferenceBefore}; ${answers.join(', ')}; ${attempts.join(', ')}; done ${ms(r.finishedAt)}`;
}

async function pingMs(path: 'p1' | 'p2', v6: boolean, status: LabStatusUp): Promise<number> {
  const a = status.hosts.bob!.addresses.find((x) => x.path === path)!;
  const r = await labExec(PREFIX, 'dave', ['ping', ...(v6 ? ['-6'] : []), '-c', '10', '-i', '0.05', v6 ? a.ipv6 : a.ipv4]);
  const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return median(times);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function cell(ts: Trial[]): string {
  const ok = ts.filter((t) => !t.error);
  if (ok.length === 0) return `failed (${ts[0]?.error ?? 'no trial'})`;
  const ms = ok.map((t) => t.ms);
  const fam = [...new Set(ok.map((t) => t.family))].join('/');
  return `${median(ms).toFixed(1)} (${Math.min(...ms).toFixed(1)}-${Math.max(...ms).toFixed(1)}) ${fam}${ok.length < ts.length ? `, ${ts.length - ok.length} failed` : ''}`;
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'nst-bhe-'));
  const status = await labUp({ prefix: PREFIX });
  const alice = await startInProcessHost(PREFIX, 'alice', { control: join(tmp, 'alice.sock') });
  const rows: string[] = [];
  const phaseRows: string[] = [];
  const bob6 = status.hosts.bob!.addresses.find((a) => a.path === 'p1')!.ipv6;
  try {
    children.push(await startAcceptLoop(PREFIX, 'bob', PORT));
    const rtt = { v6: await pingMs('p1', true, status), v4: await pingMs('p2', false, status) };
    for (const scenario of ['healthy', 'IPv6 broken'] as const) {
      if (scenario === 'IPv6 broken') await labExec(PREFIX, 'r1', ['ip', '-6', 'route', 'add', 'blackhole', `${bob6}/128`]);
      try {
        const node = await nodeTrials();
        const first = await namestackTrials(alice, status, false);
        const learned = (await namestackTrials(alice, status, true)).slice(2);
        // The same again with the TUN busy poll on (TunDevice.busyPollUs, off by default).
        for (const l of alice.daemon.links) l.tun.busyPollUs = BUSY_POLL_US;
        const polled = await namestackTrials(alice, status, true).finally(() => {
          for (const l of alice.daemon.links) l.tun.busyPollUs = 0;
        });
        const learnedPolled = polled.slice(2);
        rows.push(
          `| ${scenario} | ${cell(node)} | ${cell(first)} | ${cell(learned)} (P ${learned[0]?.p} .. ${learned[learned.length - 1]?.p}) | ${cell(learnedPolled)} |`,
        );
        process.stdout.write(`${scenario}: node ${cell(node)}; namestack first ${cell(first)}; learned ${cell(learned)}\n`);
        if (args.phases) for (const [label, ts] of [['P = 0', first], ['P learned', learned], ['P learned, busy poll', learnedPolled]] as const) phaseRows.push(`| ${scenario}, ${label} | ${phaseCells(ts).join(' | ')} | ${cell(ts)} |`);
      } finally {
        if (scenario === 'IPv6 broken') await labExec(PREFIX, 'r1', ['ip', '-6', 'route', 'del', 'blackhole', `${bob6}/128`]);
      }
    }
    const table = [
      `| scenario | Node net.connect autoSelectFamily (dave) | namestack open(), P = 0 every trial | namestack open(), trials 3.. (P learned) | the same, TUN busy poll ${BUSY_POLL_US} us |`,
      '|---|---:|---:|---:|---:|',
      ...rows,
    ].join('\n');
    const text = [
      '',
      `## Happy Eyeballs time to connect (scripts/bench-eyeballs), ${new Date().toISOString().slice(0, 10)}`,
      '',
      `Command: \`npx tsc -p tsconfig.json && scripts/bench-eyeballs --trials ${TRIALS} --warmup ${WARMUP}${args.phases ? ' --phases' : ''}${args.record ? ' --record' : ''}\` (root).`,
      `Date: ${new Date().toISOString()}. Machine: nproc ${cpus().length}, Linux ${release()}, Node ${process.version}.`,
      `Server ${SERVER} (AAAA on p1, A on p2; bob's kernel, MPTCP). Milliseconds from the call to the`,
      `application's connect callback (Node: the 'connect' event), DNS included (namestack: a fresh resolver per trial; Node: getaddrinfo), median`,
      `(min-max) of ${TRIALS} trials after ${WARMUP} unreported warm-up connections each side (to ${WARMUP_SERVER}, back to back), and the family that connected. Ping RTT dave -> bob: IPv6 p1 ${rtt.v6.toFixed(3)} ms, IPv4 p2 ${rtt.v4.toFixed(3)} ms.`,
      '"IPv6 broken": bob\'s IPv6 address blackholed in router r1 (SYNs vanish, no ICMP).',
      '',
      table,
      '',
      ...(args.phases
        ? [
            "namestack's time in phases (--phases; median ms; packets timestamped on alice's TUNs: sent when the write returned, received when read):",
            '',
            `| scenario | ${PHASES.join(' | ')} | total |`,
            `|---|${PHASES.map(() => '---:|').join('')}---:|`,
            ...phaseRows,
            '',
          ]
        : []),
    ].join('\n');
    process.stdout.write(text);
    if (args.record) appendFileSync(join(ROOT, 'docs', 'BENCHMARKS.md'), text);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await alice.stop();
    if (!args.keep) await labDown(PREFIX);
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench-eyeballs: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
