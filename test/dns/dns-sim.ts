// A client Host with the resolver and a tiny DNS server Host on the simulated network. The
// server answers from a zone with dns-packet, and a test can replace or extend what it
// sends per query (drop, spoof, truncate, ...).

import dnsPacket from 'dns-packet';
import type { PartialConfig } from '../../stack/config.js';
import { DnsResolver, type DnsServer } from '../../stack/dns/resolver.js';
import type { QueryType } from '../../stack/dns/message.js';
import type { DnsResult } from '../../stack/dns/result.js';
import { Host } from '../../stack/ip/host.js';
import type { UdpSocket } from '../../stack/udp/socket.js';
import { UdpLayer } from '../../stack/udp/udp.js';
import { formatAddress, parseAddress } from '../../stack/wire/address.js';
import { parsePacket } from '../../stack/wire/packet.js';
import { SimNetwork } from '../sim/network.js';

export const CLIENT4 = '10.0.0.1';
export const CLIENT6 = '2001:db8::1';
/** The server host's addresses: two per family, each a server of its own. */
export const SERVERS = { v4a: '10.0.0.53', v4b: '10.0.0.54', v6a: '2001:db8::53', v6b: '2001:db8::54' } as const;

export interface Zone {
  [name: string]: { A?: string[]; AAAA?: string[]; CNAME?: string; ttl?: number };
}

export interface Query {
  at: number;
  /** The server address it went to. */
  server: string;
  id: number;
  srcPort: number;
  question: dnsPacket.Question;
  edns: boolean;
}

/** What the server sends for one query: packets from the address asked (or from another address or port). */
export interface Reply {
  packet?: dnsPacket.Packet;
  raw?: Uint8Array;
  from?: 'otherAddress' | 'otherPort';
}

export type Responder = (q: Query, zone: Zone) => Reply[];

/** Standard authoritative answer from the zone: CNAMEs followed inside it, NXDOMAIN with an SOA. */
export function fromZone(q: Query, zone: Zone, opts: { followCnames?: boolean; soa?: boolean } = {}): Reply[] {
  const answers: dnsPacket.Answer[] = [];
  let name = q.question.name.toLowerCase();
  const type = q.question.type as string;
  let stopped = false;
  for (let hops = 0; zone[name]?.CNAME && hops < 20 && !stopped; hops++) {
    const target = zone[name]!.CNAME!;
    answers.push({ type: 'CNAME', name, ttl: zone[name]!.ttl ?? 300, data: target });
    name = target;
    stopped = opts.followCnames === false;
  }
  const entry = zone[name];
  for (const t of ['A', 'AAAA'] as const) {
    if (stopped) break;
    if (type !== t && type !== 'ANY') continue;
    for (const data of entry?.[t] ?? []) answers.push({ type: t, name, ttl: entry?.ttl ?? 300, data });
  }
  const exists = entry !== undefined || answers.length > 0;
  const authorities: dnsPacket.Answer[] =
    answers.length === 0 && opts.soa !== false
      ? [{ type: 'SOA', name: 'test', ttl: 300, data: { mname: 'ns.test', rname: 'admin.test', serial: 1, refresh: 60, retry: 60, expire: 600, minimum: 60 } }]
      : [];
  return [{ packet: response(q, { answers, authorities, rcode: exists ? 'NOERROR' : 'NXDOMAIN' }) }];
}

/** A response to `q` (same ID and question), with the given sections, flags and rcode. */
export function response(q: Query, p: { answers?: dnsPacket.Answer[]; authorities?: dnsPacket.Answer[]; rcode?: string; flags?: number }): dnsPacket.Packet {
  const rcodeNumber = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'].indexOf(p.rcode ?? 'NOERROR');
  return {
    type: 'response',
    id: q.id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | (p.flags ?? 0) | rcodeNumber,
    questions: [q.question],
    answers: p.answers ?? [],
    authorities: p.authorities ?? [],
  };
}

export function dnsWorld(opts: { seed?: string; config?: PartialConfig; servers?: (string | DnsServer)[]; zone?: Zone; delayMs?: number; lossRate?: number } = {}) {
  const seed = opts.seed ?? 'dns';
  const net = new SimNetwork(seed);
  const client = new Host({ name: 'client', random: net.random('client'), config: opts.config ?? {} });
  const cif = client.addInterface({ name: 'eth0', mtu: 1500 });
  client.addAddress(cif, CLIENT4, 24);
  client.addAddress(cif, CLIENT6, 64);
  const server = new Host({ name: 'dns', random: net.random('dns') });
  const sif = server.addInterface({ name: 'eth0', mtu: 1500 });
  for (const a of Object.values(SERVERS)) server.addAddress(sif, a, a.includes(':') ? 64 : 24);
  net.addHost(client);
  net.addHost(server);
  net.connect({ host: client, ifIndex: cif }, { host: server, ifIndex: sif }, { delayMs: opts.delayMs ?? 5, lossRate: opts.lossRate ?? 0 });

  const clientUdp = new UdpLayer(client);
  const resolver = new DnsResolver(client, clientUdp, { servers: opts.servers ?? [SERVERS.v6a] });
  const zone: Zone = opts.zone ?? {};
  const queries: Query[] = [];
  const world = { net, client, server, resolver, zone, queries, responder: ((q, z) => fromZone(q, z)) as Responder };

  const serverUdp = new UdpLayer(server);
  const bind = (address: string, port: number): UdpSocket => {
    const r = serverUdp.bind({ address, port });
    if (!r.ok) throw new Error(r.message);
    return r.socket;
  };
  const partner: Record<string, string> = { [SERVERS.v4a]: SERVERS.v4b, [SERVERS.v4b]: SERVERS.v4a, [SERVERS.v6a]: SERVERS.v6b, [SERVERS.v6b]: SERVERS.v6a };
  const port53 = new Map<string, UdpSocket>(Object.values(SERVERS).map((a) => [a, bind(a, 53)]));
  for (const [address, socket] of port53) {
    const other = port53.get(partner[address]!)!;
    const otherPort = bind(address, 5353);
    socket.onReadable = () => {
      for (let d = socket.receive(); d; d = socket.receive()) {
        let decoded: dnsPacket.DecodedPacket;
        try {
          decoded = dnsPacket.decode(Buffer.from(d.data));
        } catch {
          continue;
        }
        const q: Query = {
          at: d.at,
          server: address,
          id: decoded.id!,
          srcPort: d.port,
          question: decoded.questions![0]!,
          edns: (decoded.additionals ?? []).some((a) => a.type === 'OPT'),
        };
        queries.push(q);
        for (const reply of world.responder(q, zone)) {
          const bytes = reply.raw ?? dnsPacket.encode(reply.packet!);
          const via = reply.from === 'otherAddress' ? other : reply.from === 'otherPort' ? otherPort : socket;
          via.send(bytes, d.at, { address: d.address, port: d.port });
        }
      }
    };
  }

  /** Resolves and runs the network until the callback came (or `limitMs` passed); returns the result and when. */
  const resolve = (name: string, type: QueryType, limitMs = 60_000): { result: DnsResult | undefined; at: number } => {
    let result: DnsResult | undefined;
    let at = -1;
    world.resolver.resolve(name, type, net.now, (r) => {
      result = r;
      at = net.now;
    });
    net.runUntil(() => result !== undefined, net.now + limitMs);
    return { result, at };
  };
  return Object.assign(world, { resolve });
}

export function texts(r: DnsResult | undefined): string[] {
  return r?.ok ? r.addresses.map(formatAddress) : [];
}

/** The UDP source port of a packet the client sent (for the port-randomness check). */
export function udpSourcePort(packet: Uint8Array): number | undefined {
  const p = parsePacket(packet);
  return p.ok && p.value.transport.protocol === 'udp' ? p.value.transport.repr.srcPort : undefined;
}

export const addr = (text: string) => parseAddress(text)!;
