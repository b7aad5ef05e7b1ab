// The loser's path kept as an extra MPTCP subflow (issue 6 item 5, docs/happy-eyeballs.md):
// when both families connect, the later attempt is reset and its path (local and remote
// address) joins the winner's connection with MP_JOIN. On the simulated lab in miniature
// (test/socket/name-world.ts: carol's IPv6 address on one path, its IPv4 address on
// another), with servers that announce no address (Linux's default: no "signal" endpoint),
// so a subflow on the other family can only come from the race.

import { describe, expect, it } from 'vitest';
import { MptcpConnection } from '../../stack/mptcp/connection.js';
import { mptcpConnectionStats, type SubflowStats } from '../../stack/mptcp/stats.js';
import type { NameConnection } from '../../stack/socket/name-connection.js';
import type { OpenResult } from '../../stack/socket/stream-open.js';
import { parsePacket } from '../../stack/wire/packet.js';
import { TCP_SYN } from '../../stack/wire/tcp.js';
import { Peer, randomBytes, sha256 } from '../mptcp/sim-mptcp.js';
import { ADDR, nameWorld, type NameWorld } from '../socket/name-world.js';

function world(keep: boolean): NameWorld {
  // IPv6 answers first (1 ms each way), IPv4 3 ms each way: IPv6 wins, IPv4 connects 4 ms later.
  return nameWorld({ v4: { delayMs: 3 }, config: { mptcp: { announce: 'none' }, eyeballs: { keepOtherFamilyForMptcp: keep } } });
}

/** alice opens carol (P = 0: both families at once); carol's listener accepts the winner. */
function openCarol(w: NameWorld): { opened: NameConnection; accepted: NameConnection } {
  const listener = w.carol.names.listenStream({ service: 7 });
  let result: OpenResult | undefined;
  w.alice.names.openStream({ peerName: 'carol.lab.test', service: 7 }, w.net.now, (r) => (result = r));
  w.net.runUntil(() => result !== undefined, w.net.now + 5000);
  if (!result?.ok) throw new Error(`open failed: ${result?.error.code}`);
  let accepted: NameConnection | undefined;
  w.net.runUntil(() => (accepted ??= listener.accept()) !== undefined, w.net.now + 1000);
  return { opened: result.connection, accepted: accepted! };
}

const subflows = (c: NameConnection): SubflowStats[] => mptcpConnectionStats(c.conn as MptcpConnection).subflows.filter((s) => s.state !== 'CLOSED');

describe('Happy Eyeballs: the loser kept as an MPTCP subflow', () => {
  it('both families healthy: the IPv4 attempt is reset, its path joins the IPv6 winner, and a transfer uses both (SHA-256)', () => {
    const w = world(true);
    const joinSyns: string[] = [];
    w.net.onTrace((e) => {
      if (e.kind !== 'sent' || e.from !== 'alice' || e.path !== 'v4') return;
      const p = parsePacket(e.packet);
      if (!p.ok || p.value.transport.protocol !== 'tcp' || p.value.transport.repr.flags !== TCP_SYN) return;
      const join = p.value.transport.repr.options.some((o) => o.kind === 'mptcp' && o.option.subtype === 'mpJoinSyn');
      joinSyns.push(`${e.time} ${join ? 'MP_JOIN' : 'MP_CAPABLE'}`);
    });
    const { opened, accepted } = openCarol(w);
    w.net.run(w.net.now + 100);

    // The race: IPv6 won; IPv4 connected after it, was kept, and its path joined.
    const race = opened.race!;
    expect(race.attempts.map((a) => [a.family, a.outcome, a.joined])).toEqual([
      [6, 'won', undefined],
      [4, 'extra', true],
    ]);
    const extra = race.attempts[1]!;

    // 2 MB from alice to carol over the one connection. Joins wait until the connection is
    // fully established (RFC 8684 3.2: for the client, the peer's first DSS), i.e. the first data.
    const data = randomBytes(2 << 20, 6);
    const sender = new Peer(opened.conn, data, w.net);
    const receiver = new Peer(accepted.conn, undefined, w.net, false);
    w.net.runUntil(() => receiver.ended, w.net.now + 60_000);
    expect(sender.sentAll && receiver.ended).toBe(true);
    expect(sha256(receiver.received)).toBe(sha256(data));

    // On the IPv4 path: the race's MP_CAPABLE attempt, then (after it connected) one MP_JOIN.
    expect(joinSyns.map((x) => x.split(' ')[1])).toEqual(['MP_CAPABLE', 'MP_JOIN']);
    expect(Number(joinSyns[0]!.split(' ')[0])).toBe(extra.startedAt);
    expect(Number(joinSyns[1]!.split(' ')[0])).toBeGreaterThanOrEqual(extra.endedAt!);

    // Both ends: one connection, subflows on both families (the IPv4 one a join from alice's IPv4 address).
    for (const [c, local, remote] of [
      [opened, ADDR.alice4, ADDR.carol4],
      [accepted, ADDR.carol4, ADDR.alice4],
    ] as const) {
      // (alice's other IPv6 addresses join carol's IPv6 address too: the path manager's full mesh.)
      const s = subflows(c);
      expect(s.some((x) => x.local.startsWith('[') && x.fullyEstablished)).toBe(true);
      expect(s.filter((x) => !x.local.startsWith('['))).toHaveLength(1);
      const v4 = s.find((x) => !x.local.startsWith('['))!;
      expect([v4.local.split(':')[0], v4.remote.split(':')[0], v4.fullyEstablished]).toEqual([local, remote, true]);
      expect(v4.role).toBe(c === opened ? 'join-client' : 'join-server');
    }

    // The data went on both families' subflows.
    const used = mptcpConnectionStats(opened.conn as MptcpConnection).subflows;
    const byFamily = (v6: boolean): number => used.filter((x) => x.local.startsWith('[') === v6).reduce((n, x) => n + x.dataBytesSent, 0);
    expect(byFamily(true)).toBeGreaterThan(0);
    expect(byFamily(false)).toBeGreaterThan(0);
    expect(byFamily(true) + byFamily(false)).toBeGreaterThanOrEqual(data.length);
  });

  it('without keepOtherFamilyForMptcp the loser is reset and the connection stays on one family', () => {
    const w = world(false);
    const { opened, accepted } = openCarol(w);
    const data = randomBytes(256 << 10, 7);
    new Peer(opened.conn, data, w.net);
    const receiver = new Peer(accepted.conn, undefined, w.net, false);
    w.net.runUntil(() => receiver.ended, w.net.now + 60_000);
    expect(sha256(receiver.received)).toBe(sha256(data));
    expect(opened.race!.attempts.map((a) => [a.family, a.outcome])).toEqual([
      [6, 'won'],
      [4, 'cancelled'],
    ]);
    // Fully established, the path manager joined from alice's other IPv6 addresses, but nothing on IPv4.
    for (const c of [opened, accepted]) expect(subflows(c).filter((x) => !x.local.startsWith('['))).toEqual([]);
  });

  it('a kept attempt whose family never answers is reset after keepOtherFamilyWaitMs; the connection keeps its one subflow', () => {
    const w = world(true);
    w.paths.v4.setUp(false);
    const { opened } = openCarol(w);
    w.net.run(w.net.now + 3000);
    const [won, kept] = opened.race!.attempts;
    expect([won!.outcome, kept!.outcome]).toEqual(['won', 'cancelled']);
    expect(kept!.endedAt! - won!.endedAt!).toBe(2000);
    expect(subflows(opened)).toHaveLength(1);
  });
});
