import { describe, expect, it } from 'vitest';
import {
  addAddrHmac,
  dssChecksum,
  generateKey,
  joinAckHmac,
  joinSynAckHmac,
  keyBytes,
  keyToIdsn,
  keyToToken,
  keyToTokenAndIdsn,
  keyValue,
  macEquals,
} from '../../stack/mptcp/crypto.js';
import { seededRandom } from '../../stack/random.js';
import { parseAddress } from '../../stack/wire/address.js';

// Every vector below is a raw MPTCP option (kind 30) captured from Linux 6.18 talking to
// itself: scripts/capture-mptcp-vectors builds two network namespaces joined by three veth
// pairs (10.99.{1,2,3}.0/24 and fd99:{1,2,3}::/64, tx checksum offload off), sets
// net.mptcp.enabled=1 and `ip mptcp limits set subflows 4 add_addr_accepted 4`, adds a
// client `subflow` endpoint on the second pair and two server `signal` endpoints (one with
// port 10100), runs a python3 socket(AF_INET[6], SOCK_STREAM, 262) client and server that
// exchange 'namestack-mptcp-' repeated, and prints the options from `tcpdump -w`. Mode
// `csum` adds net.mptcp.checksum_enabled=1 on the client. The keys differ on every run;
// these are from one run of each mode.

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const u32 = (s: string): number => parseInt(s, 16) >>> 0;
const payload = (repeats: number): Uint8Array => new TextEncoder().encode('namestack-mptcp-'.repeat(repeats));

/** IPv4 run: client 10.99.1.1 -> server 10.99.1.2:5000. */
const v4 = {
  // third ACK of the initial subflow: 1e14 01 01 | Key-A (client) | Key-B (server)
  mpCapableAck: '1e140101c94910b0de10cf833084f10b6952cb7d',
  // first DSS of each direction: 1e16 20 0d | DATA_ACK32 | DSN64 | SSN | length
  clientDss: '1e16200dd462246dcec81cbfad8c0355000000010190',
  // 1e1a 20 0f | DATA_ACK64 | DSN64 | SSN | length
  serverDss: '1e1a200fcec81cbfad8c0b25bc42e346d462246d000000010140',
  joins: [
    {
      // 10.99.2.1 -> 10.99.2.2:10100 (the address announced with a port)
      syn: '1e0c1001167dfccef7234fc2', // flags 0, id 1, token, R-A
      synAck: '1e1010024461834af811fb136fc406df', // id 2, truncated HMAC-B, R-B
      ack: '1e181000303f573487d8a4da7e39860d3ffe48e510bae568', // HMAC-A (160 bits)
    },
    {
      // 10.99.2.1 -> 10.99.1.2:5000 (the client's subflow endpoint to the initial address)
      syn: '1e0c1001167dfccec25d37b3',
      synAck: '1e101000e6e16b47a2f299a1d15a59b0',
      ack: '1e181000a552913efd508e67da5c195e12a27bdaf8ba96a0',
    },
    {
      // 10.99.3.1 -> 10.99.3.2:5000 (the address announced without a port)
      syn: '1e0c1002167dfcce4ec3a156',
      synAck: '1e10100168e1f42642a18779aaa162b2',
      ack: '1e1810000846642104da6ba0db6ce2aa23958f6065512078',
    },
  ],
  // server -> client: 1e12 30 | id 2 | 10.99.2.2 | port 10100 | HMAC (64 bits)
  addAddrPort: '1e1230020a63020227740d3d5f712d008435',
  // server -> client: 1e10 30 | id 1 | 10.99.3.2 | HMAC
  addAddr: '1e1030010a6303023ee91b95d428d980',
};

/** IPv6 run: client fd99:1::1 -> server fd99:1::2:5000. */
const v6 = {
  mpCapableAck: '1e140101a3265625f4b15b4379dabb3e4ec9d51a',
  clientDss: '1e16200dcbbdc05db335ece4a93624c1000000010190',
  serverDss: '1e1a200fb335ece4a9362c913465fccdcbbdc05d000000010140',
  join: {
    // fd99:3::1 -> fd99:3::2:5000
    syn: '1e0c10029f7db55b2636c807',
    synAck: '1e101001b3bddff5fc0b1ea6f1351bf1',
    ack: '1e181000986fa57738112336ad2d796761c2b01fc8670622',
  },
  // 1e1c 30 | id 1 | fd99:3::2 | HMAC
  addAddr: '1e1c3001fd990003000000000000000000000002e137c97bc2c004f1',
};

/** Checksum run (IPv4, checksum_enabled=1 on the client, so both sides checksum). */
const csum = {
  // 1e18 01 81 (A flag: checksum required) | Key-A | Key-B | length 400 | checksum, + 400 bytes
  mpCapableData: '1e180181cf3d26cd0e7c2daf750e3535de43f9600190d64c',
  // client DSS for 1600 bytes sent as two segments of 1424 and 176 bytes
  clientDss: '1e18200d183fab4280f33fe046a56929000001910640a34d',
  // server DSS for 320 bytes
  serverDss: '1e1c200f80f33fe046a56f69e4465927183fab4200000001014069c2',
  // DATA_FINs without data: SSN 0, length 1
  clientDataFin: '1e1c201fe4465927183fac8280f33fe046a56f69000000000001891c',
  serverDataFin: '1e1c201f80f33fe046a56f6ae4465927183fac82000000000001fdce',
};

describe('keys, tokens and IDSNs (RFC 8684 2.1, 3.1)', () => {
  for (const [name, run, joinSyns] of [
    ['IPv4', v4, v4.joins.map((j) => j.syn)],
    ['IPv6', v6, [v6.join.syn]],
  ] as const) {
    it(`derive the kernel's token (MP_JOIN SYN) and IDSN (first DSN - 1) on the ${name} run`, () => {
      const keyA = h(run.mpCapableAck.slice(8, 24));
      const keyB = h(run.mpCapableAck.slice(24, 40));
      // The client's joins name the server's token.
      for (const syn of joinSyns) expect(keyToToken(keyB)).toBe(u32(syn.slice(8, 16)));
      // First DSN of each direction is IDSN + 1 (client DSS: DSN after a 4-byte DATA_ACK).
      expect(keyToIdsn(keyA) + 1n).toBe(BigInt('0x' + run.clientDss.slice(16, 32)));
      expect(keyToIdsn(keyB) + 1n).toBe(BigInt('0x' + run.serverDss.slice(24, 40)));
      // bigint and byte forms of a key agree
      expect(keyToTokenAndIdsn(keyValue(keyA))).toEqual({ token: keyToToken(keyA), idsn: keyToIdsn(keyA) });
      expect(keyBytes(keyValue(keyB))).toEqual(keyB);
    });
  }

  it('derives the IDSN of the checksum run from its MP_CAPABLE+data mapping (DSN = IDSN+1, SSN 1)', () => {
    const keyB = h(csum.mpCapableData.slice(24, 40));
    expect(keyToIdsn(keyB) + 1n).toBe(BigInt('0x' + csum.serverDss.slice(24, 40)));
  });
});

describe('MP_JOIN HMACs (RFC 8684 3.2) equal the kernel', () => {
  const cases = [
    ...v4.joins.map((j) => ({ run: v4, join: j })),
    { run: v6, join: v6.join },
  ];
  it.each(cases.map((c, i) => [i, c] as const))('join %i', (_i, { run, join }) => {
    const keyA = h(run.mpCapableAck.slice(8, 24)); // initiator of the join (client)
    const keyB = h(run.mpCapableAck.slice(24, 40));
    const nonceA = u32(join.syn.slice(16, 24));
    const nonceB = u32(join.synAck.slice(24, 32));
    expect(hexOf(joinSynAckHmac(keyB, keyA, nonceB, nonceA))).toBe(join.synAck.slice(8, 24));
    expect(hexOf(joinAckHmac(keyA, keyB, nonceA, nonceB))).toBe(join.ack.slice(8, 48));
  });

  it('a wrong nonce order or key order gives a different MAC', () => {
    const { syn, synAck } = v4.joins[0]!;
    const keyA = h(v4.mpCapableAck.slice(8, 24));
    const keyB = h(v4.mpCapableAck.slice(24, 40));
    const nonceA = u32(syn.slice(16, 24));
    const nonceB = u32(synAck.slice(24, 32));
    const good = joinSynAckHmac(keyB, keyA, nonceB, nonceA);
    expect(macEquals(good, h(synAck.slice(8, 24)))).toBe(true);
    expect(macEquals(joinSynAckHmac(keyB, keyA, nonceA, nonceB), good)).toBe(false);
    expect(macEquals(joinSynAckHmac(keyA, keyB, nonceB, nonceA), good)).toBe(false);
    expect(macEquals(good, good.subarray(0, 4))).toBe(false);
  });
});

describe('ADD_ADDR HMAC (RFC 8684 3.4.1) equals the kernel', () => {
  it('IPv4 with a port: message id || address || port', () => {
    const keyA = h(v4.mpCapableAck.slice(8, 24));
    const keyB = h(v4.mpCapableAck.slice(24, 40));
    const o = v4.addAddrPort;
    const mac = addAddrHmac(keyB, keyA, parseInt(o.slice(6, 8), 16), parseAddress('10.99.2.2')!, 10100);
    expect(hexOf(mac)).toBe(o.slice(20, 36));
    // The port is part of the message: without it the MAC differs.
    expect(hexOf(addAddrHmac(keyB, keyA, 2, parseAddress('10.99.2.2')!))).not.toBe(o.slice(20, 36));
  });

  it('IPv4 without a port: Linux still hashes two zero port bytes', () => {
    const keyA = h(v4.mpCapableAck.slice(8, 24));
    const keyB = h(v4.mpCapableAck.slice(24, 40));
    const o = v4.addAddr;
    expect(hexOf(addAddrHmac(keyB, keyA, 1, h(o.slice(8, 16))))).toBe(o.slice(16, 32));
    expect(hexOf(addAddrHmac(keyB, keyA, 1, parseAddress('10.99.3.2')!, 0))).toBe(o.slice(16, 32));
  });

  it('IPv6 without a port', () => {
    const keyA = h(v6.mpCapableAck.slice(8, 24));
    const keyB = h(v6.mpCapableAck.slice(24, 40));
    const o = v6.addAddr;
    expect(hexOf(addAddrHmac(keyB, keyA, 1, parseAddress('fd99:3::2')!))).toBe(o.slice(40, 56));
    // sender key first: swapping the keys does not verify
    expect(hexOf(addAddrHmac(keyA, keyB, 1, parseAddress('fd99:3::2')!))).not.toBe(o.slice(40, 56));
  });
});

describe('DSS checksum (RFC 8684 3.3.1) equals the kernel', () => {
  const keyA = h(csum.mpCapableData.slice(8, 24));
  const idsnA = keyToIdsn(keyA);

  it('MP_CAPABLE with data: DSN IDSN+1, SSN 1, 400 bytes', () => {
    const c = u32(csum.mpCapableData.slice(44, 48));
    expect(c).toBe(0xd64c);
    expect(dssChecksum(idsnA + 1n, 1, 400, [payload(25)])).toBe(c);
    expect(dssChecksum(idsnA + 1n, 1, 400, [payload(25)], c)).toBe(0);
  });

  it('a mapping split over segments of any size, odd ones included', () => {
    const o = csum.clientDss;
    const dsn = BigInt('0x' + o.slice(16, 32));
    const ssn = u32(o.slice(32, 40));
    const len = parseInt(o.slice(40, 44), 16);
    const c = u32(o.slice(44, 48));
    expect([ssn, len]).toEqual([401, 1600]);
    expect(dsn).toBe(idsnA + 1n + 400n);
    const p = payload(100);
    expect(dssChecksum(dsn, ssn, len, [p.subarray(0, 1424), p.subarray(1424)])).toBe(c);
    for (const cut of [1, 7, 333, 1599]) {
      expect(dssChecksum(dsn, ssn, len, [p.subarray(0, cut), p.subarray(cut, cut + 1), p.subarray(cut + 1)])).toBe(c);
    }
    expect(dssChecksum(dsn, ssn, len, [p], c)).toBe(0);
    // a flipped payload bit or a wrong pseudo-header field fails verification
    const bad = p.slice();
    bad[800]! ^= 0x10;
    expect(dssChecksum(dsn, ssn, len, [bad], c)).not.toBe(0);
    expect(dssChecksum(dsn + 1n, ssn, len, [p], c)).not.toBe(0);
  });

  it('the server direction and DATA_FIN-only mappings (length 1, no payload)', () => {
    const s = csum.serverDss;
    expect(dssChecksum(BigInt('0x' + s.slice(24, 40)), 1, 320, [payload(20)])).toBe(u32(s.slice(52, 56)));
    for (const o of [csum.clientDataFin, csum.serverDataFin]) {
      expect(dssChecksum(BigInt('0x' + o.slice(24, 40)), 0, 1, [])).toBe(u32(o.slice(52, 56)));
    }
  });
});

describe('generateKey', () => {
  it('returns a key with its token and IDSN, never token 0', () => {
    const g = generateKey(seededRandom('key'), () => false)!;
    expect(g.token).toBe(keyToToken(g.key));
    expect(g.idsn).toBe(keyToIdsn(g.key));
    expect(g.token).not.toBe(0);
  });

  it('retries on a token collision and gives up after four attempts like Linux', () => {
    const seen: number[] = [];
    const g = generateKey(seededRandom('retry'), (t) => {
      seen.push(t);
      return seen.length < 3;
    })!;
    expect(seen.length).toBe(3);
    expect(g.token).toBe(seen[2]);
    let calls = 0;
    expect(
      generateKey(seededRandom('busy'), () => {
        calls++;
        return true;
      }),
    ).toBeUndefined();
    expect(calls).toBe(4);
  });
});
