// Bulk transfers between two hosts over impaired paths, both directions at once, checked by
// SHA-256 (the kernel selftest mptcp_connect.sh pattern on the simulated network), with
// CUBIC and with NewReno. Simulated time only: no wall-clock thresholds.

import { describe, expect, it } from 'vitest';
import type { ImpairmentParams } from '../../tun/impairment.js';
import { randomBytes, sha256, simPair, transfer } from './sim-pair.js';

const PROFILES: [string, Partial<ImpairmentParams>][] = [
  ['clean, 50 ms RTT', { delayMs: 25 }],
  ['1% loss', { delayMs: 10, lossRate: 0.01 }],
  ['5% loss', { delayMs: 10, lossRate: 0.05 }],
  ['reordering', { delayMs: 10, jitterMs: 3, reorderRate: 0.05 }],
  ['duplication', { delayMs: 10, duplicateRate: 0.05 }],
  ['20 Mbit/s bottleneck, 1% loss, 50 ms', { delayMs: 25, lossRate: 0.01, rateBitsPerSecond: 20e6, queueLimitPackets: 200 }],
];

describe.each(['cubic', 'newreno'] as const)('bulk transfer both ways (%s)', (cc) => {
  it.each(PROFILES.map(([name, imp], i) => [name, imp, i] as const))('%s', (name, impairment, i) => {
    const family = i % 2 === 0 ? 4 : 6;
    const p = simPair({ seed: `bulk-${cc}-${name}`, impairment, config: { tcp: { congestionControl: cc } } });
    const aData = randomBytes(3_000_000 + i * 1000, `a-${name}`);
    const bData = randomBytes(2_000_000 + i * 777, `b-${name}`);
    const t = transfer(p, { family, aData, bData });
    const done = p.net.runUntil(() => t.client().ended && t.server()?.ended === true, 600_000);
    const client = t.client();
    const server = t.server()!;
    expect(done, `${name}: finished in simulated time`).toBe(true);
    expect(client.error).toBeUndefined();
    expect(server.error).toBeUndefined();
    expect(sha256(server.received)).toBe(sha256(aData));
    expect(sha256(client.received)).toBe(sha256(bData));
    expect(client.conn.stats().congestionControl).toBe(cc);
    // Both sides close cleanly afterwards.
    p.net.runUntil(() => client.closed && server.closed, p.net.now + 200_000);
    expect(client.closed && server.closed).toBe(true);
    expect(p.tcpA.connectionCount + p.tcpB.connectionCount).toBe(0);
  });
});
