// The daemon in the lab, started through the lab's hook (labUp({ daemon })) on alice and
// carol (root; prefix nst-dl-<pid>): kernel hosts reach the stacks' addresses on both paths,
// alice's stack talks TCP to bob's kernel on each path (source-bound: one table per uplink)
// and to carol's stack, and a daemon restarted by hand re-attaches its TUNs by itself.

import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { impairPath, labDown, labExec, labSpawn, labUp, type LabStatusUp } from '../../apps/lab/lab.js';
import { KernelPeers, privateBuild, runCommand, startCommand } from './daemon-process.js';
import { nodeCommand } from '../../apps/node-command.js';

const PREFIX = `nst-dl-${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), 'nst-dl-'));
const peers = new KernelPeers(tmp);
const children: ChildProcess[] = [];
let build: ReturnType<typeof privateBuild>;
let status: LabStatusUp;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function addr(host: string, path: string): { ipv4: string; ipv6: string } {
  return status.hosts[host]!.addresses.find((a) => a.path === path)!;
}

function cli(host: string, ...args: string[]): string[] {
  return nodeCommand(build.cli, ...args, '--control', status.hosts[host]!.controlSocket!);
}

beforeAll(async () => {
  build = privateBuild();
  status = await labUp({ prefix: PREFIX, daemon: nodeCommand(build.cli, 'host') });
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  peers.kill();
  await labDown(PREFIX);
  build?.remove();
  rmSync(tmp, { recursive: true, force: true });
});

describe('namestack host in the lab', () => {
  it('runs on alice and carol, and the kernel hosts ping their addresses on both paths', async () => {
    for (const h of ['alice', 'carol']) expect(status.hosts[h]!.daemon?.running).toBe(true);
    for (const [from, to] of [
      ['bob', 'alice'],
      ['dave', 'carol'],
    ] as const) {
      for (const path of ['p1', 'p2']) {
        for (const a of [addr(to, path).ipv4, addr(to, path).ipv6]) {
          const r = await labExec(PREFIX, from, ['ping', '-c', '2', '-i', '0.2', '-W', '2', a]);
          expect(r.stdout, `${from} -> ${to} ${a}`).toMatch(/2 received/);
        }
      }
    }
  });

  for (const path of ['p1', 'p2']) {
    it(`alice's stack to bob's kernel on ${path}, from alice's ${path} address, IPv4 and IPv6`, async () => {
      for (const family of ['ipv4', 'ipv6'] as const) {
        const port = 5000 + (path === 'p1' ? 1 : 2) * 10 + (family === 'ipv4' ? 4 : 6);
        const server = await peers.server(status.hosts.bob!.namespace, addr('bob', path)[family], port, 'echo');
        const data = randomBytes(1 << 20);
        const r = await runCommand(cli('alice', 'connect', addr('bob', path)[family], String(port), '--source', addr('alice', path)[family]), data);
        expect(r.stderr).toBe('');
        expect(sha(r.stdout)).toBe(sha(data));
        expect(await server.output).toBe('eof');
      }
    });
  }

  /** bob pings alice's stack on p1: [sent, received, min RTT ms]. */
  async function pingAlice(count: number, interval: string): Promise<[number, number, number]> {
    const r = await labExec(PREFIX, 'bob', ['ping', '-n', '-q', '-c', String(count), '-i', interval, '-W', '2', '-I', addr('bob', 'p1').ipv4, addr('alice', 'p1').ipv4]);
    const counts = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
    const rtt = /= ([\d.]+)\//.exec(r.stdout);
    return [Number(counts?.[1] ?? 0), Number(counts?.[2] ?? 0), Number(rtt?.[1] ?? NaN)];
  }

  it("the path's impairment applies to alice's stack: 10% loss each way over 10,000 echoes, +50 ms RTT", async () => {
    try {
      await impairPath(PREFIX, 'p1', { lossRate: 0.1 });
      const [sent, received] = await pingAlice(10_000, '0.0003');
      // Request and reply each cross the path: received/sent = (1 - loss)^2.
      const oneWay = 1 - Math.sqrt(received / sent);
      console.log(`lab: --loss 10% on p1, bob -> alice's stack: ${received}/${sent} echoes answered, one-way loss ${(oneWay * 100).toFixed(2)}%`);
      expect(sent).toBe(10_000);
      expect(oneWay).toBeGreaterThan(0.07);
      expect(oneWay).toBeLessThan(0.13);
      await impairPath(PREFIX, 'p1', null);
      const [, , before] = await pingAlice(20, '0.02');
      await impairPath(PREFIX, 'p1', { delayMs: 25 });
      const [, answered, after] = await pingAlice(20, '0.02');
      console.log(`lab: --delay 25ms on p1, bob -> alice's stack: min RTT ${before} -> ${after} ms`);
      expect(answered).toBe(20);
      expect(after - before).toBeGreaterThan(45);
      expect(after - before).toBeLessThan(55);
    } finally {
      await impairPath(PREFIX, 'p1', null);
    }
  });

  it("alice's stack to carol's stack: namestack on both ends, data both ways", async () => {
    const toAlice = randomBytes(600_000);
    const toCarol = randomBytes(900_000);
    const listener = startCommand(cli('carol', 'listen', '7001'));
    children.push(listener);
    listener.stdin!.end(toAlice);
    const ready = Date.now() + 10_000;
    for (;;) {
      const s = await runCommand(cli('carol', 'stats', '--json'));
      if (JSON.parse(s.stdout.toString()).control.listeners.length === 1) break;
      if (Date.now() > ready) throw new Error('carol never listened');
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await runCommand(cli('alice', 'connect', addr('carol', 'p1').ipv6, '7001'), toCarol);
    expect(r.stderr).toBe('');
    expect(sha(r.stdout)).toBe(sha(toAlice));
    const served = await listener.result;
    expect(served.status).toBe(0);
    expect(sha(served.stdout)).toBe(sha(toCarol));
  });

  it('a daemon restarted by hand re-attaches its TUNs (routes into them) by itself', async () => {
    const alice = status.hosts.alice!;
    process.kill(alice.daemon!.pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (existsSync(alice.controlSocket!)) {
      if (Date.now() > deadline) throw new Error('the daemon did not stop');
      await new Promise((r) => setTimeout(r, 50));
    }
    const again = labSpawn(PREFIX, 'alice', nodeCommand(build.cli, 'host', '--config', alice.configFile!, '--control', alice.controlSocket!), { stdio: 'ignore' });
    children.push(again);
    while (!existsSync(alice.controlSocket!)) {
      if (Date.now() > deadline + 10_000) throw new Error('the restarted daemon made no control socket');
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const path of ['p1', 'p2']) {
      const r = await labExec(PREFIX, 'bob', ['ping', '-c', '2', '-i', '0.2', '-W', '2', addr('alice', path).ipv4]);
      expect(r.stdout).toMatch(/2 received/);
    }
  });
});
