// The embedded lab against the real kernel (root, netns, veth, kernel MPTCP, dnsmasq):
// addresses and names, per-path routing, kernel MPTCP over both paths, path impairment
// measured from end to end, link cuts, a namestack host's TUN plugged into a path, and
// up/down hygiene. Prefixes nst-lab-<pid> and nst-lab2-<pid> keep parallel runs apart.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attachNamestackLink,
  impairPath,
  labDown,
  labStatus,
  labUp,
  setLink,
  type LabStatusUp,
} from '../../apps/lab/lab.js';
import { staleRelaySources } from '../../apps/lab/impair.js';
import { isAlive } from '../../apps/lab/run.js';
import { updateChecksum } from '../../stack/wire/checksum.js';
import { openTun, type TunDevice } from '../../tun/device.js';
import { dnsQuery, median, mptcpTransfer, ping, udpDelivery } from './lab-probes.js';

const PREFIX = `nst-lab-${process.pid}`;
const PREFIX2 = `nst-lab2-${process.pid}`;
const ROOT = new URL('../../', import.meta.url).pathname;
const TUN_PREFIX = `nst${process.pid % 100000}`;
const LAB_DEVICES = ['bc', 'bs', 'rc', 'rs', 'p1', 'p2', 'alice', 'dave', 'bob', 'carol', 'dns', 'nsp1', 'nsp2'];

function sh(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
}

/** What `down` must leave exactly as it found it, restricted to what these labs could touch. */
function snapshot(): { namespaces: string[]; rootLinks: string[]; processes: string[]; run: boolean; etcNetns: string[] } {
  const mine = (s: string): boolean => s.startsWith(PREFIX) || s.startsWith(PREFIX2);
  const namespaces = sh(['ip', 'netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter(mine).sort();
  // Lab devices never exist in the root namespace; the test's own TUNs pass through it.
  const labDevice = (n: string): boolean => LAB_DEVICES.includes(n) || n.startsWith(TUN_PREFIX);
  const rootLinks = (JSON.parse(sh(['ip', '-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).filter(labDevice).sort();
  const processes: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(`/run/namestack/${PREFIX}`) || cmd.includes(`/run/namestack/${PREFIX2}`)) processes.push(`${pid} ${cmd}`);
    } catch {
      // Exited while we looked.
    }
  }
  const etcNetns = existsSync('/etc/netns') ? readdirSync('/etc/netns').filter(mine) : [];
  return {
    namespaces,
    rootLinks,
    processes,
    run: existsSync(`/run/namestack/${PREFIX}`) || existsSync(`/run/namestack/${PREFIX2}`),
    etcNetns,
  };
}

let before: ReturnType<typeof snapshot>;
let status: LabStatusUp;
const tuns: TunDevice[] = [];

function addr(host: string, path: string): { ipv4: string; ipv6: string } {
  return status.hosts[host]!.addresses.find((a) => a.path === path)!;
}

beforeAll(async () => {
  // The relay runs from build/: make sure it is the code in this checkout.
  if (staleRelaySources().length) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
  before = snapshot();
  status = await labUp({ prefix: PREFIX });
});

afterAll(async () => {
  await Promise.all(tuns.map((t) => t.close()));
  await labDown(PREFIX);
  await labDown(PREFIX2);
});

describe('lab up', () => {
  it('reports every host with namespace, role, per-path IPv4/IPv6 addresses, DNS and control sockets', async () => {
    const cli = JSON.parse(sh(['node', `${ROOT}build/apps/cli.js`, 'lab', 'status', '--json', '--prefix', PREFIX])) as LabStatusUp;
    expect(cli).toEqual(JSON.parse(JSON.stringify(await labStatus(PREFIX))));
    expect(status.problems).toEqual([]);
    expect(Object.keys(status.hosts).sort()).toEqual(['alice', 'bob', 'carol', 'dave', 'dns']);
    const roles = Object.fromEntries(Object.values(status.hosts).map((h) => [h.name, h.role]));
    expect(roles).toEqual({ alice: 'namestack', dave: 'kernel', bob: 'kernel', carol: 'namestack', dns: 'dns' });
    for (const h of Object.values(status.hosts)) {
      expect(h.namespace).toBe(`${PREFIX}-${h.name}`);
      expect(h.addresses.map((a) => a.path)).toEqual(['p1', 'p2']);
      for (const a of h.addresses) {
        expect(a.ipv4).toMatch(/^198\.1[89]\.\d+\.\d+$/);
        expect(a.ipv6).toMatch(/^fd00:/);
        expect(a.linkUp).toBe(true);
      }
    }
    expect(addr('alice', 'p1')).toMatchObject({ ipv4: '198.18.1.10', ipv6: 'fd00:1:1::10', gateway4: '198.18.1.1' });
    expect(addr('bob', 'p2')).toMatchObject({ ipv4: '198.19.2.20', ipv6: 'fd00:2:2::20', gateway6: 'fd00:2:2::1' });
    expect(status.nameservers).toEqual([
      { path: 'p1', ipv4: '198.19.1.53', ipv6: 'fd00:1:2::53' },
      { path: 'p2', ipv4: '198.19.2.53', ipv6: 'fd00:2:2::53' },
    ]);
    expect(status.dns.running).toBe(true);
    for (const name of ['alice', 'carol']) {
      expect(status.hosts[name]!.controlSocket).toBe(`/run/namestack/${PREFIX}/${name}.sock`);
      const config = JSON.parse(readFileSync(status.hosts[name]!.configFile!, 'utf8')) as { links: { tun: string; ipv4: string }[] };
      expect(config.links.map((l) => l.ipv4)).toEqual(status.hosts[name]!.addresses.map((a) => a.ipv4));
    }
    for (const ns of ['alice', 'dave', 'bob', 'carol', 'dns', 'r1', 'r2']) {
      expect(before.namespaces).not.toContain(`${PREFIX}-${ns}`);
      expect(snapshot().namespaces).toContain(`${PREFIX}-${ns}`);
    }
  });

  it('dave and bob reach each other on every path, IPv4 and IPv6, from the per-path source address', async () => {
    for (const path of ['p1', 'p2']) {
      for (const family of ['ipv4', 'ipv6'] as const) {
        const there = await ping(PREFIX, 'dave', addr('dave', path)[family], addr('bob', path)[family]);
        const back = await ping(PREFIX, 'bob', addr('bob', path)[family], addr('dave', path)[family]);
        expect([path, family, there.received, back.received]).toEqual([path, family, 3, 3]);
      }
    }
  });

  it('keeps paths apart: a path-2 source cannot reach a path-1 address', async () => {
    const r = await ping(PREFIX, 'dave', addr('dave', 'p2').ipv4, addr('bob', 'p1').ipv4, 1);
    expect(r.received).toBe(0);
  });

  it('serves A and AAAA records of the lab zone from dnsmasq on every path', async () => {
    for (const ns of status.nameservers) {
      for (const server of [ns.ipv4, ns.ipv6]) {
        expect(await dnsQuery(PREFIX, 'dave', server, 'bob.lab.test', 'A')).toEqual({ rcode: 0, addresses: ['198.19.1.20', '198.19.2.20'] });
        expect(await dnsQuery(PREFIX, 'dave', server, 'bob.lab.test', 'AAAA')).toEqual({ rcode: 0, addresses: ['fd00:1:2::20', 'fd00:2:2::20'] });
      }
    }
    expect(await dnsQuery(PREFIX, 'bob', '198.19.1.53', 'alice-p2.lab.test', 'AAAA')).toEqual({ rcode: 0, addresses: ['fd00:2:1::10'] });
    // Outside the zone nobody is asked: no upstream, no leak.
    expect((await dnsQuery(PREFIX, 'bob', '198.19.1.53', 'example.com', 'A')).addresses).toEqual([]);
  });

  it('gives every host the lab resolver (resolv.conf through /etc/netns)', () => {
    const out = sh(['ip', 'netns', 'exec', `${PREFIX}-dave`, 'getent', 'ahostsv4', 'carol.lab.test']);
    expect(out).toContain('198.19.1.21');
    expect(out).toContain('198.19.2.21');
  });

  it('runs kernel MPTCP dave -> bob over both paths', async () => {
    const run = await mptcpTransfer(PREFIX, 'dave', 'bob', addr('bob', 'p1').ipv4, 2);
    expect(run.subflowSources).toEqual([addr('dave', 'p1').ipv4, addr('dave', 'p2').ipv4]);
    expect(run.joinAckRx).toBeGreaterThanOrEqual(1);
    expect(run.received).toBe(run.sent);
    expect(run.sent).toBeGreaterThan(0);
  });

  it('is idempotent: a second up keeps the running lab', async () => {
    const again = await labUp({ prefix: PREFIX });
    expect(again.dns.pid).toBe(status.dns.pid);
    expect(again.hosts).toEqual(status.hosts);
    expect((await ping(PREFIX, 'dave', addr('dave', 'p1').ipv4, addr('bob', 'p1').ipv4)).received).toBe(3);
  });
});

describe('path impairment', () => {
  it('loses 10% +- 3% of 10,000 datagrams one way at --loss 10%, and nothing once cleared', async () => {
    await impairPath(PREFIX, 'p1', { lossRate: 0.1 });
    const model = async (): Promise<{ offered: number; lost: number }> => ((await labStatus(PREFIX)) as LabStatusUp).paths.p1!.relay!.stats!.rc!;
    const m0 = await model();
    const lossy = await udpDelivery(PREFIX, 'dave', addr('dave', 'p1').ipv4, 'bob', addr('bob', 'p1').ipv4, 10_000);
    const m1 = await model();
    const loss = 1 - lossy.received / lossy.sent;
    console.log(
      `lab: --loss 10% on p1: ${lossy.received}/${lossy.sent} delivered one way, loss ${(loss * 100).toFixed(2)}% ` +
        `(relay model: ${m1.lost - m0.lost} of ${m1.offered - m0.offered} dropped)`,
    );
    expect(loss).toBeGreaterThan(0.07);
    expect(loss).toBeLessThan(0.13);
    // The other path is untouched.
    const other = await udpDelivery(PREFIX, 'dave', addr('dave', 'p2').ipv4, 'bob', addr('bob', 'p2').ipv4, 2000);
    expect(other.received).toBe(other.sent);
    await impairPath(PREFIX, 'p1', null);
    const clear = await udpDelivery(PREFIX, 'dave', addr('dave', 'p1').ipv4, 'bob', addr('bob', 'p1').ipv4, 2000);
    expect(clear.received).toBe(clear.sent);
  });

  it('adds 50 +- 5 ms to the round trip at --delay 25ms (25 ms each way), IPv4 and IPv6, changed without a relay restart', async () => {
    const src = addr('dave', 'p1');
    const dst = addr('bob', 'p1');
    const base = await ping(PREFIX, 'dave', src.ipv4, dst.ipv4, 20, 0.05);
    await impairPath(PREFIX, 'p1', { delayMs: 10 });
    const pid = (await labStatus(PREFIX) as LabStatusUp).paths.p1!.relay!.pid;
    await impairPath(PREFIX, 'p1', { delayMs: 25 });
    const after = (await labStatus(PREFIX)) as LabStatusUp;
    expect(after.paths.p1!.relay!.pid).toBe(pid);
    expect(after.paths.p1!.diverted).toBe(true);
    expect(after.paths.p1!.impairment.delayMs).toBe(25);
    for (const family of ['ipv4', 'ipv6'] as const) {
      const slow = await ping(PREFIX, 'dave', src[family], dst[family], 20, 0.05);
      // The fastest of 20 round trips: what the path adds, without the moments a loaded
      // machine kept the relay from its timer (the median is logged for comparison).
      const added = Math.min(...slow.rtts) - Math.min(...base.rtts);
      console.log(
        `lab: --delay 25ms on p1 (${family}): RTT min ${Math.min(...base.rtts).toFixed(3)} -> ${Math.min(...slow.rtts).toFixed(3)} ms ` +
          `(+${added.toFixed(2)}), median ${median(base.rtts).toFixed(3)} -> ${median(slow.rtts).toFixed(3)} ms`,
      );
      expect(slow.received).toBe(20);
      expect(added).toBeGreaterThan(45);
      expect(added).toBeLessThan(55);
    }
    // p2 is another path: not delayed.
    const p2 = await ping(PREFIX, 'dave', addr('dave', 'p2').ipv4, addr('bob', 'p2').ipv4, 5, 0.05);
    expect(median(p2.rtts)).toBeLessThan(10);
    await impairPath(PREFIX, 'p1', null);
    const cleared = (await labStatus(PREFIX)) as LabStatusUp;
    expect(cleared.paths.p1!.diverted).toBe(false);
    expect(sh(['ip', '-n', `${PREFIX}-r1`, 'rule', 'show'])).not.toMatch(/lookup 21[12]/);
    const fast = await ping(PREFIX, 'dave', src.ipv4, dst.ipv4, 5, 0.05);
    expect(median(fast.rtts)).toBeLessThan(10);
  });

  it('puts a rate limit on the router egress (tbf) without diverting the path', async () => {
    await impairPath(PREFIX, 'p2', { rateBitsPerSecond: 50e6 });
    const s = (await labStatus(PREFIX)) as LabStatusUp;
    expect(s.paths.p2!.diverted).toBe(false);
    for (const dev of ['bc', 'bs']) expect(sh(['tc', '-n', `${PREFIX}-r2`, 'qdisc', 'show', 'dev', dev])).toMatch(/tbf .*rate 50Mbit/);
    await impairPath(PREFIX, 'p2', null);
    for (const dev of ['bc', 'bs']) expect(sh(['tc', '-n', `${PREFIX}-r2`, 'qdisc', 'show', 'dev', dev])).not.toMatch(/tbf/);
  });
});

describe('lab link', () => {
  it('cuts one host link on one path only, and brings it back', async () => {
    await setLink(PREFIX, 'dave', 'p1', false);
    expect((await labStatus(PREFIX) as LabStatusUp).hosts.dave!.addresses[0]!.linkUp).toBe(false);
    for (const family of ['ipv4', 'ipv6'] as const) {
      expect((await ping(PREFIX, 'dave', addr('dave', 'p1')[family], addr('bob', 'p1')[family], 2)).received).toBe(0);
      expect((await ping(PREFIX, 'dave', addr('dave', 'p2')[family], addr('bob', 'p2')[family], 2)).received).toBe(2);
    }
    await setLink(PREFIX, 'dave', 'p1', true);
    for (const family of ['ipv4', 'ipv6'] as const) {
      expect((await ping(PREFIX, 'dave', addr('dave', 'p1')[family], addr('bob', 'p1')[family], 2)).received).toBe(2);
    }
  });
});

/** Turns an ICMP or ICMPv6 echo request into its reply in place (swap addresses, flip type). */
function echoReply(p: Uint8Array): Uint8Array | undefined {
  const swap = (a: number, b: number, n: number): void => {
    // A copy (Uint8Array.from): packets from a TUN may be Buffers, whose slice() is a view.
    const t = Uint8Array.from(p.subarray(a, a + n));
    p.copyWithin(a, b, b + n);
    p.set(t, b);
  };
  if (p[0]! >> 4 === 4 && p[9] === 1) {
    const at = (p[0]! & 15) * 4;
    if (p[at] !== 8) return undefined;
    swap(12, 16, 4);
    const sum = updateChecksum((p[at + 2]! << 8) | p[at + 3]!, (8 << 8) | p[at + 1]!, p[at + 1]!);
    p[at] = 0;
    p[at + 2] = sum >> 8;
    p[at + 3] = sum & 0xff;
    return p;
  }
  if (p[0]! >> 4 === 6 && p[6] === 58 && p[40] === 128) {
    swap(8, 24, 16);
    const sum = updateChecksum((p[42]! << 8) | p[43]!, (128 << 8) | p[41]!, (129 << 8) | p[41]!);
    p[40] = 129;
    p[42] = sum >> 8;
    p[43] = sum & 0xff;
    return p;
  }
  return undefined;
}

describe('namestack hosts', () => {
  it("carry a TUN plugged in with attachNamestackLink: bob pings alice's stack on p1 and p2, IPv4 and IPv6", async () => {
    for (const path of ['p1', 'p2']) {
      // Made in the root namespace under a unique name, then moved into alice's namespace.
      const tun = openTun({ name: `${TUN_PREFIX}${path}`, vnetHeader: false, netns: `${PREFIX}-alice` });
      tuns.push(tun);
      tun.onReceive((batch) => {
        for (const { packet } of batch) {
          const reply = echoReply(packet);
          if (reply) tun.send(reply);
        }
      });
      await attachNamestackLink(PREFIX, 'alice', path, tun.name);
      for (const family of ['ipv4', 'ipv6'] as const) {
        const r = await ping(PREFIX, 'bob', addr('bob', path)[family], addr('alice', path)[family], 3);
        expect([path, family, r.received]).toEqual([path, family, 3]);
      }
      // dave shares alice's side of the path: proxy ARP/NDP on alice's veth answers for the stack.
      expect((await ping(PREFIX, 'dave', addr('dave', path).ipv6, addr('alice', path).ipv6, 2)).received).toBe(2);
    }
  });
});

describe('two labs and down', () => {
  it('cleans up after a crash: a lost state directory or a dead dnsmasq makes up rebuild', async () => {
    const first = await labUp({ prefix: PREFIX2 });
    rmSync(`/run/namestack/${PREFIX2}`, { recursive: true });
    const orphaned = await labStatus(PREFIX2);
    expect(orphaned.up).toBe(false);
    expect(orphaned.up === false && orphaned.leftovers.length).toBe(7);
    const rebuilt = await labUp({ prefix: PREFIX2 });
    expect(rebuilt.problems).toEqual([]);
    expect(isAlive(first.dns.pid)).toBe(false);
    process.kill(rebuilt.dns.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    expect(((await labStatus(PREFIX2)) as LabStatusUp).problems).toEqual([`dnsmasq (pid ${rebuilt.dns.pid}) is not running`]);
    const again = await labUp({ prefix: PREFIX2 });
    expect(again.dns.pid).not.toBe(rebuilt.dns.pid);
    expect((await dnsQuery(PREFIX2, 'dave', '198.19.2.53', 'dave.lab.test', 'A')).addresses).toEqual(['198.18.1.11', '198.18.2.11']);
  });

  it('runs a second prefix beside the first, and down removes exactly what each made', async () => {
    const second = await labUp({ prefix: PREFIX2 });
    expect(second.hosts.dave!.namespace).toBe(`${PREFIX2}-dave`);
    for (const prefix of [PREFIX, PREFIX2]) {
      expect((await ping(prefix, 'dave', '198.18.2.11', '198.19.2.20', 2)).received).toBe(2);
    }
    await labDown(PREFIX2);
    expect((await ping(PREFIX, 'dave', '198.18.1.11', '198.19.1.20', 2)).received).toBe(2);
    expect((await labStatus(PREFIX2)).up).toBe(false);

    await Promise.all(tuns.splice(0).map((t) => t.close()));
    const last = (await labStatus(PREFIX)) as LabStatusUp;
    const pids = [last.dns.pid, ...Object.values(last.paths).flatMap((p) => (p.relay ? [p.relay.pid] : []))];
    expect(pids.length).toBe(2);
    await labDown(PREFIX);
    expect(await labStatus(PREFIX)).toEqual({ up: false, prefix: PREFIX, leftovers: [] });
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(snapshot()).toEqual(before);
  });
});
