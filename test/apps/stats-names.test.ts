// `namestack stats` (human form) on the name layer's part of a real stats reply: the daemon's
// own nameLayerStats() over a name stack on the simulated lab in miniature, after alice
// opened carol by name (Happy Eyeballs at P = 0, the IPv4 loser kept as a subflow) and sent
// data both ways; through JSON as on the control socket. The text must show each
// connection's names and verdict, the race, and every MPTCP subflow like `ss -Mi`.

import { describe, expect, it } from 'vitest';
import { formatStats } from '../../apps/client/stats.js';
import { nameLayerStats } from '../../apps/host/name-transport.js';
import type { NameConnection } from '../../stack/socket/name-connection.js';
import { Peer, randomBytes } from '../mptcp/sim-mptcp.js';
import { ADDR, nameWorld } from '../socket/name-world.js';

describe('namestack stats: names and MPTCP subflows', () => {
  it('renders the names of both ends with the verdict, the race, and one line per subflow with addresses, state, flags, cwnd, srtt, bytes and reinjections', () => {
    const w = nameWorld({ v4: { delayMs: 3 }, config: { mptcp: { announce: 'none' } } });
    const listener = w.carol.names.listenStream({ service: 7 });
    let opened: NameConnection | undefined;
    w.alice.names.openStream({ peerName: 'carol.lab.test', service: 7 }, w.net.now, (r) => {
      if (!r.ok) throw r.error;
      opened = r.connection;
    });
    let accepted: NameConnection | undefined;
    w.net.runUntil(() => opened !== undefined && (accepted ??= listener.accept()) !== undefined, w.net.now + 5000);
    // Data both ways, the connections left open (as stats sees live ones).
    const a = new Peer(opened!.conn, randomBytes(300_000, 1), w.net, false);
    const c = new Peer(accepted!.conn, randomBytes(50_000, 2), w.net, false);
    w.net.runUntil(() => a.receivedBytes === 50_000 && c.receivedBytes === 300_000, w.net.now + 30_000);
    w.net.run(w.net.now + 200);

    const reply = JSON.parse(JSON.stringify({ name: 'alice', pid: 1, version: 'test', uptimeMs: 0, names: nameLayerStats(w.alice.names, w.alice.mptcp) })) as Record<string, unknown>;
    const text = formatStats(reply);
    const lines = text.split('\n');
    const section = lines.slice(lines.indexOf('names:'));

    expect(section).toContain('  host names: alice.lab.test');
    expect(text).toMatch(/^ {2}counters: opens:1 verified:1/m);
    expect(text).toContain('  P: carol.lab.test 1');
    // The race: P before -> after, answers and attempts in ms after the call, the loser joined.
    expect(text).toMatch(new RegExp(`^ {4}carol\\.lab\\.test P 0 -> 1, 4 ms: AAAA 2 \\(1\\); A 2 \\(1\\); IPv6 ${ADDR.carol6} 2-4 won; IPv4 ${ADDR.carol4} 2-8 extra \\(joined\\)$`, 'm'));
    // The named connection: addresses, then the names of both ends and the verdict.
    expect(text).toMatch(new RegExp(`^ {4}initiator mptcp ESTABLISHED \\[${ADDR.alice6}\\]:\\d+ -> \\[${ADDR.carol6}\\]:7$`, 'm'));
    expect(text).toMatch(/^ {6}local name alice\.lab\.test {2}peer name carol\.lab\.test verified {2}exchange done {2}subflows \d+$/m);
    // MPTCP like ss -Mi: the connection, then every subflow (the initial one on IPv6, the race's IPv4 join).
    expect(text).toMatch(/^mptcp: \d+ connections {2}activeOpens:2/m);
    expect(text).toMatch(/^ {2}mptcp ESTABLISHED token:[0-9a-f]+ remote_token:[0-9a-f]+ subflows:\d+ sched:\w+ cc:\w+ snd_una:300000 snd_nxt:300000 write_seq:300000 rcv_nxt:50000 reinjected:\d+ data_rtx:\d+$/m);
    const subflow = (role: string, from: string, to: string): RegExp =>
      new RegExp(`^ {4}subflow \\d+ ${role} ${from}:\\d+ -> ${to}:7 ESTABLISHED [a-z,]*active cwnd:\\d+ srtt:\\d+\\.\\d sent:\\d+ acked:\\d+ rcvd:\\d+ retrans:\\d+ data_sent:\\d+ no_dss:\\d+ reinjected:\\d+$`, 'm');
    expect(text).toMatch(subflow('mpc-client', `\\[${ADDR.alice6}\\]`, `\\[${ADDR.carol6}\\]`));
    expect(text).toMatch(/ sent:300000 acked:300000 rcvd:50000 /);
    expect(text).toMatch(subflow('join-client', ADDR.alice4, ADDR.carol4));
  });
});
