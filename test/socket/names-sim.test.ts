// Names on the wire through real TCP/MPTCP/UDP, on the simulated network (name-world.ts):
// the exchange and verification both ways between two namestack hosts, IPv4 legacy, a SYN
// for another name dropped, the peer filter, the spoof (carol claiming alice.lab.test), the
// kernel's part played by a host without a name layer (plain MPTCP), dgram names until
// acknowledged.

import { describe, expect, it } from 'vitest';
import { readNameOptions } from '../../stack/name/name-option.js';
import type { NameConnection } from '../../stack/socket/name-connection.js';
import type { OpenResult } from '../../stack/socket/stream-open.js';
import { MptcpConnection } from '../../stack/mptcp/connection.js';
import { formatAddress } from '../../stack/wire/address.js';
import { parsePacket } from '../../stack/wire/packet.js';
import { TCP_ACK, TCP_RST, TCP_SYN } from '../../stack/wire/tcp.js';
import type { NameDgramSession, NameDgramSocket } from '../../stack/socket/dgram.js';
import { ADDR, labZone, nameWorld, type NamedHost, type NameWorld } from './name-world.js';

interface Seen {
  time: number;
  path: string;
  from: string;
  src: string;
  dst: string;
  proto: string;
  flags: number;
  payload: number;
  bytes: number;
  names?: string;
}

/** Every packet sent, decoded: addresses, TCP flags, and the names it carried. */
function trace(w: NameWorld): Seen[] {
  const seen: Seen[] = [];
  w.net.onTrace((e) => {
    if (e.kind !== 'sent') return;
    const p = parsePacket(e.packet);
    if (!p.ok) return;
    const ip = p.value.ip;
    const t = p.value.transport;
    const s: Seen = {
      time: e.time,
      path: e.path,
      from: e.from,
      src: formatAddress(ip.repr.src),
      dst: formatAddress(ip.repr.dst),
      proto: t.protocol,
      flags: t.protocol === 'tcp' ? t.repr.flags : 0,
      payload: p.value.payload.length,
      bytes: e.packet.length,
    };
    if (ip.version === 6) {
      const n = readNameOptions(ip.repr.extensionHeaders);
      if (n.present) s.names = `${n.sourceName ?? ''}>${n.destinationName ?? ''}`;
    }
    seen.push(s);
  });
  return seen;
}

/** Opens a stream from `from` and runs the network until it settles. */
function open(w: NameWorld, from: NamedHost, args: Parameters<NamedHost['names']['openStream']>[0], limitMs = 10_000): OpenResult {
  let result: OpenResult | undefined;
  from.names.openStream(args, w.net.now, (r) => (result = r));
  w.net.runUntil(() => result !== undefined, w.net.now + limitMs);
  expect(result, 'open settled').toBeDefined();
  return result!;
}

function accepted(w: NameWorld, listener: { accept(): NameConnection | undefined }, limitMs = 2000): NameConnection {
  let c: NameConnection | undefined;
  w.net.runUntil(() => (c ??= listener.accept()) !== undefined, w.net.now + limitMs);
  expect(c, 'accepted').toBeDefined();
  return c!;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('name exchange over TCP/MPTCP between namestack hosts', () => {
  it('alice opens carol by name and service: names on SYN and SYN-ACK only, verified both ways, MPTCP, data flows', () => {
    const w = nameWorld({ v4: { delayMs: 5 } });
    const seen = trace(w);
    const listener = w.carol.names.listenStream({ service: 'echo' });
    const r = open(w, w.alice, { peerName: 'carol.lab.test', service: 'echo' });
    if (!r.ok) throw r.error;
    const a = r.connection;
    const c = accepted(w, listener);
    w.net.run(w.net.now + 100);

    expect(a.summary()).toEqual({ localName: 'alice.lab.test', peerName: 'carol.lab.test', peerNameVerified: true, verification: 'verified', exchange: 'done' });
    expect(c.summary()).toEqual({ localName: 'carol.lab.test', peerName: 'alice.lab.test', peerNameVerified: true, verification: 'verified', exchange: 'done' });
    expect(a.multipath && c.multipath).toBe(true);
    expect(formatAddress(a.remoteAddress)).toBe(ADDR.carol6);

    const v6 = seen.filter((s) => s.path === 'v6' && s.proto === 'tcp');
    const syn = v6.find((s) => s.flags === TCP_SYN)!;
    const synAck = v6.find((s) => s.flags === (TCP_SYN | TCP_ACK))!;
    expect(syn.names).toBe('alice.lab.test>carol.lab.test');
    expect(synAck.names).toBe('carol.lab.test>alice.lab.test');
    // After the handshake no packet carries names any more.
    expect(v6.filter((s) => s.names !== undefined)).toHaveLength(2);
    // The IPv4 attempt (started at once: P = 0) lost, connected after the winner and was reset
    // (its path joined the winner: keepOtherFamilyForMptcp); it carried no names.
    const v4 = seen.filter((s) => s.path === 'v4' && s.proto === 'tcp');
    expect(v4[0]!.flags).toBe(TCP_SYN);
    expect(v4.some((s) => s.from === 'alice' && s.flags & TCP_RST)).toBe(true);
    expect(seen.some((s) => s.path === 'v4' && s.names)).toBe(false);

    // Data on the name-based connection.
    const got: string[] = [];
    (c.conn as MptcpConnection).handler = { onData: (_c, d) => void got.push(new TextDecoder().decode(d)) };
    a.conn.write(text('hello carol'));
    w.net.run(w.net.now + 100);
    expect(got).toEqual(['hello carol']);

    // The race is in the stats: attempts with times, winner, P before and after.
    const stats = w.alice.names.stats() as { races: { attempts: { family: number; startedAt: number; outcome: string }[]; winner: { family: number }; preferenceBefore: number; preferenceAfter: number }[] };
    const race = stats.races[0]!;
    expect(race.attempts.map((x) => [x.family, x.outcome])).toEqual([[6, 'won'], [4, 'extra']]);
    expect([race.preferenceBefore, race.preferenceAfter, race.winner.family]).toEqual([0, 1, 6]);
  });

  it('over IPv4 the connection is legacy: no names, the peer name is the one opened', () => {
    const w = nameWorld();
    w.paths.v6.setUp(false);
    const seen = trace(w);
    const listener = w.carol.names.listenStream({ service: 7 });
    const r = open(w, w.alice, { peerName: 'carol.lab.test', service: 7 });
    if (!r.ok) throw r.error;
    const c = accepted(w, listener);
    expect(formatAddress(r.connection.remoteAddress)).toBe(ADDR.carol4);
    expect(r.connection.summary()).toMatchObject({ peerName: 'carol.lab.test', peerNameVerified: true, exchange: 'none' });
    expect(c.summary()).toMatchObject({ peerName: undefined, peerNameVerified: false, verification: 'none', exchange: 'none' });
    expect(seen.filter((s) => s.path === 'v4' && s.names)).toHaveLength(0);
  });

  it('a listener bound to carol.lab.test drops a SYN for another name (no RST); a * listener of a host without that name too', () => {
    const zone = { ...labZone(), 'other.lab.test': { AAAA: [ADDR.carol6], ttl: 5 } };
    const w = nameWorld({ zone });
    const seen = trace(w);
    const listener = w.carol.names.listenStream({ service: 7, localName: 'carol.lab.test' });
    let result: OpenResult | undefined;
    const opening = w.alice.names.openStream({ peerName: 'other.lab.test', service: 7 }, w.net.now, (r) => (result = r));
    w.net.run(w.net.now + 4000);
    expect(result).toBeUndefined();
    expect(listener.counters.refusedDestinationName).toBeGreaterThanOrEqual(2); // the SYN and its retransmissions
    expect(seen.filter((s) => s.from === 'carol' && s.proto === 'tcp')).toHaveLength(0);
    opening.abort(w.net.now);
    expect(result).toMatchObject({ ok: false, error: { code: 'ECANCELED' } });
    listener.close();

    const any = w.carol.names.listenStream({ service: 8 });
    w.alice.names.openStream({ peerName: 'other.lab.test', service: 8 }, w.net.now, () => {});
    w.net.run(w.net.now + 1500);
    expect(any.counters.refusedDestinationName).toBeGreaterThanOrEqual(1);
    expect(any.pending).toBe(0);
  });

  it("the listener's peer filter: refused for another peer, taken for the named one", () => {
    const w = nameWorld();
    w.paths.v4.setUp(false); // over IPv4 no name, so a specific filter refuses it anyway
    const wrong = w.carol.names.listenStream({ service: 7, peerName: 'dave.lab.test' });
    let result: OpenResult | undefined;
    w.alice.names.openStream({ peerName: 'carol.lab.test', service: 7 }, w.net.now, (r) => (result = r));
    w.net.run(w.net.now + 2000);
    expect(result).toBeUndefined();
    expect(wrong.counters.refusedPeerFilter).toBeGreaterThanOrEqual(1);
    wrong.close();

    const right = w.carol.names.listenStream({ service: 9, peerName: 'alice.lab.test' });
    const r = open(w, w.alice, { peerName: 'carol.lab.test', service: 9 });
    expect(r.ok).toBe(true);
    expect(accepted(w, right).peerName).toBe('alice.lab.test');
  });

  it('accept(peerName) takes the connection of that peer only', () => {
    const w = nameWorld({ carolNames: ['carol.lab.test'] });
    w.paths.v4.setUp(false);
    const listener = w.carol.names.listenStream({ service: 7 });
    expect(open(w, w.alice, { peerName: 'carol.lab.test', service: 7 }).ok).toBe(true);
    w.net.run(w.net.now + 100);
    expect(listener.accept('dave.lab.test')).toBeUndefined();
    expect(listener.accept('alice.lab.test')?.peerName).toBe('alice.lab.test');
  });

  it('the spoof: carol claims alice.lab.test -> unverified; a listener requiring verification resets it', () => {
    const w = nameWorld();
    w.paths.v4.setUp(false);
    // Without requireVerified the connection is accepted and reported unverified.
    const open1 = w.alice.names.listenStream({ service: 7 });
    const r1 = open(w, w.carol, { peerName: 'alice.lab.test', localName: 'alice.lab.test', service: 7 });
    expect(r1.ok).toBe(true);
    const c1 = accepted(w, open1);
    w.net.run(w.net.now + 100);
    expect(c1.summary()).toMatchObject({ peerName: 'alice.lab.test', peerNameVerified: false, verification: 'unverified', exchange: 'done' });
    expect(c1.verification?.reason).toMatch(/alice\.lab\.test has fd00:1:1::10/);

    // With requireVerified: reset once the lookup says no.
    const strict = w.alice.names.listenStream({ service: 8, requireVerified: true });
    const r2 = open(w, w.carol, { peerName: 'alice.lab.test', localName: 'alice.lab.test', service: 8 });
    expect(r2.ok).toBe(true);
    let closedWith: string | undefined;
    if (r2.ok) (r2.connection.conn as MptcpConnection).handler = { onClose: (_c, e) => void (closedWith = e?.code ?? 'clean') };
    w.net.run(w.net.now + 1000);
    expect(strict.counters.refusedUnverified).toBe(1);
    expect(strict.accept()).toBeUndefined();
    expect(closedWith).toBe('ECONNRESET');

    // The real carol is verified and taken by the strict listener.
    const r3 = open(w, w.carol, { peerName: 'alice.lab.test', service: 8 });
    expect(r3.ok).toBe(true);
    const c3 = accepted(w, strict);
    expect(c3.summary()).toMatchObject({ peerName: 'carol.lab.test', peerNameVerified: true });
  });

  it('against a host without a name layer (the kernel) the connection is plain MPTCP; names ride on N packets, full segments still fit', () => {
    const w = nameWorld();
    const seen = trace(w);
    let bobConn: MptcpConnection | undefined;
    const got: Uint8Array[] = [];
    w.bob.mptcp.listen({
      port: 7,
      onConnection: (c) => {
        bobConn = c as MptcpConnection;
        bobConn.handler = { onData: (_c, d) => void got.push(d.slice()) };
      },
    });
    const r = open(w, w.alice, { peerName: 'bob.lab.test', service: 7 });
    if (!r.ok) throw r.error;
    w.net.run(w.net.now + 20);
    expect(r.connection.multipath).toBe(true);
    expect(bobConn).toBeInstanceOf(MptcpConnection);
    const data = new Uint8Array(64 * 1024).fill(7);
    r.connection.conn.write(data);
    w.net.run(w.net.now + 500);
    expect(got.reduce((n, d) => n + d.length, 0)).toBe(data.length);
    const fromAlice = seen.filter((s) => s.path === 'bob' && s.from === 'alice' && s.proto === 'tcp' && s.dst === ADDR.bob6);
    const named = fromAlice.filter((s) => s.names);
    // N = 8 packets: SYN, third ACK and the first data segments, each within the MTU.
    expect(named).toHaveLength(8);
    expect(named.some((s) => s.payload > 0)).toBe(true);
    expect(Math.max(...fromAlice.map((s) => s.bytes))).toBeLessThanOrEqual(1500);
    expect(seen.filter((s) => s.from === 'bob' && s.names)).toHaveLength(0);
    expect(r.connection.summary()).toMatchObject({ peerName: 'bob.lab.test', peerNameVerified: true, exchange: 'legacy' });
  });
});

describe('dgram names', () => {
  it('names on every datagram until the peer answers with names, then none', () => {
    const w = nameWorld();
    w.paths.v4.setUp(false);
    const seen = trace(w);
    const listener = w.carol.names.listenDgram({ service: 'echo', transport: 'dgram' });
    let socket: NameDgramSocket | undefined;
    w.alice.names.openDgram({ peerName: 'carol.lab.test', service: 'echo', transport: 'dgram' }, w.net.now, (r) => {
      if (!r.ok) throw r.error;
      socket = r.socket;
    });
    w.net.runUntil(() => socket !== undefined, w.net.now + 1000);
    for (const m of ['one', 'two', 'three']) socket!.send(text(m), w.net.now);
    w.net.run(w.net.now + 50);
    let session: NameDgramSession | undefined;
    w.net.runUntil(() => (session ??= listener.accept()) !== undefined, w.net.now + 100);
    expect(session!.peerName).toBe('alice.lab.test');
    expect(session!.peerNameVerified).toBe(true);
    const received = [session!.receive(), session!.receive(), session!.receive()].map((d) => new TextDecoder().decode(d!.data));
    expect(received).toEqual(['one', 'two', 'three']);
    session!.send(text('reply'), w.net.now);
    w.net.run(w.net.now + 50);
    expect(new TextDecoder().decode(socket!.receive()!.data)).toBe('reply');
    expect(socket!.peerName).toBe('carol.lab.test');
    socket!.send(text('four'), w.net.now);
    w.net.run(w.net.now + 50);
    const udp = seen.filter((s) => s.proto === 'udp' && s.path === 'v6');
    expect(udp.map((s) => `${s.from}:${s.names ?? '-'}`)).toEqual([
      'alice:alice.lab.test>carol.lab.test',
      'alice:alice.lab.test>carol.lab.test',
      'alice:alice.lab.test>carol.lab.test',
      'carol:carol.lab.test>alice.lab.test',
      'alice:-',
    ]);
  });

  it('a dgram listener requiring verification never hands out the spoofing peer', () => {
    const w = nameWorld();
    w.paths.v4.setUp(false);
    const listener = w.alice.names.listenDgram({ service: 7, transport: 'dgram', requireVerified: true });
    let socket: NameDgramSocket | undefined;
    w.carol.names.openDgram({ peerName: 'alice.lab.test', localName: 'alice.lab.test', service: 7, transport: 'dgram' }, w.net.now, (r) => {
      if (r.ok) socket = r.socket;
    });
    w.net.runUntil(() => socket !== undefined, w.net.now + 1000);
    socket!.send(text('trust me'), w.net.now);
    w.net.run(w.net.now + 200);
    socket!.send(text('again'), w.net.now);
    w.net.run(w.net.now + 200);
    expect(listener.accept()).toBeUndefined();
    expect(listener.counters.refusedUnverified).toBe(1);
  });
});
