import { describe, expect, it } from 'vitest';
import { CUBIC_ALPHA, Cubic, cubicK, wCubic } from '../../stack/tcp/congestion/cubic.js';
import { MSS, newSim, round, type SimState } from './cc-sim.js';

/** A CUBIC flow that just reduced from `wMax` segments at time 0 (W_max = wMax, cwnd = 0.7 wMax). */
function afterLoss(wMax: number, fastConvergence = true): { cc: Cubic; st: SimState } {
  const cc = new Cubic(MSS, { initialCwndSegments: wMax, hystart: false, fastConvergence });
  const st = newSim();
  cc.onCongestionEvent({ now: 0, mss: MSS, flightSize: wMax * MSS, kind: 'rack' });
  cc.onRecoveryExit(0);
  return { cc, st };
}

const segs = (cc: Cubic): number => cc.cwnd / MSS;

describe('CUBIC (RFC 9438)', () => {
  it('reduces by beta = 0.7 and remembers W_max (4.6)', () => {
    const { cc } = afterLoss(100);
    expect(cc.cwnd).toBe(70 * MSS);
    expect(cc.ssthresh).toBe(70 * MSS);
    expect(cc.wMax).toBe(100);
    const tiny = new Cubic(MSS, { initialCwndSegments: 2, hystart: false });
    tiny.onCongestionEvent({ now: 0, mss: MSS, flightSize: 2 * MSS, kind: 'ecn' });
    expect(tiny.ssthresh).toBe(2 * MSS);
  });

  it('computes K = cbrt((W_max - cwnd_epoch) / C) (eq. 2)', () => {
    expect(cubicK(100, 70)).toBeCloseTo(Math.cbrt(30 / 0.4), 12);
    expect(cubicK(50, 60)).toBe(0);
    const { cc, st } = afterLoss(100);
    round(cc, st, { rttMs: 100 });
    expect(cc.currentEpoch?.k).toBeCloseTo(Math.cbrt(75), 9);
    expect(cc.currentEpoch?.origin).toBe(100);
  });

  it('follows W_cubic(t) after a loss through the concave and convex regions (eq. 1, 4.4, 4.5)', () => {
    // Long RTT so the Reno-friendly estimate stays below the cubic curve throughout.
    const rtt = 500;
    const { cc, st } = afterLoss(100);
    const k = cubicK(100, 70);
    let checked = 0;
    while (st.now < 10_000) {
      round(cc, st, { rttMs: rtt });
      const t = (st.now - (cc.currentEpoch?.start ?? 0)) / 1000;
      const w = segs(cc);
      // Between the curve one RTT ago and one RTT ahead, and within 2% of W_cubic(t).
      expect(w).toBeGreaterThanOrEqual(Math.floor(wCubic(t - rtt / 1000, k, 100)) - 1);
      expect(w).toBeLessThanOrEqual(wCubic(t + rtt / 1000, k, 100) + 1);
      expect(Math.abs(w - wCubic(t, k, 100)) / wCubic(t, k, 100)).toBeLessThan(0.02);
      checked++;
    }
    expect(checked).toBe(20);
    expect(segs(cc)).toBeGreaterThan(170); // W_cubic(10 s) = 100 + 0.4 * 5.78^3 = 177
  });

  it('grows ever slower toward W_max (concave) and ever faster beyond it (convex)', () => {
    const { cc, st } = afterLoss(100);
    const k = cubicK(100, 70); // 4.22 s
    const perRound: Array<[number, number]> = [];
    let last = segs(cc);
    while (st.now < 9000) {
      round(cc, st, { rttMs: 500 });
      perRound.push([st.now / 1000, segs(cc) - last]);
      last = segs(cc);
    }
    const concave = perRound.filter(([t]) => t < k - 0.5).map(([, d]) => d);
    const convex = perRound.filter(([t]) => t > k + 1).map(([, d]) => d);
    for (let i = 1; i < concave.length; i++) expect(concave[i]!).toBeLessThan(concave[i - 1]!);
    for (let i = 1; i < convex.length; i++) expect(convex[i]!).toBeGreaterThan(convex[i - 1]!);
    expect(concave.length).toBeGreaterThan(4);
    expect(convex.length).toBeGreaterThan(4);
  });

  it('never grows by more than 50% per RTT, even far along the curve', () => {
    const { cc, st } = afterLoss(10);
    for (let r = 0; r < 30; r++) {
      const before = segs(cc);
      round(cc, st, { rttMs: 2000 });
      expect(segs(cc)).toBeLessThanOrEqual(before * 1.5 + 1e-9);
    }
  });

  it('tracks the Reno-friendly estimate W_est on short RTTs (4.3)', () => {
    // RTT 10 ms, W_max 20: the cubic curve needs seconds, Reno grows per RTT.
    const { cc, st } = afterLoss(20);
    const k = cubicK(20, 14);
    let wEst = 14;
    for (let r = 0; r < 30; r++) {
      round(cc, st, { rttMs: 10 });
      // One window of ACKs per round adds alpha segments (alpha = 1 once W_est >= cwnd_prior = 20).
      wEst += wEst >= 20 ? 1 : CUBIC_ALPHA;
      const t = (st.now - (cc.currentEpoch?.start ?? 0)) / 1000;
      expect(wCubic(t, k, 20)).toBeLessThan(wEst);
      expect(Math.abs(segs(cc) - wEst)).toBeLessThan(1);
    }
    expect(segs(cc)).toBeGreaterThan(30);
  });

  it('applies fast convergence when losses come at a smaller window (4.7)', () => {
    const { cc } = afterLoss(100);
    // A second loss at cwnd 70 < W_max 100: W_max = 70 * (1 + 0.7) / 2.
    cc.onCongestionEvent({ now: 10, mss: MSS, flightSize: 70 * MSS, kind: 'rack' });
    expect(cc.wMax).toBeCloseTo(59.5, 9);
    const plain = afterLoss(100, false).cc;
    plain.onCongestionEvent({ now: 10, mss: MSS, flightSize: 70 * MSS, kind: 'rack' });
    expect(plain.wMax).toBe(70);
  });

  it('after an RTO: one-segment window, ssthresh = 0.7 flight, and the next epoch has K = 0 (4.8)', () => {
    const { cc, st } = afterLoss(100);
    for (let r = 0; r < 5; r++) round(cc, st, { rttMs: 100 });
    cc.onRetransmissionTimeout({ now: st.now, mss: MSS, flightSize: 60 * MSS, repeated: false });
    expect(cc.cwnd).toBe(MSS);
    expect(cc.ssthresh).toBeCloseTo(42 * MSS, 6);
    while (cc.inSlowStart) round(cc, st, { rttMs: 100 });
    round(cc, st, { rttMs: 100 });
    expect(cc.currentEpoch?.k).toBe(0);
    expect(cc.currentEpoch?.origin).toBeCloseTo(42, 6);
  });

  it('does not count application-limited time in t (RFC 9438 5.8, RFC 7661)', () => {
    const a = afterLoss(100);
    const b = afterLoss(100);
    for (let r = 0; r < 10; r++) {
      round(a.cc, a.st, { rttMs: 100 });
      round(b.cc, b.st, { rttMs: 100 });
    }
    // b spends 3 s sending only a little; its window must not move meanwhile.
    const held = b.cc.cwnd;
    for (let r = 0; r < 30; r++) round(b.cc, b.st, { rttMs: 100, sendBytes: 5 * MSS });
    expect(b.cc.cwnd).toBe(held);
    for (let r = 0; r < 10; r++) {
      round(a.cc, a.st, { rttMs: 100 });
      round(b.cc, b.st, { rttMs: 100 });
    }
    // Same active time on the curve: the same window (within one ACK's worth).
    expect(Math.abs(a.cc.cwnd - b.cc.cwnd)).toBeLessThan(MSS / 2);
  });

  it('does not count idle time in t either', () => {
    const a = afterLoss(100);
    const b = afterLoss(100);
    for (let r = 0; r < 10; r++) {
      round(a.cc, a.st, { rttMs: 100 });
      round(b.cc, b.st, { rttMs: 100 });
    }
    b.st.now += 150; // idle, shorter than the RTO so the window is kept
    b.cc.onSendAfterIdle({ now: b.st.now, mss: MSS, idleMs: 150, rtoMs: 300 });
    for (let r = 0; r < 10; r++) {
      round(a.cc, a.st, { rttMs: 100 });
      round(b.cc, b.st, { rttMs: 100 });
    }
    expect(Math.abs(a.cc.cwnd - b.cc.cwnd)).toBeLessThan(MSS / 2);
  });

  it('undoes a spurious reduction, restoring cwnd and W_max (4.9)', () => {
    const { cc } = afterLoss(100);
    cc.onCongestionEvent({ now: 10, mss: MSS, flightSize: 70 * MSS, kind: 'rack' });
    expect(cc.cwnd).toBe(49 * MSS);
    cc.onSpuriousCongestion(20);
    expect(cc.cwnd).toBe(70 * MSS);
    expect(cc.ssthresh).toBe(70 * MSS);
    expect(cc.wMax).toBe(100);
  });
});
