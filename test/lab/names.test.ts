// Name-based sockets in the lab (root; prefix nst-nm-<pid>): the daemons on alice and carol
// (labUp's hook, the lab's DNS as their nameservers), driven by the real CLI. alice -> carol:
// names exchanged and verified both ways, seen on the wire by tcpdump in alice's namespace
// and decoded by tshark without a malformed packet; alice -> bob (the kernel): a normal
// MPTCP connection as bob's `ss -Mi` shows it, with the data intact; the spoof (carol
// claiming alice's name) refused by a listener that requires verified peers.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labExec, labUp, type LabStatusUp } from '../../apps/lab/lab.js';
import { startTransferPeer } from '../../apps/lab/transfer-peer.js';
import { startCapture } from './capture.js';
import { privateBuild, runCommand } from './daemon-process.js';
import { tshark } from './tun-lab.js';
import { nodeCommand } from '../../apps/node-command.js';

const PREFIX = `nst-nm-${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), 'nst-nm-'));
const children: ChildProcess[] = [];
let build: ReturnType<typeof privateBuild>;
let status: LabStatusUp;

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function cli(host: string, ...args: string[]): string[] {
  return nodeCommand(build.cli, ...args, '--control', status.hosts[host]!.controlSocket!);
}

/** Starts a CLI command in the background (killed in afterAll); resolves once `ready` shows on its stderr. */
function background(argv: string[], ready: RegExp): Promise<{ child: ChildProcess; stderr: () => string }> {
  const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  let err = '';
  return new Promise((resolve, reject) => {
    c.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (ready.test(err)) resolve({ child: c, stderr: () => err });
    });
    c.on('close', (code) => reject(new Error(`${argv.join(' ')} exited ${code}: ${err}`)));
  });
}



beforeAll(async () => {
  build = privateBuild();
  // P = 5 (IPv6 first, IPv4 50 ms later): on the lab's fast paths the IPv6 attempt, which
  // carries the names, wins; the race itself is tested in eyeballs.test.ts.
  status = await labUp({ prefix: PREFIX, daemon: nodeCommand(build.cli, 'host', '--set', 'eyeballs.initialPreference=5') });
}, 120_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await labDown(PREFIX);
  build?.remove();
  rmSync(tmp, { recursive: true, force: true });
});

describe('name-based connections in the lab', () => {
  it('alice -> carol: names in destination options both ways, verified both ways; tshark decodes them cleanly', async () => {
    // On both path veths (the race takes carol's first IPv6 address in DNS order).
    const pcaps = ['p1', 'p2'].map((p) => join(tmp, `alice-${p}.pcap`));
    const dumps = [await startCapture(PREFIX, 'alice', 'p1', pcaps[0]!, 'ip6'), await startCapture(PREFIX, 'alice', 'p2', pcaps[1]!, 'ip6')];
    const listener = await background(
      cli('carol', 'listen', '7701', '--local-name', 'carol.lab.test', '--require-verified', '-v', '--exec', 'echo "$NAMESTACK_PEER_NAME $NAMESTACK_PEER_NAME_VERIFIED $NAMESTACK_LOCAL_NAME"; cat >/dev/null'),
      /listening on/,
    );
    const r = await runCommand(cli('alice', 'connect', 'carol.lab.test', '7701', '-v'), 'hello from alice\n');
    expect(r.status, r.stderr).toBe(0);
    // carol's side: the peer's name as it came on the wire, verified in DNS, and carol's own.
    expect(r.stdout.toString()).toBe('alice.lab.test 1 carol.lab.test\n');
    // alice's side: the names of both ends, carol's verified.
    expect(r.stderr).toMatch(/names: alice\.lab\.test -> carol\.lab\.test \(verified\)/);
    const path = /-> fd00:(\d):2::21 port 7701/.exec(r.stderr)?.[1];
    expect(path, r.stderr).toMatch(/^[12]$/);
    for (const d of dumps) await d.stop();
    expect(listener.stderr()).toMatch(new RegExp(`connection from fd00:${path}:1::10 port \\d+ alice\\.lab\\.test \\(verified\\)`));
    const pcap = pcaps[Number(path) - 1]!;

    // On the wire: the SYN carries alice -> carol, the SYN-ACK carol -> alice, nothing after.
    const lines = tshark(`-r ${pcap} -Y "tcp.port == 7701 and not icmpv6" -T fields -E separator=/t -e ipv6.src -e tcp.flags.str -e ipv6.dstopts -e frame.time_relative -e tcp.seq -e tcp.ack`);
    expect(lines.length).toBeGreaterThan(4);
    const named = lines.filter((l) => l.split('\t')[2] !== '');
    expect(named.map((l) => l.split('\t').slice(0, 2).join(' ')), lines.join('\n')).toEqual([`fd00:${path}:1::10 ··········S·`, `fd00:${path}:2::21 ·······A··S·`]);
    // tshark -V: both options shown as unknown options carrying the names in DNS label form, skipped, no malformed packet.
    const verbose = tshark(`-r ${pcap} -Y "tcp.port == 7701" -V`).join('\n');
    const label = (n: string): string => n.split('.').map((l) => String.fromCharCode(l.length) + l).join('') + '\0';
    const hex = (n: string): string => Buffer.from(label(n), 'latin1').toString('hex');
    expect(verbose.replace(/[\s:]/g, '')).toContain(hex('alice.lab.test'));
    expect(verbose.replace(/[\s:]/g, '')).toContain(hex('carol.lab.test'));
    expect(verbose.match(/Type: Unknown \(0x11\)/g)).toHaveLength(2);
    expect(verbose.match(/Type: Unknown \(0x12\)/g)).toHaveLength(2);
    expect(verbose).not.toMatch(/[Mm]alformed|Expert Info \(Error/);
    expect(verbose).toMatch(/Destination Options for IPv6/);
  });

  it("the spoof: carol claims alice.lab.test; alice's listener that requires verified peers refuses it, one that does not reports it unverified", async () => {
    const strict = await background(cli('alice', 'listen', '7702', '--require-verified', '-v', '--exec', 'echo accepted; cat >/dev/null'), /listening on/);
    const r = await runCommand(cli('carol', 'connect', 'alice.lab.test', '7702', '--local-name', 'alice.lab.test'), 'x');
    expect(r.stdout.toString()).not.toContain('accepted');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ECONNRESET/);
    expect(strict.stderr()).not.toMatch(/connection from/);
    const stats = JSON.parse((await runCommand(cli('alice', 'stats', '--json'))).stdout.toString()) as { names: { counters: { refusedUnverified: number; unverified: number } } };
    expect(stats.names.counters.refusedUnverified).toBeGreaterThanOrEqual(1);

    const open = await background(cli('alice', 'listen', '7703', '-v', '--exec', 'echo "$NAMESTACK_PEER_NAME $NAMESTACK_PEER_NAME_VERIFIED"; cat >/dev/null'), /listening on/);
    // Give the lookup time to finish before the child starts: the verdict is in the accept reply.
    const r2 = await runCommand(cli('carol', 'connect', 'alice.lab.test', '7703', '--local-name', 'alice.lab.test'), '');
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stdout.toString()).toBe('alice.lab.test 0\n');
    expect(open.stderr()).toMatch(/connection from fd00:\d:2::21 port \d+ alice\.lab\.test \(not verified\)/);
  });

  it('alice -> bob (the kernel): plain MPTCP for bob, subflows on both paths, the data intact both ways', async () => {
    const peer = startTransferPeer(PREFIX, 'bob', { role: 'server', protocol: 'mptcp', host: '::', port: 7704, size: 1 << 20 });
    children.push(peer.child);
    await peer.ready;
    const data = randomBytes(4 << 20);
    // The client keeps its input open for a moment, so bob's socket can be looked at while it lives.
    const argv = cli('alice', 'connect', 'bob.lab.test', '7704', '-v');
    const client = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(client);
    const out: Buffer[] = [];
    let err = '';
    client.stdout!.on('data', (d: Buffer) => out.push(d));
    client.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => client.on('close', r));
    client.stdin!.write(data);
    let ss = '';
    for (let i = 0; i < 50 && !/subflows:[1-9]/.test(ss); i++) {
      await new Promise((r) => setTimeout(r, 100));
      ss = (await labExec(PREFIX, 'bob', ['ss', '-Mni', 'sport', '= :7704'])).stdout;
    }
    const tcp = (await labExec(PREFIX, 'bob', ['ss', '-tni', 'sport', '= :7704'])).stdout;
    client.stdin!.end();
    expect(await exited, err).toBe(0);
    const report = await peer.done;
    // bob: one MPTCP connection (its msk in ss -M) from alice's IPv6 address on the path the
    // race took, and a subflow on the other path in the same family (one family per
    // interface: IPv4 stands by).
    // (bob has sent its part and half-closed: FIN-WAIT, with alice still sending)
    expect(ss).toMatch(/\[fd00:(\d):2::20\]:7704\s+\[fd00:\1:1::10\]:\d+/);
    expect(ss, tcp).toMatch(/subflows:1 /);
    for (const a of ['fd00:1:1::10', 'fd00:2:1::10']) expect(tcp).toContain(a);
    expect(report).toMatchObject({ mptcp: true, received: data.length, receivedSha256: sha(data), sent: 1 << 20 });
    const got = Buffer.concat(out);
    expect(sha(got)).toBe(report.sentSha256);
    expect(err).toMatch(/names: alice\.lab\.test -> bob\.lab\.test \(verified\)/);
    // The names went out (bob skipped them): alice's exchange gave up after N packets.
    const stats = JSON.parse((await runCommand(cli('alice', 'stats', '--json'))).stdout.toString()) as { names: { races: { destination: string; winner: { family: number } }[] } };
    expect(stats.names.races.some((x) => x.destination === 'bob.lab.test' && x.winner.family === 6)).toBe(true);
  });
});
