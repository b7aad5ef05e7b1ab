// Loss recovery as packet traces: RTO timing and backoff (RFC 6298), the retransmission
// limit, fast retransmit on three duplicate ACKs and NewReno partial ACKs (RFC 5681,
// RFC 6582), SACK recovery with several holes (RFC 6675 / RFC 8985), RACK's reordering
// window, and the tail loss probe (RFC 8985 7).

import { describe, expect, it } from 'vitest';
import type { TcpError } from '../../stack/tcp/errors.js';
import { accept, pattern, show, TcpTrace } from './trace.js';

const MSS = 1460;

describe('retransmission timeout', () => {
  it('retransmits the first unacknowledged segment at RTO and doubles the timer each time (RFC 6298 5.5)', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr, { rttMs: 100 });
    // One sample of 100 ms: SRTT 100, RTTVAR 50, RTO = 100 + max(4 * 50, 200) = 300 ms.
    expect(conn.stats().rtoMs).toBe(300);
    conn.write(pattern(0, 1000));
    const first = tr.recvOne();
    expect(first).toMatchObject({ time: 100, flags: 'P.', seq: ours, len: 1000 });
    const again = tr.recv(5000);
    expect(again.map((s) => [s.time, s.seq, s.len])).toEqual([
      [400, ours, 1000],
      [1000, ours, 1000],
      [2200, ours, 1000],
      [4600, ours, 1000],
    ]);
    // The ACK ends it; Karn: no RTT sample from the retransmitted segment, backoff stays until one.
    tr.send(4650, { flags: '.', seq: theirs, ack: ours + 1000 });
    tr.recvNothing(60_000);
    expect(conn.stats().timeouts).toBe(4);
  });

  it('gives up with ETIMEDOUT after retries2 timeouts (RFC 1122 4.2.3.5)', () => {
    const tr = new TcpTrace({ config: { tcp: { retries2: 3 } } });
    const { conn } = accept(tr);
    let error: TcpError | undefined;
    conn.handler = { onClose: (_c, e) => (error = e) };
    conn.write(pattern(0, 100));
    const sent = tr.recv(100_000);
    expect(sent.map((s) => s.time)).toEqual([100, 400, 1000, 2200]);
    expect(error?.code).toBe('ETIMEDOUT');
    expect(conn.state).toBe('CLOSED');
  });

  it('restarts from one segment after a timeout and retransmits the rest in slow start (RFC 5681 3.1)', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    conn.write(pattern(0, 4 * MSS));
    expect(tr.recv().map((s) => s.len)).toEqual([MSS, MSS, MSS, MSS]);
    const rto = tr.recv(400);
    expect(rto.map((s) => [s.time, s.seq, s.len])).toEqual([[400, ours, MSS]]);
    expect(conn.stats().cwnd).toBe(MSS);
    // The ACK of the retransmission lets two more go (slow start from one segment).
    tr.send(500, { flags: '.', seq: theirs, ack: ours + MSS });
    expect(tr.recv().map((s) => [s.seq - ours, s.len])).toEqual([
      [MSS, MSS],
      [2 * MSS, MSS],
    ]);
  });
});

describe('fast retransmit without SACK (RFC 5681 3.2, RFC 6582)', () => {
  it('retransmits on the third duplicate ACK and the next hole on a partial ACK', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    conn.write(pattern(0, 8 * MSS));
    expect(tr.recv()).toHaveLength(8);
    const at = (n: number) => ours + n * MSS;
    // Segments 1 and 4 (0-based) are lost; 0 is acknowledged, then every later arrival is a duplicate.
    tr.send(200, { flags: '.', seq: theirs, ack: at(1) });
    tr.recvNothing();
    tr.send(201, { flags: '.', seq: theirs, ack: at(1) });
    tr.send(202, { flags: '.', seq: theirs, ack: at(1) });
    tr.recvNothing();
    tr.send(203, { flags: '.', seq: theirs, ack: at(1) });
    expect(tr.recv().map((s) => [s.time, s.seq - ours, s.len])).toEqual([[203, MSS, MSS]]);
    expect(conn.stats().fastRecoveries).toBe(1);
    // The retransmission fills the first hole: a partial ACK up to the second one.
    tr.send(300, { flags: '.', seq: theirs, ack: at(4) });
    const partial = tr.recv();
    expect(partial[0]).toMatchObject({ seq: at(4), len: MSS });
    tr.send(400, { flags: '.', seq: theirs, ack: at(8) });
    expect(conn.stats().bytesAcked).toBe(8 * MSS);
    expect(conn.stats().timeouts).toBe(0);
  });

  it('does not count ACKs that carry data or a window change as duplicates', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    conn.write(pattern(0, 6 * MSS));
    tr.recv();
    tr.send(200, { flags: '.', seq: theirs, ack: ours + MSS });
    tr.send(201, { flags: 'P.', seq: theirs, ack: ours + MSS, data: 10 });
    tr.send(202, { flags: '.', seq: theirs + 10, ack: ours + MSS, win: 60000 });
    tr.send(203, { flags: '.', seq: theirs + 10, ack: ours + MSS, win: 60000 });
    const out = tr.recv();
    expect(out.every((s) => s.len === 0)).toBe(true);
  });
});

describe('SACK recovery (RFC 6675, RFC 8985)', () => {
  it('repairs several holes, each retransmitted once, without a timeout', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr, { sack: true });
    conn.write(pattern(0, 10 * MSS));
    expect(tr.recv()).toHaveLength(10);
    const at = (n: number) => ours + n * MSS;
    // Holes at segments 1, 4 and 7; the receiver reports every other arrival in SACK blocks.
    tr.send(200, { flags: '.', seq: theirs, ack: at(1) });
    tr.send(201, { flags: '.', seq: theirs, ack: at(1), sack: [[at(2), at(4)]] });
    tr.send(202, { flags: '.', seq: theirs, ack: at(1), sack: [[at(5), at(7)], [at(2), at(4)]] });
    tr.send(203, { flags: '.', seq: theirs, ack: at(1), sack: [[at(8), at(10)], [at(5), at(7)], [at(2), at(4)]] });
    const repaired = tr.recv(250);
    expect(repaired.map((s) => (s.seq - ours) / MSS).sort((a, b) => a - b)).toEqual([1, 4, 7]);
    expect(repaired.every((s) => s.len === MSS)).toBe(true);
    tr.send(300, { flags: '.', seq: theirs, ack: at(10) });
    tr.recvNothing(5000);
    const st = conn.stats();
    expect(st).toMatchObject({ timeouts: 0, fastRecoveries: 1, retransmittedBytes: 3 * MSS, bytesAcked: 10 * MSS });
  });

  it('tolerates reordering within the RACK window (RFC 8985 6.2) and retransmits once it expires', () => {
    // Handshake RTT 100 ms: min_RTT 100, reo_wnd = min_RTT / 4 = 25 ms.
    for (const ackInTime of [true, false]) {
      const tr = new TcpTrace();
      const { conn, ours, theirs } = accept(tr, { sack: true, rttMs: 100 });
      conn.write(pattern(0, 4 * MSS));
      tr.recv();
      const at = (n: number) => ours + n * MSS;
      // Segment 1 is overtaken by 2 and 3.
      tr.send(200, { flags: '.', seq: theirs, ack: at(1), sack: [[at(2), at(4)]] });
      tr.recvNothing(220);
      if (ackInTime) {
        tr.send(220, { flags: '.', seq: theirs, ack: at(4) });
        tr.recvNothing(2000);
        expect(conn.stats().retransmittedBytes).toBe(0);
      } else {
        // RACK timer: sent at 100, RACK.rtt 100, reo_wnd 25: lost at 225.
        expect(tr.recv(230).map((s) => [s.time, s.seq - ours])).toEqual([[225, MSS]]);
      }
    }
  });

  it('probes the tail instead of waiting for the RTO (RFC 8985 7)', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr, { sack: true, rttMs: 100 });
    conn.write(pattern(0, 4 * MSS));
    tr.recv();
    // The first three arrive; the last is lost.
    tr.send(200, { flags: '.', seq: theirs, ack: ours + 3 * MSS });
    const rto = conn.stats().rtoMs;
    // PTO = 2 SRTT + the peer's delayed-ACK allowance (one segment in flight), capped by the RTO.
    const srtt = conn.stats().srttMs!;
    const pto = Math.min(2 * srtt + 200, rto);
    // Here the RTO (300 ms) is the earlier: the probe goes then, and the RTO is re-armed after it.
    expect(pto).toBe(300);
    const probe = tr.recv(200 + pto);
    expect(probe.map((s) => [s.time, s.seq - ours, s.len])).toEqual([[200 + pto, 3 * MSS, MSS]]);
    expect(conn.stats().tailLossProbes).toBe(1);
    tr.send(200 + pto + 100, { flags: '.', seq: theirs, ack: ours + 4 * MSS });
    tr.recvNothing(10_000);
    expect(conn.stats().timeouts).toBe(0);
  });

  it('probes with new data when some is waiting, whatever cwnd says (RFC 8985 7.3)', () => {
    const tr = new TcpTrace();
    const { conn, ours } = accept(tr, { sack: true, rttMs: 20 });
    conn.write(pattern(0, 14 * MSS));
    // The initial window (10 segments) goes at 20; nothing is acknowledged.
    expect(tr.recv()).toHaveLength(10);
    // SRTT 20: PTO = 2 SRTT + 2 ticks (Linux TCP_TIMEOUT_MIN) after the last transmission; the probe is segment 10.
    const probe = tr.recv(62);
    expect(probe.map((s) => [s.time, (s.seq - ours) / MSS, s.len])).toEqual([[62, 10, MSS]]);
    expect(conn.stats().tailLossProbes).toBe(1);
  });

  it('undoes the window reduction when D-SACKs show the retransmissions were needless (RFC 2883)', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr, { sack: true });
    conn.write(pattern(0, 6 * MSS));
    tr.recv();
    const at = (n: number) => ours + n * MSS;
    const cwnd = conn.stats().cwnd;
    tr.send(200, { flags: '.', seq: theirs, ack: at(0), sack: [[at(1), at(5)]] });
    const retx = tr.recv();
    expect(retx.map((s) => s.seq - ours)).toEqual([0]);
    expect(conn.stats().cwnd).toBeLessThan(cwnd);
    // The original arrives after all, then the retransmission: a D-SACK for it.
    tr.send(250, { flags: '.', seq: theirs, ack: at(6) });
    tr.send(300, { flags: '.', seq: theirs, ack: at(6), sack: [[at(0), at(1)]] });
    expect(conn.stats().cwnd).toBeGreaterThanOrEqual(cwnd);
    void show;
  });
});
