// Real Hosts (IP + ICMP + UDP) on the simulated network: determinism over impaired paths with
// several hosts and policy routing, minutes of simulated time, offloads, pcap capture.

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe as suite, expect, it } from 'vitest';
import { Host, type InboundPacket } from '../../stack/ip/host.js';
import { UdpLayer } from '../../stack/udp/udp.js';
import type { UdpSocket } from '../../stack/udp/socket.js';
import { emitTcp, TCP_ACK, type TcpRepr } from '../../stack/wire/tcp.js';
import { PcapWriter, readPcap } from '../../tun/pcap.js';
import { ip } from '../ip/packets.js';
import { SimNetwork, type SimTraceEvent } from './network.js';

function bindOrThrow(udp: UdpLayer, opts: Parameters<UdpLayer['bind']>[0]): UdpSocket {
  const r = udp.bind(opts);
  if (!r.ok) throw new Error(`${r.code} ${r.message}`);
  return r.socket;
}

/** An echo server: every datagram goes back where it came from, at the instant it arrived. */
function echo(socket: UdpSocket): void {
  socket.onReadable = () => {
    for (let d = socket.receive(); d; d = socket.receive()) socket.send(d.data, d.at, { address: d.address, port: d.port });
  };
}

/**
 * client1 --path1-- server --path2-- client2 (wlan)
 *                         \--path3-- client2 (lte)
 * client2 routes by source: each uplink has its own default route (thesis 3.5).
 */
function topology(seed: number | string) {
  const net = new SimNetwork(seed);
  const server = new Host({ name: 'server', random: net.random('server') });
  const s = [1, 2, 3].map((n) => server.addInterface({ name: `s${n}`, mtu: 1500 }));
  server.addAddress(s[0]!, '10.1.0.1', 24);
  server.addAddress(s[0]!, '2001:db8:1::1', 64);
  server.addAddress(s[1]!, '10.2.0.1', 24);
  server.addAddress(s[2]!, '10.3.0.1', 24);
  const c1 = new Host({ name: 'client1', random: net.random('client1') });
  const c1if = c1.addInterface({ name: 'eth0', mtu: 1500 });
  c1.addAddress(c1if, '10.1.0.2', 24);
  c1.addAddress(c1if, '2001:db8:1::2', 64);
  const c2 = new Host({ name: 'client2', random: net.random('client2') });
  const wlan = c2.addInterface({ name: 'wlan', mtu: 1500 });
  const lte = c2.addInterface({ name: 'lte', mtu: 1400 });
  c2.addAddress(wlan, '10.2.0.2', 24);
  c2.addAddress(lte, '10.3.0.2', 24);
  c2.addRoute({ destination: '0.0.0.0', prefixLength: 0, ifIndex: wlan, sourceInterface: true });
  c2.addRoute({ destination: '0.0.0.0', prefixLength: 0, ifIndex: lte, sourceInterface: true });
  for (const h of [server, c1, c2]) net.addHost(h);
  const impaired = { delayMs: 30, jitterMs: 10, lossRate: 0.05, reorderRate: 0.1, duplicateRate: 0.02, rateBitsPerSecond: 2_000_000 };
  const path1 = net.connect({ host: c1, ifIndex: c1if }, { host: server, ifIndex: s[0]! }, impaired, 'path1');
  const path2 = net.connect({ host: c2, ifIndex: wlan }, { host: server, ifIndex: s[1]! }, { ...impaired, delayMs: 10 }, 'path2');
  const path3 = net.connect({ host: c2, ifIndex: lte }, { host: server, ifIndex: s[2]! }, { aToB: { delayMs: 60, lossRate: 0.1 }, bToA: { delayMs: 40, jitterMs: 30 } }, 'path3');
  const sUdp = new UdpLayer(server);
  echo(bindOrThrow(sUdp, { family: 4, port: 7 }));
  echo(bindOrThrow(sUdp, { family: 6, port: 7 }));
  const c1Udp = new UdpLayer(c1);
  const c2Udp = new UdpLayer(c2);
  const sockets = {
    c1v4: bindOrThrow(c1Udp, { family: 4 }),
    c1v6: bindOrThrow(c1Udp, { family: 6 }),
    c2wlan: bindOrThrow(c2Udp, { address: '10.2.0.2' }),
    c2lte: bindOrThrow(c2Udp, { address: '10.3.0.2' }),
  };
  return { net, server, c1, c2, paths: [path1, path2, path3], sockets };
}

/** Runs the three-host exchange for 20 s of simulated time; returns a hash of the packet trace and a summary. */
function runExchange(seed: number | string) {
  const { net, paths, sockets } = topology(seed);
  const hash = createHash('sha256');
  const kinds: Record<string, number> = {};
  net.onTrace((e: SimTraceEvent) => {
    const key = `${e.kind}${e.reason ? `/${e.reason}` : ''}`;
    kinds[key] = (kinds[key] ?? 0) + 1;
    hash.update(`${e.time.toFixed(6)} ${key} ${e.path} ${e.direction} ${e.bytes} `).update(e.packet).update('\n');
  });
  const targets = [
    [sockets.c1v4, '10.1.0.1'],
    [sockets.c1v6, '2001:db8:1::1'],
    [sockets.c2wlan, '10.2.0.1'],
    [sockets.c2lte, '10.3.0.1'],
  ] as const;
  let n = 0;
  for (let t = 0; t < 20_000; t += 7) {
    net.run(t);
    const [socket, to] = targets[n % targets.length]!;
    socket.send(new TextEncoder().encode(`req ${n++}`), net.now, { address: ip(to), port: 7 });
  }
  net.run(25_000);
  const replies = Object.fromEntries(Object.entries(sockets).map(([k, s]) => [k, s.pending]));
  return { hash: hash.digest('hex'), kinds, replies, stats: { ...net.stats }, pathCounters: paths.map((p) => JSON.stringify(p.counters)) };
}

suite('SimNetwork with real hosts', () => {
  it('replays an identical packet trace for the same seed and a different one for another seed', () => {
    const a = runExchange(2024);
    const b = runExchange(2024);
    const c = runExchange(2025);
    expect(b).toEqual(a);
    expect(c.hash).not.toBe(a.hash);
    // The run really was impaired and really used every path.
    expect(a.kinds['dropped/loss']).toBeGreaterThan(100);
    expect(a.stats.deliveries).toBeGreaterThan(5000);
    expect(Object.values(a.replies).every((r) => r > 300)).toBe(true);
    // Duplication shows as more deliveries than packets sent on some path.
    expect(a.kinds['delivered']).toBe(a.stats.deliveries);
  });

  it('keeps an echo exchange over a 50 ms path running for 5 simulated minutes', () => {
    const net = new SimNetwork('long');
    const mk = (name: string, addr: string) => {
      const h = new Host({ name, random: net.random(name) });
      const i = h.addInterface({ name: 'eth0', mtu: 1500 });
      h.addAddress(i, addr, 24);
      net.addHost(h);
      return { h, i, udp: new UdpLayer(h) };
    };
    const a = mk('a', '10.0.0.1');
    const b = mk('b', '10.0.0.2');
    const path = net.connect({ host: a.h, ifIndex: a.i }, { host: b.h, ifIndex: b.i }, { delayMs: 50, lossRate: 0.01 });
    echo(bindOrThrow(b.udp, { family: 4, port: 7 }));
    const client = bindOrThrow(a.udp, { family: 4 });
    let replies = 0;
    let rttSum = 0;
    client.onReadable = () => {
      for (let d = client.receive(); d; d = client.receive()) {
        replies++;
        rttSum += d.at - Number(new TextDecoder().decode(d.data));
      }
    };
    const requests = 30_000;
    for (let i = 0; i < requests; i++) {
      net.run(i * 10);
      client.send(new TextEncoder().encode(String(net.now)), net.now, { address: ip('10.0.0.2'), port: 7 });
    }
    net.run(301_000);
    expect(net.now).toBe(301_000);
    // 1% loss each way: about 98% of the requests come back, each after exactly 100 ms.
    expect(replies).toBeGreaterThan(requests * 0.97);
    expect(replies).toBeLessThan(requests * 0.99);
    expect(rttSum / replies).toBe(100);
    expect(path.counters.aToB.sent).toBe(requests);
    expect(net.stats.deliveries).toBe(path.counters.aToB.delivered + path.counters.bToA.delivered);
    expect(path.counters.bToA.delivered).toBe(replies);
  });

  it('segments offloaded super-packets and finishes partial checksums on the way', () => {
    const net = new SimNetwork('gso');
    const a = new Host({ name: 'a', random: net.random('a') });
    const ai = a.addInterface({ name: 'eth0', mtu: 1500, offloads: { checksum: true, gso: true } });
    a.addAddress(ai, '10.0.0.1', 24);
    const b = new Host({ name: 'b', random: net.random('b') });
    const bi = b.addInterface({ name: 'eth0', mtu: 1500 });
    b.addAddress(bi, '10.0.0.2', 24);
    net.addHost(a);
    net.addHost(b);
    net.connect({ host: a, ifIndex: ai }, { host: b, ifIndex: bi }, { delayMs: 1 });
    const got: string[] = [];
    b.registerTransport(6, { input: (p: InboundPacket) => void got.push(`${p.l4.length} ${p.checksumVerified}`) });
    const repr: TcpRepr = { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_ACK, window: 100, urgentPointer: 0, checksum: 0, options: [] };
    const send = (n: number, gsoSize?: number) =>
      a.send(
        {
          dst: ip('10.0.0.2'),
          protocol: 6,
          l4Length: 20 + n,
          offload: { checksumOffset: 16, ...(gsoSize && { gsoSize }) },
          writeL4: (out, offset, src, dst) => emitTcp(repr, new Uint8Array(n), n, out, offset, { mode: 'partial', src, dst }),
        },
        net.now,
      );
    const wire: number[] = [];
    net.onTrace((e) => e.kind === 'sent' && wire.push(e.bytes));
    send(3000, 1460);
    send(100);
    net.run(10);
    expect(wire).toEqual([1500, 1500, 120, 140]);
    expect(got).toEqual(['1480 false', '1480 false', '100 false', '120 false']);
    expect(b.counters.parseErrors).toEqual({});
  });

  it('captures a path to pcap that tcpdump reads back', () => {
    const { net, paths, sockets } = topology('pcap');
    const chunks: Uint8Array[] = [];
    net.attachPcap(paths[0]!, new PcapWriter((c) => chunks.push(c.slice())));
    paths[0]!.setParams({ lossRate: 0, duplicateRate: 0, jitterMs: 0, reorderRate: 0, rateBitsPerSecond: 0 });
    sockets.c1v4.send(new TextEncoder().encode('hello'), 0, { address: ip('10.1.0.1'), port: 7 });
    sockets.c1v6.send(new TextEncoder().encode('hello6'), 0, { address: ip('2001:db8:1::1'), port: 7 });
    net.run(1000);
    const file = Buffer.concat(chunks);
    const parsed = readPcap(file);
    expect(parsed.ok && parsed.value.records.map((r) => [r.timestampMs, r.data.length])).toEqual([
      [30, 33],
      [30, 54],
      [60, 33],
      [60, 54],
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'nst-sim-'));
    try {
      writeFileSync(join(dir, 'path1.pcap'), file);
      const text = execFileSync('tcpdump', ['-nn', '-r', join(dir, 'path1.pcap')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      expect(text.trim().split('\n').map((l) => l.replace(/^\S+ /, ''))).toEqual([
        `IP 10.1.0.2.${sockets.c1v4.localPort} > 10.1.0.1.7: UDP, length 5`,
        `IP6 2001:db8:1::2.${sockets.c1v6.localPort} > 2001:db8:1::1.7: UDP, length 6`,
        `IP 10.1.0.1.7 > 10.1.0.2.${sockets.c1v4.localPort}: UDP, length 5`,
        `IP6 2001:db8:1::1.7 > 2001:db8:1::2.${sockets.c1v6.localPort}: UDP, length 6`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
