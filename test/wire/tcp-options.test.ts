import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../stack/random.js';
import {
  emitTcpOptions,
  NOP_OPTION,
  parseTcpOptions,
  SACK_PERMITTED_OPTION,
  tcpOptionsLength,
  type TcpOption,
} from '../../stack/wire/tcp-options.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function parse(wire: string): TcpOption[] {
  const result = parseTcpOptions(hex(wire));
  if (!result.ok) throw new Error(`${result.code}: ${result.message}`);
  return result.value;
}

function emit(options: TcpOption[]): string {
  const out = new Uint8Array(tcpOptionsLength(options));
  expect(emitTcpOptions(options, out, 0)).toBe(out.length);
  return toHex(out);
}

const nop = NOP_OPTION;
const ts = (tsVal: number, tsEcr: number): TcpOption => ({ kind: 'timestamps', tsVal, tsEcr });

// Option lists of segments the Linux 6.18 kernel sent between two network namespaces over a
// veth pair, captured with tcpdump (Python sockets; MPTCP ones with IPPROTO_MPTCP; the SACK
// after an nft rule in the receiver's input hook dropped one 1000-byte segment). The whole
// segments are in test/wire/tcp.test.ts.
describe('option lists captured from Linux', () => {
  const cases: [string, string, TcpOption[]][] = [
    [
      'SYN: MSS, SACK permitted, timestamps, NOP, window scale',
      '020405b4 0402 080aaeb3315b00000000 01 03030a',
      [{ kind: 'mss', mss: 1460 }, SACK_PERMITTED_OPTION, ts(2930979163, 0), nop, { kind: 'windowScale', shift: 10 }],
    ],
    ['established: NOP NOP timestamps', '0101 080aaeb3315bca3f5e99', [nop, nop, ts(2930979163, 3393150617)]],
    [
      'duplicate ACK with one SACK block',
      '0101 080ab1a781505ff649f5 0101 050aebb1885febb18c47',
      [nop, nop, ts(2980544848, 1609976309), nop, nop, { kind: 'sack', blocks: [{ left: 3954280543, right: 3954281543 }] }],
    ],
    [
      'MPTCP SYN: MP_CAPABLE after the usual SYN options',
      '020405b4 0402 080aa750db8000000000 01 03030a 1e040101',
      [
        { kind: 'mss', mss: 1460 },
        SACK_PERMITTED_OPTION,
        ts(2807094144, 0),
        nop,
        { kind: 'windowScale', shift: 10 },
        { kind: 'mptcp', option: { subtype: 'mpCapable', version: 1, flags: 1 } },
      ],
    ],
    [
      'data with a DSS mapping, NOP-padded',
      '0101 080aa750db814000f742 1e16200dbfcbf4c0ef79f38cedefc30f00000001000f 0101',
      [
        nop,
        nop,
        ts(2807094145, 1073805122),
        {
          kind: 'mptcp',
          option: {
            subtype: 'dss',
            dataAck: 0xbfcbf4c0n,
            dataAck64: false,
            mapping: { dsn: 0xef79f38cedefc30fn, subflowSeq: 1, dataLength: 15 },
            dsn64: true,
            dataFin: false,
          },
        },
        nop,
        nop,
      ],
    ],
    [
      'DSS then MP_PRIO then NOP',
      '0101 080a6a4220e96bbc9ca8 1e0c20031df9bc51bfcbf4d4 1e0351 01',
      [
        nop,
        nop,
        ts(1782718697, 1807522984),
        {
          kind: 'mptcp',
          option: { subtype: 'dss', dataAck: 0x1df9bc51bfcbf4d4n, dataAck64: true, dsn64: false, dataFin: false },
        },
        { kind: 'mptcp', option: { subtype: 'mpPrio', backup: true } },
        nop,
      ],
    ],
    [
      'RST with MP_FASTCLOSE and MP_TCPRST',
      '0101 080aa750e1734000f743 1e0c700055d016b747414178 1e048000',
      [
        nop,
        nop,
        ts(2807095667, 1073805123),
        { kind: 'mptcp', option: { subtype: 'mpFastclose', receiverKey: 0x55d016b747414178n } },
        { kind: 'mptcp', option: { subtype: 'mpTcpRst', flags: 0, reason: 0 } },
      ],
    ],
  ];
  for (const [name, wire, expected] of cases) {
    it(name, () => {
      const options = parse(wire);
      expect(options).toEqual(expected);
      expect(emit(options)).toBe(toHex(hex(wire)));
      expect(emit(expected)).toBe(toHex(hex(wire)));
    });
  }

  it('returns the shared NOP object, not one allocation per NOP', () => {
    const options = parse('0101 080aaeb3315bca3f5e99');
    expect(options[0]).toBe(NOP_OPTION);
    expect(options[1]).toBe(NOP_OPTION);
  });
});

describe('option lists from other senders', () => {
  const cases: [string, string, TcpOption[]][] = [
    [
      'EOL with zero padding to the 4-byte boundary (macOS-style SYN)',
      '020405b4 01 030306 0101 080a0000000100000000 0402 00 00',
      [
        { kind: 'mss', mss: 1460 },
        nop,
        { kind: 'windowScale', shift: 6 },
        nop,
        nop,
        ts(1, 0),
        SACK_PERMITTED_OPTION,
        { kind: 'eol', padding: 1 },
      ],
    ],
    ['EOL as the very last byte', '020405b4 0101 01 00', [{ kind: 'mss', mss: 1460 }, nop, nop, nop, { kind: 'eol', padding: 0 }]],
    [
      'EOL followed by non-zero bytes, kept as they were',
      '0101 00 ab00cd',
      [nop, nop, { kind: 'eol', padding: 3, trailing: hex('ab00cd') }],
    ],
    [
      'SACK with four blocks (the most that fits)',
      '0101 0522 00000001000000020000000300000004fffffff0fffffff8ffffffff00000010',
      [
        nop,
        nop,
        {
          kind: 'sack',
          blocks: [
            { left: 1, right: 2 },
            { left: 3, right: 4 },
            { left: 0xfffffff0, right: 0xfffffff8 },
            { left: 0xffffffff, right: 0x10 },
          ],
        },
      ],
    ],
    ['TCP Fast Open cookie (kind 34) is kept raw', '220a0102030405060708', [{ kind: 'unknown', type: 34, data: hex('0102030405060708') }]],
    ['an empty unknown option', 'fd02', [{ kind: 'unknown', type: 253, data: new Uint8Array(0) }]],
    // Known kinds with lengths their RFCs do not allow are skipped as Linux does, not decoded.
    ['MSS of length 3', '020305 01', [{ kind: 'unknown', type: 2, data: hex('05') }, nop]],
    ['window scale of length 4', '03040e00', [{ kind: 'unknown', type: 3, data: hex('0e00') }]],
    ['SACK permitted of length 3', '040300 01', [{ kind: 'unknown', type: 4, data: hex('00') }, nop]],
    ['SACK without blocks', '0502 0101', [{ kind: 'unknown', type: 5, data: new Uint8Array(0) }, nop, nop]],
    ['SACK of length 11', '050b 000000010000000200', [{ kind: 'unknown', type: 5, data: hex('000000010000000200') }]],
    ['timestamps of length 8', '0808 000000010000', [{ kind: 'unknown', type: 8, data: hex('000000010000') }]],
    // RFC 8684 3: a malformed MPTCP option is ignored, so the header must still parse.
    [
      'a well-framed but malformed MPTCP option',
      '1e03 20 01',
      [{ kind: 'mptcp', option: { subtype: 'malformed', type: 2, raw: hex('20'), reason: expect.any(String) as string } }, nop],
    ],
    ['no options', '', []],
  ];
  for (const [name, wire, expected] of cases) {
    it(name, () => {
      const options = parse(wire);
      expect(options).toEqual(expected);
      expect(emit(options)).toBe(toHex(hex(wire)));
    });
  }

  it('copies raw option bytes, so they survive reuse of the packet buffer', () => {
    const bytes = hex('220a0102030405060708');
    const result = parseTcpOptions(bytes);
    bytes.fill(0);
    expect(result.ok && result.value[0]).toEqual({ kind: 'unknown', type: 34, data: hex('0102030405060708') });
  });

  it('parses a sub-range of a larger buffer', () => {
    const segment = hex('ffffffff 0101080a0000000100000002 ffff');
    const result = parseTcpOptions(segment, 4, 12);
    expect(result.ok && result.value).toEqual([nop, nop, ts(1, 2)]);
  });
});

describe('framing errors are BAD_OPTION, never a throw', () => {
  const cases: [string, string, RegExp][] = [
    ['length 0', '0101 0200', /length 0/],
    ['length 1', '0201', /length 1/],
    ['an option running past the header', '0101 080a00000001', /runs past/],
    ['a kind byte without its length byte', '0101 02', /no length byte/],
    ['an MPTCP option running past the header', '1e0c2003ef79', /runs past/],
  ];
  for (const [name, wire, message] of cases) {
    it(name, () => {
      const result = parseTcpOptions(hex(wire));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.code).toBe('BAD_OPTION');
      expect(result.layer).toBe('tcp');
      expect(result.message).toMatch(message);
    });
  }

  it('rejects a range outside the buffer as TRUNCATED', () => {
    const result = parseTcpOptions(new Uint8Array(8), 4, 8);
    expect(result).toMatchObject({ ok: false, code: 'TRUNCATED' });
  });

  it('never throws on random bytes, and re-encodes whatever it accepts', () => {
    const random = seededRandom('tcp-options fuzz');
    const next = (): number => random.uint32();
    let accepted = 0;
    for (let n = 0; n < 20000; n++) {
      const bytes = new Uint8Array(next() % 41);
      // Bias towards small kinds and lengths so that real options come up often.
      for (let i = 0; i < bytes.length; i++) bytes[i] = next() % 3 === 0 ? [0, 1, 2, 3, 4, 5, 8, 30][next() % 8]! : next() % 40;
      const result = parseTcpOptions(bytes);
      if (!result.ok) continue;
      accepted++;
      expect(emit(result.value)).toBe(toHex(bytes));
    }
    expect(accepted).toBeGreaterThan(1000);
  });
});

describe('emitting', () => {
  it('refuses more than 40 bytes of options', () => {
    const options: TcpOption[] = [ts(1, 2), ts(3, 4), ts(5, 6), ts(7, 8), { kind: 'mss', mss: 1 }];
    expect(tcpOptionsLength(options)).toBe(44);
    expect(() => emitTcpOptions(options, new Uint8Array(64), 0)).toThrow(RangeError);
  });

  it('refuses a buffer too small for the options', () => {
    expect(() => emitTcpOptions([ts(1, 2)], new Uint8Array(12), 4)).toThrow(RangeError);
  });

  it('writes zero padding after an EOL built without trailing bytes', () => {
    const out = new Uint8Array(8).fill(0xee);
    expect(emitTcpOptions([{ kind: 'mss', mss: 536 }, { kind: 'eol', padding: 3 }], out, 0)).toBe(8);
    expect(toHex(out)).toBe('0204021800000000');
  });
});
