import { describe, expect, it } from 'vitest';
import {
  emitIpv4Header,
  ipv4HeaderLength,
  Ipv4View,
  parseIpv4,
  parseIpv4Quoted,
  verifyIpv4HeaderChecksum,
  type Ipv4Repr,
} from '../../stack/wire/ipv4.js';
import { captured as c } from './captured.js';
import { addr, errorCode, fuzzNeverThrows, hex, toHex, unwrap } from './helpers.js';

/** Re-encodes a parsed packet: header by emit, payload copied after it. */
function reencode(repr: Ipv4Repr, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(ipv4HeaderLength(repr) + payload.length);
  const n = emitIpv4Header(repr, payload.length, out, 0);
  out.set(payload, n);
  return out;
}

const ALL_IPV4 = [
  c.ipv4EchoRequest,
  c.ipv4EchoReply,
  c.ipv4RecordRouteRequest,
  c.ipv4RecordRouteReply,
  c.ipv4EchoRequestDf1408,
  c.ipv4FragNeeded,
  c.ipv4EchoTtl1,
  c.ipv4TimeExceeded,
  c.ipv4Udp,
  c.ipv4PortUnreachable,
  c.ipv4UdpFragment0,
  c.ipv4UdpFragment1,
];

describe('parseIpv4 on kernel packets', () => {
  it('reads the fields of an echo request', () => {
    const { repr, payload } = unwrap(parseIpv4(c.ipv4EchoRequest));
    expect(repr).toMatchObject({
      dscpEcn: 0,
      identification: 0xd8ff,
      dontFragment: true,
      moreFragments: false,
      reservedFlag: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: 1,
      totalLength: 44,
    });
    expect(repr.src).toEqual(addr('10.0.0.1'));
    expect(repr.dst).toEqual(addr('10.0.1.2'));
    expect(repr.options.length).toBe(0);
    expect(payload.length).toBe(24);
    expect(payload[0]).toBe(8); // ICMP echo request
  });

  it('reads DSCP/ECN (0xc0, CS6) from an ICMP error the router sent', () => {
    const { repr } = unwrap(parseIpv4(c.ipv4TimeExceeded));
    expect(repr.dscpEcn).toBe(0xc0);
    expect(repr.src).toEqual(addr('10.0.0.254'));
  });

  it('keeps the Record Route option raw (IHL 15, 40 option bytes)', () => {
    const { repr, payload } = unwrap(parseIpv4(c.ipv4RecordRouteReply));
    expect(repr.options.length).toBe(40);
    expect(repr.options[0]).toBe(7); // RR (RFC 791 3.1), no NOP in the reply
    expect(payload.length).toBe(76 - 60);
    expect(ipv4HeaderLength(repr)).toBe(60);
  });

  it('reads fragment flags and a byte offset', () => {
    const first = unwrap(parseIpv4(c.ipv4UdpFragment0)).repr;
    const second = unwrap(parseIpv4(c.ipv4UdpFragment1)).repr;
    expect(first).toMatchObject({ moreFragments: true, dontFragment: false, fragmentOffset: 0 });
    expect(second).toMatchObject({ moreFragments: false, fragmentOffset: 1256 });
    expect(second.identification).toBe(first.identification);
  });

  it('re-encodes every captured packet byte for byte', () => {
    for (const p of ALL_IPV4) {
      const { repr, payload } = unwrap(parseIpv4(p));
      expect(toHex(reencode(repr, payload))).toBe(toHex(p));
    }
  });

  it('verifies the header checksum of every captured packet and detects a flipped bit', () => {
    for (const p of ALL_IPV4) {
      const view = unwrap(Ipv4View.wrap(p));
      expect(verifyIpv4HeaderChecksum(view)).toBe(true);
      const bad = p.slice();
      bad[8] ^= 0x01;
      expect(verifyIpv4HeaderChecksum(unwrap(Ipv4View.wrap(bad)))).toBe(false);
    }
  });

  it('ignores bytes beyond the total length (link-layer padding)', () => {
    const padded = new Uint8Array(c.ipv4Udp.length + 17);
    padded.set(c.ipv4Udp);
    padded.fill(0xee, c.ipv4Udp.length);
    const { payload } = unwrap(parseIpv4(padded));
    expect(toHex(payload)).toBe(toHex(c.ipv4Udp.subarray(20)));
  });

  it('copies the addresses but not the payload', () => {
    const p = c.ipv4Udp.slice();
    const { repr, payload } = unwrap(parseIpv4(p));
    p[12] = 99;
    p[30] = 99;
    expect(repr.src[0]).toBe(10);
    expect(payload[10]).toBe(99);
  });
});

describe('Ipv4View', () => {
  it('reads the same fields as parseIpv4', () => {
    for (const p of ALL_IPV4) {
      const view = unwrap(Ipv4View.wrap(p));
      const { repr, payload } = unwrap(parseIpv4(p));
      expect(view.headerLength).toBe(ipv4HeaderLength(repr));
      expect(view.dscpEcn).toBe(repr.dscpEcn);
      expect(view.totalLength).toBe(repr.totalLength);
      expect(view.identification).toBe(repr.identification);
      expect(view.dontFragment).toBe(repr.dontFragment);
      expect(view.moreFragments).toBe(repr.moreFragments);
      expect(view.reservedFlag).toBe(repr.reservedFlag);
      expect(view.fragmentOffset).toBe(repr.fragmentOffset);
      expect(view.ttl).toBe(repr.ttl);
      expect(view.protocol).toBe(repr.protocol);
      expect(view.checksum).toBe(repr.checksum);
      expect(view.src).toEqual(repr.src);
      expect(view.dst).toEqual(repr.dst);
      expect(view.srcU32).toBe(Buffer.from(repr.src).readUInt32BE(0));
      expect(view.dstU32).toBe(Buffer.from(repr.dst).readUInt32BE(0));
      expect(view.payloadOffset + view.payloadLength).toBe(view.payloadOffset + payload.length);
    }
  });

  it('returns the same address object on every call (no allocation per getter)', () => {
    const view = unwrap(Ipv4View.wrap(c.ipv4EchoRequest));
    expect(view.src).toBe(view.src);
    expect(view.dst).toBe(view.dst);
  });
});

describe('parseIpv4 errors', () => {
  const good = c.ipv4Udp;
  const mutate = (f: (b: Uint8Array) => void): Uint8Array => {
    const b = good.slice();
    f(b);
    return b;
  };

  it('TRUNCATED below 20 bytes', () => {
    expect(errorCode(parseIpv4(good.subarray(0, 19)))).toBe('TRUNCATED');
    expect(errorCode(parseIpv4(new Uint8Array(0)))).toBe('TRUNCATED');
  });
  it('BAD_VERSION for an IPv6 packet', () => {
    expect(errorCode(parseIpv4(c.ipv6Udp))).toBe('BAD_VERSION');
    expect(errorCode(Ipv4View.wrap(c.ipv6Udp))).toBe('BAD_VERSION');
  });
  it('BAD_HEADER_LENGTH when IHL < 5', () => {
    expect(errorCode(parseIpv4(mutate((b) => (b[0] = 0x44))))).toBe('BAD_HEADER_LENGTH');
  });
  it('TRUNCATED when IHL runs past the bytes', () => {
    expect(errorCode(parseIpv4(mutate((b) => (b[0] = 0x4f)).subarray(0, 40)))).toBe('TRUNCATED');
  });
  it('BAD_LENGTH when total length < header length', () => {
    expect(errorCode(parseIpv4(mutate((b) => ((b[2] = 0), (b[3] = 19)))))).toBe('BAD_LENGTH');
  });
  it('TRUNCATED when total length > bytes', () => {
    expect(errorCode(parseIpv4(good.subarray(0, good.length - 1)))).toBe('TRUNCATED');
    expect(errorCode(Ipv4View.wrap(good.subarray(0, good.length - 1)))).toBe('TRUNCATED');
  });
  it('never throws on truncated or corrupted packets', () => {
    for (const p of [c.ipv4RecordRouteRequest, c.ipv4TimeExceeded]) {
      const failures = fuzzNeverThrows(p, parseIpv4);
      expect(failures).toBe(p.length); // every proper prefix fails (total length), the whole parses
    }
  });
});

describe('parseIpv4Quoted', () => {
  it('parses the packet quoted in a kernel fragmentation-needed error (cut short at 548 bytes)', () => {
    const icmp = unwrap(parseIpv4(c.ipv4FragNeeded)).payload;
    const quoted = icmp.subarray(8);
    expect(errorCode(parseIpv4(quoted))).toBe('TRUNCATED');
    const { repr, payload } = unwrap(parseIpv4Quoted(quoted));
    expect(repr.totalLength).toBe(1428);
    expect(repr.dst).toEqual(addr('10.0.1.2'));
    expect(payload.length).toBe(quoted.length - 20);
  });
  it('still needs the whole header', () => {
    expect(errorCode(parseIpv4Quoted(c.ipv4EchoRequest.subarray(0, 19)))).toBe('TRUNCATED');
  });
});

describe('emitIpv4Header', () => {
  const repr: Ipv4Repr = {
    dscpEcn: 0x2e << 2,
    identification: 0x1234,
    dontFragment: false,
    moreFragments: true,
    fragmentOffset: 8 * 100,
    ttl: 17,
    protocol: 6,
    src: addr('192.0.2.1'),
    dst: addr('198.51.100.2'),
    options: hex('94040000'), // Router Alert (RFC 2113)
  };

  it('writes at an offset, computes total length and checksum, and parses back', () => {
    const out = new Uint8Array(3 + 24 + 10);
    const n = emitIpv4Header(repr, 10, out, 3);
    expect(n).toBe(24);
    const { repr: back, payload } = unwrap(parseIpv4(out.subarray(3)));
    expect(back).toMatchObject({ ...repr, totalLength: 34, reservedFlag: false });
    expect(payload.length).toBe(10);
    expect(verifyIpv4HeaderChecksum(unwrap(Ipv4View.wrap(out.subarray(3))))).toBe(true);
  });

  it('pads options to a 4-byte boundary with EOL', () => {
    const r = { ...repr, options: hex('0101ff') };
    expect(ipv4HeaderLength(r)).toBe(24);
    const out = new Uint8Array(24).fill(0xaa);
    emitIpv4Header(r, 0, out, 0);
    expect(toHex(out.subarray(20))).toBe('0101ff00');
  });

  it('throws RangeError for a repr no packet can carry', () => {
    const out = new Uint8Array(100);
    expect(() => emitIpv4Header({ ...repr, options: new Uint8Array(44) }, 0, out, 0)).toThrow(RangeError);
    expect(() => emitIpv4Header(repr, 65536 - 24, out, 0)).toThrow(RangeError);
    expect(() => emitIpv4Header({ ...repr, fragmentOffset: 7 }, 0, out, 0)).toThrow(RangeError);
    expect(() => emitIpv4Header({ ...repr, src: addr('::1') }, 0, out, 0)).toThrow(RangeError);
  });
});
