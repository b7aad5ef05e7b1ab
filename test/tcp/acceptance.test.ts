// Which segments an established connection believes (RFC 9293 3.10.7.4 first to fifth
// checks): the sequence window, RST and SYN under RFC 5961 (exact match resets, in-window
// gets a challenge ACK, outside is ignored), the ACK range check, and PAWS (RFC 7323 5).

import { describe, expect, it } from 'vitest';
import type { TcpError } from '../../stack/tcp/errors.js';
import { accept, pattern, TcpTrace } from './trace.js';

function setup(opts: Parameters<typeof accept>[1] = {}) {
  const tr = new TcpTrace();
  const e = accept(tr, opts);
  const events: string[] = [];
  let error: TcpError | undefined;
  e.conn.handler = {
    onData: (_c, d) => events.push(`data ${d.length}`),
    onEnd: () => events.push('end'),
    onClose: (_c, err) => {
      error = err;
      events.push('close');
    },
  };
  return { tr, ...e, events, error: () => error };
}

describe('RST (RFC 5961 3.2)', () => {
  it('resets the connection when the RST is exactly at RCV.NXT', () => {
    const { tr, conn, theirs, error } = setup();
    tr.send(200, { flags: 'R', seq: theirs });
    expect(conn.state).toBe('CLOSED');
    expect(error()?.code).toBe('ECONNRESET');
    tr.recvNothing();
  });

  it('answers an in-window RST that is not exact with a challenge ACK and stays up', () => {
    const { tr, conn, ours, theirs } = setup();
    tr.send(200, { flags: 'R', seq: theirs + 1000 });
    expect(tr.recvOne()).toMatchObject({ flags: '.', seq: ours, ack: theirs });
    expect(conn.state).toBe('ESTABLISHED');
    expect(conn.stats().challengeAcks).toBe(1);
  });

  it('ignores a RST outside the window', () => {
    const { tr, conn, theirs } = setup();
    tr.send(200, { flags: 'R', seq: theirs + 200_000 });
    tr.send(201, { flags: 'R', seq: theirs - 10 });
    tr.recvNothing();
    expect(conn.state).toBe('ESTABLISHED');
  });

  it('limits challenge ACKs host-wide (RFC 5961 7)', () => {
    const tr = new TcpTrace({ config: { tcp: { challengeAckPerSecond: 2, outOfWindowAckIntervalMs: 0 } } });
    const { conn, theirs } = accept(tr);
    for (let i = 0; i < 5; i++) tr.send(200 + i, { flags: 'R', seq: theirs + 100 + i });
    expect(tr.recv()).toHaveLength(2);
    tr.send(1300, { flags: 'R', seq: theirs + 100 });
    expect(tr.recv()).toHaveLength(1);
    expect(conn.state).toBe('ESTABLISHED');
  });
});

describe('SYN in a synchronized state (RFC 5961 4.2)', () => {
  it('answers any SYN with a challenge ACK and keeps the connection', () => {
    const { tr, conn, ours, theirs } = setup();
    tr.send(200, { flags: 'S', seq: theirs + 5 });
    expect(tr.recvOne()).toMatchObject({ flags: '.', seq: ours, ack: theirs });
    tr.send(1300, { flags: 'S', seq: theirs });
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: theirs });
    expect(conn.state).toBe('ESTABLISHED');
  });
});

describe('ACK check (RFC 5961 5.2, RFC 9293 3.10.7.4 fifth)', () => {
  it('answers an ACK for data never sent with a challenge ACK and drops the segment', () => {
    const { tr, conn, ours, theirs, events } = setup();
    tr.send(200, { flags: 'P.', seq: theirs, ack: ours + 5000, data: 10 });
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: theirs });
    expect(events).toEqual([]);
    expect(conn.stats().bytesReceived).toBe(0);
  });

  it('drops a segment without ACK in ESTABLISHED', () => {
    const { tr, theirs, events } = setup();
    tr.send(200, { flags: 'P', seq: theirs, data: 10 });
    tr.recvNothing();
    expect(events).toEqual([]);
  });
});

describe('sequence window (RFC 9293 3.10.7.4 first)', () => {
  it('acknowledges data below RCV.NXT at once with a D-SACK and delivers nothing twice', () => {
    const { tr, ours, theirs, events } = setup({ sack: true });
    tr.send(200, { flags: 'P.', seq: theirs, ack: ours, data: 100 });
    tr.recv();
    tr.send(300, { flags: 'P.', seq: theirs, ack: ours, data: 100 });
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: theirs + 100, sack: [[theirs, theirs + 100]] });
    expect(events).toEqual(['data 100']);
  });

  it('trims data beyond the right edge of the window', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr, { listen: { receiveBufferBytes: 1000 } });
    // The window we offered is the 1000-byte buffer; the peer sends 1500.
    const got: number[] = [];
    conn.handler = { onData: (_c, d) => got.push(d.length) };
    conn.pause();
    tr.send(200, { flags: 'P.', seq: theirs, ack: ours, data: 1500 });
    expect(tr.recvOne()).toMatchObject({ ack: theirs + 1000, win: 0 });
    expect(conn.readableLength).toBe(1000);
    // A zero window accepts no data, but a segment at RCV.NXT still carries an ACK (RFC 9293 3.10.7.4).
    tr.send(300, { flags: 'P.', seq: theirs + 1000, ack: ours, data: 500 });
    expect(tr.recvOne()).toMatchObject({ ack: theirs + 1000, win: 0 });
    // Reading opens the window: an update goes at once (RFC 1122 4.2.3.3).
    conn.resume();
    expect(tr.recvOne()).toMatchObject({ flags: '.', ack: theirs + 1000, win: 1000 });
    expect(got).toEqual([1000]);
  });
});

describe('PAWS (RFC 7323 5.3)', () => {
  it('drops a segment whose TSval is older than TS.Recent and acknowledges it', () => {
    const { tr, ours, theirs, events, hostTs } = setup({ ts: true });
    tr.send(200, { flags: 'P.', seq: theirs, ack: ours, data: 10, ts: [500, hostTs()] });
    expect(tr.recvOne()).toMatchObject({ ack: theirs + 10 });
    // A segment from an earlier wrap of the sequence space: in window, but an old TSval.
    tr.send(300, { flags: 'P.', seq: theirs + 10, ack: ours, data: 10, ts: [400, hostTs()] });
    const ack = tr.recvOne();
    expect(ack).toMatchObject({ flags: '.', ack: theirs + 10 });
    expect(ack.ts![1]).toBe(500);
    expect(events).toEqual(['data 10']);
    // The same data with a current TSval is taken.
    tr.send(400, { flags: 'P.', seq: theirs + 10, ack: ours, data: 10, ts: [501, hostTs()] });
    expect(events).toEqual(['data 10', 'data 10']);
  });

  it('still believes a RST with an old timestamp (Linux tcp_validate_incoming)', () => {
    const { tr, conn, ours, theirs, hostTs } = setup({ ts: true });
    tr.send(200, { flags: '.', seq: theirs, ack: ours, ts: [500, hostTs()] });
    tr.send(300, { flags: 'R', seq: theirs, ts: [1, 0] });
    expect(conn.state).toBe('CLOSED');
  });

  it('echoes TS.Recent from the segment that advanced the left edge (RFC 7323 4.3)', () => {
    const { tr, conn, ours, theirs, hostTs } = setup({ ts: true });
    conn.write(pattern(0, 100));
    const data = tr.recvOne();
    tr.send(200, { flags: '.', seq: theirs, ack: ours + 100, ts: [77, data.ts![0]] });
    conn.write(pattern(100, 10));
    expect(tr.recvOne().ts![1]).toBe(77);
    void hostTs;
  });
});
