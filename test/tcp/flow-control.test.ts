// Flow control: zero window and persist probes (RFC 9293 3.8.6.1), Nagle's algorithm
// (RFC 1122 4.2.3.4) and noDelay, the receive window following what the application
// reads, window scaling with a 4 MB buffer (RFC 7323 2), receive-buffer auto-tuning.

import { describe, expect, it } from 'vitest';
import { describeTcpPacket } from './describe-segment.js';
import { accept, pattern, TcpTrace } from './trace.js';
import { randomBytes, sha256, simPair, transfer } from './sim-pair.js';

describe('zero window', () => {
  it('probes a zero window with backoff while the peer answers, and sends as soon as it opens', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr, { rttMs: 100 });
    conn.write(pattern(0, 3000));
    expect(tr.recv().map((s) => s.len)).toEqual([1460, 1460, 80]);
    // Everything arrives, but the receiver's buffer is full.
    tr.send(200, { flags: '.', seq: theirs, ack: ours + 3000, win: 0 });
    conn.write(pattern(3000, 1000));
    tr.recvNothing();
    const rto = conn.stats().rtoMs;
    expect(rto).toBe(300);
    // Probes: an old sequence number, no data (Linux tcp_xmit_probe_skb); each answered with win 0.
    const probes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const p = tr.recvNext(10_000)!;
      expect(p).toMatchObject({ flags: '.', seq: ours + 2999, len: 0, ack: theirs });
      probes.push(p.time);
      tr.send(p.time + 1, { flags: '.', seq: theirs, ack: ours + 3000, win: 0 });
    }
    expect(probes).toEqual([200 + rto, 200 + 3 * rto, 200 + 7 * rto]);
    // The window opens: the waiting data goes at once.
    tr.send(3000, { flags: '.', seq: theirs, ack: ours + 3000, win: 65535 });
    expect(tr.recv().map((s) => [s.time, s.seq - ours, s.len])).toEqual([[3000, 3000, 1000]]);
    expect(conn.state).toBe('ESTABLISHED');
  });

  it('fails with ETIMEDOUT when zero-window probes go unanswered retries2 times', () => {
    const tr = new TcpTrace({ config: { tcp: { retries2: 2 } } });
    const { conn, ours, theirs } = accept(tr);
    let code: string | undefined;
    conn.handler = { onClose: (_c, e) => (code = e?.code) };
    tr.send(150, { flags: '.', seq: theirs, ack: ours, win: 0 });
    conn.write(pattern(0, 100));
    expect(tr.recv(100_000).map((s) => s.len)).toEqual([0, 0]);
    expect(code).toBe('ETIMEDOUT');
  });
});

describe("Nagle's algorithm", () => {
  it('holds small writes while a small segment is unacknowledged, then sends them together', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    conn.write(pattern(0, 100));
    expect(tr.recv().map((s) => s.len)).toEqual([100]);
    conn.write(pattern(100, 100));
    tr.recvNothing();
    conn.write(pattern(200, 100));
    tr.recvNothing();
    tr.send(200, { flags: '.', seq: theirs, ack: ours + 100 });
    const out = tr.recvOne();
    expect(out).toMatchObject({ seq: ours + 100, len: 200 });
    expect([...out.payload]).toEqual([...pattern(100, 200)]);
  });

  it('sends every write at once with noDelay', () => {
    const tr = new TcpTrace();
    const { conn } = accept(tr);
    conn.setNoDelay(true);
    conn.write(pattern(0, 100));
    expect(tr.recv().map((s) => s.len)).toEqual([100]);
    conn.write(pattern(100, 100));
    expect(tr.recv().map((s) => s.len)).toEqual([100]);
  });

  it('coalesces writes made in one tick into one segment either way', () => {
    const tr = new TcpTrace();
    const { conn } = accept(tr);
    conn.setNoDelay(true);
    for (let i = 0; i < 10; i++) conn.write(pattern(i * 10, 10));
    expect(tr.recv().map((s) => s.len)).toEqual([100]);
  });
});

describe('receive window', () => {
  it('closes as unread data accumulates and never moves its right edge back (RFC 9293 3.8.6.2.2)', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr, { listen: { receiveBufferBytes: 8192 } });
    conn.pause();
    let edge = 0;
    let seq = theirs;
    for (let i = 0; i < 6; i++) {
      tr.send(200 + i, { flags: 'P.', seq, ack: ours, data: 1000 });
      seq += 1000;
      for (const s of tr.recv(300 + i)) {
        const right = s.ack - theirs + s.win;
        expect(right).toBeGreaterThanOrEqual(edge);
        edge = right;
      }
    }
    expect(conn.readableLength).toBe(6000);
    expect(edge).toBe(8192);
    // Reading it all re-opens the window with an update.
    while (conn.read() !== undefined);
    const update = tr.recvOne();
    expect(update.ack - theirs + update.win).toBe(6000 + 8192);
  });
});

describe('window scaling and auto-tuning (two hosts)', () => {
  it('fills a 50 ms path through a 4 MB window (RFC 7323 2)', () => {
    const p = simPair({ impairment: { delayMs: 25 }, config: { tcp: { receiveBufferBytes: 4 << 20, receiveBufferAutoTune: false, sendBufferBytes: 8 << 20 } } });
    const data = randomBytes(8 << 20, 'scale');
    let maxWindow = 0;
    let maxInFlight = 0;
    p.net.onTrace((e) => {
      if (e.kind !== 'sent' || e.from !== 'b') return;
      const m = / win (\d+)/.exec(describeTcpPacket(e.packet, { options: false }) ?? '');
      if (m) maxWindow = Math.max(maxWindow, Number(m[1]));
    });
    const t = transfer(p, { aData: data });
    p.net.runUntil(() => {
      maxInFlight = Math.max(maxInFlight, t.client().conn.stats().bytesInFlight);
      return t.server()?.ended === true;
    }, 60_000);
    const st = t.client().conn.stats();
    expect(st.sendScale).toBe(7);
    // The field is scaled by 128: a 4 MB buffer is a field near 32768 (64 KB would be 512).
    expect(maxWindow * 128).toBeGreaterThanOrEqual(4_000_000);
    expect(maxInFlight).toBeGreaterThan(1 << 20);
    expect(sha256(t.server()!.received)).toBe(sha256(data));
  });

  it('grows the receive buffer with the delivery rate', () => {
    const p = simPair({ impairment: { delayMs: 25 } });
    const data = randomBytes(16 << 20, 'tune');
    const t = transfer(p, { aData: data });
    p.net.runUntil(() => t.server()?.ended === true, 60_000);
    const server = t.server()!.conn.stats();
    expect(server.receiveBuffer).toBeGreaterThan(4 * 131_072);
    expect(sha256(t.server()!.received)).toBe(sha256(data));
  });
});
