import { describe as suite, expect, it } from 'vitest';
import { Host } from '../../stack/ip/host.js';
import { seededRandom } from '../../stack/random.js';
import { UdpLayer } from '../../stack/udp/udp.js';
import type { UdpSocket } from '../../stack/udp/socket.js';
import type { PartialConfig } from '../../stack/config.js';
import { formatAddress } from '../../stack/wire/address.js';
import { SimNetwork } from '../sim/network.js';
import { ip } from '../ip/packets.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function makeHost(name: string, v4: string, v6: string, seed: string | number = name, config: PartialConfig = {}) {
  const host = new Host({ name, random: seededRandom(seed), config });
  const eth = host.addInterface({ name: 'eth0', mtu: 1500 });
  host.addAddress(eth, v4, 24);
  host.addAddress(eth, v6, 64);
  const udp = new UdpLayer(host);
  const bind = (opts: Parameters<UdpLayer['bind']>[0]): UdpSocket => {
    const r = udp.bind(opts);
    if (!r.ok) throw new Error(`${r.code} ${r.message}`);
    return r.socket;
  };
  return { host, eth, udp, bind };
}

/** Two hosts on one path: a = 10.0.0.1 / 2001:db8::1, b = 10.0.0.2 / 2001:db8::2. */
function pair(params = {}, config: PartialConfig = {}) {
  const net = new SimNetwork('udp');
  const a = makeHost('a', '10.0.0.1', '2001:db8::1', 'a', config);
  const b = makeHost('b', '10.0.0.2', '2001:db8::2', 'b', config);
  net.addHost(a.host);
  net.addHost(b.host);
  const path = net.connect({ host: a.host, ifIndex: a.eth }, { host: b.host, ifIndex: b.eth }, params);
  return { net, a, b, path };
}

suite('UDP binding', () => {
  it('hands out ephemeral ports in the configured range, reproducibly for a seed', () => {
    const ports = (seed: string) => {
      const { bind } = makeHost('h', '10.0.0.1', '2001:db8::1', seed);
      return Array.from({ length: 50 }, () => bind({ family: 4 }).localPort);
    };
    const first = ports('s1');
    expect(first.every((p) => p >= 32768 && p <= 60999)).toBe(true);
    expect(new Set(first).size).toBe(50);
    expect(ports('s1')).toEqual(first);
    expect(ports('s2')).not.toEqual(first);
  });

  it('refuses conflicting binds like Linux without SO_REUSEADDR, and frees the port on close', () => {
    const { udp, bind } = makeHost('h', '10.0.0.1', '2001:db8::1');
    const wild = bind({ family: 4, port: 53 });
    expect(udp.bind({ address: '10.0.0.1', port: 53 })).toMatchObject({ ok: false, code: 'EADDRINUSE' });
    expect(udp.bind({ family: 6, port: 53 }).ok).toBe(true); // other family
    expect(udp.bind({ address: '10.0.0.9', port: 54 })).toMatchObject({ ok: false, code: 'EADDRNOTAVAIL' });
    expect(udp.bind({ address: '10.0.0.1', family: 6 })).toMatchObject({ ok: false, code: 'EINVAL' });
    expect(udp.bind({ family: 4, port: 70000 })).toMatchObject({ ok: false, code: 'EINVAL' });
    wild.close();
    expect(udp.bind({ address: '10.0.0.1', port: 53 }).ok).toBe(true);
    expect(wild.send(enc('x'), 0, { address: ip('10.0.0.2'), port: 9 })).toMatchObject({ ok: false, code: 'EINVAL' });
  });

  it('reports EADDRINUSE when the ephemeral range is exhausted', () => {
    const { udp, bind } = makeHost('h', '10.0.0.1', '2001:db8::1', 'x', { udp: { ephemeralPortMin: 5000, ephemeralPortMax: 5002 } });
    expect([1, 2, 3].map(() => bind({ family: 4 }).localPort).sort()).toEqual([5000, 5001, 5002]);
    expect(udp.bind({ family: 4 })).toMatchObject({ ok: false, code: 'EADDRINUSE' });
  });
});

suite('UDP over the simulated network', () => {
  it('delivers datagrams with their source, both families, and replies reach the sender', () => {
    const { net, a, b } = pair({ delayMs: 5 });
    const server = b.bind({ family: 6, port: 53 });
    const server4 = b.bind({ family: 4, port: 53 });
    const client = a.bind({ family: 6 });
    const client4 = a.bind({ address: '10.0.0.1' });
    expect(client.send(enc('query6'), net.now, { address: ip('2001:db8::2'), port: 53 })).toMatchObject({ ok: true });
    expect(client4.send(enc('query4'), net.now, { address: ip('10.0.0.2'), port: 53 })).toMatchObject({ ok: true });
    net.run(10);
    const q6 = server.receive()!;
    const q4 = server4.receive()!;
    expect([dec(q6.data), formatAddress(q6.address), q6.port, formatAddress(q6.localAddress), q6.at]).toEqual(['query6', '2001:db8::1', client.localPort, '2001:db8::2', 5]);
    expect([dec(q4.data), formatAddress(q4.address), q4.port]).toEqual(['query4', '10.0.0.1', client4.localPort]);
    server.send(enc('answer'), net.now, { address: q6.address, port: q6.port });
    net.run(20);
    expect(dec(client.receive()!.data)).toBe('answer');
    expect(client.receive()).toBeUndefined();
  });

  it('a connected socket only hears its peer, and can send without a destination', () => {
    const { net, a, b } = pair();
    const s = b.bind({ family: 4, port: 7000 });
    const peer = a.bind({ family: 4, port: 7001 });
    const stranger = a.bind({ family: 4, port: 7002 });
    s.connect(ip('10.0.0.1'), 7001);
    peer.send(enc('from peer'), 0, { address: ip('10.0.0.2'), port: 7000 });
    stranger.send(enc('from stranger'), 0, { address: ip('10.0.0.2'), port: 7000 });
    net.run(1);
    expect([dec(s.receive()!.data), s.receive()]).toEqual(['from peer', undefined]);
    expect(b.host.counters.rxDropped.noSocket).toBe(1); // the stranger got port unreachable
    expect(s.send(enc('back'), 1)).toMatchObject({ ok: true });
    net.run(2);
    expect(dec(peer.receive()!.data)).toBe('back');
    // The stranger is not connected: like Linux without IP_RECVERR, it hears of no ICMP error.
    expect(stranger.takeError()).toBeUndefined();
  });

  it('a query to a closed port: ECONNREFUSED on a connected socket or one with recvErrors, nothing on an unconnected one', () => {
    const { net, a } = pair({ delayMs: 20 });
    const readable: string[] = [];
    const client = (name: string, opts: { connect?: boolean; recvErrors?: boolean }) => {
      const s = a.bind({ family: 6, ...(opts.recvErrors && { recvErrors: true }) });
      if (opts.connect) s.connect(ip('2001:db8::2'), 5353);
      s.onReadable = (what) => readable.push(`${name} ${what}@${net.now}`);
      s.send(enc('anyone?'), 0, { address: ip('2001:db8::2'), port: 5353 });
      return s;
    };
    const connected = client('connected', { connect: true });
    const unconnected = client('unconnected', {});
    const recvErr = client('recvErrors', { recvErrors: true });
    net.run(100);
    expect(readable).toEqual(['connected error@40', 'recvErrors error@40']);
    for (const s of [connected, recvErr]) {
      expect(s.takeError()).toMatchObject({ code: 'ECONNREFUSED', port: 5353, icmp: { kind: 'unreachable', family: 6, code: 4 } });
    }
    expect(unconnected.takeError()).toBeUndefined();
    expect(a.udp.counters.icmpErrors).toBe(2);
  });

  it('drops and counts datagrams beyond the receive queue limits (datagrams and bytes)', () => {
    const { net, a, b } = pair({}, { udp: { receiveQueueDatagrams: 4, receiveQueueBytes: 1000 } });
    const s = b.bind({ family: 4, port: 9 });
    const c = a.bind({ family: 4 });
    for (let i = 0; i < 6; i++) c.send(enc(`d${i}`), 0, { address: ip('10.0.0.2'), port: 9 });
    net.run(1);
    expect([s.pending, s.counters.receiveQueueDrops, b.udp.counters.receiveQueueDrops]).toEqual([4, 2, 2]);
    while (s.receive());
    c.send(new Uint8Array(600), 1, { address: ip('10.0.0.2'), port: 9 });
    c.send(new Uint8Array(600), 1, { address: ip('10.0.0.2'), port: 9 });
    c.send(new Uint8Array(300), 1, { address: ip('10.0.0.2'), port: 9 });
    net.run(2);
    expect([s.receive()?.data.length, s.receive()?.data.length, s.receive()]).toEqual([600, 300, undefined]);
    expect(b.udp.counters).toMatchObject({ inDatagrams: 6, receiveQueueDrops: 3 });
  });
});
