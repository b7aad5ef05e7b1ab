import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../stack/config.js';
import { RttEstimator } from '../../stack/tcp/rto.js';

const cfg = DEFAULT_CONFIG.tcp;

describe('RttEstimator (RFC 6298 with Linux bounds)', () => {
  it('starts at the initial RTO of 1 s', () => {
    const e = new RttEstimator(cfg);
    expect(e.rto).toBe(1000);
    expect(e.srtt).toBeUndefined();
  });

  it('first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR (2.2)', () => {
    const e = new RttEstimator(cfg);
    e.sample(0, 100);
    expect(e.srtt).toBe(100);
    expect(e.rttvar).toBe(50);
    expect(e.rto).toBe(300);
  });

  it('later samples use alpha 1/8 and beta 1/4 with the old SRTT (2.3)', () => {
    const e = new RttEstimator(cfg);
    e.sample(0, 100);
    e.sample(10, 200);
    // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
    expect(e.rttvar).toBeCloseTo(62.5, 9);
    expect(e.srtt).toBeCloseTo(112.5, 9);
    expect(e.rto).toBeCloseTo(112.5 + 250, 9);
  });

  it('keeps a 200 ms margin over SRTT on a steady path (Linux floor on the variance term)', () => {
    const e = new RttEstimator(cfg);
    for (let i = 0; i < 200; i++) e.sample(i * 10, 10);
    expect(e.rttvar).toBeLessThan(1);
    expect(e.rto).toBeCloseTo(210, 6);
  });

  it('caps the RTO at 120 s even for huge samples', () => {
    const e = new RttEstimator(cfg);
    e.sample(0, 500_000);
    expect(e.rto).toBe(120_000);
  });

  it('backs off exponentially up to the cap, and a new sample clears the backoff (5.5, 5.7)', () => {
    const e = new RttEstimator(cfg);
    e.sample(0, 100); // RTO 300
    expect(e.backoff()).toBe(600);
    expect(e.backoff()).toBe(1200);
    expect(e.backoff()).toBe(2400);
    for (let i = 0; i < 100; i++) e.backoff();
    expect(e.rto).toBe(120_000);
    expect(Number.isFinite(e.rto)).toBe(true);
    e.sample(1000, 100);
    expect(e.backoffCount).toBe(0);
    expect(e.rto).toBeLessThan(400);
  });

  it('backs off from the initial RTO when there is no sample yet (SYN retransmission)', () => {
    const e = new RttEstimator(cfg);
    expect(e.backoff()).toBe(2000);
    expect(e.backoff()).toBe(4000);
  });

  it('tracks the windowed minimum RTT', () => {
    const e = new RttEstimator(cfg);
    e.sample(0, 80);
    e.sample(1, 50);
    e.sample(2, 90);
    expect(e.minRtt.value).toBe(50);
    expect(e.latestRtt).toBe(90);
  });

  it('reset returns to the initial state', () => {
    const e = new RttEstimator(cfg);
    e.sample(0, 100);
    e.backoff();
    e.reset();
    expect(e.rto).toBe(1000);
    expect(e.srtt).toBeUndefined();
    expect(e.minRtt.value).toBe(Infinity);
  });
});
