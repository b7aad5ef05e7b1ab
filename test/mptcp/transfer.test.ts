// Transfers over 1 to 4 simulated paths, SHA-256 checked both ways: the single-path
// baseline, aggregation over rate-limited paths, reordering across paths of different
// delays, mixed IPv4 and IPv6 subflows in one connection, and each scheduler and coupled
// congestion control selectable per connection.

import { describe, expect, it } from 'vitest';
import type { MptcpCongestionControl, MptcpSchedulerName } from '../../stack/config.js';
import type { MptcpConnection } from '../../stack/mptcp/connection.js';
import { mptcpConnectionStats } from '../../stack/mptcp/stats.js';
import { isMptcp, mptcpPair, mptcpTransfer, randomBytes, sha256, serverV4, type PathSpec } from './sim-mptcp.js';

const RATE = { delayMs: 10, rateBitsPerSecond: 20_000_000, queueLimitPackets: 60 };

/** Goodput (Mbit/s) of `bytes` sent client -> server over the given paths, from connect to the last byte. */
function goodput(paths: PathSpec[], bytes: number, options: { scheduler?: MptcpSchedulerName; congestionControl?: MptcpCongestionControl } = {}) {
  const p = mptcpPair({ seed: 'agg', paths });
  const data = randomBytes(bytes, 'agg');
  const t = mptcpTransfer(p, { clientData: data, connect: options });
  const done = p.net.runUntil(() => t.server()?.receivedBytes === bytes, 60_000);
  const s = t.server()!;
  return { done, mbps: (bytes * 8) / (s.lastByteAt / 1000) / 1e6, intact: sha256(s.received) === sha256(data), conn: t.client.conn as MptcpConnection };
}

describe('MPTCP transfers on the simulated network', () => {
  it('one path: MP_CAPABLE handshake, DSS both ways, DATA_FIN close', () => {
    const p = mptcpPair({ paths: [{ params: { delayMs: 5 } }] });
    const clientData = randomBytes(300_000, 'c');
    const serverData = randomBytes(200_000, 's');
    const t = mptcpTransfer(p, { clientData, serverData });
    const done = p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 60_000);
    const s = t.server()!;
    expect(t.client.error).toBeUndefined();
    expect(s.error).toBeUndefined();
    expect(done).toBe(true);
    expect(isMptcp(t.serverConn())).toBe(true);
    expect(t.client.conn.state).toBe('CLOSED');
    expect((t.client.conn as MptcpConnection).fallback).toBe(false);
    expect(sha256(s.received)).toBe(sha256(clientData));
    expect(sha256(t.client.received)).toBe(sha256(serverData));
  });

  it('aggregates two rate-limited paths: goodput near the sum, twice one path', () => {
    const one = goodput([{ params: RATE, ipv6: false }], 4_000_000);
    const two = goodput([{ params: RATE, ipv6: false }, { params: RATE, ipv6: false }], 8_000_000);
    expect(one.done && two.done && one.intact && two.intact).toBe(true);
    // 1420-byte payloads in 1500-byte packets: 94.7 % of the link rate is the ceiling.
    expect(one.mbps).toBeGreaterThan(0.85 * 20);
    expect(two.mbps).toBeGreaterThan(0.85 * 40);
    expect(two.mbps).toBeGreaterThan(1.8 * one.mbps);
    // Both paths carried a fair share.
    const perPath = [0, 0];
    for (const f of mptcpConnectionStats(two.conn).subflows) perPath[f.local.startsWith('10.1.') ? 0 : 1]! += f.bytesAcked;
    expect(Math.min(...perPath) / Math.max(...perPath)).toBeGreaterThan(0.6);
  });

  it.each([
    ['default', 'lia'],
    ['lowest-rtt', 'olia'],
    ['round-robin', 'uncoupled'],
    ['redundant', 'lia'],
    ['backup', 'lia'],
  ] as const)('scheduler %s with %s congestion control moves 2 MB intact', (scheduler, congestionControl) => {
    const r = goodput([{ params: RATE, ipv6: false }, { params: RATE, ipv6: false }], 2_000_000, { scheduler, congestionControl });
    expect(r.done && r.intact).toBe(true);
    const s = mptcpConnectionStats(r.conn);
    expect(s.scheduler).toBe(scheduler);
    expect(s.congestionControl).toBe(congestionControl);
    const used = s.subflows.filter((f) => f.dataBytesSent + f.reinjectedBytesSent > 0).length;
    // Active/backup keeps to one subflow; the others spread over several.
    if (scheduler === 'backup') expect(used).toBe(1);
    else expect(used).toBeGreaterThan(1);
  });

  it('reorders across paths of different delays (and within a path): 3 MB each way intact', () => {
    const p = mptcpPair({
      seed: 'reorder',
      paths: [
        { params: { delayMs: 5, rateBitsPerSecond: 20_000_000, queueLimitPackets: 60 }, ipv6: false },
        { params: { delayMs: 60, jitterMs: 5, reorderRate: 0.02, rateBitsPerSecond: 10_000_000, queueLimitPackets: 60 }, ipv6: false },
        { params: { delayMs: 25, lossRate: 0.005, rateBitsPerSecond: 10_000_000, queueLimitPackets: 60 }, ipv6: false },
      ],
    });
    const clientData = randomBytes(3_000_000, 'rc');
    const serverData = randomBytes(3_000_000, 'rs');
    const t = mptcpTransfer(p, { clientData, serverData });
    expect(p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 60_000)).toBe(true);
    expect(sha256(t.server()!.received)).toBe(sha256(clientData));
    expect(sha256(t.client.received)).toBe(sha256(serverData));
    const c = mptcpConnectionStats(t.client.conn as MptcpConnection);
    // Every path carried data.
    for (const prefix of ['10.1.', '10.2.', '10.3.']) expect(c.subflows.filter((f) => f.remote.startsWith(prefix)).reduce((n, f) => n + f.bytesAcked, 0)).toBeGreaterThan(50_000);
  });

  it('four paths: subflows on all of them, 4 MB each way intact', () => {
    const paths = [1, 2, 3, 4].map(() => ({ params: { delayMs: 8, rateBitsPerSecond: 10_000_000, queueLimitPackets: 60 }, ipv6: false }));
    const p = mptcpPair({ seed: 'four', paths });
    const clientData = randomBytes(4_000_000, 'f-c');
    const serverData = randomBytes(4_000_000, 'f-s');
    const t = mptcpTransfer(p, { clientData, serverData });
    expect(p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 60_000)).toBe(true);
    expect(sha256(t.server()!.received)).toBe(sha256(clientData));
    expect(sha256(t.client.received)).toBe(sha256(serverData));
    const subflows = mptcpConnectionStats(t.client.conn as MptcpConnection).subflows;
    // Full mesh, capped at config.mptcp.maxSubflows (8): every path carries a share.
    expect(subflows.length).toBe(8);
    for (const i of [1, 2, 3, 4]) expect(subflows.filter((f) => f.local.startsWith(`10.${i}.`)).reduce((n, f) => n + f.bytesAcked, 0)).toBeGreaterThan(200_000);
  });

  it('mixes IPv4 and IPv6 subflows in one connection', () => {
    const p = mptcpPair({ seed: 'mixed', paths: [{ params: RATE, ipv6: false }, { params: RATE, ipv4: false }] });
    const clientData = randomBytes(2_000_000, 'mc');
    const serverData = randomBytes(2_000_000, 'ms');
    const t = mptcpTransfer(p, { remote: serverV4(1), clientData, serverData });
    expect(p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 60_000)).toBe(true);
    expect(sha256(t.server()!.received)).toBe(sha256(clientData));
    expect(sha256(t.client.received)).toBe(sha256(serverData));
    const subflows = mptcpConnectionStats(t.client.conn as MptcpConnection).subflows;
    const v6 = subflows.filter((f) => f.remote.startsWith('[fd02::2]'));
    const v4 = subflows.filter((f) => f.remote.startsWith('10.1.0.2'));
    expect(v4.length).toBe(1);
    expect(v6.length).toBe(1);
    expect(v6[0]!.role).toBe('join-client');
    expect(v6[0]!.bytesAcked).toBeGreaterThan(200_000);
    expect(v4[0]!.bytesAcked).toBeGreaterThan(200_000);
  });
});
