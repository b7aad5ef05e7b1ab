// The lab in miniature on the simulated network, for the name layer: alice and carol run
// namestack (TCP + MPTCP + UDP + the resolver + NameStack), bob runs TCP + MPTCP without any
// name layer (the kernel's part: it skips the options), and a DNS server host answers for
// lab.test from a zone (test/dns/dns-sim.ts's responder). Paths are point to point, so the
// thesis's chapter 6 set-up comes out naturally: alice reaches carol's IPv6 address over
// p6 and its IPv4 address over p4, each path with its own delay.
//
//   alice p6 fd00:1:1::10  <-> carol p6 fd00:1:2::21      (IPv6 only)
//   alice p4 198.18.2.10   <-> carol p4 198.19.2.21       (IPv4 only)
//   alice pb fd00:3:1::10, 198.18.3.10 <-> bob fd00:3:2::20, 198.19.3.20
//   alice pd fd00:4::10  <-> dns fd00:4::53, fd00:5::53 <-> carol pd fd00:5::21

import dnsPacket from 'dns-packet';
import type { PartialConfig } from '../../stack/config.js';
import { DnsResolver } from '../../stack/dns/resolver.js';
import { Host } from '../../stack/ip/host.js';
import { MptcpLayer } from '../../stack/mptcp/layer.js';
import { NameStack } from '../../stack/socket/name-stack.js';
import { TcpLayer } from '../../stack/tcp/layer.js';
import { UdpLayer } from '../../stack/udp/udp.js';
import type { ImpairmentParams } from '../../tun/impairment.js';
import { fromZone, type Query, type Zone } from '../dns/dns-sim.js';
import { SimNetwork, type SimPath } from '../sim/network.js';

export const ADDR = {
  alice6: 'fd00:1:1::10',
  alice4: '198.18.2.10',
  carol6: 'fd00:1:2::21',
  carol4: '198.19.2.21',
  aliceB6: 'fd00:3:1::10',
  aliceB4: '198.18.3.10',
  bob6: 'fd00:3:2::20',
  bob4: '198.19.3.20',
  dnsForAlice: 'fd00:4::53',
  dnsForCarol: 'fd00:5::53',
} as const;

export function labZone(): Zone {
  return {
    'alice.lab.test': { AAAA: [ADDR.alice6, ADDR.aliceB6], A: [ADDR.alice4, ADDR.aliceB4], ttl: 5 },
    'carol.lab.test': { AAAA: [ADDR.carol6], A: [ADDR.carol4], ttl: 5 },
    'bob.lab.test': { AAAA: [ADDR.bob6], A: [ADDR.bob4], ttl: 5 },
  };
}

export interface NamedHost {
  host: Host;
  tcp: TcpLayer;
  mptcp: MptcpLayer;
  udp: UdpLayer;
  resolver: DnsResolver;
  names: NameStack;
}

export interface NameWorld {
  net: SimNetwork;
  alice: NamedHost;
  carol: NamedHost;
  bob: { host: Host; tcp: TcpLayer; mptcp: MptcpLayer };
  paths: { v6: SimPath; v4: SimPath; bob: SimPath; dnsAlice: SimPath; dnsCarol: SimPath };
  zone: Zone;
  queries: Query[];
}

type PathParams = Partial<ImpairmentParams> | { aToB?: Partial<ImpairmentParams>; bToA?: Partial<ImpairmentParams> };

export function nameWorld(opts: {
  seed?: string;
  config?: PartialConfig;
  aliceNames?: string[];
  carolNames?: string[];
  v6?: PathParams;
  v4?: PathParams;
  zone?: Zone;
  /** The DNS server ignores the queries this returns true for (a lost or unanswered lookup). */
  ignoreQuery?: (q: Query) => boolean;
} = {}): NameWorld {
  const net = new SimNetwork(opts.seed ?? 'names');
  const make = (name: string): Host => {
    const h = new Host({ name, random: net.random(name), config: opts.config ?? {} });
    net.addHost(h);
    return h;
  };
  const iface = (h: Host, label: string, addresses: string[], routes: string[]): number => {
    const i = h.addInterface({ name: label, mtu: 1500 });
    for (const a of addresses) h.addAddress(i, a, a.includes(':') ? 64 : 24);
    for (const r of routes) h.addRoute({ destination: r, prefixLength: r.includes(':') ? 64 : 24, ifIndex: i });
    return i;
  };

  const alice = make('alice');
  const carol = make('carol');
  const bob = make('bob');
  const dns = make('dns');
  const a6 = iface(alice, 'p6', [ADDR.alice6], ['fd00:1:2::']);
  const a4 = iface(alice, 'p4', [ADDR.alice4], ['198.19.2.0']);
  const ab = iface(alice, 'pb', [ADDR.aliceB6, ADDR.aliceB4], ['fd00:3:2::', '198.19.3.0']);
  const ad = iface(alice, 'pd', ['fd00:4::10'], []);
  const c6 = iface(carol, 'p6', [ADDR.carol6], ['fd00:1:1::']);
  const c4 = iface(carol, 'p4', [ADDR.carol4], ['198.18.2.0']);
  const cd = iface(carol, 'pd', ['fd00:5::21'], []);
  const b = iface(bob, 'pb', [ADDR.bob6, ADDR.bob4], ['fd00:3:1::', '198.18.3.0']);
  const da = iface(dns, 'da', [ADDR.dnsForAlice], []);
  const dc = iface(dns, 'dc', [ADDR.dnsForCarol], []);
  const paths = {
    v6: net.connect({ host: alice, ifIndex: a6 }, { host: carol, ifIndex: c6 }, opts.v6 ?? { delayMs: 1 }, 'v6'),
    v4: net.connect({ host: alice, ifIndex: a4 }, { host: carol, ifIndex: c4 }, opts.v4 ?? { delayMs: 1 }, 'v4'),
    bob: net.connect({ host: alice, ifIndex: ab }, { host: bob, ifIndex: b }, { delayMs: 1 }, 'bob'),
    dnsAlice: net.connect({ host: alice, ifIndex: ad }, { host: dns, ifIndex: da }, { delayMs: 1 }, 'dnsAlice'),
    dnsCarol: net.connect({ host: carol, ifIndex: cd }, { host: dns, ifIndex: dc }, { delayMs: 1 }, 'dnsCarol'),
  };

  const zone = opts.zone ?? labZone();
  const queries: Query[] = [];
  const dnsUdp = new UdpLayer(dns);
  for (const address of [ADDR.dnsForAlice, ADDR.dnsForCarol]) {
    const r = dnsUdp.bind({ address, port: 53 });
    if (!r.ok) throw new Error(r.message);
    const socket = r.socket;
    socket.onReadable = () => {
      for (let d = socket.receive(); d; d = socket.receive()) {
        const decoded = dnsPacket.decode(Buffer.from(d.data));
        const q: Query = { at: d.at, server: address, id: decoded.id!, srcPort: d.port, question: decoded.questions![0]!, edns: false };
        queries.push(q);
        if (opts.ignoreQuery?.(q)) continue;
        for (const reply of fromZone(q, zone)) socket.send(dnsPacket.encode(reply.packet!), d.at, { address: d.address, port: d.port });
      }
    };
  }

  const named = (h: Host, server: string, names: string[]): NamedHost => {
    const tcp = new TcpLayer(h);
    const mptcp = new MptcpLayer(h, tcp);
    const udp = new UdpLayer(h);
    const resolver = new DnsResolver(h, udp, { servers: [server] });
    return { host: h, tcp, mptcp, udp, resolver, names: new NameStack(h, { tcp, mptcp, udp, resolver, names, services: (n) => (n === 'echo' ? 7 : undefined) }) };
  };
  const bobTcp = new TcpLayer(bob);
  return {
    net,
    alice: named(alice, ADDR.dnsForAlice, opts.aliceNames ?? ['alice.lab.test']),
    carol: named(carol, ADDR.dnsForCarol, opts.carolNames ?? ['carol.lab.test']),
    bob: { host: bob, tcp: bobTcp, mptcp: new MptcpLayer(bob, bobTcp) },
    paths,
    zone,
    queries,
  };
}
