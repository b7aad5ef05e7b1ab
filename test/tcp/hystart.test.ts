import { describe, expect, it } from 'vitest';
import { Cubic } from '../../stack/tcp/congestion/cubic.js';
import { HyStartPlusPlus } from '../../stack/tcp/congestion/hystart.js';
import { NewReno } from '../../stack/tcp/congestion/newreno.js';
import { MSS, newSim, round } from './cc-sim.js';

/** Feed one round of `n` ACKs with the given RTT sample; each ACK releases one new segment. */
function hsRound(hs: HyStartPlusPlus, seq: { ack: number; nxt: number }, n: number, rtt: number): boolean {
  const flightEnd = seq.ack + n * MSS;
  let exit = false;
  for (let i = 0; i < n; i++) {
    seq.ack += MSS;
    seq.nxt = flightEnd + (i + 1) * MSS;
    exit = hs.onAck(seq.ack, seq.nxt, rtt) || exit;
  }
  return exit;
}

describe('HyStart++ (RFC 9406)', () => {
  it('stays in slow start while the round minimum RTT is stable', () => {
    const hs = new HyStartPlusPlus();
    const seq = { ack: 0, nxt: 0 };
    for (let r = 0; r < 10; r++) expect(hsRound(hs, seq, 16, 50 + (r % 2) * 3)).toBe(false);
    expect(hs.phase).toBe('slow-start');
  });

  it('enters CSS when the round minimum rises by the threshold, then congestion avoidance after 5 CSS rounds', () => {
    const hs = new HyStartPlusPlus();
    const seq = { ack: 0, nxt: 0 };
    hsRound(hs, seq, 16, 50);
    hsRound(hs, seq, 16, 50);
    // Threshold: clamp(50 / 8, 4, 16) = 6.25 ms. 56 ms is below it.
    hsRound(hs, seq, 16, 56);
    expect(hs.phase).toBe('slow-start');
    hsRound(hs, seq, 16, 63);
    expect(hs.phase).toBe('css');
    expect(hs.growthDivisor).toBe(4);
    let rounds = 0;
    while (!hsRound(hs, seq, 16, 63)) rounds++;
    expect(rounds).toBe(4); // the 5th round boundary in CSS ends slow start
    expect(hs.phase).toBe('done');
  });

  it('needs 8 samples in a round before judging', () => {
    const hs = new HyStartPlusPlus();
    const seq = { ack: 0, nxt: 0 };
    hsRound(hs, seq, 7, 50);
    hsRound(hs, seq, 7, 100);
    expect(hs.phase).toBe('slow-start');
  });

  it('returns to slow start when the RTT falls below the CSS baseline', () => {
    const hs = new HyStartPlusPlus();
    const seq = { ack: 0, nxt: 0 };
    hsRound(hs, seq, 16, 50);
    hsRound(hs, seq, 16, 70);
    expect(hs.phase).toBe('css');
    hsRound(hs, seq, 16, 60);
    expect(hs.phase).toBe('slow-start');
  });

  it('makes a controller leave slow start without a loss, growing a quarter as fast in CSS', () => {
    const cc = new Cubic(MSS, { initialCwndSegments: 10, hystart: true });
    const st = newSim();
    round(cc, st, { rttMs: 50 });
    round(cc, st, { rttMs: 50 });
    expect(cc.cwnd).toBe(40 * MSS);
    round(cc, st, { rttMs: 70, rttSampleMs: 70 });
    // CSS starts within this round after 8 samples: a 0.25 growth for the rest of it.
    const inCss = cc.cwnd;
    expect(inCss).toBeLessThan(80 * MSS);
    round(cc, st, { rttMs: 70 });
    expect(cc.cwnd).toBe(inCss + (Math.floor(inCss / MSS) * MSS) / 4);
    for (let r = 0; r < 6; r++) round(cc, st, { rttMs: 70 });
    expect(cc.inSlowStart).toBe(false);
    expect(Number.isFinite(cc.ssthresh)).toBe(true);
  });

  it('is not used after the first congestion event', () => {
    const cc = new NewReno(MSS, { initialCwndSegments: 10, hystart: true });
    const st = newSim();
    cc.onRetransmissionTimeout({ now: 0, mss: MSS, flightSize: 64 * MSS, repeated: false });
    round(cc, st, { rttMs: 50 });
    round(cc, st, { rttMs: 50 });
    round(cc, st, { rttMs: 90 });
    round(cc, st, { rttMs: 90 });
    round(cc, st, { rttMs: 90 });
    expect(cc.cwnd).toBe(32 * MSS); // 1 -> 2 -> 4 -> 8 -> 16 -> 32: plain doubling
  });
});
