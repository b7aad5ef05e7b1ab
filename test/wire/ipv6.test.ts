import { describe, expect, it } from 'vitest';
import {
  buildOptionsHeader,
  emitExtensionHeader,
  extensionHeaderLength,
  IPPROTO_DSTOPTS,
  IPPROTO_NONE,
  IPV6_MAX_EXTENSION_HEADERS,
  IPV6_OPT_PAD1,
  IPV6_OPT_PADN,
  ipv6OptionAction,
  ipv6OptionMayChange,
  parseExtensionHeaders,
  type Ipv6ExtensionHeader,
} from '../../stack/wire/ipv6-ext.js';
import { emitIpv6Header, ipv6HeaderLength, Ipv6View, parseIpv6, parseIpv6Quoted, type Ipv6Repr } from '../../stack/wire/ipv6.js';
import { captured as c } from './captured.js';
import { addr, errorCode, fuzzNeverThrows, hex, toHex, unwrap } from './helpers.js';

function reencode(repr: Ipv6Repr, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(ipv6HeaderLength(repr) + payload.length);
  const n = emitIpv6Header(repr, payload.length, out, 0);
  out.set(payload, n);
  return out;
}

/** A packet of `headers` + `upper` bytes built with emitIpv6Header. */
function build(headers: Ipv6ExtensionHeader[], upperProtocol: number, upper: Uint8Array): Uint8Array {
  const repr: Ipv6Repr = {
    trafficClass: 0,
    flowLabel: 0,
    hopLimit: 64,
    src: addr('fd00:1::1'),
    dst: addr('fd00:2::2'),
    extensionHeaders: headers,
    upperProtocol,
  };
  return reencode(repr, upper);
}

const ALL_IPV6 = [
  c.ipv6EchoRequest,
  c.ipv6EchoReply,
  c.ipv6EchoRequest1408,
  c.ipv6PacketTooBig,
  c.ipv6EchoHopLimit1,
  c.ipv6TimeExceeded,
  c.ipv6Udp,
  c.ipv6PortUnreachable,
  c.ipv6DestOptsUdp,
  c.ipv6HopByHopUdp,
  c.ipv6RoutingUdp,
  c.ipv6UdpFragment0,
  c.ipv6UdpFragment1,
  c.ipv6DestOptsDiscard,
  c.ipv6ParameterProblem,
  c.ipv6NeighborSolicitation,
  c.ipv6NeighborAdvertisement,
  c.ipv6MldReport,
];

describe('parseIpv6 on kernel packets', () => {
  it('reads the fixed header of an echo request', () => {
    const { repr, payload } = unwrap(parseIpv6(c.ipv6EchoRequest));
    expect(repr).toMatchObject({
      trafficClass: 0,
      flowLabel: 0x402cd,
      hopLimit: 64,
      nextHeader: 58,
      upperProtocol: 58,
      payloadLength: 24,
      extensionHeaders: [],
    });
    expect(repr.src).toEqual(addr('fd00:1::1'));
    expect(repr.dst).toEqual(addr('fd00:2::2'));
    expect(payload.length).toBe(24);
    expect(payload[0]).toBe(128);
  });

  it('reads a traffic class that straddles the first two bytes', () => {
    const p = c.ipv6Udp.slice();
    p[0] = 0x6c;
    p[1] = 0x0f | (p[1]! & 0x0f);
    expect(unwrap(parseIpv6(p)).repr.trafficClass).toBe(0xc0);
  });

  it('keeps destination options in order with raw data (option 0x11 + PadN)', () => {
    const { repr, payload } = unwrap(parseIpv6(c.ipv6DestOptsUdp));
    expect(repr.nextHeader).toBe(IPPROTO_DSTOPTS);
    expect(repr.upperProtocol).toBe(17);
    expect(repr.extensionHeaders).toHaveLength(1);
    const h = repr.extensionHeaders[0]!;
    expect(h.kind).toBe('destinationOptions');
    if (h.kind !== 'destinationOptions') return;
    expect(h.options.map((o) => [o.type, toHex(o.data)])).toEqual([
      [0x11, toHex(Buffer.from('abcde'))],
      [IPV6_OPT_PADN, '0000000000'],
    ]);
    expect(payload.length).toBe(12); // UDP header + "opts"
  });

  it('reads the hop-by-hop router alert of a kernel MLDv2 report', () => {
    const { repr } = unwrap(parseIpv6(c.ipv6MldReport));
    const h = repr.extensionHeaders[0]!;
    expect(h.kind).toBe('hopByHop');
    if (h.kind !== 'hopByHop') return;
    expect(h.options.map((o) => [o.type, toHex(o.data)])).toEqual([
      [5, '0000'],
      [IPV6_OPT_PADN, ''],
    ]);
    expect(repr.upperProtocol).toBe(58);
    expect(repr.src).toEqual(addr('::'));
  });

  it('reads a segment routing header (type 4) kept raw', () => {
    const { repr, payload } = unwrap(parseIpv6(c.ipv6RoutingUdp));
    const h = repr.extensionHeaders[0]!;
    expect(h).toMatchObject({ kind: 'routing', routingType: 4, segmentsLeft: 1 });
    if (h.kind !== 'routing') return;
    expect(h.data.length).toBe(36);
    expect(h.data.subarray(4, 20)).toEqual(addr('fd00:2::2'));
    expect(repr.upperProtocol).toBe(17);
    expect(payload.length).toBe(10);
  });

  it('stops at a fragment header: first and second fragment of one datagram', () => {
    const first = unwrap(parseIpv6(c.ipv6UdpFragment0));
    const second = unwrap(parseIpv6(c.ipv6UdpFragment1));
    expect(first.repr.extensionHeaders[0]).toMatchObject({ kind: 'fragment', fragmentOffset: 0, moreFragments: true });
    expect(second.repr.extensionHeaders[0]).toMatchObject({ kind: 'fragment', fragmentOffset: 1232, moreFragments: false });
    const id = (h: Ipv6ExtensionHeader): number => (h.kind === 'fragment' ? h.identification : -1);
    expect(id(first.repr.extensionHeaders[0]!)).toBe(id(second.repr.extensionHeaders[0]!));
    expect(first.repr.upperProtocol).toBe(17);
    expect(first.payload.length + second.payload.length).toBe(2008); // UDP header + 2000 bytes
  });

  it('re-encodes every captured packet byte for byte', () => {
    for (const p of ALL_IPV6) {
      const { repr, payload } = unwrap(parseIpv6(p));
      expect(toHex(reencode(repr, payload))).toBe(toHex(p));
    }
  });

  it('ignores bytes beyond the payload length', () => {
    const padded = new Uint8Array(c.ipv6Udp.length + 5);
    padded.set(c.ipv6Udp);
    expect(unwrap(parseIpv6(padded)).payload.length).toBe(16);
  });

  it('keeps the bytes after "no next header" (RFC 8200 4.7) for byte identity', () => {
    const p = build([buildOptionsHeader('destinationOptions', [])], IPPROTO_NONE, hex('deadbeef'));
    const { repr, payload } = unwrap(parseIpv6(p));
    expect(repr.upperProtocol).toBe(IPPROTO_NONE);
    expect(toHex(payload)).toBe('deadbeef');
    expect(toHex(reencode(repr, payload))).toBe(toHex(p));
  });
});

describe('Ipv6View', () => {
  it('reads the same fields as parseIpv6', () => {
    for (const p of ALL_IPV6) {
      const view = unwrap(Ipv6View.wrap(p));
      const { repr } = unwrap(parseIpv6(p));
      expect([view.trafficClass, view.flowLabel, view.payloadLength, view.nextHeader, view.hopLimit]).toEqual([
        repr.trafficClass,
        repr.flowLabel,
        repr.payloadLength,
        repr.nextHeader,
        repr.hopLimit,
      ]);
      expect(view.src).toEqual(repr.src);
      expect(view.dst).toEqual(repr.dst);
      expect(view.src).toBe(view.src);
    }
  });
  it('rejects what parseIpv6 rejects at the fixed header', () => {
    expect(errorCode(Ipv6View.wrap(c.ipv4Udp))).toBe('BAD_VERSION');
    expect(errorCode(Ipv6View.wrap(c.ipv6Udp.subarray(0, 55)))).toBe('TRUNCATED');
  });
});

describe('parseIpv6 errors', () => {
  it('TRUNCATED fixed header, BAD_VERSION, TRUNCATED payload', () => {
    expect(errorCode(parseIpv6(c.ipv6Udp.subarray(0, 39)))).toBe('TRUNCATED');
    expect(errorCode(parseIpv6(c.ipv4EchoTtl1))).toBe('BAD_VERSION');
    expect(errorCode(parseIpv6(c.ipv6Udp.subarray(0, c.ipv6Udp.length - 1)))).toBe('TRUNCATED');
  });

  it('TRUNCATED when an extension header runs past the payload length', () => {
    const p = c.ipv6DestOptsUdp.slice();
    p[41] = 9; // header claims 80 bytes
    expect(errorCode(parseIpv6(p))).toBe('TRUNCATED');
    const q = build([], IPPROTO_DSTOPTS, hex('11000000')); // 4 bytes where 8 are needed
    expect(errorCode(parseIpv6(q))).toBe('TRUNCATED');
  });

  it('BAD_OPTION when an option runs past its header', () => {
    const p = c.ipv6DestOptsUdp.slice();
    p[43] = 13; // option 0x11 claims 13 data bytes, one past the 16-byte header
    expect(errorCode(parseIpv6(p))).toBe('BAD_OPTION');
    // A non-Pad1 type in the header's last byte has no length byte.
    const q = build([], IPPROTO_DSTOPTS, hex('1100 0000 0000 0005 1122334455667788'));
    expect(errorCode(parseIpv6(q))).toBe('BAD_OPTION');
  });

  it('BAD_OPTION beyond 32 options in one header', () => {
    const padding = new Uint8Array(40 - 2); // 38 Pad1 options
    const p = build([], IPPROTO_DSTOPTS, Uint8Array.from([59, 4, ...padding]));
    expect(errorCode(parseIpv6(p))).toBe('BAD_OPTION');
  });

  it('UNSUPPORTED beyond the extension header limit', () => {
    const headers = Array.from({ length: IPV6_MAX_EXTENSION_HEADERS + 1 }, () =>
      buildOptionsHeader('destinationOptions', []),
    );
    expect(errorCode(parseIpv6(build(headers, 17, new Uint8Array(8))))).toBe('UNSUPPORTED');
    expect(unwrap(parseIpv6(build(headers.slice(1), 17, new Uint8Array(8)))).repr.extensionHeaders).toHaveLength(8);
  });

  it('BAD_FIELD for a hop-by-hop header that is not first', () => {
    const p = build(
      [buildOptionsHeader('destinationOptions', []), buildOptionsHeader('hopByHop', [])],
      17,
      new Uint8Array(8),
    );
    expect(errorCode(parseIpv6(p))).toBe('BAD_FIELD');
  });

  it('never throws on truncated or corrupted packets', () => {
    for (const p of [c.ipv6DestOptsUdp, c.ipv6RoutingUdp, c.ipv6MldReport, c.ipv6UdpFragment0.subarray(0, 64)]) {
      fuzzNeverThrows(p, parseIpv6);
    }
  });
});

describe('parseIpv6Quoted', () => {
  it('parses the packet a kernel packet-too-big quotes (cut to fit 1280 bytes)', () => {
    const icmp = unwrap(parseIpv6(c.ipv6PacketTooBig)).payload;
    const quoted = icmp.subarray(8);
    expect(errorCode(parseIpv6(quoted))).toBe('TRUNCATED');
    const { repr, payload } = unwrap(parseIpv6Quoted(quoted));
    expect(repr.payloadLength).toBe(1408);
    expect(repr.upperProtocol).toBe(58);
    expect(payload.length).toBe(quoted.length - 40);
  });
});

describe('buildOptionsHeader', () => {
  it('pads one 5-byte option exactly as the kernel padded it (IPV6_DSTOPTS capture)', () => {
    const header = buildOptionsHeader('destinationOptions', [{ type: 0x11, data: Buffer.from('abcde') }]);
    const out = new Uint8Array(extensionHeaderLength(header));
    emitExtensionHeader(header, 17, out, 0);
    expect(toHex(out)).toBe(toHex(c.ipv6DestOptsUdp.subarray(40, 56)));
  });

  it('uses Pad1 for a one-byte gap and PadN otherwise; an empty header is one PadN', () => {
    const one = buildOptionsHeader('destinationOptions', [{ type: 0x12, data: new Uint8Array(3) }]);
    expect(one.options.map((o) => o.type)).toEqual([0x12, IPV6_OPT_PAD1]);
    const empty = buildOptionsHeader('hopByHop', []);
    expect(empty.options.map((o) => [o.type, o.data.length])).toEqual([[IPV6_OPT_PADN, 4]]);
    expect(extensionHeaderLength(empty)).toBe(8);
  });

  it('meets an xn+y alignment requirement (RFC 8200 4.2, e.g. 4n+2)', () => {
    const header = buildOptionsHeader('destinationOptions', [
      { type: 0x11, data: new Uint8Array(1) },
      { type: 0x3e, data: new Uint8Array(4), align: 4, alignOffset: 2 },
      { type: 0x12, data: new Uint8Array(2), align: 8, alignOffset: 0 },
    ]);
    const out = new Uint8Array(extensionHeaderLength(header));
    emitExtensionHeader(header, 6, out, 0);
    const chain = unwrap(parseExtensionHeaders(out, IPPROTO_DSTOPTS, 0, out.length));
    let at = 2;
    const positions = new Map<number, number>();
    const parsed = chain.headers[0]!;
    if (parsed.kind !== 'destinationOptions') throw new Error('kind');
    for (const o of parsed.options) {
      positions.set(o.type, at);
      at += o.type === IPV6_OPT_PAD1 ? 1 : 2 + o.data.length;
    }
    expect(positions.get(0x3e)! % 4).toBe(2);
    expect(positions.get(0x12)! % 8).toBe(0);
    expect(out.length % 8).toBe(0);
    expect(chain.upperProtocol).toBe(6);
  });

  it('throws RangeError for option data over 255 bytes', () => {
    const header = buildOptionsHeader('destinationOptions', [{ type: 0x11, data: new Uint8Array(256) }]);
    expect(() => emitExtensionHeader(header, 6, new Uint8Array(300), 0)).toThrow(RangeError);
  });
});

describe('option type bits (RFC 8200 4.2)', () => {
  it('decodes the action and may-change bits', () => {
    expect(ipv6OptionAction(0x11)).toBe('skip');
    expect(ipv6OptionAction(0x91)).toBe('discardSendIcmp');
    expect(ipv6OptionAction(0x4d)).toBe('discard');
    expect(ipv6OptionAction(0xc2)).toBe('discardSendIcmpUnlessMulticast');
    expect(ipv6OptionMayChange(0x3e)).toBe(true);
    expect(ipv6OptionMayChange(0x11)).toBe(false);
  });
});

describe('emitIpv6Header', () => {
  it('chains Next Header fields and computes the payload length', () => {
    const repr: Ipv6Repr = {
      trafficClass: 0xb8,
      flowLabel: 0xabcde,
      hopLimit: 3,
      src: addr('2001:db8::1'),
      dst: addr('2001:db8::2'),
      extensionHeaders: [
        buildOptionsHeader('hopByHop', [{ type: 5, data: hex('0000') }]),
        { kind: 'fragment', fragmentOffset: 64, moreFragments: true, identification: 0xfeedf00d },
        buildOptionsHeader('destinationOptions', []),
      ],
      upperProtocol: 6,
    };
    const out = new Uint8Array(2 + ipv6HeaderLength(repr) + 20);
    expect(emitIpv6Header(repr, 20, out, 2)).toBe(64);
    const p = out.subarray(2);
    expect([p[6], p[40], p[48]]).toEqual([0, 44, 60]);
    const back = unwrap(parseIpv6(p));
    // Parsing stops after the fragment header: the destination options are fragment data.
    expect(back.repr.extensionHeaders.map((h) => h.kind)).toEqual(['hopByHop', 'fragment']);
    expect(back.repr.upperProtocol).toBe(60);
    expect(back.repr).toMatchObject({ trafficClass: 0xb8, flowLabel: 0xabcde, hopLimit: 3, payloadLength: 44 });
    const rest = unwrap(parseExtensionHeaders(p, 60, 56, p.length));
    expect(rest.upperProtocol).toBe(6);
    expect(rest.upperOffset).toBe(64);
  });

  it('throws RangeError for a payload over 65535 bytes or a wrong address length', () => {
    const repr: Ipv6Repr = {
      trafficClass: 0,
      flowLabel: 0,
      hopLimit: 1,
      src: addr('::1'),
      dst: addr('::1'),
      extensionHeaders: [],
      upperProtocol: 17,
    };
    expect(() => emitIpv6Header(repr, 65536, new Uint8Array(40), 0)).toThrow(RangeError);
    expect(() => emitIpv6Header({ ...repr, src: addr('10.0.0.1') }, 0, new Uint8Array(40), 0)).toThrow(RangeError);
  });
});
