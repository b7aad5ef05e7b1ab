// IPv6 flow labels (RFC 6437): every TCP connection and UDP flow the host sends gets a
// stable, non-zero, per-host-keyed label (Linux auto_flowlabels); other flows differ,
// IPv4 is untouched, and packets without ports (ICMPv6) stay unlabeled.

import { describe, expect, it } from 'vitest';
import { Ipv6View } from '../../stack/wire/ipv6.js';
import { emitTcp, TCP_PROTOCOL, TCP_SYN, tcpHeaderLength, type TcpRepr } from '../../stack/wire/tcp.js';
import { UdpLayer } from '../../stack/udp/udp.js';
import type { Host } from '../../stack/ip/host.js';
import { ip } from './packets.js';
import { makeHost } from './test-host.js';

const label = (packet: Uint8Array): number => {
  const v = Ipv6View.wrap(packet);
  if (!v.ok) throw new Error(v.message);
  return v.value.flowLabel;
};

/** One TCP SYN from `srcPort` to `dst`:`dstPort`, as the host sends it. */
function tcpSyn(host: Host, dst: string, srcPort: number, dstPort: number): Uint8Array {
  const repr: TcpRepr = { srcPort, dstPort, seq: 1, ack: 0, flags: TCP_SYN, window: 1000, urgentPointer: 0, checksum: 0, options: [] };
  const r = host.send({ dst: ip(dst), protocol: TCP_PROTOCOL, l4Length: tcpHeaderLength(repr), writeL4: (out, offset, s, d) => emitTcp(repr, undefined, 0, out, offset, { mode: 'full', src: s, dst: d }) }, 0);
  if (!r.ok) throw new Error(r.message);
  return host.pollTransmit()!.packet;
}

describe('IPv6 flow labels', () => {
  it('one stable non-zero label per UDP flow; another peer or port is another flow', () => {
    const { host } = makeHost();
    const udp = new UdpLayer(host);
    const bound = udp.bind({ family: 6, port: 4000 });
    if (!bound.ok) throw new Error(bound.message);
    const send = (to: string, port: number) => {
      bound.socket.send(new Uint8Array(8), 0, { address: ip(to), port });
      return label(host.pollTransmit()!.packet);
    };
    const first = send('2001:db8::2', 53);
    expect(first).not.toBe(0);
    expect(first).toBeLessThan(1 << 20);
    expect([send('2001:db8::2', 53), send('2001:db8::2', 53)]).toEqual([first, first]);
    const others = [send('2001:db8::3', 53), send('2001:db8::2', 54)];
    expect(others).not.toContain(first);
    expect(others[0]).not.toBe(others[1]);
  });

  it('every segment of a TCP connection carries its label; connections differ; another host keys differently', () => {
    const { host } = makeHost({}, 'a');
    const { host: other } = makeHost({}, 'b');
    const conn = label(tcpSyn(host, '2001:db8::2', 40000, 80));
    expect(conn).not.toBe(0);
    expect(label(tcpSyn(host, '2001:db8::2', 40000, 80))).toBe(conn);
    expect(label(tcpSyn(host, '2001:db8::2', 40001, 80))).not.toBe(conn);
    expect(label(tcpSyn(other, '2001:db8::2', 40000, 80))).not.toBe(conn);
  });

  it('leaves ICMPv6 unlabeled and IPv4 unchanged', () => {
    const { host } = makeHost();
    host.send({ dst: ip('2001:db8::2'), protocol: 58, l4Length: 8, writeL4: (out, offset) => out.fill(0, offset, offset + 8) }, 0);
    expect(label(host.pollTransmit()!.packet)).toBe(0);
    const v4 = tcpSyn(host, '10.0.0.2', 40000, 80);
    expect(v4[0]! >>> 4).toBe(4);
    expect(Array.from(v4.subarray(0, 4))).toEqual([0x45, 0, 0, 40]);
  });
});
