import { describe as suite, expect, it } from 'vitest';
import { finishPartialChecksum, segmentSuperPacket } from '../../stack/ip/gso.js';
import { concatBytes } from '../../stack/wire/bytes.js';
import { Host, type OutboundPacket } from '../../stack/ip/host.js';
import { seededRandom } from '../../stack/random.js';
import { emitTcp, TCP_ACK, TCP_CWR, TCP_FIN, TCP_PSH, tcpHeaderLength, type TcpRepr } from '../../stack/wire/tcp.js';
import { buildOptionsHeader } from '../../stack/wire/ipv6-ext.js';
import { describe, ip, ipv4, ipv6, udp } from './packets.js';
import { pseudoHeaderSum } from '../../stack/wire/checksum.js';
import { verifyUdpChecksum } from '../../stack/wire/udp.js';

const payload = (n: number) => new TextEncoder().encode('abcdefghij'.repeat(Math.ceil(n / 10)).slice(0, n));

const tcpRepr = (flags: number): TcpRepr => ({
  srcPort: 40000,
  dstPort: 80,
  seq: 0xfffffc00, // the segments' sequence numbers wrap past 2^32
  ack: 1,
  flags,
  window: 512,
  urgentPointer: 0,
  checksum: 0,
  options: [{ kind: 'timestamps', tsVal: 1, tsEcr: 2 }] as TcpRepr['options'],
});

/** A TCP segment with a partial checksum (virtio NEEDS_CSUM), as the TCP layer will hand it over. */
function tcpPartial(src: string, dst: string, flags: number, data: Uint8Array): Uint8Array {
  const repr = tcpRepr(flags);
  const out = new Uint8Array(tcpHeaderLength(repr) + data.length);
  emitTcp(repr, data, data.length, out, 0, { mode: 'partial', src: ip(src), dst: ip(dst) });
  return out;
}

suite('segmentSuperPacket', () => {
  it('cuts an IPv4 super-packet at the MSS: lengths, IDs, sequence numbers, flags and checksums per segment', () => {
    const packet = ipv4('10.0.0.1', '10.0.0.2', 6, tcpPartial('10.0.0.1', '10.0.0.2', TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR, payload(2500)), { identification: 0xfffe });
    const segments = segmentSuperPacket(packet, { checksumStart: 20, checksumOffset: 16, gsoSize: 1000, gsoType: 'tcpv4' });
    expect(segments.map((s) => describe(s))).toEqual([
      '10.0.0.1 > 10.0.0.2 ttl=64 tcp 40000 > 80 seq=4294966272 flags=0x90 len=1000',
      '10.0.0.1 > 10.0.0.2 ttl=64 tcp 40000 > 80 seq=4294967272 flags=0x10 len=1000',
      '10.0.0.1 > 10.0.0.2 ttl=64 tcp 40000 > 80 seq=976 flags=0x19 len=500',
    ]);
    expect(segments.map((s) => [s.length, (s[4]! << 8) | s[5]!])).toEqual([
      [1052, 0xfffe],
      [1052, 0xffff],
      [552, 0],
    ]);
    // The payload is cut, not altered.
    const joined = new Uint8Array(segments.flatMap((s) => [...s.subarray(52)]));
    expect(joined).toEqual(payload(2500));
  });

  it('cuts an IPv6 super-packet carrying a destination options header', () => {
    const dstopts = buildOptionsHeader('destinationOptions', [{ type: 0x11, data: new Uint8Array([4, 110, 97, 109, 101, 0]) }]);
    const l4 = tcpPartial('2001:db8::1', '2001:db8::2', TCP_ACK | TCP_PSH, payload(3000));
    const packet = ipv6('2001:db8::1', '2001:db8::2', 6, l4, [dstopts]);
    const checksumStart = packet.length - l4.length;
    expect(checksumStart).toBe(56);
    const segments = segmentSuperPacket(packet, { checksumStart, checksumOffset: 16, gsoSize: 1428, gsoType: 'tcpv6' });
    expect(segments.map((s) => describe(s))).toEqual([
      '2001:db8::1 > 2001:db8::2 hlim=64 tcp 40000 > 80 seq=4294966272 flags=0x10 len=1428',
      '2001:db8::1 > 2001:db8::2 hlim=64 tcp 40000 > 80 seq=404 flags=0x10 len=1428',
      '2001:db8::1 > 2001:db8::2 hlim=64 tcp 40000 > 80 seq=1832 flags=0x18 len=144',
    ]);
    expect(segments.every((s) => s.subarray(40, 56).every((b, i) => b === packet[40 + i]))).toBe(true);
    expect(segments.map((s) => (s[4]! << 8) | s[5]!)).toEqual([16 + 32 + 1428, 16 + 32 + 1428, 16 + 32 + 144]);
  });

  it('returns a packet that already fits as itself, finished', () => {
    const packet = ipv4('10.0.0.1', '10.0.0.2', 6, tcpPartial('10.0.0.1', '10.0.0.2', TCP_ACK, payload(100)));
    const [only, ...rest] = segmentSuperPacket(packet, { checksumStart: 20, checksumOffset: 16, gsoSize: 1000, gsoType: 'tcpv4' });
    expect(rest).toEqual([]);
    expect(only).toBe(packet);
    expect(describe(only!)).not.toContain('BADSUM');
  });

  it('rejects metadata that does not describe a TCP super-packet', () => {
    const packet = ipv4('10.0.0.1', '10.0.0.2', 6, tcpPartial('10.0.0.1', '10.0.0.2', TCP_ACK, payload(100)));
    expect(() => segmentSuperPacket(packet, { checksumStart: 20, checksumOffset: 16, gsoSize: 0, gsoType: 'tcpv4' })).toThrow(RangeError);
    expect(() => segmentSuperPacket(packet, { checksumStart: 200, checksumOffset: 16, gsoSize: 10, gsoType: 'tcpv4' })).toThrow(RangeError);
  });
});

suite('finishPartialChecksum', () => {
  it('turns the pseudo-header sum into the full checksum, in place', () => {
    const packet = ipv6('2001:db8::1', '2001:db8::2', 6, tcpPartial('2001:db8::1', '2001:db8::2', TCP_ACK, payload(333)));
    expect(describe(packet)).toContain('BADSUM');
    finishPartialChecksum(packet, { checksumStart: 40, checksumOffset: 16 });
    expect(describe(packet)).toBe('2001:db8::1 > 2001:db8::2 hlim=64 tcp 40000 > 80 seq=4294966272 flags=0x10 len=333');
  });

  it('writes a checksum that comes out 0 as 0xffff, as Linux does (CSUM_MANGLED_0): a UDP 0 means "none"', () => {
    const [src, dst] = ['2001:db8::1', '2001:db8::2'];
    const datagram = udp(src, dst, 1000, 2000, 'zz');
    // Add the checksum to the payload word: the data then sums to 0xffff and its checksum is 0.
    const c = (datagram[6]! << 8) | datagram[7]!;
    const word = ((datagram[8]! << 8) | datagram[9]!) + c;
    const folded = (word & 0xffff) + (word >>> 16);
    datagram[8] = folded >>> 8;
    datagram[9] = folded & 0xff;
    const pseudo = pseudoHeaderSum(ip(src), ip(dst), 17, datagram.length);
    datagram[6] = pseudo >>> 8;
    datagram[7] = pseudo & 0xff;
    const packet = ipv6(src, dst, 17, datagram);
    finishPartialChecksum(packet, { checksumStart: 40, checksumOffset: 6 });
    expect([packet[46], packet[47]]).toEqual([0xff, 0xff]);
    expect(verifyUdpChecksum(packet.subarray(40), ip(src), ip(dst))).toBe(true);
  });
});

suite('Host.send with offloads', () => {
  const setup = (offloads?: { checksum?: boolean; gso?: boolean; gather?: boolean }) => {
    const host = new Host({ random: seededRandom(3) });
    const eth = host.addInterface({ name: 'eth0', mtu: 1500, ...(offloads && { offloads }) });
    host.addAddress(eth, '10.0.0.1', 24);
    const superPacket = (mss: number, n: number) =>
      host.send(
        {
          dst: ip('10.0.0.2'),
          protocol: 6,
          l4Length: 32 + n,
          offload: { checksumOffset: 16, gsoSize: mss },
          writeL4: (out, offset, src, dst) => {
            const repr = tcpRepr(TCP_ACK | TCP_PSH);
            emitTcp(repr, payload(n), n, out, offset, { mode: 'partial', src, dst });
          },
        },
        0,
      );
    const drain = () => {
      const out: OutboundPacket[] = [];
      for (let p; (p = host.pollTransmit()); ) out.push(p);
      return out;
    };
    return { host, superPacket, drain };
  };

  it('segments in software when the interface cannot', () => {
    const { host, superPacket, drain } = setup();
    expect(superPacket(1448, 4000)).toMatchObject({ ok: true });
    const out = drain();
    expect(out.map((p) => [p.packet.length, p.offload, describe(p.packet).includes('BADSUM')])).toEqual([
      [1500, undefined, false],
      [1500, undefined, false],
      [1156, undefined, false],
    ]);
    expect(host.counters.sent).toBe(3);
  });

  it('hands the super-packet over with full offload metadata when the interface can', () => {
    const { superPacket, drain } = setup({ checksum: true, gso: true });
    superPacket(1448, 4000);
    const [p, ...rest] = drain();
    expect(rest).toEqual([]);
    expect(p!.packet.length).toBe(20 + 32 + 4000);
    expect(p!.offload).toEqual({ checksumStart: 20, checksumOffset: 16, gsoSize: 1448, gsoType: 'tcpv4' });
  });

  it('hands a gathering interface the headers and the payload views as they are, and copies them for any other', () => {
    const gathered = (offloads: { checksum?: boolean; gso?: boolean; gather?: boolean }): OutboundPacket[] => {
      const { host, drain } = setup(offloads);
      const data = payload(4000);
      const views = [data.subarray(0, 1000), data.subarray(1000)];
      const r = host.send(
        {
          dst: ip('10.0.0.2'),
          protocol: 6,
          l4Length: 32 + 4000,
          offload: { checksumOffset: 16, gsoSize: 1448 },
          payload: views,
          writeL4: (out, offset, src, dst) => {
            // The header alone; its partial checksum counts the whole segment.
            const repr = { ...tcpRepr(TCP_ACK | TCP_PSH), checksum: pseudoHeaderSum(src, dst, 6, 32 + 4000) };
            emitTcp(repr, undefined, 0, out, offset, { mode: 'keep' });
          },
        },
        0,
      );
      expect(r).toMatchObject({ ok: true });
      const out = drain();
      if (offloads.gather && offloads.checksum && offloads.gso) {
        expect(out).toHaveLength(1);
        expect(out[0]!.packet.length).toBe(20 + 32);
        expect(out[0]!.payload).toBe(views);
      }
      return out;
    };
    const g = gathered({ checksum: true, gso: true, gather: true })[0]!;
    // The same bytes as from an interface that takes whole packets (the host copied the views).
    const whole = gathered({ checksum: true, gso: true })[0]!;
    expect(whole.payload).toBeUndefined();
    expect(concatBytes([g.packet, ...g.payload!])).toEqual(whole.packet);
    expect(segmentSuperPacket(whole.packet, whole.offload!).map((seg) => describe(seg).includes('BADSUM'))).toEqual([false, false, false]);
    // Without GSO (software segmentation) or without checksum offload nothing is gathered.
    expect(gathered({ checksum: true, gather: true }).map((p) => [p.packet.length, p.payload])).toEqual([[1500, undefined], [1500, undefined], [1156, undefined]]);
    expect(gathered({ gso: true, gather: true }).every((p) => p.payload === undefined && !describe(p.packet).includes('BADSUM'))).toBe(true);
  });

  it('refuses payload views without a partial checksum or longer than the transport bytes', () => {
    const { host } = setup({ checksum: true, gso: true, gather: true });
    const send = (l4Length: number, offload?: { checksumOffset: number }) =>
      host.send({ dst: ip('10.0.0.2'), protocol: 6, l4Length, payload: [payload(100)], writeL4: () => {}, ...(offload && { offload }) }, 0);
    expect(send(120)).toMatchObject({ ok: false, code: 'EINVAL' });
    expect(send(99, { checksumOffset: 16 })).toMatchObject({ ok: false, code: 'EINVAL' });
    expect(send(120, { checksumOffset: 16 })).toMatchObject({ ok: true });
  });

  it('refuses a super-packet whose segments would exceed the MTU', () => {
    const { superPacket } = setup({ checksum: true, gso: true });
    expect(superPacket(1449, 4000)).toMatchObject({ ok: false, code: 'EMSGSIZE', mtu: 1500 });
  });

  it('answers EINVAL, never throws, for lengths and offload fields no packet can have', () => {
    const { host, superPacket, drain } = setup();
    for (const mss of [0, -1, 1.5, NaN]) expect(superPacket(mss, 4000)).toMatchObject({ ok: false, code: 'EINVAL' });
    const send = (l4Length: number, offload?: { checksumOffset: number }) =>
      host.send({ dst: ip('10.0.0.2'), protocol: 17, l4Length, writeL4: () => {}, ...(offload && { offload }) }, 0);
    for (const l4Length of [-1, 2.5, NaN]) expect(send(l4Length)).toMatchObject({ ok: false, code: 'EINVAL' });
    // The checksum field must lie inside the transport bytes.
    for (const checksumOffset of [7, -1, 0.5]) expect(send(8, { checksumOffset })).toMatchObject({ ok: false, code: 'EINVAL' });
    expect(send(8, { checksumOffset: 6 })).toMatchObject({ ok: true });
    expect(drain()).toHaveLength(1);
    expect(host.counters.txDropped.invalid).toBe(10);
  });
});
