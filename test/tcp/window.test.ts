import { describe, expect, it } from 'vitest';
import { seqAdd } from '../../stack/tcp/seq.js';
import { ReceiveWindow, bytesToSend, chooseWindowScale, type SendCheck } from '../../stack/tcp/window.js';

const MSS = 1460;

describe('chooseWindowScale (RFC 7323 2.3)', () => {
  it('picks the smallest shift that covers the buffer, at most 14', () => {
    expect(chooseWindowScale(65_535)).toBe(0);
    expect(chooseWindowScale(65_536)).toBe(1);
    expect(chooseWindowScale(131_070)).toBe(1);
    expect(chooseWindowScale(6 << 20)).toBe(7); // Linux's tcp_rmem[2] gives wscale 7
    expect(chooseWindowScale(2 ** 40)).toBe(14);
  });
});

describe('ReceiveWindow', () => {
  it('advertises the free space, scaled', () => {
    const w = new ReceiveWindow(7);
    expect(w.advertise(1000, 131_072, 131_072, MSS)).toBe(1024);
    expect(w.rightEdge).toBe(1000 + 131_072);
  });

  it('does not announce small increases (receiver SWS avoidance, RFC 1122 4.2.3.3)', () => {
    const buf = 65_535;
    const w = new ReceiveWindow(0);
    w.advertise(0, buf, buf, MSS);
    // The peer filled the window; the app read only 500 bytes.
    expect(w.advertise(buf, 500, buf, MSS)).toBe(0);
    expect(w.shouldUpdate(buf, 500, buf, MSS)).toBe(false);
    // Once a full MSS is free, the window opens.
    expect(w.shouldUpdate(buf, MSS, buf, MSS)).toBe(true);
    expect(w.advertise(buf, MSS, buf, MSS)).toBe(MSS);
  });

  it('with a small buffer, half the buffer is enough to reopen', () => {
    const w = new ReceiveWindow(0);
    w.advertise(0, 2000, 2000, MSS);
    expect(w.advertise(2000, 999, 2000, MSS)).toBe(0);
    expect(w.advertise(2000, 1000, 2000, MSS)).toBe(1000);
  });

  it('never moves the right edge back, even when space shrinks or scaling rounds down', () => {
    const w = new ReceiveWindow(7);
    w.advertise(0, 100_000, 200_000, MSS); // 781 * 128 = 99968
    const edge = w.rightEdge!;
    // 10 000 bytes arrived but the buffer was shrunk by memory pressure: keep the edge.
    const field = w.advertise(10_000, 50_000, 200_000, MSS);
    expect(10_000 + field * 128).toBeGreaterThanOrEqual(edge);
    expect(w.rightEdge).toBeGreaterThanOrEqual(edge);
  });

  it('works across the sequence wrap', () => {
    const w = new ReceiveWindow(0);
    const nxt = 0xffff_ff00;
    w.advertise(nxt, 60_000, 65_535, MSS);
    expect(w.rightEdge).toBe(seqAdd(nxt, 60_000));
    expect(w.advertise(seqAdd(nxt, 1000), 59_500, 65_535, MSS)).toBe(59_000);
  });
});

describe('bytesToSend (RFC 1122 4.2.3.4, Nagle)', () => {
  const base: SendCheck = { queued: 0, usable: 100_000, mss: MSS, maxSndWnd: 100_000, unacked: false, nagle: true };

  it('sends full segments whenever possible', () => {
    expect(bytesToSend({ ...base, queued: 5000, unacked: true })).toBe(MSS);
  });

  it('sends a short final piece when nothing is in flight, and holds it (Nagle) while data is unacked', () => {
    expect(bytesToSend({ ...base, queued: 100 })).toBe(100);
    expect(bytesToSend({ ...base, queued: 100, unacked: true })).toBe(0);
    expect(bytesToSend({ ...base, queued: 100, unacked: true, nagle: false })).toBe(100);
  });

  it('holds short pieces when corked', () => {
    expect(bytesToSend({ ...base, queued: 100, corked: true })).toBe(0);
    expect(bytesToSend({ ...base, queued: 3000, corked: true })).toBe(MSS);
  });

  it('avoids silly segments into a small window unless it is half the largest window seen', () => {
    // 10 000 queued, the peer's window has 200 bytes open of a 100 000 maximum: wait.
    expect(bytesToSend({ ...base, queued: 10_000, usable: 200 })).toBe(0);
    // A peer that only ever offers 1000 bytes: 600 is a good share.
    expect(bytesToSend({ ...base, queued: 10_000, usable: 600, maxSndWnd: 1000 })).toBe(600);
    expect(bytesToSend({ ...base, queued: 10_000, usable: 0 })).toBe(0);
  });
});
