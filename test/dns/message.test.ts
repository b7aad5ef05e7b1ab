import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { answersQuestion, decodeResponse, encodeQuery, interpret } from '../../stack/dns/message.js';
import { seededRandom } from '../../stack/random.js';
import { formatAddress } from '../../stack/wire/address.js';
import { toHex } from '../wire/helpers.js';

const SOA = { type: 'SOA' as const, name: 'lab.test', ttl: 900, data: { mname: 'ns.lab.test', rname: 'h.lab.test', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 120 } };

function reply(answers: dnsPacket.Answer[], opts: { rcode?: number; authorities?: dnsPacket.Answer[]; type?: string } = {}): Uint8Array {
  return dnsPacket.encode({
    type: 'response',
    id: 0x1234,
    flags: (opts.rcode ?? 0) | dnsPacket.RECURSION_DESIRED,
    questions: [{ name: 'www.lab.test', type: (opts.type ?? 'A') as dnsPacket.RecordType, class: 'IN' }],
    answers,
    authorities: opts.authorities ?? [],
  });
}

describe('DNS messages', () => {
  it('a query is a 12-byte header with RD, one IN question, and an EDNS(0) OPT of 1232 bytes', () => {
    // ID 0xbeef, flags 0x0100 (RD), 1 question, 0 answers, 0 authorities, 1 additional.
    expect(toHex(encodeQuery(0xbeef, 'bob.lab.test', 'AAAA', 1232))).toBe(
      'beef0100000100000000000103626f62036c61620474657374' + '00' + '001c0001' + '00' + '0029' + '04d0' + '00000000' + '0000',
    );
    expect(toHex(encodeQuery(1, 'x', 'ANY', 0))).toBe('000101000001000000000000' + '017800' + '00ff0001');
  });

  it('reads the answer at the end of a CNAME chain with the smallest TTL, and checks the question', () => {
    const bytes = reply([
      { type: 'CNAME', name: 'WWW.lab.test', ttl: 60, data: 'bob.lab.test' },
      { type: 'A', name: 'bob.lab.test', ttl: 30, data: '198.19.1.20' },
      { type: 'A', name: 'other.lab.test', ttl: 30, data: '203.0.113.1' },
      { type: 'AAAA', name: 'bob.lab.test', ttl: 30, data: 'fd00::1' },
    ]);
    const r = decodeResponse(bytes)!;
    expect(answersQuestion(r, 'www.lab.test', 'A')).toBe(true);
    expect(answersQuestion(r, 'www.lab.test', 'AAAA')).toBe(false);
    expect(answersQuestion(r, 'bob.lab.test', 'A')).toBe(false);
    const i = interpret(r, 'www.lab.test', 'A', 8);
    expect(i.kind === 'addresses' && { ...i, addresses: i.addresses.map(formatAddress) }).toEqual({
      kind: 'addresses',
      canonicalName: 'bob.lab.test',
      addresses: ['198.19.1.20'],
      ttl: 30,
    });
  });

  it('takes the negative TTL from the SOA: min(SOA TTL, minimum) (RFC 2308 5)', () => {
    const nx = interpret(decodeResponse(reply([], { rcode: 3, authorities: [SOA] }))!, 'www.lab.test', 'A', 8);
    expect(nx).toEqual({ kind: 'negative', code: 'ENOTFOUND', canonicalName: 'www.lab.test', negativeTtl: 120, ttl: 0 });
    const nodata = interpret(decodeResponse(reply([], { authorities: [{ ...SOA, ttl: 10 }] }))!, 'www.lab.test', 'A', 8);
    expect(nodata).toMatchObject({ kind: 'negative', code: 'ENODATA', negativeTtl: 10 });
    // A CNAME to a name without the type, with an SOA: NODATA for the target, no further query.
    const cnameNodata = interpret(
      decodeResponse(reply([{ type: 'CNAME', name: 'www.lab.test', ttl: 5, data: 'bob.lab.test' }], { authorities: [SOA] }))!,
      'www.lab.test',
      'A',
      8,
    );
    expect(cnameNodata).toMatchObject({ kind: 'negative', code: 'ENODATA', canonicalName: 'bob.lab.test', negativeTtl: 5 });
  });

  it('reads TTLs with the top bit set as 0 (RFC 2181 8)', () => {
    const i = interpret(decodeResponse(reply([{ type: 'A', name: 'www.lab.test', ttl: 0x80000000, data: '192.0.2.1' }]))!, 'www.lab.test', 'A', 8);
    expect(i).toMatchObject({ kind: 'addresses', ttl: 0 });
  });

  it('never throws on mutated or cut responses (20,000 seeded cases)', () => {
    const random = seededRandom('dns-message');
    const base = reply(
      [
        { type: 'CNAME', name: 'www.lab.test', ttl: 60, data: 'bob.lab.test' },
        { type: 'A', name: 'bob.lab.test', ttl: 30, data: '198.19.1.20' },
      ],
      { authorities: [SOA] },
    );
    let decoded = 0;
    for (let n = 0; n < 20_000; n++) {
      let bytes = Uint8Array.from(base); // Buffer#slice would share base's memory
      const flips = 1 + (random.uint32() % 4);
      for (let i = 0; i < flips; i++) bytes[random.uint32() % bytes.length] = random.uint32() & 0xff;
      if (random.uint32() % 4 === 0) bytes = bytes.subarray(0, random.uint32() % bytes.length);
      const r = decodeResponse(bytes);
      if (!r) continue;
      decoded++;
      for (const type of ['A', 'AAAA', 'ANY'] as const) interpret(r, 'www.lab.test', type, 8);
    }
    expect(decoded).toBeGreaterThan(1000);
  });
});
