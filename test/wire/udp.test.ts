import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../stack/wire/ipv4.js';
import { parseIpv6 } from '../../stack/wire/ipv6.js';
import { emitUdp, parseUdp, UdpView, verifyUdpChecksum } from '../../stack/wire/udp.js';
import { captured as c } from './captured.js';
import { addr, errorCode, fuzzNeverThrows, toHex, unwrap } from './helpers.js';

/** The UDP datagram and addresses of a captured IPv4 or IPv6 packet. */
function udpOf(packet: Uint8Array): { udp: Uint8Array; src: Uint8Array; dst: Uint8Array } {
  const parsed = packet[0]! >>> 4 === 4 ? unwrap(parseIpv4(packet)) : unwrap(parseIpv6(packet));
  return { udp: parsed.payload, src: parsed.repr.src, dst: parsed.repr.dst };
}

const KERNEL_UDP = [c.ipv4Udp, c.ipv6Udp, c.ipv6DestOptsUdp, c.ipv6HopByHopUdp, c.ipv6RoutingUdp];

describe('parseUdp on kernel packets', () => {
  it('reads ports, length and payload', () => {
    const { udp } = udpOf(c.ipv4Udp);
    const { repr, payload } = unwrap(parseUdp(udp));
    expect(repr.dstPort).toBe(5353);
    expect(repr.srcPort).toBe(udp[0]! * 256 + udp[1]!);
    expect(repr.length).toBe(23);
    expect(Buffer.from(payload).toString()).toBe('hello namestack');
  });

  it('verifies the kernel checksums (IPv4, IPv6, IPv6 behind extension headers) and re-encodes byte for byte', () => {
    for (const p of KERNEL_UDP) {
      const { udp, src, dst } = udpOf(p);
      expect(verifyUdpChecksum(udp, src, dst)).toBe(true);
      const { repr, payload } = unwrap(parseUdp(udp));
      const out = new Uint8Array(udp.length);
      expect(emitUdp(repr, payload, out, 0, src, dst)).toBe(udp.length);
      expect(toHex(out)).toBe(toHex(udp));
    }
  });

  it('detects a corrupted byte or the wrong pseudo-header', () => {
    const { udp, src, dst } = udpOf(c.ipv6Udp);
    const bad = udp.slice();
    bad[9] ^= 0x40;
    expect(verifyUdpChecksum(bad, src, dst)).toBe(false);
    expect(verifyUdpChecksum(udp, src, addr('fd00:2::3'))).toBe(false);
  });

  it('UdpView reads what parseUdp reads', () => {
    const { udp } = udpOf(c.ipv6Udp);
    const view = unwrap(UdpView.wrap(udp));
    const { repr, payload } = unwrap(parseUdp(udp));
    expect([view.srcPort, view.dstPort, view.length, view.checksum, view.payloadLength]).toEqual([
      repr.srcPort,
      repr.dstPort,
      repr.length,
      repr.checksum,
      payload.length,
    ]);
  });
});

describe('UDP checksum zero (RFC 768, RFC 8200 8.1)', () => {
  const src4 = addr('192.0.2.1');
  const dst4 = addr('192.0.2.2');

  it('sends a computed zero as 0xffff, and it verifies', () => {
    const payload = new Uint8Array(2);
    const out = new Uint8Array(10);
    emitUdp({ srcPort: 1000, dstPort: 2000 }, payload, out, 0, src4, dst4);
    // Put the checksum of the zero payload into the payload: the new sum is then all ones.
    payload[0] = out[6]!;
    payload[1] = out[7]!;
    emitUdp({ srcPort: 1000, dstPort: 2000 }, payload, out, 0, src4, dst4);
    expect(toHex(out.subarray(6, 8))).toBe('ffff');
    expect(verifyUdpChecksum(out, src4, dst4)).toBe(true);
  });

  it('accepts "no checksum" over IPv4 and rejects it over IPv6', () => {
    const out = new Uint8Array(12);
    emitUdp({ srcPort: 1, dstPort: 2 }, new Uint8Array(4), out, 0, src4, dst4);
    out[6] = 0;
    out[7] = 0;
    expect(verifyUdpChecksum(out, src4, dst4)).toBe(true);
    expect(verifyUdpChecksum(out, addr('::1'), addr('::2'))).toBe(false);
  });
});

describe('emitUdp', () => {
  it('writes at an offset and skips the copy when the payload is already in place', () => {
    const out = new Uint8Array(5 + 8 + 3);
    out.set([7, 8, 9], 13);
    const src = addr('fd00::1');
    const dst = addr('fd00::2');
    expect(emitUdp({ srcPort: 53, dstPort: 4242 }, out.subarray(13, 16), out, 5, src, dst)).toBe(11);
    const { repr, payload } = unwrap(parseUdp(out.subarray(5)));
    expect(repr).toMatchObject({ srcPort: 53, dstPort: 4242, length: 11 });
    expect(Array.from(payload)).toEqual([7, 8, 9]);
    expect(verifyUdpChecksum(out.subarray(5), src, dst)).toBe(true);
  });

  it('throws RangeError beyond 65535 bytes', () => {
    expect(() => emitUdp({ srcPort: 1, dstPort: 2 }, new Uint8Array(65528), new Uint8Array(65536 + 8), 0, addr('::1'), addr('::1'))).toThrow(
      RangeError,
    );
  });
});

describe('parseUdp errors', () => {
  const { udp } = udpOf(c.ipv4Udp);
  it('TRUNCATED below 8 bytes or when the length field runs past the bytes', () => {
    expect(errorCode(parseUdp(udp.subarray(0, 7)))).toBe('TRUNCATED');
    expect(errorCode(parseUdp(udp.subarray(0, udp.length - 1)))).toBe('TRUNCATED');
  });
  it('BAD_LENGTH when the length field is below 8 (or 0, a jumbogram)', () => {
    const b = udp.slice();
    b[4] = 0;
    b[5] = 7;
    expect(errorCode(parseUdp(b))).toBe('BAD_LENGTH');
    b[5] = 0;
    expect(errorCode(UdpView.wrap(b))).toBe('BAD_LENGTH');
    expect(verifyUdpChecksum(b, addr('10.0.0.1'), addr('10.0.1.2'))).toBe(false);
  });
  it('bounds the payload by the length field, ignoring trailing bytes', () => {
    const longer = new Uint8Array(udp.length + 4);
    longer.set(udp);
    expect(unwrap(parseUdp(longer)).payload.length).toBe(15);
  });
  it('never throws', () => {
    fuzzNeverThrows(udp, parseUdp);
  });
});
