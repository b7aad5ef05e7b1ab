import { describe, expect, it } from 'vitest';
import { CoupledCongestionControl, type CoupledSubflowController } from '../../stack/mptcp/coupled-cc.js';
import type { CongestionController } from '../../stack/tcp/congestion/controller.js';
import { NewReno } from '../../stack/tcp/congestion/newreno.js';
import { MSS, lose, newSim, round, type SimState } from '../tcp/cc-sim.js';

const opts = { initialCwndSegments: 10, hystart: false };

/** Put a controller in congestion avoidance at `segments` segments with an RTT sample. */
function settle(cc: CongestionController, st: SimState, rttMs: number, segments: number): void {
  round(cc, st, { rttMs });
  while (cc.cwnd < 2 * segments * MSS) round(cc, st, { rttMs });
  lose(cc, st); // ssthresh = cwnd = half
  while (cc.cwnd > segments * MSS) lose(cc, st);
  expect(cc.inSlowStart).toBe(false);
}

/**
 * Every subflow sends a window per round of its RTT and sees one loss every `lossEvery`
 * packets (deterministic, independent paths). Returns the average cwnd per subflow (segments).
 */
function steadyState(ccs: CongestionController[], rtts: number[], lossEvery: number[], rounds = 4000): number[] {
  const st = ccs.map(() => newSim());
  const sent = ccs.map(() => 0);
  const sum = ccs.map(() => 0);
  const warmup = rounds / 4;
  for (let r = 0; r < rounds; r++) {
    ccs.forEach((cc, i) => {
      sent[i]! += cc.cwnd / MSS;
      if (sent[i]! >= lossEvery[i]!) {
        sent[i]! -= lossEvery[i]!;
        lose(cc, st[i]!);
        st[i]!.now += rtts[i]!;
      } else {
        round(cc, st[i]!, { rttMs: rtts[i]! });
      }
      if (r >= warmup) sum[i]! += cc.cwnd / MSS;
    });
  }
  return sum.map((x) => x / (rounds - warmup));
}

describe('a lone subflow', () => {
  it.each(['lia', 'olia'] as const)('%s grows exactly like NewReno (the coupled increase reduces to Reno)', (algorithm) => {
    const coupled = new CoupledCongestionControl(algorithm, opts).addSubflow(MSS);
    const reno = new NewReno(MSS, opts);
    const [s1, s2] = [newSim(), newSim()];
    for (let r = 0; r < 60; r++) {
      for (const [cc, st] of [
        [coupled, s1],
        [reno, s2],
      ] as const) {
        if (r % 9 === 6) lose(cc, st);
        else round(cc, st, { rttMs: 30 });
      }
      expect(coupled.cwnd).toBe(reno.cwnd);
    }
  });
});

describe('LIA (RFC 6356)', () => {
  it('alpha is 1/n for n subflows with equal RTT and window', () => {
    for (const n of [1, 2, 3, 4]) {
      const group = new CoupledCongestionControl('lia', opts);
      for (let i = 0; i < n; i++) settle(group.addSubflow(MSS), newSim(), 40, 20);
      expect(group.liaAlpha()).toBeCloseTo(1 / n, 12);
    }
  });

  it('alpha follows the formula for unequal RTTs and windows', () => {
    const group = new CoupledCongestionControl('lia', opts);
    const a = group.addSubflow(MSS);
    const b = group.addSubflow(MSS);
    settle(a, newSim(), 10, 40);
    settle(b, newSim(), 100, 20);
    const [w1, w2, r1, r2] = [a.cwnd, b.cwnd, 10, 100];
    const expected = ((w1 + w2) * Math.max(w1 / r1 ** 2, w2 / r2 ** 2)) / (w1 / r1 + w2 / r2) ** 2;
    expect(group.liaAlpha()).toBeCloseTo(expected, 12);
  });

  it('couples the increase: two equal subflows together grow by about 1/2 MSS per RTT', () => {
    const group = new CoupledCongestionControl('lia', opts);
    const subs = [group.addSubflow(MSS), group.addSubflow(MSS)];
    const sims = subs.map(() => newSim());
    subs.forEach((s, i) => settle(s, sims[i]!, 40, 30));
    const before = subs[0]!.cwnd + subs[1]!.cwnd;
    for (let r = 0; r < 40; r++) subs.forEach((s, i) => round(s, sims[i]!, { rttMs: 40 }));
    const grown = (subs[0]!.cwnd + subs[1]!.cwnd - before) / MSS;
    // alpha = 1/2: total increase alpha * MSS per RTT = 20 MSS over 40 RTTs (whole-MSS steps)
    expect(grown).toBeGreaterThanOrEqual(18);
    expect(grown).toBeLessThanOrEqual(21);
  });

  it('with equal RTTs and loss rates takes what one TCP would, spread over all subflows', () => {
    const lossEvery = 800;
    const [single] = steadyState([new NewReno(MSS, opts)], [40], [lossEvery]);
    for (const n of [2, 3]) {
      const group = new CoupledCongestionControl('lia', opts);
      const subs = Array.from({ length: n }, () => group.addSubflow(MSS));
      const total = steadyState(subs, subs.map(() => 40), subs.map(() => lossEvery)).reduce((x, y) => x + y, 0);
      expect(total / single!).toBeGreaterThan(0.8);
      expect(total / single!).toBeLessThan(1.25);
      // uncoupled Reno subflows would take n times as much: the test tells them apart
      const uncoupled = steadyState(
        subs.map(() => new NewReno(MSS, opts)),
        subs.map(() => 40),
        subs.map(() => lossEvery),
      ).reduce((x, y) => x + y, 0);
      expect(uncoupled / single!).toBeGreaterThan(n * 0.85);
    }
  });

  it('over a lossy and a clean path takes about what one TCP gets on the clean one (RFC 6356 2, goals 1 and 2)', () => {
    const [best] = steadyState([new NewReno(MSS, opts)], [40], [2000]);
    const group = new CoupledCongestionControl('lia', opts);
    const [lossy, clean] = steadyState([group.addSubflow(MSS), group.addSubflow(MSS)], [40, 40], [200, 2000]);
    expect((lossy! + clean!) / best!).toBeGreaterThan(0.85);
    expect((lossy! + clean!) / best!).toBeLessThan(1.15);
    expect(clean!).toBeGreaterThan(lossy!);
  });

  it('stops coupling a removed subflow', () => {
    const group = new CoupledCongestionControl('lia', opts);
    const a = group.addSubflow(MSS);
    const b = group.addSubflow(MSS);
    settle(a, newSim(), 40, 20);
    settle(b, newSim(), 40, 20);
    expect(group.liaAlpha()).toBeCloseTo(0.5, 12);
    group.removeSubflow(b);
    expect(group.liaAlpha()).toBeCloseTo(1, 12);
  });
});

describe('OLIA', () => {
  it('tracks bytes between losses (l_r = max of the last two intervals)', () => {
    const c = new CoupledCongestionControl('olia', opts).addSubflow(MSS);
    const st = newSim();
    round(c, st, { rttMs: 10 }); // 10 segments acked, cwnd 20
    expect(c.bytesSinceLoss).toBe(10 * MSS);
    lose(c, st); // cwnd 10
    expect([c.bytesBetweenLosses, c.bytesSinceLoss]).toEqual([10 * MSS, 0]);
    round(c, st, { rttMs: 10 });
    round(c, st, { rttMs: 10 });
    expect([c.bytesBetweenLosses, c.bytesSinceLoss, c.interLossBytes]).toEqual([10 * MSS, 21 * MSS, 21 * MSS]);
    // an RTO starts a new interval; its repetitions are the same episode
    c.onRetransmissionTimeout({ now: 0, mss: MSS, flightSize: MSS, repeated: false });
    c.onRetransmissionTimeout({ now: 0, mss: MSS, flightSize: MSS, repeated: true });
    expect([c.bytesBetweenLosses, c.bytesSinceLoss]).toEqual([21 * MSS, 0]);
    round(c, st, { rttMs: 10 });
    expect(c.interLossBytes).toBe(21 * MSS);
  });

  it('moves window from the largest-window path toward a better path with a smaller window', () => {
    const group = new CoupledCongestionControl('olia', opts);
    const big = group.addSubflow(MSS);
    const good = group.addSubflow(MSS);
    const [sb, sg] = [newSim(), newSim()];
    settle(big, sb, 20, 40);
    settle(good, sg, 20, 10);
    // The big path sees a loss every round (undone as spurious, so its window stays large):
    // short loss intervals. The small one runs ten rounds without loss.
    for (let i = 0; i < 3; i++) {
      round(big, sb, { rttMs: 20 });
      lose(big, sb);
      big.onSpuriousCongestion(sb.now);
    }
    for (let i = 0; i < 10; i++) round(good, sg, { rttMs: 20 });
    expect(big.cwnd).toBeGreaterThan(good.cwnd);
    expect(good.interLossBytes).toBeGreaterThan(big.interLossBytes);
    const eps = group.oliaEpsilon();
    expect(eps.get(good)).toBeCloseTo(1 / 2, 12); // 1 / (n |B\M|)
    expect(eps.get(big)).toBeCloseTo(-1 / 2, 12); // -1 / (n |M|)
    // +0.5 MSS per RTT from epsilon on top of the coupled term (about 0.06 MSS here)
    const before = good.cwnd;
    for (let i = 0; i < 4; i++) round(good, sg, { rttMs: 20 });
    expect(good.cwnd - before).toBeGreaterThanOrEqual(2 * MSS);
    // the big path's increase is negative meanwhile: it does not grow
    const bigBefore = big.cwnd;
    for (let i = 0; i < 2; i++) round(big, sb, { rttMs: 20 });
    expect(group.oliaEpsilon().get(big)).toBeLessThan(0);
    expect(big.cwnd).toBeLessThanOrEqual(bigBefore);
  });

  it('applies a negative increase in whole MSS steps, never below one MSS (NewReno with a coupled hook)', () => {
    const cc = new NewReno(MSS, { ...opts, increase: { increase: ({ ackedBytes }) => -ackedBytes } });
    const st = newSim();
    settle(cc, st, 10, 8);
    const before = cc.cwnd;
    cc.onAck({ now: st.now, ackedBytes: 2500, mss: MSS, inFlight: cc.cwnd, srttMs: 10, ackNumber: 1, sndNxt: 1 });
    expect(cc.cwnd).toBe(before - 2 * MSS);
    for (let i = 0; i < 20; i++) {
      cc.onAck({ now: st.now, ackedBytes: 5000, mss: MSS, inFlight: cc.cwnd, srttMs: 10, ackNumber: 1, sndNxt: 1 });
    }
    expect(cc.cwnd).toBe(MSS);
  });

  it('gives epsilon 0 to all when the best paths already have the largest window', () => {
    const group = new CoupledCongestionControl('olia', opts);
    const subs: CoupledSubflowController[] = [group.addSubflow(MSS), group.addSubflow(MSS)];
    subs.forEach((s) => settle(s, newSim(), 30, 20));
    for (const e of group.oliaEpsilon().values()) expect(e).toBe(0);
  });

  it('with equal paths takes about one TCP in total, and shifts traffic to the less lossy path', () => {
    const [single] = steadyState([new NewReno(MSS, opts)], [40], [800]);
    const group = new CoupledCongestionControl('olia', opts);
    const equal = [group.addSubflow(MSS), group.addSubflow(MSS)];
    const total = steadyState(equal, [40, 40], [800, 800]).reduce((x, y) => x + y, 0);
    expect(total / single!).toBeGreaterThan(0.75);
    expect(total / single!).toBeLessThan(1.3);

    const g2 = new CoupledCongestionControl('olia', opts);
    const [lossy, clean] = steadyState([g2.addSubflow(MSS), g2.addSubflow(MSS)], [40, 40], [200, 2000]);
    expect(clean! / (lossy! + clean!)).toBeGreaterThan(0.8);
  });
});
