import { describe, expect, it } from 'vitest';
import { SentSegments, type SentSegment } from '../../stack/tcp/sent-segments.js';
import { seqAdd } from '../../stack/tcp/seq.js';

for (const iss of [1000, 0xffff_ffff - 2500]) {
  const S = (n: number): number => seqAdd(iss, n);
  const ranges = (segs: Iterable<SentSegment>): Array<[number, number]> =>
    [...segs].map((s) => [(s.startSeq - iss) >>> 0, (s.endSeq - iss) >>> 0]);

  function fiveSent(): SentSegments {
    const l = new SentSegments();
    for (let i = 0; i < 5; i++) l.onSent(S(i * 1000), S((i + 1) * 1000), i);
    return l;
  }

  describe(`SentSegments, ISS ${iss}`, () => {
    it('removes what the cumulative ACK covers, trims a straddling segment, reports deliveries in order', () => {
      const l = fiveSent();
      const seen: Array<[number, number]> = [];
      expect(l.ackTo(S(2500), (s) => seen.push([(s.startSeq - iss) >>> 0, (s.endSeq - iss) >>> 0]))).toBe(2);
      expect(seen).toEqual([
        [0, 1000],
        [1000, 2000],
      ]);
      expect(ranges(l.inSeqOrder())).toEqual([
        [2500, 3000],
        [3000, 4000],
        [4000, 5000],
      ]);
      expect(l.inFlight).toBe(2500);
      expect(l.ackTo(S(5000))).toBe(3);
      expect(l.size).toBe(0);
      expect(l.inFlight).toBe(0);
      expect(l.first).toBeUndefined();
    });

    it('marks SACKed ranges, splitting at the edges, and keeps them out of the time order', () => {
      const l = fiveSent();
      const newly: number[] = [];
      expect(l.markSacked({ start: S(1500), end: S(3000) }, (s) => newly.push((s.startSeq - iss) >>> 0))).toBe(2);
      expect(newly).toEqual([1500, 2000]);
      expect(l.inFlight).toBe(3500);
      expect(ranges(l.inSeqOrder())).toEqual([
        [0, 1000],
        [1000, 1500],
        [1500, 2000],
        [2000, 3000],
        [3000, 4000],
        [4000, 5000],
      ]);
      expect(l.sackedCount).toBe(2);
      expect(ranges(l.inTimeOrder())).toEqual([
        [0, 1000],
        [1000, 1500],
        [3000, 4000],
        [4000, 5000],
      ]);
      // SACKing again is not news; a cumulative ACK over SACKed segments is not a delivery.
      expect(l.markSacked({ start: S(1500), end: S(3000) })).toBe(0);
      const delivered: number[] = [];
      l.ackTo(S(3000), (s) => delivered.push((s.startSeq - iss) >>> 0));
      expect(delivered).toEqual([0, 1000]);
      expect(l.sackedCount).toBe(0);
    });

    it('moves a retransmission to the tail of the time order and clears its lost mark', () => {
      const l = fiveSent();
      const seg = l.find(S(1500))!;
      expect((seg.startSeq - iss) >>> 0).toBe(1000);
      l.markLost(seg);
      expect(l.firstLost()).toBe(seg);
      expect(l.inFlight).toBe(4000);
      l.onRetransmitted(seg, 100);
      expect(l.inFlight).toBe(5000);
      expect(seg.lost).toBe(false);
      expect(seg.retransmitted).toBe(true);
      expect(l.firstLost()).toBeUndefined();
      expect(ranges(l.inTimeOrder())).toEqual([
        [0, 1000],
        [2000, 3000],
        [3000, 4000],
        [4000, 5000],
        [1000, 2000],
      ]);
    });

    it('refuses new data overlapping what was sent', () => {
      const l = fiveSent();
      expect(() => l.onSent(S(4500), S(6000), 9)).toThrow(RangeError);
    });
  });
}
