// The connection's send buffer against a slow lossy path: data leaves it only with the
// DATA_ACK, so a loss on the 60 ms path holds back everything the 10 ms path sent meanwhile.
// With the fixed 1 MiB of tcp.sendBufferBytes the default (Linux) scheduler idled the fast
// path (73.5 Mbit/s here against lowest-rtt's 88.3; 47.2 vs 93.5 in the lab against the
// kernel); the buffer now grows to 2 * sum(rate) * max(RTT) (connection.ts growSendBuffer).

import { describe, expect, it } from 'vitest';
import type { MptcpSchedulerName } from '../../stack/config.js';
import { mptcpPair, mptcpTransfer, randomBytes, sha256, type PathSpec } from './sim-mptcp.js';

// The bench's heterogeneous pair (scripts/bench-mptcp): 100 Mbit/s at 10 ms RTT, 50 Mbit/s
// at 60 ms RTT with 0.5% loss each way.
const HETERO: PathSpec[] = [
  { ipv6: false, params: { delayMs: 5, rateBitsPerSecond: 100e6, queueLimitPackets: 100 } },
  { ipv6: false, params: { delayMs: 30, rateBitsPerSecond: 50e6, lossRate: 0.005, queueLimitPackets: 100 } },
];
const BYTES = 20_000_000;

function goodput(scheduler: MptcpSchedulerName, sendBufferBytes?: number): number {
  const p = mptcpPair({ seed: 'hetero', paths: HETERO });
  const data = randomBytes(BYTES, 'hetero');
  const t = mptcpTransfer(p, { clientData: data, connect: { scheduler, ...(sendBufferBytes ? { sendBufferBytes } : {}) } });
  expect(p.net.runUntil(() => t.server()?.receivedBytes === BYTES, 30_000)).toBe(true);
  const s = t.server()!;
  expect(sha256(s.received)).toBe(sha256(data));
  return (BYTES * 8) / (s.lastByteAt / 1000) / 1e6;
}

describe('MPTCP send buffer on heterogeneous paths', () => {
  it('grows, so the default scheduler does at least as well as lowest-rtt and fills the fast path', () => {
    const def = goodput('default');
    const lowest = goodput('lowest-rtt');
    expect(def).toBeGreaterThanOrEqual(0.98 * lowest);
    // The 100 Mbit/s path alone carries ~93 Mbit/s of goodput.
    expect(def).toBeGreaterThan(90);
  });

  it('an explicit sendBufferBytes is kept (as SO_SNDBUF locks Linux auto-tuning): 1 MiB idles the fast path', () => {
    expect(goodput('default', 1 << 20)).toBeLessThan(85);
  });
});
