import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../stack/config.js';
import { createCongestionController } from '../../stack/tcp/congestion/factory.js';
import { NewReno } from '../../stack/tcp/congestion/newreno.js';
import { MSS, lose, newSim, round } from './cc-sim.js';

const opts = { initialCwndSegments: 10, hystart: false };

describe('NewReno (RFC 5681, RFC 3465, RFC 6582 window rules)', () => {
  it('starts with IW = 10 segments and ssthresh infinite (RFC 6928, RFC 5681 3.1)', () => {
    const cc = new NewReno(MSS, opts);
    expect(cc.cwnd).toBe(10 * MSS);
    expect(cc.ssthresh).toBe(Infinity);
    expect(cc.inSlowStart).toBe(true);
  });

  it('doubles per RTT in slow start, with one ACK per segment or per two (delayed ACK)', () => {
    for (const segsPerAck of [1, 2]) {
      const cc = new NewReno(MSS, opts);
      const st = newSim();
      const seen: number[] = [];
      for (let r = 0; r < 5; r++) {
        round(cc, st, { rttMs: 50, segsPerAck });
        seen.push(cc.cwnd / MSS);
      }
      expect(seen).toEqual([20, 40, 80, 160, 320]);
    }
  });

  it('limits a stretch ACK to L = 2 SMSS of growth when configured (RFC 3465 2.2)', () => {
    const cc = new NewReno(MSS, { ...opts, abcLimitSegments: 2 });
    const st = newSim();
    round(cc, st, { rttMs: 50, segsPerAck: 10 });
    expect(cc.cwnd).toBe(12 * MSS);
  });

  it('by default grows by all a stretch ACK covers, doubling per round (Linux tcp_slow_start)', () => {
    const cc = createCongestionController('newreno', MSS, DEFAULT_CONFIG.tcp);
    const st = newSim();
    round(cc, st, { rttMs: 50, segsPerAck: 10 });
    expect(cc.cwnd).toBe(20 * MSS);
  });

  it('halves on loss with ssthresh = max(FlightSize/2, 2 SMSS) (RFC 5681 eq. 4)', () => {
    const cc = new NewReno(MSS, opts);
    const st = newSim();
    round(cc, st, { rttMs: 50 });
    round(cc, st, { rttMs: 50 });
    expect(cc.cwnd).toBe(40 * MSS);
    cc.onCongestionEvent({ now: st.now, mss: MSS, flightSize: 40 * MSS, kind: 'rack' });
    expect(cc.ssthresh).toBe(20 * MSS);
    expect(cc.cwnd).toBe(20 * MSS);
    expect(cc.inRecovery).toBe(true);
    // A tiny flight still leaves two segments.
    const small = new NewReno(MSS, opts);
    small.onCongestionEvent({ now: 0, mss: MSS, flightSize: MSS, kind: 'fast-retransmit' });
    expect(small.ssthresh).toBe(2 * MSS);
  });

  it('reduces only once per recovery episode and does not grow during it', () => {
    const cc = new NewReno(MSS, opts);
    const st = newSim();
    cc.onCongestionEvent({ now: 0, mss: MSS, flightSize: 40 * MSS, kind: 'fast-retransmit' });
    cc.onCongestionEvent({ now: 1, mss: MSS, flightSize: 20 * MSS, kind: 'rack' });
    expect(cc.cwnd).toBe(20 * MSS);
    round(cc, st, { rttMs: 50 });
    expect(cc.cwnd).toBe(20 * MSS);
    cc.onRecoveryExit(st.now);
    round(cc, st, { rttMs: 50 });
    expect(cc.cwnd).toBe(21 * MSS);
  });

  it('adds one MSS per RTT in congestion avoidance', () => {
    const cc = new NewReno(MSS, opts);
    const st = newSim();
    round(cc, st, { rttMs: 50 });
    lose(cc, st); // cwnd 10 segments, in CA
    const before = cc.cwnd;
    for (let r = 0; r < 10; r++) round(cc, st, { rttMs: 50 });
    // cwnd grows by one segment per window of ACKs: 10 rounds -> +10 segments (within one).
    expect(cc.cwnd - before).toBeGreaterThanOrEqual(9 * MSS);
    expect(cc.cwnd - before).toBeLessThanOrEqual(10 * MSS);
  });

  it('leaves slow start at ssthresh and carries the excess into congestion avoidance', () => {
    const cc = new NewReno(MSS, opts);
    cc.onRetransmissionTimeout({ now: 0, mss: MSS, flightSize: 8 * MSS, repeated: false });
    expect(cc.cwnd).toBe(MSS);
    expect(cc.ssthresh).toBe(4 * MSS);
    const st = newSim();
    round(cc, st, { rttMs: 50 }); // 1 -> 2
    round(cc, st, { rttMs: 50 }); // 2 -> 4 = ssthresh
    expect(cc.cwnd).toBe(4 * MSS);
    expect(cc.inSlowStart).toBe(false);
    round(cc, st, { rttMs: 50 });
    expect(cc.cwnd).toBe(5 * MSS);
  });

  it('keeps ssthresh on a repeated RTO of the same segment (RFC 5681 3.1)', () => {
    const cc = new NewReno(MSS, opts);
    cc.onRetransmissionTimeout({ now: 0, mss: MSS, flightSize: 20 * MSS, repeated: false });
    cc.onRetransmissionTimeout({ now: 1000, mss: MSS, flightSize: MSS, repeated: true });
    expect(cc.ssthresh).toBe(10 * MSS);
    expect(cc.cwnd).toBe(MSS);
  });

  it('does not grow when the window is not the limit (RFC 7661)', () => {
    const cc = new NewReno(MSS, opts);
    const st = newSim();
    for (let r = 0; r < 5; r++) round(cc, st, { rttMs: 50, sendBytes: 2 * MSS });
    expect(cc.cwnd).toBe(10 * MSS);
    round(cc, st, { rttMs: 50, appLimited: true });
    expect(cc.cwnd).toBe(10 * MSS);
  });

  it('undoes a spurious reduction', () => {
    const cc = new NewReno(MSS, opts);
    cc.onCongestionEvent({ now: 0, mss: MSS, flightSize: 10 * MSS, kind: 'fast-retransmit' });
    expect(cc.cwnd).toBe(5 * MSS);
    cc.onSpuriousCongestion(10);
    expect(cc.cwnd).toBe(10 * MSS);
    expect(cc.ssthresh).toBe(Infinity);
    expect(cc.inRecovery).toBe(false);
  });

  it('restarts from the initial window after an idle period longer than the RTO (RFC 5681 4.1)', () => {
    const cc = new NewReno(MSS, opts);
    const st = newSim();
    round(cc, st, { rttMs: 50 });
    round(cc, st, { rttMs: 50 });
    cc.onSendAfterIdle({ now: 1000, mss: MSS, idleMs: 100, rtoMs: 250 });
    expect(cc.cwnd).toBe(40 * MSS);
    cc.onSendAfterIdle({ now: 2000, mss: MSS, idleMs: 300, rtoMs: 250 });
    expect(cc.cwnd).toBe(10 * MSS);
  });

  it('uses a coupled increase in congestion avoidance only (MPTCP LIA hook)', () => {
    const calls: number[] = [];
    const cc = new NewReno(MSS, {
      ...opts,
      increase: {
        increase: ({ ackedBytes }) => {
          calls.push(ackedBytes);
          return 0;
        },
      },
    });
    const st = newSim();
    round(cc, st, { rttMs: 50 });
    expect(calls).toEqual([]);
    expect(cc.cwnd).toBe(20 * MSS);
    lose(cc, st);
    round(cc, st, { rttMs: 50 });
    expect(calls.length).toBe(10);
    expect(cc.cwnd).toBe(10 * MSS);
  });

  it('paces at 2x cwnd/srtt in slow start and 1.2x after', () => {
    const cc = new NewReno(MSS, opts);
    expect(cc.pacingRate(10)).toBe((2 * 10 * MSS) / 10);
    lose(cc, newSim());
    expect(cc.pacingRate(10)).toBeCloseTo((1.2 * 5 * MSS) / 10, 9);
  });

  it('is what the factory builds for "newreno"', () => {
    const cc = createCongestionController('newreno', MSS, DEFAULT_CONFIG.tcp);
    expect(cc.name).toBe('newreno');
    expect(createCongestionController('cubic', MSS, DEFAULT_CONFIG.tcp).name).toBe('cubic');
  });
});
