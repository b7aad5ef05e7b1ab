// Backup subflows (RFC 8684 3.3.8): the B flag on MP_JOIN and MP_PRIO later; the default
// scheduler leaves backups idle while a regular subflow works and fails over to them.

import { describe, expect, it } from 'vitest';
import type { MptcpConnection } from '../../stack/mptcp/connection.js';
import { mptcpConnectionStats } from '../../stack/mptcp/stats.js';
import { parsePacket } from '../../stack/wire/packet.js';
import { mptcpPair, mptcpTransfer, randomBytes, sha256, tcpOf } from './sim-mptcp.js';

const PATH = { delayMs: 5, rateBitsPerSecond: 20_000_000, queueLimitPackets: 100 };

/** Data bytes (both directions, acknowledged) on the client's subflows from `prefix`. */
function bytesVia(conn: MptcpConnection, prefix: string): number {
  return mptcpConnectionStats(conn).subflows.filter((f) => f.local.startsWith(prefix)).reduce((n, f) => n + f.bytesAcked + f.bytesReceived, 0);
}

describe('backup subflows', () => {
  it('joins from a backup interface carry the B flag and no data until the regular link goes down', () => {
    const p = mptcpPair({ seed: 'backup', paths: [{ params: PATH, ipv6: false }, { params: PATH, ipv6: false }], clientOptions: { backupInterfaces: ['p2'] } });
    const flags: boolean[] = [];
    p.net.onTrace((e) => {
      if (e.kind !== 'sent') return;
      const r = parsePacket(e.packet);
      for (const o of (r.ok ? tcpOf(r.value)?.options : undefined) ?? []) if (o.kind === 'mptcp' && o.option.subtype === 'mpJoinSyn') flags.push(o.option.backup);
    });
    const clientData = randomBytes(3_000_000, 'b-c');
    const serverData = randomBytes(3_000_000, 'b-s');
    const t = mptcpTransfer(p, { clientData, serverData });
    p.net.runUntil(() => t.server() !== undefined && t.client.receivedBytes > 1_000_000, 10_000);
    const client = t.client.conn as MptcpConnection;
    // Joins from 10.2.0.1 (backup) and the one from 10.1.0.1 to the announced address (regular).
    expect(flags.filter((b) => b).length).toBe(2);
    expect(flags.filter((b) => !b).length).toBe(1);
    expect(mptcpConnectionStats(t.server()!.conn as MptcpConnection).subflows.filter((f) => f.backupRemote).length).toBe(2);
    // Nothing but handshake and DATA_ACK traffic on the backups so far.
    expect(bytesVia(client, '10.2.')).toBe(0);
    p.paths[0]!.setUp(false);
    p.client.setLinkUp(1, false);
    expect(p.net.runUntil(() => t.client.closed && t.server()!.closed, 60_000)).toBe(true);
    expect(sha256(t.server()!.received)).toBe(sha256(clientData));
    expect(sha256(t.client.received)).toBe(sha256(serverData));
    expect(bytesVia(client, '10.2.')).toBeGreaterThan(1_000_000);
  });

  it('MP_PRIO turns established subflows into backups: the peer marks them and both sides stop using them', () => {
    const p = mptcpPair({ seed: 'prio', paths: [{ params: PATH, ipv6: false }, { params: PATH, ipv6: false }] });
    const prios: boolean[] = [];
    p.net.onTrace((e) => {
      if (e.kind !== 'sent') return;
      const r = parsePacket(e.packet);
      for (const o of (r.ok ? tcpOf(r.value)?.options : undefined) ?? []) if (o.kind === 'mptcp' && o.option.subtype === 'mpPrio') prios.push(o.option.backup);
    });
    const clientData = randomBytes(4_000_000, 'p-c');
    const serverData = randomBytes(4_000_000, 'p-s');
    const t = mptcpTransfer(p, { clientData, serverData });
    p.net.runUntil(() => t.server() !== undefined && t.client.receivedBytes > 800_000, 10_000);
    const client = t.client.conn as MptcpConnection;
    const server = t.server()!.conn as MptcpConnection;
    expect(bytesVia(client, '10.2.')).toBeGreaterThan(100_000);
    p.clientMptcp.setBackupInterfaces(['p2']);
    p.net.runUntil(() => false, p.net.now + 200);
    expect(prios).toEqual([true, true]);
    expect(mptcpConnectionStats(server).subflows.filter((f) => f.backupRemote).length).toBe(2);
    const before = bytesVia(client, '10.2.');
    expect(p.net.runUntil(() => t.client.closed && t.server()!.closed, 60_000)).toBe(true);
    expect(sha256(t.server()!.received)).toBe(sha256(clientData));
    expect(sha256(t.client.received)).toBe(sha256(serverData));
    // Only what was in flight then (a few windows) went on the backups afterwards.
    expect(bytesVia(client, '10.2.') - before).toBeLessThan(600_000);
    expect(bytesVia(client, '10.1.')).toBeGreaterThan(4_000_000);
  });
});
