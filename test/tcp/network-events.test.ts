// Events from the network around a connection: a SYN flood against a listener (SYN cookies
// keep legitimate clients coming in), the path MTU dropping mid-transfer (ICMP / ICMPv6
// packet too big, RFC 1191 / RFC 8201), a refused connection, simultaneous open.

import { describe, expect, it } from 'vitest';
import { emitPacket } from '../../stack/wire/packet.js';
import { EMPTY_BYTES } from '../../stack/wire/bytes.js';
import { parseAddress } from '../../stack/wire/address.js';
import type { TcpConnection } from '../../stack/tcp/connection.js';
import { TcpLayer } from '../../stack/tcp/layer.js';
import { Host } from '../../stack/ip/host.js';
import { SimNetwork } from '../sim/network.js';
import { FilteredNode } from './filtered-node.js';
import { A4, A6, B4, B6, Endpoint, randomBytes, sha256, simPair, transfer } from './sim-pair.js';
import { PEER_ISN, TcpTrace } from './trace.js';

describe('SYN cookies (syn-cookies.ts) under a SYN flood', () => {
  it('answers SYNs beyond the backlog statelessly and establishes from the returning ACK', () => {
    const tr = new TcpTrace();
    const accepted: TcpConnection[] = [];
    const listener = tr.tcp.listen({ port: 5000, backlog: 2, onConnection: (c) => accepted.push(c) });
    // Two half-open connections fill the SYN queue.
    tr.send(0, { flags: 'S', seq: 1, srcPort: 1001 });
    tr.send(0, { flags: 'S', seq: 1, srcPort: 1002 });
    expect(tr.recv()).toHaveLength(2);
    expect(listener.synQueue).toBe(2);
    // The third SYN gets a cookie: no state kept.
    tr.send(10, { flags: 'S', seq: PEER_ISN, mss: 1400, sackOk: true, ts: [500, 0], wscale: 6, srcPort: 1003 });
    const synAck = tr.recvOne();
    expect(synAck).toMatchObject({ flags: 'S.', ack: PEER_ISN + 1, sackOk: true, wscale: 7 });
    expect(tr.tcp.connectionCount).toBe(2);
    expect(tr.tcp.counters.synCookiesSent).toBe(1);
    // A forged ACK is refused (RST), the genuine one creates the connection with the options kept.
    // (A cookie has about 2^24 bad values per good one; one from another counter period is surely bad.)
    tr.send(20, { flags: '.', seq: PEER_ISN + 1, ack: synAck.seq + 1 + 50 * 2 ** 24, ts: [501, synAck.ts![0]], srcPort: 1003 });
    expect(tr.recvOne()).toMatchObject({ flags: 'R' });
    expect(tr.tcp.counters.synCookiesFailed).toBe(1);
    tr.send(30, { flags: 'P.', seq: PEER_ISN + 1, ack: synAck.seq + 1, ts: [502, synAck.ts![0]], srcPort: 1003, data: 100 });
    expect(accepted).toHaveLength(1);
    const conn = accepted[0]!;
    expect(conn.state).toBe('ESTABLISHED');
    expect(conn.readableLength).toBe(100);
    // COOKIE_MSS_IPV4 keeps 1300 for a SYN that offered 1400; window scale and SACK came back in the TSecr.
    expect(conn.stats()).toMatchObject({ peerMss: 1300, sendScale: 6, sackEnabled: true, timestampsEnabled: true });
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: PEER_ISN + 101, ts: [expect.any(Number), 502] });
  });

  it('keeps a legitimate client connecting through a flood of spoofed SYNs (two hosts)', () => {
    const p = simPair({ impairment: { delayMs: 5 }, configB: { tcp: { listenBacklog: 8 } } });
    const data = randomBytes(200_000, 'flood');
    const t = transfer(p, { bData: data, listen: { backlog: 8 } });
    // Before the client's SYN: 200 SYNs from spoofed sources that will never answer.
    const tr = new TcpTrace();
    for (let i = 0; i < 200; i++) {
      const spoofed = tr.packet({ flags: 'S', seq: i * 1000, srcPort: 2000 + i, dstPort: 5001, mss: 1460 });
      // Rewrite the addresses: from 10.0.0.(100 + i % 100) to b.
      const pkt = emitPacket({
        ip: { version: 4, repr: { dscpEcn: 0, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 6, src: parseAddress(`10.0.0.${100 + (i % 100)}`)!, dst: parseAddress(B4)!, options: EMPTY_BYTES } },
        transport: { protocol: 'tcp', repr: { srcPort: 2000 + i, dstPort: 5001, seq: i * 1000, ack: 0, flags: 2, window: 65535, urgentPointer: 0, checksum: 0, options: [{ kind: 'mss', mss: 1460 }] } },
        payload: EMPTY_BYTES,
      });
      void spoofed;
      p.b.input(1, pkt, 0);
    }
    expect(p.tcpB.connectionCount).toBe(8);
    expect(p.tcpB.counters.synCookiesSent).toBe(192);
    p.net.runUntil(() => t.client().ended, 30_000);
    expect(t.client().error).toBeUndefined();
    expect(sha256(t.client().received)).toBe(sha256(data));
    expect(p.tcpB.counters.synCookiesValid).toBe(1);
  });
});

/**
 * Host a's packets larger than `mtu` are dropped after `fromMs`, and a router answers each
 * with an ICMP (v4: fragmentation needed, v6: packet too big) quoting it.
 */
function pmtuDrop(family: 4 | 6) {
  const net = new SimNetwork(`pmtu-${family}`);
  const router = parseAddress(family === 4 ? '10.0.0.254' : 'fd00::fe')!;
  const mtu = 1280;
  const fromMs = 50;
  const make = (name: string, v4: string, v6: string) => {
    const h = new Host({ name, random: net.random(name) });
    const i = h.addInterface({ name: 'eth0', mtu: 1500 });
    h.addAddress(i, v4, 24);
    h.addAddress(i, v6, 64);
    return h;
  };
  const a = make('a', A4, A6);
  const b = make('b', B4, B6);
  let icmpSent = 0;
  const na = new FilteredNode(
    a,
    (packet, now) => {
      if (now < fromMs || packet.length <= mtu) return false;
      icmpSent++;
      const quote = packet.subarray(0, family === 4 ? 548 : 1232);
      const dst = packet.subarray(family === 4 ? 12 : 8, family === 4 ? 16 : 24).slice();
      const icmp =
        family === 4
          ? emitPacket({
              ip: { version: 4, repr: { dscpEcn: 0, identification: 0, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 1, src: router, dst, options: EMPTY_BYTES } },
              transport: { protocol: 'icmpv4', repr: { kind: 'destinationUnreachable', code: 4, nextHopMtu: mtu, invoking: quote } },
              payload: EMPTY_BYTES,
            })
          : emitPacket({
              ip: { version: 6, repr: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: router, dst, extensionHeaders: [], upperProtocol: 58 } },
              transport: { protocol: 'icmpv6', repr: { kind: 'packetTooBig', code: 0, mtu, invoking: quote } },
              payload: EMPTY_BYTES,
            });
      a.input(1, icmp, now);
      return true;
    },
    () => net.now,
  );
  net.addHost(na, 'a');
  net.addHost(b, 'b');
  net.connect({ host: na, ifIndex: 1 }, { host: b, ifIndex: 1 }, { delayMs: 10 });
  const tcpA = new TcpLayer(a);
  const tcpB = new TcpLayer(b);
  let server: Endpoint | undefined;
  tcpB.listen({ port: 80, onConnection: (c) => (server = new Endpoint(c)) });
  const data = randomBytes(2_000_000, `pmtu${family}`);
  const client = new Endpoint(tcpA.connect({ remoteAddress: family === 4 ? B4 : B6, remotePort: 80 }, 0), data);
  let largestLate = 0;
  net.onTrace((e) => {
    if (e.kind === 'delivered' && e.from === 'a' && e.time > fromMs + 100) largestLate = Math.max(largestLate, e.bytes);
  });
  const done = net.runUntil(() => server?.ended === true, 60_000);
  return { done, client, server: server!, data, icmpSent, largestLate, mss: client.conn.stats().mss, pathMtu: client.conn.stats().pathMtu };
}

describe('path MTU drop mid-transfer (RFC 1191, RFC 8201)', () => {
  it.each([4, 6] as const)('IPv%i: lowers the MSS on packet-too-big, resends smaller and completes', (family) => {
    const r = pmtuDrop(family);
    expect(r.done).toBe(true);
    expect(r.icmpSent).toBeGreaterThan(0);
    expect(r.pathMtu).toBe(1280);
    expect(r.largestLate).toBeLessThanOrEqual(1280);
    expect(r.mss).toBe(1280 - (family === 4 ? 20 : 40) - 20 - 12);
    expect(sha256(r.server.received)).toBe(sha256(r.data));
    expect(r.client.conn.stats().timeouts).toBe(0);
  });
});

describe('between two hosts', () => {
  it('reports ECONNREFUSED when nothing listens', () => {
    const p = simPair({ impairment: { delayMs: 5 } });
    const client = new Endpoint(p.tcpA.connect({ remoteAddress: B6, remotePort: 9 }, 0));
    p.net.runUntil(() => client.closed, 5000);
    expect(client.error?.code).toBe('ECONNREFUSED');
    expect(p.net.now).toBe(10);
  });

  it('opens one connection when both connect to each other at once (simultaneous open)', () => {
    const p = simPair({ impairment: { delayMs: 5 } });
    const x = randomBytes(50_000, 'x');
    const y = randomBytes(70_000, 'y');
    const a = new Endpoint(p.tcpA.connect({ remoteAddress: B4, remotePort: 6000, localPort: 7000 }, 0), x);
    const b = new Endpoint(p.tcpB.connect({ remoteAddress: A4, remotePort: 7000, localPort: 6000 }, 0), y);
    p.net.runUntil(() => a.ended && b.ended, 10_000);
    expect(a.connected && b.connected).toBe(true);
    expect(sha256(a.received)).toBe(sha256(y));
    expect(sha256(b.received)).toBe(sha256(x));
  });
});
