// Happy Eyeballs with the thesis's P racing real MPTCP/TCP attempts on the simulated network
// (name-world.ts: carol's IPv6 address on one path, its IPv4 address on another, as in the
// thesis's chapter 6 set-up). The SYNs seen on each path give the attempt order and gap;
// the race record gives the winner and P after (Table 2).

import { describe, expect, it } from 'vitest';
import type { RaceRecord } from '../../stack/eyeballs/race.js';
import { parsePacket } from '../../stack/wire/packet.js';
import { TCP_SYN } from '../../stack/wire/tcp.js';
import type { OpenResult } from '../../stack/socket/stream-open.js';
import { nameWorld, type NameWorld } from './name-world.js';

interface Syn {
  path: string;
  time: number;
}

function synsFromAlice(w: NameWorld): Syn[] {
  const syns: Syn[] = [];
  w.net.onTrace((e) => {
    if (e.kind !== 'sent' || e.from !== 'alice' || (e.path !== 'v6' && e.path !== 'v4')) return;
    const p = parsePacket(e.packet);
    if (p.ok && p.value.transport.protocol === 'tcp' && p.value.transport.repr.flags === TCP_SYN) syns.push({ path: e.path, time: e.time });
  });
  return syns;
}

/** One open of carol from alice; returns the race and the first SYN of each family relative to the first SYN. */
function race(w: NameWorld, syns: Syn[]): { record: RaceRecord; order: string[]; gap: number; result: OpenResult } {
  const before = syns.length;
  let result: OpenResult | undefined;
  w.alice.names.openStream({ peerName: 'carol.lab.test', service: 7 }, w.net.now, (r) => (result = r));
  w.net.runUntil(() => result !== undefined, w.net.now + 10_000);
  // Let the losers' SYNs (and a late SYN-ACK's RST) pass before the next race.
  w.net.run(w.net.now + 1500);
  const mine = syns.slice(before);
  const first = (path: string): Syn | undefined => mine.find((s) => s.path === path);
  const order = [first('v6'), first('v4')].filter((s): s is Syn => s !== undefined).sort((a, b) => a.time - b.time);
  const record = result!.ok ? result!.connection.race! : result!.race;
  if (result!.ok) result!.connection.conn.destroy();
  return { record, order: order.map((s) => s.path), gap: order.length === 2 ? order[1]!.time - order[0]!.time : NaN, result: result! };
}

describe('Happy Eyeballs with P over real TCP attempts (thesis chapter 6)', () => {
  const listen = (w: NameWorld): void => void w.carol.names.listenStream({ service: 7 });

  it('P = 0: both families at once; IPv6 wins on equal paths, P becomes 1', () => {
    const w = nameWorld({ v4: { delayMs: 3 } });
    listen(w);
    const syns = synsFromAlice(w);
    const r = race(w, syns);
    expect(r.order).toEqual(['v6', 'v4']);
    expect(r.gap).toBe(0);
    expect(r.record.winner?.family).toBe(6);
    expect([r.record.preferenceBefore, r.record.preferenceAfter]).toEqual([0, 1]);
  });

  it('P = 1 with 1000 ms more on the IPv6 path: IPv6 first, IPv4 10 ms later and wins, P halves to 0', () => {
    // The thesis's module resets the loser (thesis 5.2.1); keeping it is test/eyeballs/keep-loser-sim.test.ts.
    const w = nameWorld({ v6: { delayMs: 1001 }, config: { eyeballs: { keepOtherFamilyForMptcp: false } } });
    listen(w);
    w.alice.names.preferences.set('carol.lab.test', 1);
    const syns = synsFromAlice(w);
    const r = race(w, syns);
    expect(r.order).toEqual(['v6', 'v4']);
    expect(r.gap).toBe(10);
    expect(r.record.winner?.family).toBe(4);
    expect(r.record.attempts.map((a) => a.outcome)).toEqual(['cancelled', 'won']);
    expect([r.record.preferenceBefore, r.record.preferenceAfter]).toEqual([1, 0]);
    // Connected one round trip (2 ms) after the IPv4 SYN, not a second later.
    expect(r.record.winner!.endedAt! - r.record.attempts[1]!.startedAt).toBe(2);
  });

  it('P = -1 with 1000 ms more on the IPv4 path: the mirror image', () => {
    const w = nameWorld({ v4: { delayMs: 1001 } });
    listen(w);
    w.alice.names.preferences.set('carol.lab.test', -1);
    const syns = synsFromAlice(w);
    const r = race(w, syns);
    expect(r.order).toEqual(['v4', 'v6']);
    expect(r.gap).toBe(10);
    expect(r.record.winner?.family).toBe(6);
    expect([r.record.preferenceBefore, r.record.preferenceAfter]).toEqual([-1, 0]);
  });

  it('IPv6 blackholed: IPv4 wins every race and P learns it (0, -1, -2, -3: the IPv6 attempt comes |P| x 10 ms later)', () => {
    // A 40 ms round trip on IPv4, so the IPv6 attempt still starts before IPv4 has won.
    const w = nameWorld({ v4: { delayMs: 20 } });
    listen(w);
    w.paths.v6.setUp(false);
    const syns = synsFromAlice(w);
    const seen: { before: number; after: number; order: string[]; gap: number }[] = [];
    for (let i = 0; i < 4; i++) {
      const r = race(w, syns);
      expect(r.result.ok).toBe(true);
      expect(r.record.winner?.family).toBe(4);
      seen.push({ before: r.record.preferenceBefore, after: r.record.preferenceAfter, order: r.order, gap: r.gap });
    }
    expect(seen).toEqual([
      { before: 0, after: -1, order: ['v6', 'v4'], gap: 0 },
      { before: -1, after: -2, order: ['v4', 'v6'], gap: 10 },
      { before: -2, after: -3, order: ['v4', 'v6'], gap: 20 },
      { before: -3, after: -4, order: ['v4', 'v6'], gap: 30 },
    ]);
    // The stats show P per destination and every race.
    const stats = w.alice.names.stats() as { preferences: Record<string, number>; races: unknown[] };
    expect(stats.preferences['carol.lab.test']).toBe(-4);
    expect(stats.races).toHaveLength(4);
  });

  it('a name without addresses fails with the DNS code; no attempt is made', () => {
    const w = nameWorld();
    let result: OpenResult | undefined;
    w.alice.names.openStream({ peerName: 'nobody.lab.test', service: 7 }, w.net.now, (r) => (result = r));
    w.net.runUntil(() => result !== undefined, w.net.now + 5000);
    expect(result).toMatchObject({ ok: false, error: { code: 'ENOTFOUND' } });
    expect(result!.ok ? [] : result!.race.attempts).toEqual([]);
  });
});
