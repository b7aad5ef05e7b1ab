import { describe, expect, it } from 'vitest';
import {
  emitIcmpv4,
  ICMPV4_CODE_FRAGMENTATION_NEEDED,
  ICMPV4_CODE_PORT_UNREACHABLE,
  icmpv4Length,
  parseIcmpv4,
  verifyIcmpv4Checksum,
  type Icmpv4Repr,
} from '../../stack/wire/icmpv4.js';
import {
  emitIcmpv6,
  ICMPV6_CODE_PORT_UNREACHABLE,
  ICMPV6_CODE_UNRECOGNIZED_OPTION,
  icmpv6Length,
  parseIcmpv6,
  verifyIcmpv6Checksum,
  type Icmpv6Repr,
} from '../../stack/wire/icmpv6.js';
import { parseIpv4, parseIpv4Quoted } from '../../stack/wire/ipv4.js';
import { parseIpv6, parseIpv6Quoted } from '../../stack/wire/ipv6.js';
import { parseUdp } from '../../stack/wire/udp.js';
import { captured as c } from './captured.js';
import { addr, errorCode, fuzzNeverThrows, hex, toHex, unwrap } from './helpers.js';

function icmp4(packet: Uint8Array): { bytes: Uint8Array; repr: Icmpv4Repr } {
  const bytes = unwrap(parseIpv4(packet)).payload;
  return { bytes, repr: unwrap(parseIcmpv4(bytes)) };
}

function icmp6(packet: Uint8Array): { bytes: Uint8Array; repr: Icmpv6Repr; src: Uint8Array; dst: Uint8Array } {
  const { repr: ip, payload } = unwrap(parseIpv6(packet));
  return { bytes: payload, repr: unwrap(parseIcmpv6(payload)), src: ip.src, dst: ip.dst };
}

const KERNEL_ICMPV4 = [
  c.ipv4EchoRequest,
  c.ipv4EchoReply,
  c.ipv4RecordRouteReply,
  c.ipv4FragNeeded,
  c.ipv4TimeExceeded,
  c.ipv4PortUnreachable,
];
const KERNEL_ICMPV6 = [
  c.ipv6EchoRequest,
  c.ipv6EchoReply,
  c.ipv6PacketTooBig,
  c.ipv6TimeExceeded,
  c.ipv6PortUnreachable,
  c.ipv6ParameterProblem,
  c.ipv6NeighborSolicitation,
  c.ipv6NeighborAdvertisement,
  c.ipv6MldReport,
];

describe('ICMPv4 on kernel packets', () => {
  it('echo request and reply: identifier, sequence, data', () => {
    const req = icmp4(c.ipv4EchoRequest).repr;
    const rep = icmp4(c.ipv4EchoReply).repr;
    expect(req).toMatchObject({ kind: 'echoRequest', code: 0, sequence: 1 });
    expect(rep).toMatchObject({ kind: 'echoReply', sequence: 1 });
    if (req.kind !== 'echoRequest' || rep.kind !== 'echoReply') return;
    expect(rep.identifier).toBe(req.identifier);
    expect(toHex(rep.data)).toBe(toHex(req.data));
    expect(req.data.length).toBe(16);
  });

  it('fragmentation needed carries the next-hop MTU and a quoted packet cut short', () => {
    const { repr } = icmp4(c.ipv4FragNeeded);
    expect(repr).toMatchObject({ kind: 'destinationUnreachable', code: ICMPV4_CODE_FRAGMENTATION_NEEDED, nextHopMtu: 1280 });
    if (repr.kind !== 'destinationUnreachable') return;
    const inner = unwrap(parseIpv4Quoted(repr.invoking)).repr;
    expect(inner).toMatchObject({ protocol: 1, totalLength: 1428, dontFragment: true });
    expect(inner.dst).toEqual(addr('10.0.1.2'));
  });

  it('port unreachable quotes the whole UDP datagram', () => {
    const { repr } = icmp4(c.ipv4PortUnreachable);
    expect(repr).toMatchObject({ kind: 'destinationUnreachable', code: ICMPV4_CODE_PORT_UNREACHABLE, nextHopMtu: 0 });
    if (repr.kind !== 'destinationUnreachable') return;
    const udp = unwrap(parseUdp(unwrap(parseIpv4(repr.invoking)).payload)).repr;
    expect(udp.dstPort).toBe(5353);
  });

  it('time exceeded in transit (code 0)', () => {
    const { repr } = icmp4(c.ipv4TimeExceeded);
    expect(repr).toMatchObject({ kind: 'timeExceeded', code: 0, unused: 0 });
    if (repr.kind !== 'timeExceeded') return;
    expect(unwrap(parseIpv4(repr.invoking)).repr.ttl).toBe(1);
  });

  it('every message verifies and re-encodes byte for byte', () => {
    for (const p of KERNEL_ICMPV4) {
      const { bytes, repr } = icmp4(p);
      expect(verifyIcmpv4Checksum(bytes)).toBe(true);
      expect(icmpv4Length(repr)).toBe(bytes.length);
      const out = new Uint8Array(bytes.length);
      expect(emitIcmpv4(repr, out, 0)).toBe(bytes.length);
      expect(toHex(out)).toBe(toHex(bytes));
    }
  });

  it('a corrupted byte fails verification', () => {
    const bad = icmp4(c.ipv4EchoRequest).bytes.slice();
    bad[12] ^= 1;
    expect(verifyIcmpv4Checksum(bad)).toBe(false);
    expect(verifyIcmpv4Checksum(bad.subarray(0, 3))).toBe(false);
  });
});

describe('ICMPv4 emit', () => {
  it('answers an echo request with a reply that verifies', () => {
    const req = icmp4(c.ipv4EchoRequest).repr;
    if (req.kind !== 'echoRequest') throw new Error(req.kind);
    const reply: Icmpv4Repr = { kind: 'echoReply', identifier: req.identifier, sequence: req.sequence, data: req.data };
    const out = new Uint8Array(3 + icmpv4Length(reply));
    emitIcmpv4(reply, out, 3);
    // The kernel's reply to this very request differs only in type and checksum.
    expect(toHex(out.subarray(3))).toBe(toHex(icmp4(c.ipv4EchoReply).bytes));
  });

  it('parameter problem and raw types round-trip', () => {
    const msgs: Icmpv4Repr[] = [
      { kind: 'parameterProblem', code: 0, pointer: 200, invoking: hex('4500001c') },
      { kind: 'other', type: 13, code: 0, rest: hex('00010002 00000000 00000000 00000000') }, // timestamp
      { kind: 'timeExceeded', code: 1, invoking: new Uint8Array(28) },
    ];
    for (const m of msgs) {
      const out = new Uint8Array(icmpv4Length(m));
      emitIcmpv4(m, out, 0);
      expect(verifyIcmpv4Checksum(out)).toBe(true);
      const back = unwrap(parseIcmpv4(out));
      expect(back).toMatchObject({ ...m, checksum: (out[2]! << 8) | out[3]! });
    }
  });
});

describe('ICMPv6 on kernel packets', () => {
  it('echo request and reply', () => {
    const req = icmp6(c.ipv6EchoRequest).repr;
    const rep = icmp6(c.ipv6EchoReply).repr;
    expect(req).toMatchObject({ kind: 'echoRequest', sequence: 1 });
    expect(rep).toMatchObject({ kind: 'echoReply', sequence: 1 });
  });

  it('packet too big carries the MTU and the quoted packet', () => {
    const { repr } = icmp6(c.ipv6PacketTooBig);
    expect(repr).toMatchObject({ kind: 'packetTooBig', code: 0, mtu: 1280 });
    if (repr.kind !== 'packetTooBig') return;
    expect(repr.invoking.length).toBe(1280 - 48);
    const inner = unwrap(parseIpv6Quoted(repr.invoking)).repr;
    expect(inner).toMatchObject({ payloadLength: 1408, upperProtocol: 58 });
  });

  it('port unreachable, time exceeded, and parameter problem with its pointer', () => {
    expect(icmp6(c.ipv6PortUnreachable).repr).toMatchObject({ kind: 'destinationUnreachable', code: ICMPV6_CODE_PORT_UNREACHABLE });
    expect(icmp6(c.ipv6TimeExceeded).repr).toMatchObject({ kind: 'timeExceeded', code: 0 });
    const pp = icmp6(c.ipv6ParameterProblem).repr;
    // Octet 42: the option type 0x91 in the destination options header after the fixed header.
    expect(pp).toMatchObject({ kind: 'parameterProblem', code: ICMPV6_CODE_UNRECOGNIZED_OPTION, pointer: 42 });
    if (pp.kind !== 'parameterProblem') return;
    expect(pp.invoking[42]).toBe(0x91);
  });

  it('keeps NDP and MLD raw', () => {
    expect(icmp6(c.ipv6NeighborSolicitation).repr).toMatchObject({ kind: 'other', type: 135, code: 0 });
    expect(icmp6(c.ipv6NeighborAdvertisement).repr).toMatchObject({ kind: 'other', type: 136 });
    const mld = icmp6(c.ipv6MldReport).repr;
    expect(mld).toMatchObject({ kind: 'other', type: 143 });
    if (mld.kind === 'other') expect(mld.rest.length).toBe(116 - 8 - 4);
  });

  it('every message verifies with its pseudo-header and re-encodes byte for byte', () => {
    for (const p of KERNEL_ICMPV6) {
      const { bytes, repr, src, dst } = icmp6(p);
      expect(verifyIcmpv6Checksum(bytes, src, dst)).toBe(true);
      expect(icmpv6Length(repr)).toBe(bytes.length);
      const out = new Uint8Array(bytes.length);
      expect(emitIcmpv6(repr, out, 0, src, dst)).toBe(bytes.length);
      expect(toHex(out)).toBe(toHex(bytes));
    }
  });

  it('fails verification with a corrupted byte or the wrong pseudo-header', () => {
    const { bytes, src, dst } = icmp6(c.ipv6EchoRequest);
    expect(verifyIcmpv6Checksum(bytes, src, addr('fd00:2::3'))).toBe(false);
    const bad = bytes.slice();
    bad[9] ^= 0x10;
    expect(verifyIcmpv6Checksum(bad, src, dst)).toBe(false);
  });
});

describe('ICMPv6 emit', () => {
  it('a parameter problem with a 32-bit pointer round-trips', () => {
    const m: Icmpv6Repr = { kind: 'parameterProblem', code: 0, pointer: 0xfffffff0, invoking: new Uint8Array(40) };
    const src = addr('fd00::1');
    const dst = addr('fd00::2');
    const out = new Uint8Array(icmpv6Length(m));
    emitIcmpv6(m, out, 0, src, dst);
    expect(verifyIcmpv6Checksum(out, src, dst)).toBe(true);
    expect(unwrap(parseIcmpv6(out))).toMatchObject({ kind: 'parameterProblem', pointer: 0xfffffff0 });
  });
});

describe('ICMP errors', () => {
  it('TRUNCATED below 8 bytes for typed messages, below 4 for raw ones', () => {
    const echo = icmp4(c.ipv4EchoRequest).bytes;
    expect(errorCode(parseIcmpv4(echo.subarray(0, 7)))).toBe('TRUNCATED');
    expect(errorCode(parseIcmpv4(new Uint8Array(0)))).toBe('TRUNCATED');
    expect(unwrap(parseIcmpv4(hex('0d000000')))).toMatchObject({ kind: 'other', type: 13 });
    expect(errorCode(parseIcmpv4(hex('0d0000')))).toBe('TRUNCATED');
    const ptb = icmp6(c.ipv6PacketTooBig).bytes;
    expect(errorCode(parseIcmpv6(ptb.subarray(0, 7)))).toBe('TRUNCATED');
    expect(unwrap(parseIcmpv6(hex('87000000')))).toMatchObject({ kind: 'other', type: 135 });
    expect(errorCode(parseIcmpv6(hex('870000')))).toBe('TRUNCATED');
  });
  it('never throws', () => {
    fuzzNeverThrows(icmp4(c.ipv4TimeExceeded).bytes.subarray(0, 40), parseIcmpv4);
    fuzzNeverThrows(icmp6(c.ipv6ParameterProblem).bytes.subarray(0, 60), parseIcmpv6);
  });
});
