// When the receiver acknowledges (RFC 9293 3.8.6.3, RFC 5681 4.2, delayed-ack.ts): quick
// ACKs at the start, every second full segment (one ACK for what one input turn brought),
// a delayed ACK for a lone segment, at once for out-of-order data and for data filling a
// gap, never a delayed window update.

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

  it('acknowledges the in-order segments of one input turn once, at the end of the turn', () => {
    const tr = new TcpTrace({ config: { tcp: { quickAckSegments: 0 } } });
    const { ours, theirs } = accept(tr);
    tr.sendBatch(200, Array.from({ length: 8 }, (_, i) => ({ flags: '.', seq: theirs + i * MSS, ack: ours, data: MSS })));
    expect(tr.recv().map((s) => [s.time, s.ack - theirs])).toEqual([[200, 8 * MSS]]);
    // The next turn's pair gets its own ACK; a lone segment is still delayed.
    tr.sendBatch(210, [0, 1].map((i) => ({ flags: '.', seq: theirs + (8 + i) * MSS, ack: ours, data: MSS })));
    expect(tr.recv().map((s) => [s.time, s.ack - theirs])).toEqual([[210, 10 * MSS]]);
    tr.sendBatch(300, [{ flags: '.', seq: theirs + 10 * MSS, ack: ours, data: MSS }]);
    expect(tr.recv(400).map((s) => [s.time, s.ack - theirs])).toEqual([[340, 11 * MSS]]);
  });

  it('without ackPerTurn, acknowledges every second segment of a turn (RFC 5681 4.2)', () => {
    const tr = new TcpTrace({ config: { tcp: { quickAckSegments: 0, ackPerTurn: false } } });
    const { ours, theirs } = accept(tr);
    tr.sendBatch(200, Array.from({ length: 8 }, (_, i) => ({ flags: '.', seq: theirs + i * MSS, ack: ours, data: MSS })));
    expect(tr.recv().map((s) => s.ack - theirs)).toEqual([2, 4, 6, 8].map((n) => n * MSS));
  });

  it('still acknowledges every segment of a turn in quick-ACK mode', () => {
    const tr = new TcpTrace();
    const { ours, theirs } = accept(tr);
    tr.sendBatch(200, Array.from({ length: 4 }, (_, i) => ({ flags: '.', seq: theirs + i * MSS, ack: ours, data: MSS })));
    expect(tr.recv().map((s) => s.ack - theirs)).toEqual([1, 2, 3, 4].map((n) => n * MSS));
  });

  it('acknowledges out-of-order data and the gap fill within a turn at once, segment by segment', () => {
    const tr = new TcpTrace({ config: { tcp: { quickAckSegments: 0 } } });
    const { ours, theirs } = accept(tr, { sack: true });
    const at = (i: number) => ({ flags: '.', seq: theirs + i * MSS, ack: ours, data: MSS });
    // 0 and 1 in order, 3 and 4 beyond a hole at 2: each out-of-order segment is a duplicate
    // ACK of its own (the sender counts them), the first also covering 0-1.
    tr.sendBatch(200, [at(0), at(1), at(3), at(4)]);
    expect(tr.recv().map((s) => [s.ack - theirs, s.sack.map(([a, b]) => [a - theirs, b - theirs])])).toEqual([
      [2 * MSS, [[3 * MSS, 4 * MSS]]],
      [2 * MSS, [[3 * MSS, 5 * MSS]]],
    ]);
    // The retransmission fills the hole: ACKed at once, in the turn, with the next in-order segment still waiting for the turn's end.
    tr.sendBatch(210, [at(2), at(5), at(6)]);
    expect(tr.recv().map((s) => [s.ack - theirs, s.sack.length])).toEqual([
      [5 * MSS, 0],
      [7 * MSS, 0],
    ]);
  });
});
