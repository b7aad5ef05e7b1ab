import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../stack/random.js';
import { parseAddress, type IpAddress } from '../../stack/wire/address.js';
import { finishChecksum, onesComplementSum, pseudoHeaderSum } from '../../stack/wire/checksum.js';
import {
  emitTcp,
  parseTcp,
  TCP_ACK,
  TCP_AE,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  tcpHeaderLength,
  TcpView,
  verifyTcpChecksum,
  type TcpRepr,
} from '../../stack/wire/tcp.js';
import { NOP_OPTION, SACK_PERMITTED_OPTION } from '../../stack/wire/tcp-options.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'ascii'));
const addr = (s: string): IpAddress => parseAddress(s)!;

interface Captured {
  src: IpAddress;
  dst: IpAddress;
  /** The TCP segment: header and payload. */
  segment: Uint8Array;
}

function captured(src: string, dst: string, header: string, payload: Uint8Array = new Uint8Array(0)): Captured {
  const h = hex(header);
  const segment = new Uint8Array(h.length + payload.length);
  segment.set(h);
  segment.set(payload, h.length);
  return { src: addr(src), dst: addr(dst), segment };
}

// TCP segments (the IP payload) the Linux 6.18 kernel sent between two network namespaces
// joined by a veth pair with `ethtool -K <dev> tx off` (so the checksums on the wire are
// final), captured with `tcpdump -w` on the server's veth. Client and server were Python
// sockets: plain TCP, or IPPROTO_MPTCP (262) with net.mptcp.enabled=1 and the endpoints of
// REFERENCE.md (a `subflow` endpoint 10.77.0.11 on the client, `signal` 10.77.0.12 or
// fd77::12 on the server). The SACK came from an nft rule in the receiver's input hook that
// dropped one 1000-byte segment once; MP_CAPABLE with checksum from
// net.mptcp.checksum_enabled=1; the RST+MP_FASTCLOSE from close() with SO_LINGER 0.
const kernel = {
  syn4: captured(
    '10.77.0.1',
    '10.77.0.2',
    'a88e13880aa9e4bd00000000a002faf0ace30000 020405b40402080aaeb3315b000000000103030a',
  ),
  synAck4: captured(
    '10.77.0.2',
    '10.77.0.1',
    '1388a88e015f6c0e0aa9e4bea012fe8812f40000 020405b40402080aca3f5e99aeb3315b0103030a',
  ),
  data4: captured(
    '10.77.0.1',
    '10.77.0.2',
    'a88e13880aa9e4be015f6c0f8018003fe0640000 0101080aaeb3315bca3f5e99',
    ascii('hello namestack'),
  ),
  fin4: captured('10.77.0.1', '10.77.0.2', 'a88e13880aa9e4cd015f6c238011003f3df50000 0101080aaeb3334fca3f5e99'),
  syn6: captured('fd77::1', 'fd77::2', 'cb7c138995a20a6000000000a002fd20c2130000 020405a00402080af1b41d2d000000000103030a'),
  data6: captured(
    'fd77::2',
    'fd77::1',
    '1389cb7c0a66337f95a20a708018003fdd6b0000 0101080a454be2a2f1b41d2d',
    ascii('pong:hello namestack'),
  ),
  /** 1000 bytes of 'A' (TCP_NODELAY writes of 1000 bytes). */
  bulk4: captured(
    '10.77.0.1',
    '10.77.0.2',
    'ba6a138eebb17ca7af5d679b8018003fc0a00000 0101080a5ff649e1b1a78113',
    new Uint8Array(1000).fill(0x41),
  ),
  sackAck4: captured(
    '10.77.0.2',
    '10.77.0.1',
    '138eba6aaf5d679bebb18477b01000450dbb0000 0101080ab1a781505ff649f50101050aebb1885febb18c47',
  ),
  mpCapableSyn: captured(
    '10.77.0.1',
    '10.77.0.2',
    'b646138ac7640e7e00000000b002faf0e6e10000 020405b40402080aa750db80000000000103030a1e040101',
  ),
  mpCapableSynAck: captured(
    '10.77.0.2',
    '10.77.0.1',
    '138ab646ace772e3c7640e7fd012fe8876d90000 020405b40402080a4000f742a750db800103030a1e0c010155d016b747414178',
  ),
  mpCapableAck: captured(
    '10.77.0.1',
    '10.77.0.2',
    'b646138ac7640e7face772e4d010003ff1fc0000 0101080aa750db804000f7421e140101b3dc2585d647e23b55d016b747414178',
  ),
  mpCapableData: captured(
    '10.77.0.1',
    '10.77.0.2',
    'd310138b3db6ddd46714c7dee018003fd3020000 0101080a2d14525ac653e3d91e160101c4603736b023e6cfa31be32898a7a2ca000f0101',
    ascii('hello namestack'),
  ),
  mpCapableDataChecksum: captured(
    '10.77.0.1',
    '10.77.0.2',
    'd01413903c158422d4bc45dfe018003fbcec0000 0101080a6602f531bcc8f2861e180181d4445f61a7139445a9358e62ecbe2f3b000f39fe',
    ascii('hello namestack'),
  ),
  mpJoinSyn: captured(
    '10.77.0.11',
    '10.77.0.2',
    'bd7d138aeefbf8d200000000d002faf034f80000 020405b40402080a6a4220e9000000000103030a1e0c1001ac86f95ce0d2da9b',
  ),
  mpJoinSynAck: captured(
    '10.77.0.2',
    '10.77.0.11',
    '138abd7d59db98dbeefbf8d3e012fe8814c50000 020405b40402080a6bbc9ca86a4220e90103030a1e1010000e5b322af0dc6c90b47c204a',
  ),
  mpJoinAck: captured(
    '10.77.0.11',
    '10.77.0.2',
    'bd7d138aeefbf8d359db98dce010003fad2f0000 0101080a6a4220e96bbc9ca81e18100081c6e0d2ac756f5304374c38884381742c6be262',
  ),
  dssData: captured(
    '10.77.0.1',
    '10.77.0.2',
    'b646138ac7640e7face772e4e018003fa0c30000 0101080aa750db814000f7421e16200dbfcbf4c0ef79f38cedefc30f00000001000f0101',
    ascii('hello namestack'),
  ),
  dssChecksum: captured(
    '10.77.0.2',
    '10.77.0.1',
    '1390d014d4bc45df3c158431f018003f84130000 0101080abcc8f2866602f5311e1c200f706f1547421f9e99625def8a02e3ac120000000100042046',
    ascii('pong'),
  ),
  addAddr6: captured(
    'fd77::2',
    'fd77::11',
    '138ca892a45e14dbfe383c8ff010003f148b0000 0101080aa83edcb07f50af4c1e1c3001fd77000000000000000000000000001270aa80ac0aef4b3a',
  ),
  mpFail: captured(
    '10.77.0.2',
    '10.77.0.1',
    '1390d014d4bc45e33c158434e010003fae2c0000 0101080abcc8f34e6602f5f91e0c2003706f1547421f9e991e0c6000706f1547421f9e99',
  ),
  fastcloseRst: captured(
    '10.77.0.1',
    '10.77.0.2',
    'b646138ac7640e8eace772f8c014003f80cf0000 0101080aa750e1734000f7431e0c700055d016b7474141781e048000',
  ),
  /** The server's reply to a join towards an address it had no listener on. */
  rstNoOptions: captured('10.77.0.12', '10.77.0.1', '138a98350000000081872be25014000042010000'),
};

describe('segments captured from Linux', () => {
  for (const [name, c] of Object.entries(kernel)) {
    it(`${name}: checksum verifies, parses, and re-encodes byte for byte in every mode`, () => {
      expect(verifyTcpChecksum(c.segment, c.src, c.dst)).toBe(true);
      const parsed = parseTcp(c.segment);
      if (!parsed.ok) throw new Error(parsed.message);
      const { repr, payload } = parsed.value;
      const headerLength = tcpHeaderLength(repr);
      expect(headerLength).toBe((c.segment[12]! >> 4) * 4);
      expect(toHex(payload)).toBe(toHex(c.segment.subarray(headerLength)));

      const keep = new Uint8Array(c.segment.length);
      expect(emitTcp(repr, payload, payload.length, keep, 0, { mode: 'keep' })).toBe(c.segment.length);
      expect(toHex(keep)).toBe(toHex(c.segment));

      // The kernel's checksum is what 'full' computes.
      const full = new Uint8Array(c.segment.length);
      emitTcp(repr, payload, payload.length, full, 0, { mode: 'full', src: c.src, dst: c.dst });
      expect(toHex(full)).toBe(toHex(c.segment));

      // The view reads the same fields without decoding.
      const view = TcpView.wrap(c.segment);
      if (!view.ok) throw new Error(view.message);
      const v = view.value;
      expect([v.srcPort, v.dstPort, v.seq, v.ack, v.flags, v.window, v.checksum, v.urgentPointer]).toEqual([
        repr.srcPort,
        repr.dstPort,
        repr.seq,
        repr.ack,
        repr.flags,
        repr.window,
        repr.checksum,
        repr.urgentPointer,
      ]);
      expect(v.headerLength).toBe(headerLength);
      expect(v.dataOffset).toBe(headerLength / 4);
      expect(v.payloadLength).toBe(payload.length);
      expect(toHex(v.payload)).toBe(toHex(payload));
      expect(toHex(v.optionsBytes)).toBe(toHex(c.segment.subarray(20, headerLength)));
      expect(v.optionsLength).toBe(headerLength - 20);
    });
  }

  it('decodes the SYN of a plain IPv4 connection', () => {
    const parsed = parseTcp(kernel.syn4.segment);
    expect(parsed.ok && parsed.value.repr).toEqual({
      srcPort: 43150,
      dstPort: 5000,
      seq: 178906301,
      ack: 0,
      flags: TCP_SYN,
      window: 64240,
      urgentPointer: 0,
      checksum: 0xace3,
      options: [
        { kind: 'mss', mss: 1460 },
        SACK_PERMITTED_OPTION,
        { kind: 'timestamps', tsVal: 2930979163, tsEcr: 0 },
        NOP_OPTION,
        { kind: 'windowScale', shift: 10 },
      ],
    } satisfies TcpRepr);
  });

  it('decodes sequence numbers above 2^31 as unsigned', () => {
    const parsed = parseTcp(kernel.sackAck4.segment);
    expect(parsed.ok && parsed.value.repr).toMatchObject({ seq: 2942134171, ack: 3954279543, flags: TCP_ACK });
  });

  it('decodes flags of data, FIN and RST segments', () => {
    const flagsOf = (s: Uint8Array): number => (TcpView.wrap(s) as { value: TcpView }).value.flags;
    expect(flagsOf(kernel.data4.segment)).toBe(TCP_PSH | TCP_ACK);
    expect(flagsOf(kernel.fin4.segment)).toBe(TCP_FIN | TCP_ACK);
    expect(flagsOf(kernel.fastcloseRst.segment)).toBe(TCP_RST | TCP_ACK);
    expect(flagsOf(kernel.synAck4.segment)).toBe(TCP_SYN | TCP_ACK);
  });

  it('finds the MPTCP options in the handshake', () => {
    const mptcpOf = (s: Uint8Array): unknown => {
      const parsed = parseTcp(s);
      return parsed.ok ? parsed.value.repr.options.find((o) => o.kind === 'mptcp') : undefined;
    };
    expect(mptcpOf(kernel.mpCapableSynAck.segment)).toEqual({
      kind: 'mptcp',
      option: { subtype: 'mpCapable', version: 1, flags: 1, senderKey: 0x55d016b747414178n },
    });
    expect(mptcpOf(kernel.mpJoinSyn.segment)).toEqual({
      kind: 'mptcp',
      option: { subtype: 'mpJoinSyn', backup: false, addressId: 1, token: 0xac86f95c, nonce: 0xe0d2da9b },
    });
  });
});

describe('checksums', () => {
  it('fails verification when a payload bit flips or the pseudo-header differs', () => {
    const { segment, src, dst } = kernel.data4;
    expect(verifyTcpChecksum(segment, src, addr('10.77.0.3'))).toBe(false);
    const corrupted = segment.slice();
    corrupted[corrupted.length - 1]! ^= 0x01;
    expect(verifyTcpChecksum(corrupted, src, dst)).toBe(false);
    // IPv6 pseudo-header uses the 16-byte addresses.
    expect(verifyTcpChecksum(kernel.data6.segment, addr('fd77::2'), addr('fd77::3'))).toBe(false);
  });

  it("'partial' stores the folded pseudo-header sum that a NEEDS_CSUM device completes", () => {
    for (const c of [kernel.data4, kernel.data6, kernel.bulk4]) {
      const parsed = parseTcp(c.segment);
      if (!parsed.ok) throw new Error(parsed.message);
      const { repr, payload } = parsed.value;
      const out = new Uint8Array(c.segment.length);
      emitTcp(repr, payload, payload.length, out, 0, { mode: 'partial', src: c.src, dst: c.dst });
      const field = (out[16]! << 8) | out[17]!;
      expect(field).toBe(pseudoHeaderSum(c.src, c.dst, 6, c.segment.length));
      // virtio_net_hdr csum_start/csum_offset: the device sums from the TCP header on,
      // the field included, and stores the complement: the kernel's final checksum.
      const completed = finishChecksum(onesComplementSum(out, 0, out.length));
      expect(completed).toBe(repr.checksum);
    }
  });
});

describe('emitting', () => {
  const base: TcpRepr = {
    srcPort: 40000,
    dstPort: 443,
    seq: 0xfffffff0,
    ack: 0x80000000,
    flags: TCP_ACK | TCP_PSH,
    window: 512,
    urgentPointer: 0,
    checksum: 0,
    options: [],
  };

  it('writes a segment inside a packet buffer, after the IP header, with the payload already in place', () => {
    const { src, dst, segment } = kernel.data4;
    const parsed = parseTcp(segment);
    if (!parsed.ok) throw new Error(parsed.message);
    const { repr, payload } = parsed.value;
    const packet = new Uint8Array(20 + segment.length).fill(0xee);
    packet.set(payload, 20 + tcpHeaderLength(repr));
    expect(emitTcp(repr, undefined, payload.length, packet, 20, { mode: 'full', src, dst })).toBe(segment.length);
    expect(toHex(packet.subarray(20))).toBe(toHex(segment));
    expect(packet.subarray(0, 20).every((b) => b === 0xee)).toBe(true);
  });

  it('pads options with zeros to a 32-bit boundary', () => {
    const repr: TcpRepr = { ...base, flags: TCP_SYN, options: [{ kind: 'mss', mss: 1400 }, { kind: 'windowScale', shift: 7 }] };
    expect(tcpHeaderLength(repr)).toBe(28);
    const out = new Uint8Array(28).fill(0xee);
    expect(emitTcp(repr, undefined, 0, out, 0, { mode: 'keep' })).toBe(28);
    expect(toHex(out.subarray(12, 13))).toBe('70');
    expect(toHex(out.subarray(20))).toBe('0204057803030700');
    const reparsed = parseTcp(out);
    expect(reparsed.ok && reparsed.value.repr.options).toEqual([
      { kind: 'mss', mss: 1400 },
      { kind: 'windowScale', shift: 7 },
      { kind: 'eol', padding: 0 },
    ]);
  });

  it('keeps the AE bit and the other reserved bits through parse and emit', () => {
    const segment = kernel.fin4.segment.slice();
    segment[12] = (segment[12]! & 0xf0) | 0x0f;
    const parsed = parseTcp(segment);
    if (!parsed.ok) throw new Error(parsed.message);
    expect(parsed.value.repr.flags).toBe(0xe00 | TCP_AE | TCP_FIN | TCP_ACK);
    const out = new Uint8Array(segment.length);
    emitTcp(parsed.value.repr, parsed.value.payload, 0, out, 0, { mode: 'keep' });
    expect(toHex(out)).toBe(toHex(segment));
  });

  it('round-trips every control bit', () => {
    const all = TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG | TCP_ECE | TCP_CWR | TCP_AE;
    const repr: TcpRepr = { ...base, flags: all, urgentPointer: 7 };
    const out = new Uint8Array(20);
    emitTcp(repr, undefined, 0, out, 0, { mode: 'keep' });
    const parsed = parseTcp(out);
    expect(parsed.ok && parsed.value.repr).toEqual(repr);
  });

  it('computes a checksum that verifies, for IPv4 and IPv6 and odd payload lengths', () => {
    for (const [src, dst] of [
      [addr('192.0.2.1'), addr('198.51.100.7')],
      [addr('2001:db8::1'), addr('2001:db8:ffff::2')],
    ] as const) {
      for (const n of [0, 1, 3, 31, 32, 33, 1460]) {
        const payload = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
        const repr: TcpRepr = { ...base, options: [NOP_OPTION, NOP_OPTION, { kind: 'timestamps', tsVal: n, tsEcr: 0xffffffff }] };
        const out = new Uint8Array(tcpHeaderLength(repr) + n + 1);
        const length = emitTcp(repr, payload, n, out, 1, { mode: 'full', src, dst });
        expect(verifyTcpChecksum(out.subarray(1, 1 + length), src, dst)).toBe(true);
      }
    }
  });

  it('throws RangeError on reprs no segment can carry and on a short buffer', () => {
    const ts = { kind: 'timestamps', tsVal: 1, tsEcr: 2 } as const;
    const tooMany: TcpRepr = { ...base, options: [ts, ts, ts, ts, { kind: 'mss', mss: 1 }] };
    expect(() => emitTcp(tooMany, undefined, 0, new Uint8Array(100), 0, { mode: 'keep' })).toThrow(RangeError);
    expect(() => emitTcp(base, undefined, 10, new Uint8Array(29), 0, { mode: 'keep' })).toThrow(RangeError);
    expect(() => emitTcp(base, new Uint8Array(3), 4, new Uint8Array(64), 0, { mode: 'keep' })).toThrow(RangeError);
  });
});

describe('parse errors', () => {
  const cases: [string, Uint8Array, string][] = [
    ['fewer than 20 bytes', kernel.rstNoOptions.segment.subarray(0, 19), 'TRUNCATED'],
    ['a data offset below 5', Uint8Array.from(kernel.rstNoOptions.segment, (b, i) => (i === 12 ? 0x40 : b)), 'BAD_HEADER_LENGTH'],
    ['a data offset beyond the segment', kernel.syn4.segment.subarray(0, 36), 'TRUNCATED'],
    ['options with a zero length', Uint8Array.from(kernel.fin4.segment, (b, i) => (i === 23 ? 0 : b)), 'BAD_OPTION'],
  ];
  for (const [name, bytes, code] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      expect(parseTcp(bytes)).toMatchObject({ ok: false, layer: 'tcp', code });
      if (code !== 'BAD_OPTION') expect(TcpView.wrap(bytes)).toMatchObject({ ok: false, layer: 'tcp', code });
    });
  }

  it('never throws on random bytes, and re-encodes whatever it accepts', () => {
    const random = seededRandom('tcp fuzz');
    const next = (): number => random.uint32();
    let accepted = 0;
    for (let n = 0; n < 5000; n++) {
      const bytes = new Uint8Array(next() % 80);
      for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
      if (bytes.length > 12) bytes[12] = ((5 + (next() % 11)) << 4) | (bytes[12]! & 0x0f);
      const parsed = parseTcp(bytes);
      if (!parsed.ok) continue;
      accepted++;
      const out = new Uint8Array(bytes.length);
      emitTcp(parsed.value.repr, parsed.value.payload, parsed.value.payload.length, out, 0, { mode: 'keep' });
      expect(toHex(out)).toBe(toHex(bytes));
    }
    expect(accepted).toBeGreaterThan(200);
  });
});
