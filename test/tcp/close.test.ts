// Closing (RFC 9293 3.6): a FIN arriving in every state, half-close both ways, simultaneous
// close, TIME_WAIT and its restart, close() with unread data or data arriving after it
// (RFC 2525 2.17), the orphan FIN_WAIT_2 timeout, keepalive (RFC 1122 4.2.3.6).

import { describe, expect, it } from 'vitest';
import type { TcpConnection } from '../../stack/tcp/connection.js';
import { accept, pattern, PEER_ISN, TcpTrace } from './trace.js';

function watch(conn: TcpConnection) {
  const events: string[] = [];
  conn.handler = {
    onData: (_c, d) => events.push(`data ${d.length}`),
    onEnd: () => events.push('end'),
    onClose: (_c, e) => events.push(e ? `close ${e.code}` : 'close'),
  };
  return events;
}

describe('a FIN in every state', () => {
  it('SYN_SENT: a FIN without SYN is dropped (RFC 9293 3.10.7.3)', () => {
    const tr = new TcpTrace();
    const conn = tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80 }, 0);
    const syn = tr.recvOne();
    tr.send(5, { flags: 'F', seq: PEER_ISN, srcPort: 80, dstPort: syn.srcPort });
    tr.recvNothing();
    expect(conn.state).toBe('SYN_SENT');
  });

  it('SYN_RECEIVED: a FIN with the handshake ACK establishes and half-closes at once', () => {
    const tr = new TcpTrace();
    let conn: TcpConnection | undefined;
    tr.tcp.listen({ port: 5000, onConnection: (c) => (conn = c) });
    tr.send(0, { flags: 'S', seq: PEER_ISN });
    const synAck = tr.recvOne();
    tr.send(10, { flags: 'FP.', seq: PEER_ISN + 1, ack: synAck.seq + 1, data: 5 });
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: PEER_ISN + 1 + 5 + 1 });
    expect(conn!.state).toBe('CLOSE_WAIT');
    expect(conn!.readableLength).toBe(5);
  });

  it('ESTABLISHED -> CLOSE_WAIT: ACKs the FIN, reports end after the data, and may still send', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    const events = watch(conn);
    tr.send(200, { flags: 'FP.', seq: theirs, ack: ours, data: 10 });
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: theirs + 11 });
    expect(conn.state).toBe('CLOSE_WAIT');
    expect(events).toEqual(['data 10', 'end']);
    // Half-close: this side goes on sending (RFC 9293 3.6).
    conn.write(pattern(0, 300));
    expect(tr.recvOne()).toMatchObject({ seq: ours, len: 300 });
    tr.send(300, { flags: '.', seq: theirs + 11, ack: ours + 300 });
    conn.end();
    expect(tr.recvOne()).toMatchObject({ flags: 'F.', seq: ours + 300 });
    expect(conn.state).toBe('LAST_ACK');
    // A retransmitted FIN in LAST_ACK: our ACK of it was lost; ACK again.
    tr.send(350, { flags: 'F.', seq: theirs + 10, ack: ours + 300 });
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: theirs + 11 });
    tr.send(400, { flags: '.', seq: theirs + 11, ack: ours + 301 });
    expect(conn.state).toBe('CLOSED');
    expect(events).toEqual(['data 10', 'end', 'close']);
  });

  it('CLOSE_WAIT: a repeated FIN is acknowledged again', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    tr.send(200, { flags: 'F.', seq: theirs, ack: ours });
    tr.recvOne();
    tr.send(300, { flags: 'F.', seq: theirs, ack: ours });
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: theirs + 1 });
    expect(conn.state).toBe('CLOSE_WAIT');
  });

  it('FIN_WAIT_1 -> CLOSING -> TIME_WAIT: simultaneous close (RFC 9293 3.6 figure 13)', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    conn.end();
    expect(tr.recvOne()).toMatchObject({ flags: 'F.', seq: ours });
    expect(conn.state).toBe('FIN_WAIT_1');
    // The peer's FIN crosses ours: it does not acknowledge our FIN.
    tr.send(200, { flags: 'F.', seq: theirs, ack: ours });
    expect(tr.recvOne()).toMatchObject({ flags: '.', seq: ours + 1, ack: theirs + 1 });
    expect(conn.state).toBe('CLOSING');
    // A retransmitted FIN in CLOSING: ACK again.
    tr.send(250, { flags: 'F.', seq: theirs, ack: ours });
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: theirs + 1 });
    tr.send(300, { flags: '.', seq: theirs + 1, ack: ours + 1 });
    expect(conn.state).toBe('TIME_WAIT');
  });

  it('FIN_WAIT_1 -> TIME_WAIT: a FIN that also acknowledges ours', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    conn.end();
    tr.recvOne();
    tr.send(200, { flags: 'F.', seq: theirs, ack: ours + 1 });
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: theirs + 1 });
    expect(conn.state).toBe('TIME_WAIT');
  });

  it('FIN_WAIT_2: keeps receiving data (half-close), then TIME_WAIT on the FIN', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    const events = watch(conn);
    conn.end();
    tr.recvOne();
    tr.send(200, { flags: '.', seq: theirs, ack: ours + 1 });
    expect(conn.state).toBe('FIN_WAIT_2');
    tr.send(300, { flags: 'P.', seq: theirs, ack: ours + 1, data: 500 });
    tr.send(301, { flags: 'F.', seq: theirs + 500, ack: ours + 1 });
    expect(tr.recv().at(-1)).toMatchObject({ flags: '.', ack: theirs + 501 });
    expect(conn.state).toBe('TIME_WAIT');
    expect(events).toEqual(['data 500', 'end']);
  });

  it('TIME_WAIT lasts 2 MSL, and a retransmitted FIN is acknowledged and restarts it', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    const events = watch(conn);
    conn.end();
    tr.recvOne();
    tr.send(200, { flags: 'F.', seq: theirs, ack: ours + 1 });
    tr.recvOne();
    expect(conn.state).toBe('TIME_WAIT');
    tr.advance(200 + 30_000);
    tr.send(200 + 30_000, { flags: 'F.', seq: theirs, ack: ours + 1 });
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: theirs + 1 });
    tr.advance(200 + 30_000 + 60_000 - 1);
    expect(conn.state).toBe('TIME_WAIT');
    tr.advance(200 + 30_000 + 60_000);
    expect(conn.state).toBe('CLOSED');
    expect(events).toEqual(['end', 'close']);
    expect(tr.tcp.connectionCount).toBe(0);
  });

  it('TIME_WAIT duration follows tcp.timeWaitMs', () => {
    const tr = new TcpTrace({ config: { tcp: { timeWaitMs: 5000 } } });
    const { conn, ours, theirs } = accept(tr);
    conn.end();
    tr.recvOne();
    tr.send(200, { flags: 'F.', seq: theirs, ack: ours + 1 });
    tr.advance(5199);
    expect(conn.state).toBe('TIME_WAIT');
    tr.advance(5200);
    expect(conn.state).toBe('CLOSED');
  });

  it('TIME_WAIT gives way to a new SYN with a higher sequence number (RFC 6191 / Linux)', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    conn.end();
    tr.recvOne();
    tr.send(200, { flags: 'F.', seq: theirs, ack: ours + 1 });
    tr.recvOne();
    tr.send(300, { flags: 'S', seq: theirs + 100_000 });
    expect(tr.recvOne()).toMatchObject({ flags: 'S.', ack: theirs + 100_001 });
    expect(conn.state).toBe('CLOSED');
  });
});

describe('close() and destroy()', () => {
  it('close() with unread data resets the connection (RFC 2525 2.17)', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    conn.handler = {};
    tr.send(200, { flags: 'P.', seq: theirs, ack: ours, data: 100 });
    tr.recv();
    conn.close();
    expect(tr.recvOne()).toMatchObject({ flags: 'R', seq: ours });
    expect(conn.state).toBe('CLOSED');
  });

  it('data arriving after close() is answered with a reset', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    const events = watch(conn);
    conn.close();
    expect(tr.recvOne()).toMatchObject({ flags: 'F.' });
    tr.send(200, { flags: 'P.', seq: theirs, ack: ours + 1, data: 100 });
    expect(tr.recvOne()).toMatchObject({ flags: 'R', seq: ours + 1 });
    expect(events).toEqual(['close ECONNRESET']);
  });

  it('an orphaned connection leaves FIN_WAIT_2 after tcp.finWait2TimeoutMs', () => {
    const tr = new TcpTrace({ config: { tcp: { finWait2TimeoutMs: 10_000 } } });
    const { conn, ours, theirs } = accept(tr);
    conn.close();
    tr.recvOne();
    tr.send(200, { flags: '.', seq: theirs, ack: ours + 1 });
    expect(conn.state).toBe('FIN_WAIT_2');
    tr.advance(10_199);
    expect(conn.state).toBe('FIN_WAIT_2');
    tr.advance(10_200);
    expect(conn.state).toBe('CLOSED');
  });

  it('end() alone waits in FIN_WAIT_2 as long as the peer likes (half-close)', () => {
    const tr = new TcpTrace({ config: { tcp: { finWait2TimeoutMs: 10_000 } } });
    const { conn, ours, theirs } = accept(tr);
    conn.end();
    tr.recvOne();
    tr.send(200, { flags: '.', seq: theirs, ack: ours + 1 });
    tr.advance(1_000_000);
    expect(conn.state).toBe('FIN_WAIT_2');
  });

  it('destroy() sends a RST and reports the error given', () => {
    const tr = new TcpTrace();
    const { conn, ours } = accept(tr);
    const events = watch(conn);
    conn.destroy();
    expect(tr.recvOne()).toMatchObject({ flags: 'R', seq: ours });
    expect(events).toEqual(['close']);
    expect(() => conn.write(pattern(0, 1))).toThrow(/EPIPE/);
  });

  it('write() after end() throws EPIPE', () => {
    const tr = new TcpTrace();
    const { conn } = accept(tr);
    conn.end();
    expect(() => conn.write(pattern(0, 1))).toThrow(/EPIPE/);
  });
});

describe('keepalive (RFC 1122 4.2.3.6)', () => {
  it('probes an idle connection and resets it with ETIMEDOUT when probes go unanswered', () => {
    const tr = new TcpTrace({ config: { tcp: { keepAliveIntervalMs: 1000, keepAliveProbes: 3 } } });
    const { conn, ours } = accept(tr);
    const events = watch(conn);
    conn.setKeepAlive(true, 5000);
    const segs = tr.recv(20_000);
    // Idle since the handshake at 100: probes at 5100, 6100, 7100, then the reset.
    expect(segs.map((s) => [s.time, s.flags, s.seq - ours, s.len])).toEqual([
      [5100, '.', -1, 0],
      [6100, '.', -1, 0],
      [7100, '.', -1, 0],
      [8100, 'R', 0, 0],
    ]);
    expect(events).toEqual(['close ETIMEDOUT']);
  });

  it('an answered probe keeps the connection and restarts the idle time', () => {
    const tr = new TcpTrace({ config: { tcp: { keepAliveIntervalMs: 1000, keepAliveProbes: 2 } } });
    const { conn, ours, theirs } = accept(tr);
    conn.setKeepAlive(true, 5000);
    const probe = tr.recvNext(10_000)!;
    expect(probe.time).toBe(5100);
    tr.send(5150, { flags: '.', seq: theirs, ack: ours });
    expect(tr.recvNext(20_000)!.time).toBe(10_150);
    expect(conn.state).toBe('ESTABLISHED');
  });
});
