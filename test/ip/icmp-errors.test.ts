import { describe as suite, expect, it } from 'vitest';
import { Host, type IcmpErrorReport } from '../../stack/ip/host.js';
import { icmpErrno, icmpErrorIsFatal } from '../../stack/ip/icmp-errors.js';
import { UdpLayer } from '../../stack/udp/udp.js';
import type { UdpSocket } from '../../stack/udp/socket.js';
import { formatAddress } from '../../stack/wire/address.js';
import { icmpv4, icmpv6, ip, ipv4, ipv6 } from './packets.js';
import { makeHost } from './test-host.js';

/**
 * Host 10.0.0.1 / 2001:db8::1 with UDP sockets a (port 1111) and b (port 2222) on both
 * families, unconnected, with recvErrors (IP_RECVERR) so that they hear every error.
 */
function setup() {
  const { host, eth } = makeHost({}, 1);
  const udp = new UdpLayer(host);
  const bind = (family: 4 | 6, port: number, recvErrors = true): UdpSocket => {
    const r = udp.bind({ family, port, recvErrors });
    if (!r.ok) throw new Error(r.message);
    return r.socket;
  };
  const sockets = { a4: bind(4, 1111), b4: bind(4, 2222), a6: bind(6, 1111), b6: bind(6, 2222) };
  return { host, eth, udp, bind, ...sockets };
}

/** What a socket sent, as it left the host. */
function sent(host: Host, socket: UdpSocket, to: string, port: number): Uint8Array {
  const r = socket.send(new TextEncoder().encode('query'), 0, { address: ip(to), port });
  if (!r.ok) throw new Error(r.message);
  return host.pollTransmit()!.packet;
}

const errorText = (s: UdpSocket) => {
  const e = s.takeError();
  return e && `${e.code} ${e.icmp.kind}/${e.icmp.code} from ${formatAddress(e.icmp.reporter)} about ${formatAddress(e.address)}:${e.port}`;
};

suite('ICMP errors reach the socket that sent the invoking datagram', () => {
  it('IPv4 port unreachable -> ECONNREFUSED on the sending socket only', () => {
    const { host, eth, a4, b4 } = setup();
    const invoking = sent(host, b4, '192.0.2.53', 53);
    host.input(eth, ipv4('192.0.2.53', '10.0.0.1', 1, icmpv4({ kind: 'destinationUnreachable', code: 3, nextHopMtu: 0, invoking })), 0);
    expect(errorText(b4)).toBe('ECONNREFUSED unreachable/3 from 192.0.2.53 about 192.0.2.53:53');
    expect(errorText(b4)).toBeUndefined(); // read once, like SO_ERROR
    expect(a4.takeError()).toBeUndefined();
    expect(host.counters.icmpErrorsIn).toBe(1);
  });

  it('IPv6 unreachable, time exceeded and parameter problem from a router map to Linux errnos', () => {
    const { host, eth, a6 } = setup();
    const invoking = sent(host, a6, '2001:db8:53::53', 53);
    const from = (m: Parameters<typeof icmpv6>[0]) => host.input(eth, ipv6('2001:db8:ff::1', '2001:db8::1', 58, icmpv6(m, '2001:db8:ff::1', '2001:db8::1')), 0);
    from({ kind: 'destinationUnreachable', code: 0, invoking });
    expect(errorText(a6)).toBe('ENETUNREACH unreachable/0 from 2001:db8:ff::1 about 2001:db8:53::53:53');
    from({ kind: 'timeExceeded', code: 0, invoking });
    expect(errorText(a6)).toBe('EHOSTUNREACH timeExceeded/0 from 2001:db8:ff::1 about 2001:db8:53::53:53');
    from({ kind: 'parameterProblem', code: 0, pointer: 4, invoking });
    expect(errorText(a6)).toBe('EPROTO parameterProblem/0 from 2001:db8:ff::1 about 2001:db8:53::53:53');
  });

  it('a quote cut to 28 bytes (RFC 792: header + 64 bits) is enough', () => {
    const { host, eth, a4 } = setup();
    const invoking = sent(host, a4, '192.0.2.53', 53).subarray(0, 28);
    host.input(eth, ipv4('198.51.100.1', '10.0.0.1', 1, icmpv4({ kind: 'timeExceeded', code: 0, invoking })), 0);
    expect(errorText(a4)).toBe('EHOSTUNREACH timeExceeded/0 from 198.51.100.1 about 192.0.2.53:53');
  });

  it('drops errors quoting packets we could not have sent, or for closed sockets', () => {
    const { host, eth, a4 } = setup();
    const forged = ipv4('10.9.9.9', '192.0.2.53', 17, new Uint8Array([4, 87, 0, 53, 0, 8, 0, 0]));
    host.input(eth, ipv4('192.0.2.53', '10.0.0.1', 1, icmpv4({ kind: 'destinationUnreachable', code: 3, nextHopMtu: 0, invoking: forged })), 0);
    expect(host.counters.rxDropped.icmpForged).toBe(1);
    const invoking = sent(host, a4, '192.0.2.53', 53);
    a4.close();
    host.input(eth, ipv4('192.0.2.53', '10.0.0.1', 1, icmpv4({ kind: 'destinationUnreachable', code: 3, nextHopMtu: 0, invoking })), 0);
    expect(a4.takeError()).toBeUndefined();
    expect(host.pollTransmit()).toBeUndefined(); // never an error about an error
  });
});

suite('Which UDP sockets hear ICMP errors (Linux __udp4_lib_err, __udp6_lib_err)', () => {
  it('without recvErrors: only a connected socket, and only hard errors (fatal, or packet too big)', () => {
    const { host, eth, udp, bind } = setup();
    const loose = bind(4, 3333, false);
    const connected = bind(4, 4444, false);
    connected.connect(ip('192.0.2.53'), 53);
    const unreachable = (s: UdpSocket, code: number) =>
      host.input(eth, ipv4('198.51.100.1', '10.0.0.1', 1, icmpv4({ kind: 'destinationUnreachable', code, nextHopMtu: code === 4 ? 1400 : 0, invoking: sent(host, s, '192.0.2.53', 53) })), 0);
    const timeExceeded = (s: UdpSocket) => host.input(eth, ipv4('198.51.100.1', '10.0.0.1', 1, icmpv4({ kind: 'timeExceeded', code: 0, invoking: sent(host, s, '192.0.2.53', 53) })), 0);
    const readable: string[] = [];
    loose.onReadable = (what) => readable.push(`loose ${what}`);
    connected.onReadable = (what) => readable.push(`connected ${what}`);
    for (const s of [loose, connected]) {
      unreachable(s, 3); // port unreachable: fatal
      unreachable(s, 1); // host unreachable: soft
      timeExceeded(s); // soft
      unreachable(s, 4); // fragmentation needed: hard for a socket doing PMTU discovery
    }
    expect(readable).toEqual(['connected error', 'connected error']);
    expect(errorText(connected)).toBe('EMSGSIZE packetTooBig/4 from 198.51.100.1 about 192.0.2.53:53');
    expect(loose.takeError()).toBeUndefined();
    expect([loose.counters.errors, connected.counters.errors, udp.counters.icmpErrors]).toEqual([0, 2, 2]);
    expect(host.counters.icmpErrorsIn).toBe(8);
  });

  it('IPv6: a connected socket hears port unreachable, not address unreachable or time exceeded', () => {
    const { host, eth, bind } = setup();
    const s = bind(6, 5555, false);
    s.connect(ip('2001:db8:53::53'), 53);
    const from = (m: Parameters<typeof icmpv6>[0]) => host.input(eth, ipv6('2001:db8:ff::1', '2001:db8::1', 58, icmpv6(m, '2001:db8:ff::1', '2001:db8::1')), 0);
    from({ kind: 'destinationUnreachable', code: 3, invoking: sent(host, s, '2001:db8:53::53', 53) });
    from({ kind: 'timeExceeded', code: 0, invoking: sent(host, s, '2001:db8:53::53', 53) });
    expect(s.takeError()).toBeUndefined();
    from({ kind: 'destinationUnreachable', code: 4, invoking: sent(host, s, '2001:db8:53::53', 53) });
    expect(errorText(s)).toBe('ECONNREFUSED unreachable/4 from 2001:db8:ff::1 about 2001:db8:53::53:53');
  });
});

suite('Packet too big lowers the path MTU', () => {
  it('IPv4 fragmentation needed: routeMtu drops, the socket sees EMSGSIZE, and the entry expires', () => {
    const { host, eth, a4 } = setup();
    const invoking = sent(host, a4, '192.0.2.53', 53);
    host.input(eth, ipv4('198.51.100.1', '10.0.0.1', 1, icmpv4({ kind: 'destinationUnreachable', code: 4, nextHopMtu: 1400, invoking })), 1000);
    expect(errorText(a4)).toBe('EMSGSIZE packetTooBig/4 from 198.51.100.1 about 192.0.2.53:53');
    expect(host.routeMtu(ip('192.0.2.53'))).toBe(1400);
    expect(host.routeMtu(ip('192.0.2.54'))).toBe(1500);
    expect(a4.send(new Uint8Array(1400), 1000, { address: ip('192.0.2.53'), port: 53 })).toMatchObject({ ok: false, code: 'EMSGSIZE', mtu: 1400 });
    // A forged tiny MTU is floored at 552 (Linux min_pmtu); an increase is never believed.
    host.input(eth, ipv4('198.51.100.1', '10.0.0.1', 1, icmpv4({ kind: 'destinationUnreachable', code: 4, nextHopMtu: 100, invoking })), 1001);
    expect(host.routeMtu(ip('192.0.2.53'))).toBe(552);
    host.input(eth, ipv4('198.51.100.1', '10.0.0.1', 1, icmpv4({ kind: 'destinationUnreachable', code: 4, nextHopMtu: 1400, invoking })), 1002);
    expect(host.routeMtu(ip('192.0.2.53'))).toBe(552);
    host.onTimeout(1001 + 600_000);
    expect(host.routeMtu(ip('192.0.2.53'))).toBe(1500);
  });

  it('IPv4 with an MTU field of 0 (old router) uses the RFC 1191 plateau below the refused size', () => {
    const { host, eth, a4 } = setup();
    a4.send(new Uint8Array(1200), 0, { address: ip('192.0.2.53'), port: 53 });
    const invoking = host.pollTransmit()!.packet;
    host.input(eth, ipv4('198.51.100.1', '10.0.0.1', 1, icmpv4({ kind: 'destinationUnreachable', code: 4, nextHopMtu: 0, invoking: invoking.subarray(0, 28) })), 0);
    expect(host.routeMtu(ip('192.0.2.53'))).toBe(1006);
  });

  it('IPv6 packet too big, floored at 1280, reported to the transport with the MTU in force', () => {
    const { host, eth, udp } = setup();
    const reports: IcmpErrorReport[] = [];
    // Watch what the UDP layer is told, then let it route the error as usual.
    const original = udp.icmpError.bind(udp);
    udp.icmpError = (e, now) => {
      reports.push(e);
      original(e, now);
    };
    const s = udp.bind({ address: '2001:db8::1', recvErrors: true });
    if (!s.ok) throw new Error(s.message);
    const invoking = sent(host, s.socket, '2001:db8:53::53', 53);
    const ptb = (mtu: number) => host.input(eth, ipv6('2001:db8:ff::1', '2001:db8::1', 58, icmpv6({ kind: 'packetTooBig', code: 0, mtu, invoking }, '2001:db8:ff::1', '2001:db8::1')), 0);
    ptb(1300);
    ptb(600);
    expect(reports.map((r) => `${r.kind} mtu=${r.mtu} proto=${r.original.protocol} l4=${r.original.l4Header.length}`)).toEqual([
      'packetTooBig mtu=1300 proto=17 l4=13',
      'packetTooBig mtu=1280 proto=17 l4=13',
    ]);
    expect(host.routeMtu(ip('2001:db8:53::53'))).toBe(1280);
    expect(s.socket.takeError()?.code).toBe('EMSGSIZE');
  });
});

suite('icmpErrno', () => {
  const report = (kind: IcmpErrorReport['kind'], family: 4 | 6, code: number): IcmpErrorReport => ({
    kind,
    family,
    code,
    reporter: ip('10.0.0.9'),
    original: { src: ip('10.0.0.1'), dst: ip('10.0.0.9'), protocol: 17, l4Header: new Uint8Array(8) },
  });
  it('follows Linux icmp_err_convert / icmpv6_err_convert, fatal flags included', () => {
    const rows = [
      [report('unreachable', 4, 0), 'ENETUNREACH', false],
      [report('unreachable', 4, 1), 'EHOSTUNREACH', false],
      [report('unreachable', 4, 3), 'ECONNREFUSED', true],
      [report('unreachable', 4, 13), 'EHOSTUNREACH', true],
      [report('unreachable', 4, 99), 'EHOSTUNREACH', false],
      [report('unreachable', 6, 1), 'EACCES', true],
      [report('unreachable', 6, 4), 'ECONNREFUSED', true],
      [report('unreachable', 6, 99), 'EPROTO', true],
      [report('packetTooBig', 6, 0), 'EMSGSIZE', false],
      [report('timeExceeded', 4, 0), 'EHOSTUNREACH', false],
      [report('parameterProblem', 4, 0), 'EPROTO', true],
    ] as const;
    expect(rows.map(([r]) => [r, icmpErrno(r), icmpErrorIsFatal(r)])).toEqual(rows);
  });
});
