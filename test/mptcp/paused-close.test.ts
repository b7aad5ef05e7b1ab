// A paused reader must get everything it buffered, and then the end, even when the peer's
// DATA_FIN (RFC 8684 3.3.3) and the close arrive while the bytes still wait unread: once seen
// (a lab run) a paused MPTCP connection closed on the peer's DATA_FIN and ~3 MB it held were
// lost. The reader is a TcpSocket (what the daemon and `namestack perf` use) over our MPTCP
// on two paths; the connection closes completely (both DATA_FINs) before it resumes when our
// side ended first, and half-closed otherwise. A paused MptcpConnection (like TcpConnection)
// reports onClose with the unread bytes still there for read(); TcpSocket's onClose takes
// them (without that, 17,040 of 3,000,000 bytes arrive here).

import { describe, expect, it } from 'vitest';
import type { MptcpConnection } from '../../stack/mptcp/connection.js';
import { TcpSocket, type SocketDriver } from '../../stack/socket/tcp-socket.js';
import { mptcpPair, Peer, randomBytes, serverV4, sha256 } from './sim-mptcp.js';

const PATH = { delayMs: 5, rateBitsPerSecond: 100_000_000, queueLimitPackets: 200 };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('a paused MPTCP reader and the peer DATA_FIN', () => {
  for (const weEnd of ['first', 'after the end'] as const) {
    it(`3 MB and the peer's end() arrive while the socket is paused (our end ${weEnd}): after resume every byte, 'end', 'close', SHA-256 equal`, async () => {
      const p = mptcpPair({ seed: `paused-close-${weEnd}`, paths: [{ params: PATH, ipv6: false }, { params: PATH, ipv6: false }] });
      const driver: SocketDriver = { tcp: p.serverTcp, now: () => p.net.now, kick: () => {} };
      const data = randomBytes(3_000_000, 'paused-close');
      let socket: TcpSocket | undefined;
      let server: MptcpConnection | undefined;
      const received: Buffer[] = [];
      const events: string[] = [];
      p.serverMptcp.listen({
        port: 5001,
        // Room for all of it: the peer sends everything, DATA_FIN included, while we read nothing.
        receiveBufferBytes: 4 << 20,
        onConnection: (conn) => {
          server = conn as MptcpConnection;
          const s = new TcpSocket({ driver, connection: conn });
          socket = s;
          s.on('data', (d: Buffer) => received.push(d));
          for (const ev of ['end', 'close', 'error']) s.on(ev, () => events.push(ev));
          s.pause();
          if (weEnd === 'first') s.end();
        },
      });
      const client = new Peer(p.clientMptcp.connect({ remoteAddress: serverV4(1), remotePort: 5001 }, p.net.now), data, p.net);
      /** Runs the network, letting the streams react between events, until `done()` or `until` (virtual ms). */
      const drive = async (done: () => boolean, until: number): Promise<boolean> => {
        while (!done() && p.net.now < until) {
          p.net.runUntil(() => false, Math.min(until, p.net.now + 10));
          await tick();
        }
        return done();
      };
      // Until the client's DATA_FIN is acknowledged (and, when we ended first, ours too).
      const peerDone = (): boolean => client.sentAll && ['FIN_WAIT_2', 'TIME_WAIT', 'CLOSED'].includes(client.conn.state);
      expect(await drive(peerDone, 30_000)).toBe(true);
      await drive(() => false, p.net.now + 500);
      if (weEnd === 'first') expect(server!.state).toBe('CLOSED');
      // Node's paused stream takes at most its high-water mark; the rest waits below it.
      expect(Buffer.concat(received).length).toBe(0);
      expect(events).toEqual([]);
      socket!.resume();
      expect(await drive(() => events.includes('close'), p.net.now + 10_000)).toBe(true);
      expect(events).toEqual(['end', 'close']);
      expect(Buffer.concat(received).length).toBe(data.length);
      expect(sha256(Buffer.concat(received))).toBe(sha256(data));
      expect(await drive(() => client.closed, p.net.now + 10_000)).toBe(true);
      expect(client.error).toBeUndefined();
    });
  }
});
