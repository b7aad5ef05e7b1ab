// When the receiver acknowledges (RFC 9293 3.8.6.3, RFC 5681 4.2, delayed-ack.ts): quick
// ACKs at the start, every second full segment, a delayed ACK for a lone segment, at once
// for out-of-order data and for data filling a gap, never a delayed window update.

import { describe, expect, it } from 'vitest';
import { accept, TcpTrace } from './trace.js';

const MSS = 1460;

describe('ACK policy', () => {
  it('acknowledges every segment while in quick-ACK mode at the start (Linux TCP_MAX_QUICKACKS)', () => {
    const tr = new TcpTrace();
    const { ours, theirs } = accept(tr);
    for (let i = 0; i < 4; i++) tr.send(200 + i, { flags: '.', seq: theirs + i * MSS, ack: ours, data: MSS });
    expect(tr.recv().map((s) => [s.time, s.ack - theirs])).toEqual([
      [200, MSS],
      [201, 2 * MSS],
      [202, 3 * MSS],
      [203, 4 * MSS],
    ]);
  });

  it('then acknowledges every second full segment, and delays a lone one (RFC 5681 4.2)', () => {
    const tr = new TcpTrace({ config: { tcp: { quickAckSegments: 0 } } });
    const { ours, theirs } = accept(tr);
    tr.send(200, { flags: '.', seq: theirs, ack: ours, data: MSS });
    tr.recvNothing();
    tr.send(205, { flags: '.', seq: theirs + MSS, ack: ours, data: MSS });
    expect(tr.recvOne()).toMatchObject({ time: 205, ack: theirs + 2 * MSS });
    tr.send(300, { flags: '.', seq: theirs + 2 * MSS, ack: ours, data: MSS });
    // Delayed by ato (delayedAckMinMs = 40 ms here), not beyond delayedAckMaxMs.
    expect(tr.recv(400).map((s) => [s.time, s.ack - theirs])).toEqual([[340, 3 * MSS]]);
  });

  it('acknowledges out-of-order data at once with a SACK block, and the gap fill at once', () => {
    const tr = new TcpTrace({ config: { tcp: { quickAckSegments: 0 } } });
    const { ours, theirs } = accept(tr, { sack: true });
    tr.send(200, { flags: '.', seq: theirs + MSS, ack: ours, data: MSS });
    expect(tr.recvOne()).toMatchObject({ time: 200, ack: theirs, sack: [[theirs + MSS, theirs + 2 * MSS]] });
    tr.send(210, { flags: '.', seq: theirs, ack: ours, data: MSS });
    expect(tr.recvOne()).toMatchObject({ time: 210, ack: theirs + 2 * MSS, sack: [] });
  });

  it('never delays a window update after the application reads', () => {
    const tr = new TcpTrace({ config: { tcp: { quickAckSegments: 0 } } });
    const { conn, ours, theirs } = accept(tr, { listen: { receiveBufferBytes: 4 * MSS } });
    conn.pause();
    tr.send(200, { flags: '.', seq: theirs, ack: ours, data: 2 * MSS });
    tr.send(201, { flags: '.', seq: theirs + 2 * MSS, ack: ours, data: 2 * MSS });
    const closed = tr.recv();
    expect(closed.at(-1)).toMatchObject({ ack: theirs + 4 * MSS, win: 0 });
    tr.advance(250);
    while (conn.read() !== undefined);
    tr.advance(250);
    expect(tr.recvOne()).toMatchObject({ time: 250, ack: theirs + 4 * MSS, win: 4 * MSS });
  });
});
