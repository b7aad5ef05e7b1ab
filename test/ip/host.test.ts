import { describe as suite, expect, it } from 'vitest';
import { Host, type OutboundPacket } from '../../stack/ip/host.js';
import { seededRandom } from '../../stack/random.js';
import { UdpLayer } from '../../stack/udp/udp.js';
import { describe, icmpv4, icmpv6, ip, ipv4, ipv6, udp } from './packets.js';
import { makeHost } from './test-host.js';
import { buildOptionsHeader } from '../../stack/wire/ipv6-ext.js';

function drain(host: Host): string[] {
  const out: string[] = [];
  for (let p: OutboundPacket | undefined; (p = host.pollTransmit()); ) out.push(describe(p.packet));
  return out;
}

const echoV4 = (src: string, dst: string, seq: number) => ipv4(src, dst, 1, icmpv4({ kind: 'echoRequest', identifier: 7, sequence: seq, data: new TextEncoder().encode('ping') }));
const echoV6 = (src: string, dst: string, seq: number) => ipv6(src, dst, 58, icmpv6({ kind: 'echoRequest', identifier: 7, sequence: seq, data: new TextEncoder().encode('ping') }, src, dst));

suite('Host: ICMP echo', () => {
  it('answers IPv4 and IPv6 echo requests to its addresses, from the address asked', () => {
    const { host, eth } = makeHost();
    host.input(eth, echoV4('192.0.2.9', '10.0.0.1', 1), 0);
    host.input(eth, echoV6('2001:db8:9::9', '2001:db8::1', 2), 0);
    expect(drain(host)).toEqual([
      '10.0.0.1 > 192.0.2.9 ttl=64 icmp echoReply id=7 seq=1 "ping"',
      '2001:db8::1 > 2001:db8:9::9 hlim=64 icmpv6 echoReply id=7 seq=2 "ping"',
    ]);
    expect(host.counters).toMatchObject({ received: 2, icmpIn: 2, icmpOut: 2, echoRepliesOut: 2, sent: 2 });
    const flat = host.counters.snapshot();
    expect([flat['echoRepliesOut'], flat['rxDropped.notForUs'], flat['txDropped.queueFull']]).toEqual([2, 0, 0]);
  });

  it('does not answer for other addresses, nor when answerEcho is off', () => {
    const { host, eth } = makeHost();
    host.input(eth, echoV4('192.0.2.9', '10.0.0.2', 1), 0);
    host.input(eth, echoV6('2001:db8:9::9', '2001:db8::2', 1), 0);
    expect(drain(host)).toEqual([]);
    expect(host.counters.rxDropped.notForUs).toBe(2);
    const quiet = makeHost({ ip: { answerEcho: false } });
    quiet.host.input(quiet.eth, echoV4('192.0.2.9', '10.0.0.1', 1), 0);
    expect(drain(quiet.host)).toEqual([]);
    expect(quiet.host.counters.rxDropped.icmpUnhandled).toBe(1);
  });
});

suite('Host: port unreachable', () => {
  it('answers UDP to a closed port with port unreachable quoting the datagram, v4 and v6', () => {
    const { host, eth } = makeHost();
    new UdpLayer(host);
    host.input(eth, ipv4('192.0.2.9', '10.0.0.1', 17, udp('192.0.2.9', '10.0.0.1', 5000, 53, 'q?')), 0);
    host.input(eth, ipv6('2001:db8:9::9', '2001:db8::1', 17, udp('2001:db8:9::9', '2001:db8::1', 5000, 53, 'q?')), 0);
    expect(drain(host)).toEqual([
      '10.0.0.1 > 192.0.2.9 ttl=64 icmp destinationUnreachable code=3 [192.0.2.9 > 10.0.0.1 ttl=64 udp 5000 > 53 "q?"] quoted=30',
      '2001:db8::1 > 2001:db8:9::9 hlim=64 icmpv6 destinationUnreachable code=4 [2001:db8:9::9 > 2001:db8::1 hlim=64 udp 5000 > 53 "q?"] quoted=50',
    ]);
    expect(host.counters.rxDropped.noSocket).toBe(2);
    expect(host.counters.icmpErrorsOut).toBe(2);
  });

  it('quotes at most 576 bytes (IPv4) / 1280 bytes (IPv6) of packet in all', () => {
    const { host, eth } = makeHost();
    new UdpLayer(host);
    const big = 'x'.repeat(1400);
    host.input(eth, ipv4('192.0.2.9', '10.0.0.1', 17, udp('192.0.2.9', '10.0.0.1', 5000, 9, big)), 0);
    host.input(eth, ipv6('2001:db8:9::9', '2001:db8::1', 17, udp('2001:db8:9::9', '2001:db8::1', 5000, 9, big)), 0);
    const sizes: number[] = [];
    for (let p; (p = host.pollTransmit()); ) sizes.push(p.packet.length);
    expect(sizes).toEqual([576, 1280]);
  });

  it('rate-limits errors like Linux: a burst of 6 per destination, then one per second, and a host-wide cap', () => {
    const { host, eth } = makeHost({ ip: { icmpGlobalBurst: 8, icmpGlobalPerSecond: 1000 } });
    new UdpLayer(host);
    const probe = (src: string, t: number) => host.input(eth, ipv4(src, '10.0.0.1', 17, udp(src, '10.0.0.1', 5000, 9, '')), t);
    for (let i = 0; i < 20; i++) probe('192.0.2.9', i); // 20 probes within 20 ms
    expect(drain(host)).toHaveLength(6);
    probe('192.0.2.9', 500);
    expect(drain(host)).toHaveLength(0);
    probe('192.0.2.9', 1020); // one token regained after a second
    probe('192.0.2.9', 1021);
    expect(drain(host)).toHaveLength(1);
    // Another destination has its own burst, but the host-wide bucket (8, refilled 1/ms) caps the instant.
    for (let i = 0; i < 20; i++) probe(`192.0.2.${100 + i}`, 1021);
    expect(drain(host)).toHaveLength(8);
    expect(host.counters.icmpRateLimited).toBe(20 - 6 + 1 + 1 + 12);
  });

  it('answers an unknown protocol with protocol unreachable (v4) or parameter problem at the Next Header (v6)', () => {
    const { host, eth } = makeHost();
    host.input(eth, ipv4('192.0.2.9', '10.0.0.1', 99, new Uint8Array(4)), 0);
    host.input(eth, ipv6('2001:db8:9::9', '2001:db8::1', 99, new Uint8Array(4)), 0);
    const dstopts = buildOptionsHeader('destinationOptions', [{ type: 0x11, data: new Uint8Array([1, 97, 0]) }]);
    host.input(eth, ipv6('2001:db8:9::9', '2001:db8::1', 99, new Uint8Array(4), [dstopts]), 0);
    host.input(eth, ipv6('2001:db8:9::9', '2001:db8::1', 59, new Uint8Array(0)), 0); // no next header: silence
    expect(drain(host).map((l) => l.replace(/ \[.*\] /, ' [..] '))).toEqual([
      '10.0.0.1 > 192.0.2.9 ttl=64 icmp destinationUnreachable code=2 [..] quoted=24',
      '2001:db8::1 > 2001:db8:9::9 hlim=64 icmpv6 parameterProblem code=1 pointer=6 [..] quoted=44',
      '2001:db8::1 > 2001:db8:9::9 hlim=64 icmpv6 parameterProblem code=1 pointer=40 [..] quoted=52',
    ]);
    expect(host.counters.rxDropped.noTransport).toBe(4);
  });
});

suite('Host: malformed and unwanted input is counted and dropped, never thrown', () => {
  it('counts each parse error under its layer and code', () => {
    const { host, eth } = makeHost();
    new UdpLayer(host);
    const good4 = ipv4('192.0.2.9', '10.0.0.1', 17, udp('192.0.2.9', '10.0.0.1', 5000, 53, 'hello'));
    const badHeaderSum = good4.slice();
    badHeaderSum[10]! ^= 0xff;
    const badUdpSum = good4.slice();
    badUdpSum[good4.length - 1]! ^= 0xff;
    const badIcmpSum = echoV4('192.0.2.9', '10.0.0.1', 1);
    badIcmpSum[badIcmpSum.length - 1]! ^= 1;
    const shortUdp = ipv4('192.0.2.9', '10.0.0.1', 17, new Uint8Array(5));
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([0x45, 0, 0]),
      new Uint8Array(40).fill(0x70), // version 7
      good4.subarray(0, 30), // total length beyond the bytes
      badHeaderSum,
      badUdpSum,
      badIcmpSum,
      shortUdp,
      ipv6('2001:db8:9::9', '2001:db8::1', 17, new Uint8Array(3)).subarray(0, 41),
    ];
    for (const c of cases) host.input(eth, c, 0);
    expect(host.counters.parseErrors).toEqual({
      'ip.BAD_VERSION': 2,
      'ipv4.TRUNCATED': 2,
      'ipv4.BAD_CHECKSUM': 1,
      'udp.BAD_CHECKSUM': 1,
      'icmpv4.BAD_CHECKSUM': 1,
      'udp.TRUNCATED': 1,
      'ipv6.TRUNCATED': 1,
    });
    expect(drain(host)).toEqual([]);
    expect(host.counters.snapshot()['parseErrors.udp.BAD_CHECKSUM']).toBe(1);
  });

  it('drops fragments, martian sources, unknown must-discard options and routing headers with segments left', () => {
    const { host, eth } = makeHost();
    const udpLayer = new UdpLayer(host);
    const sock = udpLayer.bind({ family: 6, port: 53 });
    if (!sock.ok) throw new Error(sock.message);
    const d6 = () => udp('2001:db8:9::9', '2001:db8::1', 5000, 53, 'x');
    host.input(eth, ipv4('192.0.2.9', '10.0.0.1', 17, udp('192.0.2.9', '10.0.0.1', 1, 53, 'x'), { moreFragments: true, dontFragment: false }), 0);
    host.input(eth, ipv4('224.0.0.1', '10.0.0.1', 17, udp('224.0.0.1', '10.0.0.1', 1, 53, 'x')), 0);
    host.input(eth, ipv6('::1', '2001:db8::1', 17, udp('::1', '2001:db8::1', 5000, 53, 'x')), 0);
    host.input(eth, ipv6('2001:db8:9::9', '2001:db8::1', 17, d6(), [buildOptionsHeader('destinationOptions', [{ type: 0x91, data: new Uint8Array(2) }])]), 0);
    host.input(eth, ipv6('2001:db8:9::9', '2001:db8::1', 17, d6(), [{ kind: 'routing', routingType: 4, segmentsLeft: 1, data: new Uint8Array(20) }]), 0);
    host.input(eth, ipv6('2001:db8:9::9', '2001:db8::1', 17, d6(), [{ kind: 'fragment', fragmentOffset: 8, moreFragments: false, identification: 1 }]), 0);
    // Delivered: an atomic fragment (RFC 6946), and a destination option the host skips (a name option).
    host.input(eth, ipv6('2001:db8:9::9', '2001:db8::1', 17, d6(), [{ kind: 'fragment', fragmentOffset: 0, moreFragments: false, identification: 1 }]), 0);
    host.input(eth, ipv6('2001:db8:9::9', '2001:db8::1', 17, d6(), [buildOptionsHeader('destinationOptions', [{ type: 0x11, data: new Uint8Array([1, 97, 0]) }])]), 0);
    expect(host.counters.rxDropped).toMatchObject({ fragment: 2, badSource: 2, ipv6Option: 1, ipv6Routing: 1 });
    expect(sock.socket.pending).toBe(2);
    // RFC 8200 4.2 (option type 10xxxxxx) and 4.4 (no routing type is known here): parameter problems.
    expect(drain(host).map((l) => l.replace(/ \[.*\] /, ' [..] '))).toEqual([
      '2001:db8::1 > 2001:db8:9::9 hlim=64 icmpv6 parameterProblem code=2 pointer=42 [..] quoted=57',
      '2001:db8::1 > 2001:db8:9::9 hlim=64 icmpv6 parameterProblem code=0 pointer=42 [..] quoted=73',
    ]);
  });

  it('drops a source that is the directed broadcast of one of our IPv4 prefixes, and sends it no error (RFC 1122 3.2.1.3)', () => {
    const { host, eth } = makeHost();
    host.addAddress(eth, '10.1.0.1', 16);
    host.addAddress(eth, '10.2.0.1', 31); // RFC 3021: a /31 has no broadcast address
    new UdpLayer(host);
    for (const src of ['10.0.0.255', '10.1.255.255', '10.2.0.0', '10.0.0.254', '10.1.0.255'])
      host.input(eth, ipv4(src, '10.0.0.1', 17, udp(src, '10.0.0.1', 5000, 9, 'x')), 0);
    expect(host.counters.rxDropped).toMatchObject({ badSource: 2, noSocket: 3 });
    expect(drain(host).map((l) => l.split(' [')[0])).toEqual([
      '10.0.0.1 > 10.2.0.0 ttl=64 icmp destinationUnreachable code=3',
      '10.0.0.1 > 10.0.0.254 ttl=64 icmp destinationUnreachable code=3',
      '10.0.0.1 > 10.1.0.255 ttl=64 icmp destinationUnreachable code=3',
    ]);
    // The broadcast address goes with the last address of its prefix.
    host.removeAddress(eth, '10.1.0.1');
    host.input(eth, ipv4('10.1.255.255', '10.0.0.1', 17, udp('10.1.255.255', '10.0.0.1', 5000, 9, 'x')), 0);
    expect(host.counters.rxDropped.badSource).toBe(2);
  });

  it('drops packets from a link that claim one of our own addresses as source (Linux: martian source)', () => {
    const { host, eth } = makeHost();
    const udpLayer = new UdpLayer(host);
    const resolver = udpLayer.bind({ family: 4, port: 53 });
    const resolver6 = udpLayer.bind({ family: 6, port: 53 });
    if (!resolver.ok || !resolver6.ok) throw new Error('bind');
    // Spoofed "from us to us": answered, it would loop a forged port unreachable back to the port-53 socket.
    host.input(eth, ipv4('10.0.0.1', '10.0.0.1', 17, udp('10.0.0.1', '10.0.0.1', 53, 9, 'x')), 0);
    host.input(eth, ipv6('2001:db8::1', '2001:db8::1', 17, udp('2001:db8::1', '2001:db8::1', 53, 9, 'x')), 0);
    host.input(eth, echoV4('10.0.0.1', '10.0.0.1', 1), 0);
    expect(drain(host)).toEqual([]);
    host.onTimeout(1);
    expect([resolver.socket.takeError(), resolver6.socket.takeError()]).toEqual([undefined, undefined]);
    expect(host.counters.rxDropped.badSource).toBe(3);
  });

  it('answers unknown IPv6 options by their type bits, pointing at the option (RFC 8200 4.2), never to an ICMPv6 error', () => {
    const { host, eth } = makeHost();
    const sock = new UdpLayer(host).bind({ family: 6, port: 53 });
    if (!sock.ok) throw new Error(sock.message);
    const src = '2001:db8:9::9';
    const dst = '2001:db8::1';
    const dstopts = (...types: number[]) => buildOptionsHeader('destinationOptions', types.map((type) => ({ type, data: new Uint8Array(1) })));
    const withOptions = (...types: number[]) => ipv6(src, dst, 17, udp(src, dst, 5000, 53, 'x'), [dstopts(...types)]);
    host.input(eth, withOptions(0x01, 0x11, 0x3e), 0); // PadN, a name option, another 00 type: skipped, delivered
    host.input(eth, withOptions(0x11, 0x41), 0); // 01: discard silently
    host.input(eth, withOptions(0x11, 0xc1), 0); // 11: discard, report (our destination is never multicast)
    const hbh = buildOptionsHeader('hopByHop', [{ type: 0x85, data: new Uint8Array(4) }]);
    host.input(eth, ipv6(src, dst, 17, udp(src, dst, 5000, 53, 'x'), [hbh]), 0); // 10: discard, report
    // An ICMPv6 error is never answered with one (RFC 4443 2.4(e.1)); an echo request is.
    const unreachable = icmpv6({ kind: 'destinationUnreachable', code: 4, invoking: ipv6(dst, src, 17, udp(dst, src, 53, 5000, 'y')) }, src, dst);
    host.input(eth, ipv6(src, dst, 58, unreachable, [dstopts(0x81)]), 0);
    const echo = icmpv6({ kind: 'echoRequest', identifier: 1, sequence: 1, data: new Uint8Array(4) }, src, dst);
    host.input(eth, ipv6(src, dst, 58, echo, [dstopts(0x81)]), 0);
    expect(sock.socket.pending).toBe(1);
    expect(host.counters.rxDropped.ipv6Option).toBe(5);
    expect(drain(host).map((l) => l.replace(/ \[.*\] /, ' [..] '))).toEqual([
      '2001:db8::1 > 2001:db8:9::9 hlim=64 icmpv6 parameterProblem code=2 pointer=45 [..] quoted=57',
      '2001:db8::1 > 2001:db8:9::9 hlim=64 icmpv6 parameterProblem code=2 pointer=42 [..] quoted=57',
      '2001:db8::1 > 2001:db8:9::9 hlim=64 icmpv6 parameterProblem code=2 pointer=42 [..] quoted=60',
    ]);
  });

  it('limits the extension header chain to 8 headers, atomic fragments included (RFC 8504 5.3)', () => {
    const { host, eth } = makeHost();
    const sock = new UdpLayer(host).bind({ family: 6, port: 53 });
    if (!sock.ok) throw new Error(sock.message);
    const atomic = { kind: 'fragment', fragmentOffset: 0, moreFragments: false, identification: 1 } as const;
    const chain = (n: number) => ipv6('2001:db8:9::9', '2001:db8::1', 17, udp('2001:db8:9::9', '2001:db8::1', 5000, 53, 'x'), new Array(n).fill(atomic));
    host.input(eth, chain(8), 0);
    expect(sock.socket.pending).toBe(1);
    // Each fragment header ends one parse of the chain; the limit holds for the whole chain.
    host.input(eth, chain(9), 0);
    host.input(eth, chain(1000), 0);
    expect(sock.socket.pending).toBe(1);
    expect(host.counters.parseErrors).toEqual({ 'ipv6.UNSUPPORTED': 2 });
  });

  it('survives 20,000 mutated packets without throwing', () => {
    const { host, eth } = makeHost();
    new UdpLayer(host);
    const rng = seededRandom('fuzz');
    const seeds = [
      echoV4('192.0.2.9', '10.0.0.1', 1),
      echoV6('2001:db8:9::9', '2001:db8::1', 1),
      ipv4('192.0.2.9', '10.0.0.1', 17, udp('192.0.2.9', '10.0.0.1', 5000, 53, 'hello')),
      ipv6('2001:db8:9::9', '2001:db8::1', 17, udp('2001:db8:9::9', '2001:db8::1', 5000, 53, 'x'), [buildOptionsHeader('destinationOptions', [{ type: 0x11, data: new Uint8Array(5) }])]),
      ipv4('10.0.0.1', '192.0.2.9', 1, icmpv4({ kind: 'destinationUnreachable', code: 3, nextHopMtu: 0, invoking: ipv4('10.0.0.1', '192.0.2.9', 17, udp('10.0.0.1', '192.0.2.9', 1, 2, '')) })),
    ];
    for (let i = 0; i < 20_000; i++) {
      const base = seeds[i % seeds.length]!;
      const p = base.slice(0, rng.uint32() % (base.length + 1) || base.length);
      const flips = 1 + (rng.uint32() % 4);
      for (let f = 0; f < flips; f++) p[rng.uint32() % p.length]! ^= 1 << (rng.uint32() % 8);
      host.input(eth, p, i);
      drain(host);
    }
    expect(host.counters.received).toBe(20_000);
    expect(host.counters.rxDroppedTotal).toBeGreaterThan(10_000);
  });
});

suite('Host: send', () => {
  const sendUdp = (host: Host, dst: string, l4Length = 8, src?: string) =>
    host.send({ ...(src && { src: ip(src) }), dst: ip(dst), protocol: 99, l4Length, writeL4: () => {} }, 0);

  it('reports ENETUNREACH, EADDRNOTAVAIL, EMSGSIZE (with the MTU), EINVAL and ENOBUFS', () => {
    const { host, eth } = makeHost({ ip: { outputQueueLimit: 3 } });
    host.removeAddress(eth, '2001:db8::1');
    expect(sendUdp(host, '2001:db8:5::5')).toMatchObject({ ok: false, code: 'EADDRNOTAVAIL' }); // route but no v6 address
    host.routes.remove(() => true);
    expect(sendUdp(host, '192.0.2.1')).toMatchObject({ ok: false, code: 'ENETUNREACH' });
    host.addRoute({ destination: '0.0.0.0', prefixLength: 0, ifIndex: eth });
    expect(sendUdp(host, '192.0.2.1', 8, '10.9.9.9')).toMatchObject({ ok: false, code: 'EADDRNOTAVAIL' });
    expect(sendUdp(host, '192.0.2.1', 1481)).toMatchObject({ ok: false, code: 'EMSGSIZE', mtu: 1500 });
    expect(sendUdp(host, '192.0.2.1', 8, '2001:db8::1')).toMatchObject({ ok: false, code: 'EINVAL' });
    expect([1, 2, 3, 4].map(() => sendUdp(host, '192.0.2.1', 1480).ok)).toEqual([true, true, true, false]);
    expect(host.counters.txDropped).toMatchObject({ noRoute: 1, noSource: 2, tooBig: 1, invalid: 1, queueFull: 1 });
    expect(host.counters.sent).toBe(3);
  });

  it('builds the IP header around the transport bytes in one buffer, with the selected source', () => {
    const { host } = makeHost();
    const r = host.send(
      { dst: ip('192.0.2.7'), protocol: 17, l4Length: 10, writeL4: (out, offset) => out.set(udp('10.0.0.1', '192.0.2.7', 1000, 2000, 'hi'), offset) },
      0,
    );
    expect(r).toMatchObject({ ok: true, ifIndex: 1 });
    expect(drain(host)).toEqual(['10.0.0.1 > 192.0.2.7 ttl=64 udp 1000 > 2000 "hi"']);
  });

  it('does not send or receive on a down link, and routes around it', () => {
    const { host, eth } = makeHost();
    const lte = host.addInterface({ name: 'lte', mtu: 1400 });
    host.addAddress(lte, '10.2.0.1', 24);
    host.addRoute({ destination: '0.0.0.0', prefixLength: 0, ifIndex: lte, metric: 100 });
    host.input(eth, echoV4('192.0.2.9', '10.0.0.1', 1), 0); // reply queued on eth
    host.setLinkUp(eth, false);
    expect(drain(host)).toEqual([]);
    expect(host.counters.txDropped.linkDown).toBe(1);
    host.input(eth, echoV4('192.0.2.9', '10.0.0.1', 2), 0);
    expect(host.counters.rxDropped.linkDown).toBe(1);
    // Echo arriving on lte for eth's address (weak host model): answered via lte, from the address asked.
    host.input(lte, echoV4('192.0.2.9', '10.0.0.1', 3), 0);
    const p = host.pollTransmit()!;
    expect([p.ifIndex, describe(p.packet)]).toEqual([lte, '10.0.0.1 > 192.0.2.9 ttl=64 icmp echoReply id=7 seq=3 "ping"']);
    expect(host.routeMtu(ip('192.0.2.9'))).toBe(1400);
  });

  it('keeps one connected route per prefix while an address on it remains', () => {
    const host = new Host({ random: seededRandom(9) });
    const eth = host.addInterface({ name: 'eth0', mtu: 1500 });
    const connected = () => host.routes.all().filter((r) => r.connected).map((r) => `${r.destination.join('.')}/${r.prefixLength}`);
    host.addAddress(eth, '10.0.0.1', 24);
    host.addAddress(eth, '10.0.0.2', 24);
    host.addAddress(eth, '10.9.9.9', 32);
    expect(connected()).toEqual(['10.0.0.0/24']);
    host.removeAddress(eth, '10.0.0.1');
    expect(connected()).toEqual(['10.0.0.0/24']);
    expect(host.selectSource(ip('10.0.0.77'))!.join('.')).toBe('10.0.0.2');
    host.removeAddress(eth, '10.0.0.2');
    expect(connected()).toEqual([]);
    expect(host.selectSource(ip('10.0.0.77'))).toBeUndefined();
  });

  it('routes by source: each uplink has its own default route (thesis 3.5)', () => {
    const { host, eth } = makeHost();
    const lte = host.addInterface({ name: 'lte', mtu: 1400 });
    host.addAddress(lte, '10.2.0.1', 24);
    host.addRoute({ destination: '0.0.0.0', prefixLength: 0, ifIndex: lte, sourceInterface: true });
    const via = (src?: string) => {
      const r = host.send({ ...(src && { src: ip(src) }), dst: ip('198.51.100.1'), protocol: 99, l4Length: 0, writeL4: () => {} }, 0);
      return r.ok ? `${r.ifIndex} ${r.src.join('.')}` : r.code;
    };
    expect(via('10.2.0.1')).toBe(`${lte} 10.2.0.1`);
    expect(via('10.0.0.1')).toBe(`${eth} 10.0.0.1`);
    expect(via()).toBe(`${eth} 10.0.0.1`);
    expect(host.selectSource(ip('10.2.0.77'))!.join('.')).toBe('10.2.0.1');
  });

  it('loops packets to its own address back through onTimeout', () => {
    const { host } = makeHost();
    const udpLayer = new UdpLayer(host);
    const a = udpLayer.bind({ family: 4, port: 7 });
    const b = udpLayer.bind({ address: '10.0.0.1' });
    if (!a.ok || !b.ok) throw new Error('bind');
    b.socket.send(new TextEncoder().encode('self'), 5, { address: ip('10.0.0.1'), port: 7 });
    expect(host.pollTransmit()).toBeUndefined();
    expect(host.nextTimeout()).toBe(5);
    host.onTimeout(5);
    expect(host.nextTimeout()).toBeUndefined();
    const d = a.socket.receive()!;
    expect([new TextDecoder().decode(d.data), d.port, d.address.join('.')]).toEqual(['self', b.socket.localPort, '10.0.0.1']);
    expect(host.counters.loopback).toBe(1);
  });
});
