import { describe, expect, it } from 'vitest';
import {
  emitMptcpOption,
  mptcpOptionLength,
  MP_CAPABLE_CHECKSUM_REQUIRED,
  MP_CAPABLE_HMAC_SHA256,
  MP_TCPRST_MIDDLEBOX_INTERFERENCE,
  MP_TCPRST_TRANSIENT,
  MP_TCPRST_U,
  parseMptcpOption,
  TCP_OPTION_MPTCP,
  type MptcpOption,
} from '../../stack/wire/mptcp-options.js';
import { parseAddress } from '../../stack/wire/address.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Parses a whole option (kind, length, data) and checks the kind and length bytes. */
function parseWhole(option: Uint8Array): MptcpOption {
  expect(option[0]).toBe(TCP_OPTION_MPTCP);
  expect(option[1]).toBe(option.length);
  return parseMptcpOption(option, 2);
}

function emit(opt: MptcpOption): Uint8Array {
  const out = new Uint8Array(mptcpOptionLength(opt));
  expect(emitMptcpOption(opt, out, 0)).toBe(out.length);
  return out;
}

// MPTCP options copied byte for byte out of segments the Linux 6.18 kernel sent between two
// network namespaces joined by a veth pair (tx checksum offload off), captured with
// `tcpdump -w` on the server's veth. Both sides ran Python sockets with IPPROTO_MPTCP (262),
// net.mptcp.enabled=1, `ip mptcp limits set subflows 2 add_addr_accepted 2`; the client had
// a `subflow` endpoint on a second address (joins), the server a `signal` endpoint
// (ADD_ADDR; once with `port 6000`, once an IPv6 address); `ip mptcp endpoint change ...
// backup` gave MP_PRIO, `endpoint delete` REMOVE_ADDR, close() with SO_LINGER 0
// MP_FASTCLOSE + MP_TCPRST. With net.mptcp.checksum_enabled=1 and an nft rule rewriting one
// payload byte in the server's prerouting hook the kernel produced DSS checksums and MP_FAIL.
// The same option bytes appear inside whole segments in test/wire/tcp.test.ts.
const kernel = {
  mpCapableSyn: '1e040101',
  mpCapableSynChecksum: '1e040181',
  mpCapableSynAck: '1e0c0101 55d016b747414178',
  mpCapableAck: '1e140101 b3dc2585d647e23b 55d016b747414178',
  mpCapableAckData: '1e160101 c4603736b023e6cf a31be32898a7a2ca 000f',
  mpCapableAckDataChecksum: '1e180181 d4445f61a7139445 a9358e62ecbe2f3b 000f 39fe',
  mpJoinSyn: '1e0c1001 ac86f95c e0d2da9b',
  mpJoinSynAck: '1e101000 0e5b322af0dc6c90 b47c204a',
  mpJoinAck: '1e181000 81c6e0d2ac756f5304374c38884381742c6be262',
  dssAck32: '1e082001 edefc30f',
  dssAck64: '1e0c2003 ef79f38cedefc31e',
  dssAck32Map64: '1e16200d bfcbf4c0 ef79f38cedefc30f 00000001 000f',
  dssAck64Map64: '1e1a200f ef79f38cedefc31e 1df9bc51bfcbf4c0 00000001 0014',
  dssDataFin: '1e1a201f acd9b7cc8aec1a43 21aaa9eccc724df1 00000000 0001',
  dssChecksum: '1e1c200f 706f1547421f9e99 625def8a02e3ac12 00000001 0004 2046',
  addAddr4: '1e103001 0a4d000c 88acad364b6a3b94',
  addAddr4Echo: '1e083101 0a4d000c',
  addAddr4Port: '1e123001 0a4d000c 1770 0ab6633b00576701',
  addAddr4PortEcho: '1e0a3101 0a4d000c 1770',
  addAddr6: '1e1c3001 fd770000000000000000000000000012 70aa80ac0aef4b3a',
  addAddr6Echo: '1e143101 fd770000000000000000000000000012',
  removeAddr: '1e044001',
  mpPrioBackup: '1e0351',
  mpFail: '1e0c6000 706f1547421f9e99',
  mpFastclose: '1e0c7000 55d016b747414178',
  mpTcpRst: '1e048000',
};

describe('MPTCP options captured from Linux', () => {
  const expected: Record<keyof typeof kernel, MptcpOption> = {
    mpCapableSyn: { subtype: 'mpCapable', version: 1, flags: MP_CAPABLE_HMAC_SHA256 },
    mpCapableSynChecksum: {
      subtype: 'mpCapable',
      version: 1,
      flags: MP_CAPABLE_CHECKSUM_REQUIRED | MP_CAPABLE_HMAC_SHA256,
    },
    mpCapableSynAck: { subtype: 'mpCapable', version: 1, flags: 1, senderKey: 0x55d016b747414178n },
    mpCapableAck: {
      subtype: 'mpCapable',
      version: 1,
      flags: 1,
      senderKey: 0xb3dc2585d647e23bn,
      receiverKey: 0x55d016b747414178n,
    },
    mpCapableAckData: {
      subtype: 'mpCapable',
      version: 1,
      flags: 1,
      senderKey: 0xc4603736b023e6cfn,
      receiverKey: 0xa31be32898a7a2can,
      dataLength: 15,
    },
    mpCapableAckDataChecksum: {
      subtype: 'mpCapable',
      version: 1,
      flags: 0x81,
      senderKey: 0xd4445f61a7139445n,
      receiverKey: 0xa9358e62ecbe2f3bn,
      dataLength: 15,
      checksum: 0x39fe,
    },
    mpJoinSyn: { subtype: 'mpJoinSyn', backup: false, addressId: 1, token: 0xac86f95c, nonce: 0xe0d2da9b },
    mpJoinSynAck: {
      subtype: 'mpJoinSynAck',
      backup: false,
      addressId: 0,
      hmac: hex('0e5b322af0dc6c90'),
      nonce: 0xb47c204a,
    },
    mpJoinAck: { subtype: 'mpJoinAck', hmac: hex('81c6e0d2ac756f5304374c38884381742c6be262') },
    dssAck32: { subtype: 'dss', dataAck: 0xedefc30fn, dataAck64: false, dsn64: false, dataFin: false },
    dssAck64: { subtype: 'dss', dataAck: 0xef79f38cedefc31en, dataAck64: true, dsn64: false, dataFin: false },
    dssAck32Map64: {
      subtype: 'dss',
      dataAck: 3217814720n,
      dataAck64: false,
      mapping: { dsn: 17256091233859650319n, subflowSeq: 1, dataLength: 15 },
      dsn64: true,
      dataFin: false,
    },
    dssAck64Map64: {
      subtype: 'dss',
      dataAck: 17256091233859650334n,
      dataAck64: true,
      mapping: { dsn: 2159964555597051072n, subflowSeq: 1, dataLength: 20 },
      dsn64: true,
      dataFin: false,
    },
    // RFC 8684 3.3.3: a DATA_FIN without data is a mapping with SSN 0 and length 1.
    dssDataFin: {
      subtype: 'dss',
      dataAck: 12455188333601757763n,
      dataAck64: true,
      mapping: { dsn: 2425938183799852529n, subflowSeq: 0, dataLength: 1 },
      dsn64: true,
      dataFin: true,
    },
    dssChecksum: {
      subtype: 'dss',
      dataAck: 0x706f1547421f9e99n,
      dataAck64: true,
      mapping: { dsn: 0x625def8a02e3ac12n, subflowSeq: 1, dataLength: 4, checksum: 0x2046 },
      dsn64: true,
      dataFin: false,
    },
    addAddr4: {
      subtype: 'addAddr',
      echo: false,
      addressId: 1,
      address: parseAddress('10.77.0.12')!,
      hmac: hex('88acad364b6a3b94'),
    },
    addAddr4Echo: { subtype: 'addAddr', echo: true, addressId: 1, address: parseAddress('10.77.0.12')! },
    addAddr4Port: {
      subtype: 'addAddr',
      echo: false,
      addressId: 1,
      address: parseAddress('10.77.0.12')!,
      port: 6000,
      hmac: hex('0ab6633b00576701'),
    },
    addAddr4PortEcho: { subtype: 'addAddr', echo: true, addressId: 1, address: parseAddress('10.77.0.12')!, port: 6000 },
    addAddr6: {
      subtype: 'addAddr',
      echo: false,
      addressId: 1,
      address: parseAddress('fd77::12')!,
      hmac: hex('70aa80ac0aef4b3a'),
    },
    addAddr6Echo: { subtype: 'addAddr', echo: true, addressId: 1, address: parseAddress('fd77::12')! },
    removeAddr: { subtype: 'removeAddr', addressIds: [1] },
    mpPrioBackup: { subtype: 'mpPrio', backup: true },
    mpFail: { subtype: 'mpFail', dsn: 0x706f1547421f9e99n },
    mpFastclose: { subtype: 'mpFastclose', receiverKey: 0x55d016b747414178n },
    mpTcpRst: { subtype: 'mpTcpRst', flags: 0, reason: 0 },
  };

  for (const [name, wire] of Object.entries(kernel) as [keyof typeof kernel, string][]) {
    it(`${name}: decodes to the expected fields and re-encodes byte for byte`, () => {
      const bytes = hex(wire);
      const opt = parseWhole(bytes);
      expect(opt).toEqual(expected[name]);
      expect(mptcpOptionLength(opt)).toBe(bytes.length);
      expect(toHex(emit(opt))).toBe(toHex(bytes));
      // Building the option from the expected fields gives the kernel's bytes too.
      expect(toHex(emit(expected[name]))).toBe(toHex(bytes));
    });
  }
});

describe('MPTCP option variants Linux does not send in the captures', () => {
  const roundTrips: [string, string, MptcpOption][] = [
    [
      'ADD_ADDR IPv6 with port (30)',
      '1e1e3002 20010db8000000000000000000000001 01bb 0102030405060708',
      {
        subtype: 'addAddr',
        echo: false,
        addressId: 2,
        address: parseAddress('2001:db8::1')!,
        port: 443,
        hmac: hex('0102030405060708'),
      },
    ],
    [
      'ADD_ADDR IPv6 echo with port (22)',
      '1e163102 20010db8000000000000000000000001 01bb',
      { subtype: 'addAddr', echo: true, addressId: 2, address: parseAddress('2001:db8::1')!, port: 443 },
    ],
    [
      'MP_JOIN SYN with the backup flag',
      '1e0c1105 01020304 05060708',
      { subtype: 'mpJoinSyn', backup: true, addressId: 5, token: 0x01020304, nonce: 0x05060708 },
    ],
    [
      'DSS with a 32-bit DSN mapping and no DATA_ACK (14)',
      '1e0e2004 fffffffe 00001000 05dc',
      {
        subtype: 'dss',
        dataAck64: false,
        mapping: { dsn: 0xfffffffen, subflowSeq: 0x1000, dataLength: 1500 },
        dsn64: false,
        dataFin: false,
      },
    ],
    [
      'DSS with 32-bit DATA_ACK, 32-bit DSN and checksum (20)',
      '1e142005 00000010 00000020 00000001 0064 abcd',
      {
        subtype: 'dss',
        dataAck: 0x10n,
        dataAck64: false,
        mapping: { dsn: 0x20n, subflowSeq: 1, dataLength: 100, checksum: 0xabcd },
        dsn64: false,
        dataFin: false,
      },
    ],
    [
      'DSS infinite mapping (data-level length 0, RFC 8684 3.7)',
      '1e1a200f 0000000000000001 0000000000000002 00000003 0000',
      {
        subtype: 'dss',
        dataAck: 1n,
        dataAck64: true,
        mapping: { dsn: 2n, subflowSeq: 3, dataLength: 0 },
        dsn64: true,
        dataFin: false,
      },
    ],
    [
      'REMOVE_ADDR with several IDs',
      '1e06400102ff',
      { subtype: 'removeAddr', addressIds: [1, 2, 255] },
    ],
    ['MP_PRIO with the RFC 6824 AddrID byte', '1e045007', { subtype: 'mpPrio', backup: false, addressId: 7 }],
    [
      'MP_TCPRST with flags U and T, reason 6',
      '1e048906',
      { subtype: 'mpTcpRst', flags: MP_TCPRST_U | MP_TCPRST_TRANSIENT, reason: MP_TCPRST_MIDDLEBOX_INTERFERENCE },
    ],
    ['unknown subtype 0xf, kept raw', '1e05f0abcd', { subtype: 'unknown', type: 0xf, raw: hex('f0abcd') }],
    // Reserved bits set by a peer are kept so the option re-encodes identically.
    [
      'DSS with reserved bits set',
      '1e0825e1 00000001',
      { subtype: 'dss', dataAck: 1n, dataAck64: false, dsn64: false, dataFin: false, reserved: 0x05e0 },
    ],
    [
      'MP_JOIN ACK with reserved bits set',
      '1e181fff 00000000000000000000000000000000000000ff',
      { subtype: 'mpJoinAck', hmac: hex('00000000000000000000000000000000000000ff'), reserved: 0x0fff },
    ],
    [
      'ADD_ADDR echo with reserved bits set',
      '1e083f09 0a000001',
      { subtype: 'addAddr', echo: true, addressId: 9, address: parseAddress('10.0.0.1')!, reserved: 0x0e00 },
    ],
    ['REMOVE_ADDR with reserved bits set', '1e044a03', { subtype: 'removeAddr', addressIds: [3], reserved: 0x0a00 }],
    ['MP_PRIO with reserved bits set', '1e035e', { subtype: 'mpPrio', backup: false, reserved: 0x0e00 }],
    [
      'MP_FAIL with reserved bits set',
      '1e0c6123 0000000000000009',
      { subtype: 'mpFail', dsn: 9n, reserved: 0x0123 },
    ],
    [
      'MP_FASTCLOSE with reserved bits set',
      '1e0c7800 ffffffffffffffff',
      { subtype: 'mpFastclose', receiverKey: 0xffffffffffffffffn, reserved: 0x0800 },
    ],
    [
      'MP_CAPABLE version 0 flags B set (kept; validating them is the stack\'s job)',
      '1e0c0040 0000000000000001',
      { subtype: 'mpCapable', version: 0, flags: 0x40, senderKey: 1n },
    ],
  ];

  for (const [name, wire, expected] of roundTrips) {
    it(name, () => {
      const bytes = hex(wire);
      const opt = parseWhole(bytes);
      expect(opt).toEqual(expected);
      expect(toHex(emit(opt))).toBe(toHex(bytes));
    });
  }

  it('keeps the a and m flags of a DSS that carries neither DATA_ACK nor mapping', () => {
    const bytes = hex('1e04200a');
    const opt = parseWhole(bytes);
    expect(opt).toEqual({ subtype: 'dss', dataAck64: true, dsn64: true, dataFin: false });
    expect(toHex(emit(opt))).toBe('1e04200a');
  });

  it('writes only the low 32 bits of a DATA_ACK or DSN sent 4 bytes wide (RFC 8684 3.3)', () => {
    const opt: MptcpOption = {
      subtype: 'dss',
      dataAck: 0x1234567800000009n,
      dataAck64: false,
      mapping: { dsn: 0xabcdef0100000002n, subflowSeq: 7, dataLength: 3 },
      dsn64: false,
      dataFin: true,
    };
    expect(toHex(emit(opt))).toBe('1e122015' + '00000009' + '00000002' + '00000007' + '0003');
  });

  it('reads 64-bit values across the whole range', () => {
    for (const v of [0n, 1n, 0x1fffff_ffffffffn, 0x200000_00000000n, 0xffffffffffffffffn, 0x8000000000000000n]) {
      const opt = parseWhole(emit({ subtype: 'mpFail', dsn: v }));
      expect(opt).toEqual({ subtype: 'mpFail', dsn: v });
    }
  });

  it('parses option data in place inside a larger buffer', () => {
    const segment = hex('0101 080a0000000100000002 1e082001edefc30f');
    expect(parseMptcpOption(segment, 14, 6)).toEqual({
      subtype: 'dss',
      dataAck: 0xedefc30fn,
      dataAck64: false,
      dsn64: false,
      dataFin: false,
    });
  });

  it('copies byte fields, so they survive reuse of the packet buffer', () => {
    const bytes = hex(kernel.addAddr4);
    const opt = parseWhole(bytes);
    bytes.fill(0);
    expect(opt).toMatchObject({ address: parseAddress('10.77.0.12'), hmac: hex('88acad364b6a3b94') });
  });
});

describe('malformed MPTCP options are kept, not fatal (RFC 8684 3)', () => {
  const cases: [string, string, number | undefined][] = [
    ['no subtype byte', '1e02', undefined],
    ['MP_CAPABLE of length 13', '1e0d0101 000000000000000000', 0],
    ['MP_CAPABLE of length 5', '1e050101 00', 0],
    ['MP_JOIN of length 14', '1e0e1001 0000000000000000 0000', 1],
    ['DSS shorter than its DATA_ACK', '1e062003 0000', 2],
    ['DSS with a mapping flag but no room for it', '1e0c2005 00000000 00000000', 2],
    ['DSS with two bytes too many and no mapping', '1e0a2001 00000000 0000', 2],
    ['DSS of length 3', '1e0320', 2],
    ['ADD_ADDR without echo but without HMAC (length 8)', '1e083001 0a000001', 3],
    ['ADD_ADDR echo carrying an HMAC (length 16)', '1e103101 0a000001 0000000000000000', 3],
    ['ADD_ADDR of length 12', '1e0c3001 0a000001 00000000', 3],
    ['REMOVE_ADDR without IDs', '1e0340', 4],
    ['MP_PRIO of length 5', '1e055000 00', 5],
    ['MP_FAIL of length 11', '1e0b6000 00000000000000', 6],
    ['MP_FASTCLOSE of length 13', '1e0d7000 0000000000000000 00', 7],
    ['MP_TCPRST of length 5', '1e058000 00', 8],
  ];
  for (const [name, wire, type] of cases) {
    it(name, () => {
      const bytes = hex(wire);
      const opt = parseWhole(bytes);
      expect(opt.subtype).toBe('malformed');
      if (opt.subtype !== 'malformed') return;
      expect(opt.type).toBe(type);
      expect(opt.reason).toMatch(/\S/);
      expect(toHex(opt.raw)).toBe(toHex(bytes.subarray(2)));
      expect(toHex(emit(opt))).toBe(toHex(bytes));
    });
  }

  it('reports option data running past the buffer as malformed instead of reading beyond it', () => {
    const opt = parseMptcpOption(hex('2001edef'), 0, 10);
    expect(opt).toMatchObject({ subtype: 'malformed', type: 2, raw: hex('2001edef') });
  });
});

describe('emitting options no parse could produce is a caller bug', () => {
  it('rejects an HMAC of the wrong size', () => {
    const opt: MptcpOption = { subtype: 'mpJoinAck', hmac: new Uint8Array(8) };
    expect(() => emit(opt)).toThrow(RangeError);
  });

  it('rejects an MP_CAPABLE receiver key without a sender key', () => {
    const opt: MptcpOption = { subtype: 'mpCapable', version: 1, flags: 1, receiverKey: 5n };
    expect(() => emit(opt)).toThrow(/senderKey/);
  });

  it('rejects an ADD_ADDR address that is neither IPv4 nor IPv6', () => {
    const opt: MptcpOption = { subtype: 'addAddr', echo: true, addressId: 1, address: new Uint8Array(5) };
    expect(() => emit(opt)).toThrow(RangeError);
  });

  it('rejects a buffer too small for the option', () => {
    expect(() => emitMptcpOption({ subtype: 'mpTcpRst', flags: 0, reason: 0 }, new Uint8Array(6), 3)).toThrow(RangeError);
  });
});
