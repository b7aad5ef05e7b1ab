// The resolver against the lab's real dnsmasq: a namestack Host on a TUN plugged into
// alice's place on path p1 (attachNamestackLink), driven in real time by HostRuntime,
// asking the lab's DNS server over the stack's own UDP, IPv6 and IPv4.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachNamestackLink, labDown, labUp, type LabStatusUp } from '../../apps/lab/lab.js';
import { DnsResolver } from '../../stack/dns/resolver.js';
import type { QueryType } from '../../stack/dns/message.js';
import type { DnsResult } from '../../stack/dns/result.js';
import { Host } from '../../stack/ip/host.js';
import { UdpLayer } from '../../stack/udp/udp.js';
import { formatAddress, type IpFamily } from '../../stack/wire/address.js';
import { openTun, type TunDevice } from '../../tun/device.js';
import { HostRuntime } from '../../tun/runtime.js';

const PREFIX = `nst-dns-${process.pid}`;
let status: LabStatusUp;
let tun: TunDevice | undefined;
let runtime: HostRuntime | undefined;
let host: Host;
let udp: UdpLayer;

/** A resolver of the lab's Host asking `servers`; its lookups as promises. */
function resolverFor(servers: string[]) {
  const resolver = new DnsResolver(host, udp, { servers });
  const resolve = (name: string, type: QueryType): Promise<DnsResult> =>
    new Promise((done) => {
      resolver.resolve(name, type, runtime!.now(), done);
      runtime!.kick();
    });
  return { resolver, resolve };
}

const sorted = (r: DnsResult): string[] => (r.ok ? r.addresses.map(formatAddress).sort() : [r.code]);

beforeAll(async () => {
  status = await labUp({ prefix: PREFIX });
  const alice = status.hosts.alice!.addresses.find((a) => a.path === 'p1')!;
  tun = openTun({ name: `nsd${process.pid % 100000}p1`, vnetHeader: false, netns: status.hosts.alice!.namespace });
  await attachNamestackLink(PREFIX, 'alice', 'p1', tun.name);
  host = new Host({ name: 'alice' });
  const ifIndex = host.addInterface({ name: 'p1', mtu: tun.mtu });
  host.addAddress(ifIndex, alice.ipv4, alice.prefixLength4);
  host.addAddress(ifIndex, alice.ipv6, alice.prefixLength6);
  host.addRoute({ destination: '0.0.0.0', prefixLength: 0, ifIndex, gateway: alice.gateway4 });
  host.addRoute({ destination: '::', prefixLength: 0, ifIndex, gateway: alice.gateway6 });
  udp = new UdpLayer(host);
  runtime = new HostRuntime(host);
  runtime.attach(ifIndex, tun);
});

afterAll(async () => {
  await runtime?.stop();
  await labDown(PREFIX);
});

describe("resolver against the lab's dnsmasq", () => {
  it('resolves bob.lab.test A and AAAA over IPv6 and IPv4 transport, as the lab publishes them', async () => {
    const bob = status.hosts.bob!.addresses;
    for (const server of ['fd00:1:2::53', '198.19.1.53']) {
      const { resolver, resolve } = resolverFor([server]);
      expect(sorted(await resolve('bob.lab.test', 'A'))).toEqual(bob.map((a) => a.ipv4).sort());
      expect(sorted(await resolve('bob.lab.test', 'AAAA'))).toEqual(bob.map((a) => a.ipv6).sort());
      expect(resolver.counters).toMatchObject({ queries: 2, answers: 2, timeouts: 0, malformed: 0 });
      resolver.close();
    }
    // dnsmasq saw the queries come from the stack's own addresses on p1.
    const log = readFileSync(status.dns.log, 'utf8');
    expect(log).toContain('query[AAAA] bob.lab.test from fd00:1:1::10');
    expect(log).toContain('query[A] bob.lab.test from 198.18.1.10');
  });

  it('gets NXDOMAIN for a name the lab does not have, and answers the repeat from the negative cache', async () => {
    const { resolver, resolve } = resolverFor(['fd00:1:2::53']);
    expect(await resolve('nothere.lab.test', 'A')).toMatchObject({ ok: false, code: 'ENOTFOUND', fromCache: false });
    expect(await resolve('nothere.lab.test', 'A')).toMatchObject({ ok: false, code: 'ENOTFOUND', fromCache: true });
    expect(resolver.counters).toMatchObject({ queries: 1, negativeAnswers: 1, cacheHits: 1 });
    resolver.close();
  });

  it('answers ANY as the thesis daemon asked it, and lookupBoth reports both families', async () => {
    const { resolver, resolve } = resolverFor(['fd00:1:2::53']);
    const carol = status.hosts.carol!.addresses;
    expect(sorted(await resolve('carol.lab.test', 'ANY'))).toEqual([...carol.map((a) => a.ipv4), ...carol.map((a) => a.ipv6)].sort());
    const both = await new Promise<Map<IpFamily, string[]>>((done) => {
      const got = new Map<IpFamily, string[]>();
      resolver.lookupBoth('dave.lab.test', runtime!.now(), (family, r) => {
        got.set(family, sorted(r));
        if (got.size === 2) done(got);
      });
      runtime!.kick();
    });
    const dave = status.hosts.dave!.addresses;
    expect(both.get(6)).toEqual(dave.map((a) => a.ipv6).sort());
    expect(both.get(4)).toEqual(dave.map((a) => a.ipv4).sort());
    resolver.close();
  });

  it('moves on at once from a server the path cannot reach (r1 answers ICMP unreachable) to one it can', async () => {
    // 198.19.2.53 lies behind r2: r1 has no route to it and says so.
    const { resolver, resolve } = resolverFor(['198.19.2.53', 'fd00:1:2::53']);
    expect(sorted(await resolve('bob-p1.lab.test', 'AAAA'))).toEqual(['fd00:1:2::20']);
    expect(resolver.counters).toMatchObject({ icmpErrors: 1, timeouts: 0, transmissions: 2 });
    resolver.close();
  });
});
