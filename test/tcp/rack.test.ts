import { describe, expect, it } from 'vitest';
import { Rack, TailLossProbe } from '../../stack/tcp/rack.js';
import { SentSegments, type SentSegment } from '../../stack/tcp/sent-segments.js';
import { seqAdd } from '../../stack/tcp/seq.js';

const MIN_RTT = 100;
const SRTT = 100;

for (const iss of [0, 0xffff_ffff - 1500]) {
  const S = (n: number): number => seqAdd(iss, n);

  /** Segments 0..n-1 of 1000 bytes, segment i sent at time i ms. */
  function sent(n: number): SentSegments {
    const l = new SentSegments();
    for (let i = 0; i < n; i++) l.onSent(S(i * 1000), S((i + 1) * 1000), i);
    return l;
  }

  function sack(l: SentSegments, rack: Rack, seg: number, now: number): void {
    l.markSacked({ start: S(seg * 1000), end: S((seg + 1) * 1000) }, (s) => rack.onDelivered(s, now, MIN_RTT));
  }

  const lostIndex = (lost: SentSegment[]): number[] => lost.map((s) => ((s.startSeq - iss) >>> 0) / 1000);

  describe(`RACK (RFC 8985 6), ISS ${iss}`, () => {
    it('marks a segment sent before a delivered one lost only after RACK.rtt + reo_wnd', () => {
      const l = sent(6);
      const rack = new Rack(3);
      sack(l, rack, 3, 103); // segment 3 (sent at 3) delivered at 103: rtt 100
      expect(rack.rtt).toBe(100);
      expect(rack.xmitTs).toBe(3);
      const reo = rack.reoWnd({ minRtt: MIN_RTT, srtt: SRTT, inRecovery: false, sackedSegments: l.sackedCount });
      expect(reo).toBe(25); // min_RTT / 4
      const lost: SentSegment[] = [];
      // Segments 0-2: remaining = xmit + 100 + 25 - 103 = 22, 23, 24 ms.
      expect(rack.detectLoss(l, 103, reo, (s) => lost.push(s))).toBe(24);
      expect(lost).toEqual([]);
      expect(rack.detectLoss(l, 125, reo, (s) => lost.push(s))).toBe(2);
      expect(lostIndex(lost)).toEqual([0]);
      expect(rack.detectLoss(l, 127, reo, (s) => lost.push(s))).toBe(0);
      expect(lostIndex(lost)).toEqual([0, 1, 2]);
      // Segments 4 and 5 were sent after the delivered one: never marked by it.
      expect(l.find(S(4500))!.lost).toBe(false);
    });

    it('uses no reordering window once DupThresh segments are SACKed, unless reordering was seen', () => {
      const l = sent(6);
      const rack = new Rack(3);
      for (const i of [2, 3, 4]) sack(l, rack, i, 104);
      expect(rack.reoWnd({ minRtt: MIN_RTT, srtt: SRTT, inRecovery: false, sackedSegments: l.sackedCount })).toBe(0);
      expect(rack.reoWnd({ minRtt: MIN_RTT, srtt: SRTT, inRecovery: true, sackedSegments: 0 })).toBe(0);
      const lost: SentSegment[] = [];
      rack.detectLoss(l, 104, 0, (s) => lost.push(s));
      expect(lostIndex(lost)).toEqual([0, 1]);
      // Segment 0 then shows up late (not retransmitted): that is reordering.
      l.ackTo(S(1000), (s) => rack.onDelivered(s, 110, MIN_RTT));
      expect(rack.reorderingSeen).toBe(true);
      expect(rack.reoWnd({ minRtt: MIN_RTT, srtt: SRTT, inRecovery: true, sackedSegments: 3 })).toBe(25);
    });

    it('ignores a delivery of a retransmitted segment that is too quick to be the retransmission', () => {
      const l = sent(4);
      const rack = new Rack(3);
      const seg1 = l.find(S(1000))!;
      l.onRetransmitted(seg1, 150);
      // Delivered at 160: 10 ms after the retransmission, less than min RTT: the original arrived.
      sack(l, rack, 1, 160);
      expect(rack.xmitTs).toBe(-Infinity);
      // With a timestamp echo naming the retransmission, it counts.
      const l2 = sent(4);
      const rack2 = new Rack(3);
      const s2 = l2.find(S(1000))!;
      l2.onRetransmitted(s2, 150);
      l2.markSacked({ start: S(1000), end: S(2000) }, (s) => rack2.onDelivered(s, 260, MIN_RTT, 150));
      expect(rack2.xmitTs).toBe(150);
      expect(rack2.rtt).toBe(110);
    });

    it('detects a lost retransmission: the retransmitted segment is judged against later deliveries', () => {
      const l = sent(4);
      const rack = new Rack(3);
      sack(l, rack, 3, 103);
      const lost: SentSegment[] = [];
      rack.detectLoss(l, 200, 0, (s) => lost.push(s));
      expect(lostIndex(lost)).toEqual([0, 1, 2]);
      for (const s of lost) l.onRetransmitted(s, 200);
      // New data sent at 205 is delivered at 305; the retransmissions (sent at 200) are not.
      l.onSent(S(4000), S(5000), 205);
      l.markSacked({ start: S(4000), end: S(5000) }, (s) => rack.onDelivered(s, 305, MIN_RTT));
      const again: SentSegment[] = [];
      rack.detectLoss(l, 305, 0, (s) => again.push(s));
      expect(lostIndex(again)).toEqual([0, 1, 2]);
    });

    it('orders transmissions within one clock tick exactly: a retransmission after new data is not "before" it', () => {
      const l = sent(4);
      const rack = new Rack(3);
      // At t=50: segment 4 (new) is sent, then segment 1 is retransmitted, same tick.
      l.onSent(S(4000), S(5000), 50);
      l.onRetransmitted(l.find(S(1000))!, 50);
      l.markSacked({ start: S(4000), end: S(5000) }, (s) => rack.onDelivered(s, 100, 50));
      const lost: SentSegment[] = [];
      rack.detectLoss(l, 100, 0, (s) => lost.push(s));
      // Segments 0, 2, 3 (sent at 0-3) are lost; the retransmission of 1 is younger than 4.
      expect(lostIndex(lost)).toEqual([0, 2, 3]);
    });

    it('grows reo_wnd once per round with DSACK, caps it at SRTT, and resets after 16 recoveries', () => {
      const rack = new Rack(3);
      rack.reorderingSeen = true;
      const w = (): number => rack.reoWnd({ minRtt: MIN_RTT, srtt: SRTT, inRecovery: false, sackedSegments: 0 });
      expect(w()).toBe(25);
      rack.updateReoWnd({ sndUna: S(0), sndNxt: S(10_000), dsack: true, exitingRecovery: false });
      expect(w()).toBe(50);
      rack.updateReoWnd({ sndUna: S(5000), sndNxt: S(12_000), dsack: true, exitingRecovery: false });
      expect(w()).toBe(50); // same round
      rack.updateReoWnd({ sndUna: S(10_000), sndNxt: S(20_000), dsack: true, exitingRecovery: false });
      expect(w()).toBe(75);
      for (let i = 0; i < 3; i++) rack.updateReoWnd({ sndUna: S(30_000), sndNxt: S(40_000 + i), dsack: true, exitingRecovery: false });
      expect(w()).toBe(100); // capped at SRTT
      for (let i = 0; i < 15; i++) rack.updateReoWnd({ sndUna: S(50_000), sndNxt: S(60_000), dsack: false, exitingRecovery: true });
      expect(w()).toBe(100);
      rack.updateReoWnd({ sndUna: S(50_000), sndNxt: S(60_000), dsack: false, exitingRecovery: true });
      expect(w()).toBe(25);
    });

    it('on RTO marks the first segment and every expired one lost (6.3)', () => {
      const l = sent(4);
      const rack = new Rack(3);
      sack(l, rack, 2, 102);
      const lost: SentSegment[] = [];
      rack.markLostOnRto(l, 100, 0, (s) => lost.push(s));
      // Segment 0 because it is at SND.UNA; segment 1 (sent at 1) still has 1 ms to go.
      expect(lostIndex(lost)).toEqual([0]);
      rack.markLostOnRto(l, 104, 0, (s) => lost.push(s));
      expect(lostIndex(lost)).toEqual([0, 1, 3]);
    });
  });
}

describe('Tail Loss Probe (RFC 8985 7)', () => {
  it('computes PTO = 2 SRTT, plus the delayed-ACK allowance for a single segment, capped by the RTO', () => {
    expect(TailLossProbe.pto({ srttMs: 50, flightSegments: 3, maxAckDelayMs: 200, rtoRemainingMs: 1000 })).toBe(100);
    expect(TailLossProbe.pto({ srttMs: 50, flightSegments: 1, maxAckDelayMs: 200, rtoRemainingMs: 1000 })).toBe(300);
    expect(TailLossProbe.pto({ srttMs: undefined, flightSegments: 3, maxAckDelayMs: 200, rtoRemainingMs: 3000 })).toBe(1000);
    expect(TailLossProbe.pto({ srttMs: 50, flightSegments: 1, maxAckDelayMs: 200, rtoRemainingMs: 250 })).toBe(250);
  });

  it('chooses new data when it can be sent, else the last segment', () => {
    expect(TailLossProbe.probeKind(true)).toBe('new-data');
    expect(TailLossProbe.probeKind(false)).toBe('retransmit-last');
  });

  it('allows one probe per episode; a new-data probe ends quietly when acked', () => {
    const t = new TailLossProbe();
    expect(t.canProbe).toBe(true);
    t.onProbeSent(5000, false);
    expect(t.canProbe).toBe(false);
    expect(t.onAck({ ackNumber: 4000, dsack: undefined, hasSack: true, isDupAck: false })).toBe(false);
    expect(t.canProbe).toBe(false);
    expect(t.onAck({ ackNumber: 5000, dsack: undefined, hasSack: false, isDupAck: false })).toBe(false);
    expect(t.canProbe).toBe(true);
  });

  it('a retransmitted probe answered by a D-SACK means nothing was lost', () => {
    const t = new TailLossProbe();
    t.onProbeSent(5000, true);
    expect(t.onAck({ ackNumber: 5000, dsack: { start: 4000, end: 5000 }, hasSack: true, isDupAck: true })).toBe(false);
    expect(t.canProbe).toBe(true);
  });

  it('a retransmitted probe followed by an ACK beyond it repaired a loss', () => {
    const t = new TailLossProbe();
    t.onProbeSent(5000, true);
    // ACK up to the probe's end without D-SACK: still ambiguous.
    expect(t.onAck({ ackNumber: 5000, dsack: undefined, hasSack: false, isDupAck: false })).toBe(false);
    expect(t.canProbe).toBe(false);
    expect(t.onAck({ ackNumber: 6000, dsack: undefined, hasSack: false, isDupAck: false })).toBe(true);
    expect(t.canProbe).toBe(true);
  });

  it('a duplicate ACK at the probe end without SACK also means the original was lost', () => {
    const t = new TailLossProbe();
    t.onProbeSent(5000, true);
    expect(t.onAck({ ackNumber: 5000, dsack: undefined, hasSack: false, isDupAck: true })).toBe(true);
  });
});
