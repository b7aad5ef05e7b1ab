// RFC 8684 3.3.4: the window a subflow advertises is the connection's shared window,
// relative to the DATA_ACK. A receiver that stops reading must close the window on every
// subflow at once; none may keep offering room its own (subflow-level) right edge had.

import { describe, expect, it } from 'vitest';
import type { MptcpConnection } from '../../stack/mptcp/connection.js';
import { mptcpConnectionStats } from '../../stack/mptcp/stats.js';
import { mptcpPair, mptcpTransfer, randomBytes, sha256 } from './sim-mptcp.js';

/** The parts of a connection this test watches (private to the connection). */
interface Inside {
  send: { windowEnd: number; nxt: number };
  recv: { rcvNxt: number; bufferSize: number; stats: { outOfWindowBytes: number } };
}
const inside = (c: MptcpConnection): Inside => c as unknown as Inside;

describe('the shared MPTCP receive window', () => {
  it('a paused reader on two paths is never sent more than its buffer, and everything arrives after resume', () => {
    const BUFFER = 512 * 1024;
    const p = mptcpPair({
      seed: 'shared-window',
      paths: [
        { params: { delayMs: 5, rateBitsPerSecond: 50_000_000, queueLimitPackets: 100 }, ipv6: false },
        { params: { delayMs: 20, rateBitsPerSecond: 50_000_000, queueLimitPackets: 100 }, ipv6: false },
      ],
    });
    const serverData = randomBytes(3_000_000, 'sw');
    const t = mptcpTransfer(p, { serverData, connect: { receiveBufferBytes: BUFFER }, endAfter: false });
    const client = t.client.conn as MptcpConnection;
    client.pause();
    let worst = -Infinity;
    const pausedUntil = 2_000;
    const done = p.net.runUntil(() => {
      const server = t.serverConn() as MptcpConnection | undefined;
      if (server && inside(client).recv) {
        const r = inside(client).recv;
        // How far past what the client can hold the server was allowed to go.
        worst = Math.max(worst, inside(server).send.windowEnd - (r.rcvNxt + r.bufferSize));
      }
      if (p.net.now >= pausedUntil) client.resume();
      return t.client.receivedBytes === serverData.length;
    }, 60_000);
    expect(done).toBe(true);
    // Several subflows carried the stream, so several advertised the window.
    expect(mptcpConnectionStats(client).subflows.filter((f) => f.bytesReceived > 0).length).toBeGreaterThanOrEqual(2);
    expect(worst).toBeLessThanOrEqual(0);
    expect(inside(client).recv.stats.outOfWindowBytes).toBe(0);
    expect(sha256(t.client.received)).toBe(sha256(serverData));
  });
});
