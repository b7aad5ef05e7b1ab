// The stub resolver on the simulated network against a tiny in-test DNS server: answers,
// caching (positive and RFC 2308 negative), retries and server rotation, CNAME chasing,
// and every kind of bad response dropped and counted.

import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import type { DnsResult } from '../../stack/dns/result.js';
import { formatAddress } from '../../stack/wire/address.js';
import { dnsWorld, fromZone, response, SERVERS, texts, udpSourcePort, type Zone } from './dns-sim.js';

const ZONE: Zone = {
  'bob.lab.test': { A: ['198.19.1.20', '198.19.2.20'], AAAA: ['fd00:1:2::20', 'fd00:2:2::20'], ttl: 5 },
  'www.lab.test': { CNAME: 'web.lab.test', ttl: 30 },
  'web.lab.test': { CNAME: 'bob.lab.test', ttl: 600 },
  'v6only.lab.test': { AAAA: ['fd00:1:2::99'] },
};

describe('answers and the cache', () => {
  it('resolves A, AAAA and ANY, and answers again from the cache until the TTL runs out', () => {
    const w = dnsWorld({ zone: ZONE });
    const a = w.resolve('Bob.Lab.Test.', 'A');
    expect(a.result).toMatchObject({ ok: true, name: 'bob.lab.test', type: 'A', canonicalName: 'bob.lab.test', fromCache: false });
    expect(texts(a.result)).toEqual(['198.19.1.20', '198.19.2.20']);
    expect(a.at).toBe(10); // one round trip over a 5 ms path
    expect((a.result as { expiresAt: number }).expiresAt).toBe(10 + 5000);
    expect(texts(w.resolve('bob.lab.test', 'AAAA').result)).toEqual(['fd00:1:2::20', 'fd00:2:2::20']);
    expect(texts(w.resolve('bob.lab.test', 'ANY').result)).toHaveLength(4);
    expect(w.queries).toHaveLength(3);

    const again = w.resolve('bob.lab.test', 'A');
    expect(again).toMatchObject({ result: { ok: true, fromCache: true }, at: w.net.now });
    expect(w.queries).toHaveLength(3);
    expect(w.resolver.counters).toMatchObject({ lookups: 4, cacheHits: 1, queries: 3, transmissions: 3, answers: 3 });

    w.net.run(5010);
    w.resolve('bob.lab.test', 'A');
    expect(w.queries).toHaveLength(4);
  });

  it('shares one query between identical lookups in flight', () => {
    const w = dnsWorld({ zone: ZONE });
    const results: DnsResult[] = [];
    w.resolver.resolve('bob.lab.test', 'A', 0, (r) => results.push(r));
    w.resolver.resolve('BOB.lab.test', 'A', 0, (r) => results.push(r));
    w.net.run(100);
    expect(results.map(texts)).toEqual([texts(results[0]), texts(results[0])]);
    expect(w.queries).toHaveLength(1);
  });

  it('answers an invalid name at once with EBADNAME, and a cancelled lookup never calls back', () => {
    const w = dnsWorld({ zone: ZONE });
    let bad: DnsResult | undefined;
    w.resolver.resolve('no such name', 'A', 0, (r) => (bad = r));
    expect(bad).toMatchObject({ ok: false, code: 'EBADNAME' });
    let called = false;
    const handle = w.resolver.resolve('bob.lab.test', 'A', 0, () => (called = true));
    expect(w.resolver.outstanding).toBe(1);
    handle.cancel();
    expect(w.resolver.outstanding).toBe(0);
    w.net.run(5000);
    expect(called).toBe(false);
  });

  it('draws query IDs and source ports at random from the host, the same for a seed', () => {
    const run = (seed: string) => {
      const w = dnsWorld({ zone: ZONE, seed });
      const ports: number[] = [];
      w.net.onTrace((e) => {
        if (e.kind === 'sent' && e.from === 'client') ports.push(udpSourcePort(e.packet)!);
      });
      for (const n of ['bob.lab.test', 'www.lab.test', 'v6only.lab.test']) w.resolve(n, 'AAAA');
      return { ids: w.queries.map((q) => q.id), ports };
    };
    const first = run('s1');
    expect(new Set(first.ids).size).toBe(3);
    expect(new Set(first.ports).size).toBe(3);
    expect(run('s1')).toEqual(first);
    expect(run('s2').ids).not.toEqual(first.ids);
  });
});

describe('negative answers (RFC 2308)', () => {
  it('caches NXDOMAIN for the SOA minimum (60 s here), then asks again', () => {
    const w = dnsWorld({ zone: ZONE });
    expect(w.resolve('nothere.lab.test', 'A').result).toMatchObject({ ok: false, code: 'ENOTFOUND', fromCache: false, expiresAt: 10 + 60_000 });
    expect(w.resolve('nothere.lab.test', 'A').result).toMatchObject({ ok: false, code: 'ENOTFOUND', fromCache: true });
    expect(w.queries).toHaveLength(1);
    w.net.run(60_010);
    w.resolve('nothere.lab.test', 'A');
    expect(w.queries).toHaveLength(2);
    expect(w.resolver.counters).toMatchObject({ negativeAnswers: 2, cacheHits: 1, failures: 0 });
  });

  it('NODATA is ENODATA, cached like NXDOMAIN', () => {
    const w = dnsWorld({ zone: ZONE });
    expect(w.resolve('v6only.lab.test', 'A').result).toMatchObject({ ok: false, code: 'ENODATA' });
    expect(w.resolve('v6only.lab.test', 'A').result).toMatchObject({ ok: false, code: 'ENODATA', fromCache: true });
  });

  it('without an SOA (dnsmasq) a negative answer is kept only negativeNoSoaTtlMs, and not at all when that is 0', () => {
    const w = dnsWorld({ zone: ZONE });
    w.responder = (q, z) => fromZone(q, z, { soa: false });
    expect(w.resolve('nothere.lab.test', 'A').result).toMatchObject({ code: 'ENOTFOUND', expiresAt: 10 + 5000 });
    const strict = dnsWorld({ zone: ZONE, config: { dns: { negativeNoSoaTtlMs: 0 } } });
    strict.responder = (q, z) => fromZone(q, z, { soa: false });
    strict.resolve('nothere.lab.test', 'A');
    expect(strict.resolve('nothere.lab.test', 'A').result).toMatchObject({ code: 'ENOTFOUND', fromCache: false });
    expect(strict.queries).toHaveLength(2);
  });
});

describe('CNAME chasing', () => {
  it('follows a chain inside one answer, with the smallest TTL of the chain', () => {
    const w = dnsWorld({ zone: ZONE });
    const r = w.resolve('www.lab.test', 'A').result;
    expect(r).toMatchObject({ ok: true, name: 'www.lab.test', canonicalName: 'bob.lab.test', expiresAt: 10 + 5000 });
    expect(texts(r)).toEqual(['198.19.1.20', '198.19.2.20']);
    expect(w.queries).toHaveLength(1);
  });

  it('asks for the target when the answer stops at a CNAME (RFC 1034 5.3.3), and caches both names', () => {
    const w = dnsWorld({ zone: ZONE });
    w.responder = (q, z) => fromZone(q, z, { followCnames: false, soa: false });
    const r = w.resolve('www.lab.test', 'AAAA');
    expect(texts(r.result)).toEqual(['fd00:1:2::20', 'fd00:2:2::20']);
    expect(r.result).toMatchObject({ name: 'www.lab.test', canonicalName: 'bob.lab.test' });
    expect(w.queries.map((q) => q.question.name)).toEqual(['www.lab.test', 'web.lab.test', 'bob.lab.test']);
    expect(w.resolver.counters.cnamesFollowed).toBe(2);
    expect(w.resolve('web.lab.test', 'AAAA').result).toMatchObject({ fromCache: true, canonicalName: 'bob.lab.test' });
    expect(w.resolve('www.lab.test', 'AAAA').result).toMatchObject({ fromCache: true });
  });

  it('refuses a CNAME loop and an overlong chain with EBADRESP, inside one answer or across queries', () => {
    const loop: Zone = { 'a.test': { CNAME: 'b.test' }, 'b.test': { CNAME: 'a.test' } };
    const w = dnsWorld({ zone: loop });
    expect(w.resolve('a.test', 'A').result).toMatchObject({ ok: false, code: 'EBADRESP' });
    const chased = dnsWorld({ zone: loop });
    chased.responder = (q, z) => fromZone(q, z, { followCnames: false, soa: false });
    expect(chased.resolve('a.test', 'A').result).toMatchObject({ ok: false, code: 'EBADRESP', message: expect.stringContaining('loop') });
    expect(chased.queries).toHaveLength(2);

    const long: Zone = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`n${i}.test`, { CNAME: `n${i + 1}.test` }]));
    long['n12.test'] = { A: ['192.0.2.1'] };
    expect(dnsWorld({ zone: long }).resolve('n0.test', 'A').result).toMatchObject({ code: 'EBADRESP', message: expect.stringContaining('8 links') });
    expect(texts(dnsWorld({ zone: long }).resolve('n5.test', 'A').result)).toEqual(['192.0.2.1']);
  });
});

describe('loss, retries and servers', () => {
  it('retransmits after 1 s, then 2 s, to the one server, and takes the answer that finally comes', () => {
    const w = dnsWorld({ zone: ZONE });
    w.responder = (q, z) => (w.queries.length <= 2 ? [] : fromZone(q, z));
    const r = w.resolve('bob.lab.test', 'A');
    expect(w.queries.map((q) => q.at)).toEqual([5, 1005, 3005]);
    expect(r.at).toBe(3010);
    expect(texts(r.result)).toHaveLength(2);
    expect(w.resolver.counters).toMatchObject({ transmissions: 3, retransmissions: 2, timeouts: 2 });
  });

  it('gets through a path that loses 30% of packets each way by retransmitting; the unlucky time out after 3 tries', () => {
    const w = dnsWorld({ zone: ZONE, lossRate: 0.3, seed: 'lossy' });
    const names = Array.from({ length: 40 }, (_, i) => `h${i}.lab.test`);
    for (const n of names) w.zone[n] = { A: ['192.0.2.1'] };
    const results = names.map((n) => w.resolve(n, 'A').result!);
    const answered = results.filter((r) => r.ok).length;
    const timedOut = results.filter((r) => !r.ok && r.code === 'ETIMEOUT').length;
    // A round trip survives with p = 0.49, three tries with 0.87: about 35 of 40.
    expect([answered + timedOut, answered > 30]).toEqual([40, true]);
    const c = w.resolver.counters;
    expect(c.failures).toBe(timedOut);
    expect(c.retransmissions).toBeGreaterThan(timedOut * 2);
    expect(c.transmissions).toBe(40 + c.retransmissions);
  });

  it('rotates through the servers on timeout, doubling per round, and gives up with ETIMEOUT', () => {
    const w = dnsWorld({ zone: ZONE, servers: [SERVERS.v6a, SERVERS.v4a] });
    w.responder = () => [];
    const r = w.resolve('bob.lab.test', 'A');
    expect(w.queries.map((q) => [q.at - 5, q.server])).toEqual([
      [0, SERVERS.v6a],
      [1000, SERVERS.v4a],
      [2000, SERVERS.v6a],
      [4000, SERVERS.v4a],
      [6000, SERVERS.v6a],
      [10_000, SERVERS.v4a],
    ]);
    expect(r).toMatchObject({ at: 14_000, result: { ok: false, code: 'ETIMEOUT' } });
    expect(w.resolver.counters.failures).toBe(1);
  });

  it('asks a server that timed out last from then on, and the one that answered first', () => {
    const w = dnsWorld({ zone: ZONE, servers: [SERVERS.v6a, SERVERS.v6b] });
    w.responder = (q, z) => (q.server === SERVERS.v6a ? [] : fromZone(q, z));
    expect(w.resolve('bob.lab.test', 'A').at).toBe(1010);
    w.resolve('bob.lab.test', 'AAAA');
    expect(w.queries.map((q) => q.server)).toEqual([SERVERS.v6a, SERVERS.v6b, SERVERS.v6b]);
  });

  it('moves on at once after SERVFAIL and reports the server error when nobody answers', () => {
    const w = dnsWorld({ zone: ZONE, servers: [SERVERS.v6a, SERVERS.v4a] });
    w.responder = (q, z) => (q.server === SERVERS.v6a ? [{ packet: response(q, { rcode: 'SERVFAIL' }) }] : fromZone(q, z));
    expect(w.resolve('bob.lab.test', 'A')).toMatchObject({ at: 20, result: { ok: true } });
    const refused = dnsWorld({ zone: ZONE });
    refused.responder = (q) => [{ packet: response(q, { rcode: 'REFUSED' }) }];
    expect(refused.resolve('bob.lab.test', 'A')).toMatchObject({ at: 30, result: { ok: false, code: 'EREFUSED' } });
    expect(refused.resolver.counters.serverErrors).toBe(3);
  });

  it('moves on at once when the server port is unreachable (ICMP), and reports ECONNREFUSED', () => {
    const w = dnsWorld({ zone: ZONE, servers: [{ address: new Uint8Array([10, 0, 0, 53]), port: 5300 }, SERVERS.v6a] });
    const r = w.resolve('bob.lab.test', 'A');
    expect(r).toMatchObject({ at: 20, result: { ok: true } });
    expect(w.resolver.counters.icmpErrors).toBe(1);
    const dead = dnsWorld({ zone: ZONE, servers: [{ address: new Uint8Array([10, 0, 0, 53]), port: 5300 }] });
    expect(dead.resolve('bob.lab.test', 'A')).toMatchObject({ at: 30, result: { ok: false, code: 'ECONNREFUSED' } });
  });

  it('repeats a query without EDNS after FORMERR (RFC 6891 7)', () => {
    const w = dnsWorld({ zone: ZONE });
    w.responder = (q, z) => (q.edns ? [{ packet: response(q, { rcode: 'FORMERR' }) }] : fromZone(q, z));
    expect(texts(w.resolve('bob.lab.test', 'A').result)).toHaveLength(2);
    expect(w.queries.map((q) => q.edns)).toEqual([true, false]);
  });

  it('refuses more than maxOutstanding queries with ENOBUFS', () => {
    const w = dnsWorld({ zone: ZONE, config: { dns: { maxOutstanding: 2 } } });
    const results: DnsResult[] = [];
    for (const n of ['a.test', 'b.test', 'c.test']) w.resolver.resolve(n, 'A', 0, (r) => results.push(r));
    expect(results).toMatchObject([{ ok: false, code: 'ENOBUFS', name: 'c.test' }]);
    expect(w.resolver.counters.limited).toBe(1);
  });
});

describe('bad responses are dropped and counted, never trusted', () => {
  it('wrong ID, source port, source address, question, garbage and queries, before the real answer', () => {
    const w = dnsWorld({ zone: ZONE });
    w.responder = (q, z) => {
      const real = fromZone(q, z)[0]!.packet!;
      const lie = { ...real, answers: [{ type: 'A' as const, name: 'bob.lab.test', ttl: 300, data: '203.0.113.66' }] };
      return [
        { packet: { ...lie, id: (q.id + 1) & 0xffff } },
        { packet: lie, from: 'otherPort' },
        { packet: lie, from: 'otherAddress' },
        { packet: { ...lie, questions: [{ ...q.question, name: 'evil.test' }] } },
        { packet: { ...lie, questions: [{ ...q.question, type: 'MX' }] } },
        { raw: new Uint8Array([1, 2, 3]) },
        { packet: { ...lie, type: 'query' } },
        { packet: real },
      ];
    };
    const r = w.resolve('bob.lab.test', 'A');
    expect(texts(r.result)).toEqual(['198.19.1.20', '198.19.2.20']);
    expect(w.resolver.counters).toMatchObject({ wrongId: 1, wrongSource: 2, wrongQuestion: 2, malformed: 2, answers: 1 });
  });

  it('a truncated answer (TC) is not used: the next try goes out at once; all truncated is ETRUNCATED', () => {
    const w = dnsWorld({ zone: ZONE, servers: [SERVERS.v6a, SERVERS.v6b] });
    w.responder = (q, z) => {
      const packet = fromZone(q, z)[0]!.packet!;
      return [{ packet: q.server === SERVERS.v6a ? { ...packet, flags: packet.flags! | dnsPacket.TRUNCATED_RESPONSE } : packet }];
    };
    expect(w.resolve('bob.lab.test', 'A')).toMatchObject({ at: 20, result: { ok: true } });
    expect(w.resolver.counters.truncated).toBe(1);
    const all = dnsWorld({ zone: ZONE });
    all.responder = (q) => [{ packet: response(q, { flags: dnsPacket.TRUNCATED_RESPONSE }) }];
    expect(all.resolve('bob.lab.test', 'A').result).toMatchObject({ ok: false, code: 'ETRUNCATED' });
    expect(all.resolver.counters.truncated).toBe(3);
  });

  it('drops every cut-short copy of the answer as malformed, then takes the whole one', () => {
    const w = dnsWorld({ zone: ZONE });
    let length = 0;
    w.responder = (q, z) => {
      const real = dnsPacket.encode(fromZone(q, z)[0]!.packet!);
      length = real.length;
      return [...Array.from({ length: real.length }, (_, i) => ({ raw: real.subarray(0, i) })), { raw: real }];
    };
    expect(texts(w.resolve('bob.lab.test', 'A').result)).toHaveLength(2);
    expect(w.resolver.counters).toMatchObject({ malformed: length, answers: 1 });
  });
});

describe('lookupBoth (RFC 8305 3)', () => {
  it('asks AAAA first, A right after, and reports each family as it arrives', () => {
    const w = dnsWorld({ zone: ZONE });
    const got: [number, string[], number][] = [];
    w.resolver.lookupBoth('bob.lab.test', 0, (family, r, at) => got.push([family, texts(r), at]));
    w.net.run(100);
    expect(w.queries.map((q) => q.question.type)).toEqual(['AAAA', 'A']);
    expect(got).toEqual([
      [6, ['fd00:1:2::20', 'fd00:2:2::20'], 10],
      [4, ['198.19.1.20', '198.19.2.20'], 10],
    ]);
  });

  it('asks A first when the caller starts with IPv4 (a learned preference), AAAA right after', () => {
    const w = dnsWorld({ zone: ZONE });
    const got: number[] = [];
    w.resolver.lookupBoth('bob.lab.test', 0, (family) => got.push(family), 4);
    w.net.run(100);
    expect(w.queries.map((q) => q.question.type)).toEqual(['A', 'AAAA']);
    expect(got).toEqual([4, 6]);
  });

  it('with lookupWithAny asks one ANY query, as the thesis daemon did, and splits it by family', () => {
    const w = dnsWorld({ zone: ZONE, config: { dns: { lookupWithAny: true } } });
    const got: [number, DnsResult][] = [];
    w.resolver.lookupBoth('v6only.lab.test', 0, (family, r) => got.push([family, r]));
    w.net.run(100);
    expect(w.queries.map((q) => q.question.type)).toEqual(['ANY']);
    expect(got.map(([f, r]) => [f, r.ok ? r.addresses.map(formatAddress) : r.code])).toEqual([
      [6, ['fd00:1:2::99']],
      [4, 'ENODATA'],
    ]);
  });

  it('falls back to AAAA + A when the ANY answer has no addresses (RFC 8482)', () => {
    const w = dnsWorld({ zone: ZONE, config: { dns: { lookupWithAny: true } } });
    w.responder = (q, z) =>
      (q.question.type as string) === 'ANY'
        ? [{ packet: response(q, { answers: [{ type: 'HINFO', name: q.question.name, ttl: 300, data: { cpu: 'RFC8482', os: '' } }] }) }]
        : fromZone(q, z);
    const got: number[] = [];
    w.resolver.lookupBoth('bob.lab.test', 0, (family, r) => r.ok && got.push(family));
    w.net.run(100);
    expect(w.queries.map((q) => q.question.type)).toEqual(['ANY', 'AAAA', 'A']);
    expect(got).toEqual([6, 4]);
  });
});
