import { describe, expect, it } from 'vitest';
import { SackScoreboard } from '../../stack/tcp/sack-scoreboard.js';
import { seqAdd, type SeqRange } from '../../stack/tcp/seq.js';

const MSS = 1000;

for (const iss of [0, 0xffff_ffff - 3500]) {
  /** Sequence number at offset n from the ISS. */
  const S = (n: number): number => seqAdd(iss, n);
  const B = (a: number, b: number): SeqRange => ({ start: S(a), end: S(b) });

  /** Ten segments in flight: [0, 10000). */
  function tenInFlight(): SackScoreboard {
    const sb = new SackScoreboard(S(0), MSS, { dupThresh: 3, maxRanges: 64 });
    sb.onSent(S(10_000));
    return sb;
  }

  describe(`SackScoreboard (RFC 6675), ISS ${iss}`, () => {
    it('counts duplicate ACKs and enters recovery at DupThresh; holes become lost by SACKed bytes above them', () => {
      // Segments 1 (1000-2000) and 4 (4000-5000) are lost.
      const sb = tenInFlight();
      sb.update(S(1000), []);
      let u = sb.update(S(1000), [B(2000, 3000)]);
      expect(u.isDupAck).toBe(true);
      expect(u.deliveredBytes).toBe(1000);
      expect(sb.isLost(S(1000))).toBe(false);
      u = sb.update(S(1000), [B(2000, 4000)]);
      expect(sb.dupAcks).toBe(2);
      // Exactly 2 * SMSS above: not "more than (DupThresh - 1) * SMSS".
      expect(sb.isLost(S(1000))).toBe(false);
      expect(sb.shouldEnterRecovery()).toBe(false);
      u = sb.update(S(1000), [B(5000, 6000), B(2000, 4000)]);
      expect(u.newlySacked).toEqual([B(5000, 6000)]);
      expect(sb.dupAcks).toBe(3);
      expect(sb.isLost(S(1000))).toBe(true);
      expect(sb.isLost(S(1999))).toBe(true);
      expect(sb.isLost(S(2500))).toBe(false); // SACKed bytes are never lost
      expect(sb.isLost(S(4000))).toBe(false); // only one segment SACKed above it
      expect(sb.shouldEnterRecovery()).toBe(true);
      // pipe: 4000-5000 and 6000-10000 are in flight, 1000-2000 is lost.
      expect(sb.pipe()).toBe(5000);
      expect(sb.sackedBytes).toBe(3000);
    });

    it('NextSeg: lost hole first, then new data, then other unSACKed data; pipe counts retransmissions', () => {
      const sb = tenInFlight();
      sb.update(S(1000), [B(5000, 6000), B(2000, 4000)]);
      expect(sb.shouldEnterRecovery()).toBe(true);
      sb.enterRecovery();
      expect(sb.recoveryPoint).toBe(S(10_000));
      const first = sb.nextSeg(true)!;
      expect(first).toEqual({ kind: 'lost', ...B(1000, 2000) });
      sb.onRetransmit(first);
      expect(sb.highRxt).toBe(S(2000));
      expect(sb.rescueRxt).toBe(S(2000));
      expect(sb.pipe()).toBe(6000);
      // The other hole (4000) is not lost yet: rule 2 (new data) beats rule 3.
      expect(sb.nextSeg(true)).toEqual({ kind: 'new', ...B(10_000, 11_000) });
      expect(sb.nextSeg(false)).toEqual({ kind: 'unsacked', ...B(4000, 5000) });
      // More SACKs make the second hole lost: three segments above it.
      sb.update(S(1000), [B(6000, 8000), B(2000, 4000)]);
      expect(sb.isLost(S(4000))).toBe(true);
      expect(sb.nextSeg(true)).toEqual({ kind: 'lost', ...B(4000, 5000) });
    });

    it('IsLost also triggers on DupThresh discontiguous SACKed ranges of small segments', () => {
      const sb = tenInFlight();
      sb.update(S(0), [B(5000, 5100)]);
      sb.update(S(0), [B(5200, 5300)]);
      expect(sb.isLost(S(4000))).toBe(false);
      sb.update(S(0), [B(5400, 5500)]);
      expect(sb.isLost(S(4000))).toBe(true);
      expect(sb.isLost(S(5100))).toBe(false); // two ranges, 200 bytes above it
    });

    it('splits a large hole into MSS segments and never proposes SACKed bytes', () => {
      const sb = tenInFlight();
      sb.update(S(0), [B(3500, 9000)]);
      sb.enterRecovery();
      const segs: SeqRange[] = [];
      for (let s = sb.nextSeg(false); s && s.kind === 'lost'; s = sb.nextSeg(false)) {
        segs.push({ start: s.start, end: s.end });
        sb.onRetransmit(s);
      }
      expect(segs).toEqual([B(0, 1000), B(1000, 2000), B(2000, 3000), B(3000, 3500)]);
      // Left: 9000-10000, not lost and above the highest SACK: only a rescue could send it,
      // and not before the ACK passes the first retransmission.
      expect(sb.nextSeg(false)).toBeUndefined();
    });

    it('sends one rescue retransmission of the tail per recovery (rule 4)', () => {
      const sb = tenInFlight();
      // Segment 1 and the last segment lost.
      sb.update(S(1000), [B(2000, 9000)]);
      expect(sb.shouldEnterRecovery()).toBe(true);
      sb.enterRecovery();
      const r1 = sb.nextSeg(false)!;
      sb.onRetransmit(r1);
      sb.update(S(9000), []);
      expect(sb.inRecovery).toBe(true);
      const rescue = sb.nextSeg(false)!;
      expect(rescue).toEqual({ kind: 'rescue', ...B(9000, 10_000) });
      sb.onRetransmit(rescue);
      expect(sb.highRxt).toBe(S(9000)); // HighRxt is not moved by a rescue
      expect(sb.nextSeg(false)).toBeUndefined();
      const end = sb.update(S(10_000), []);
      expect(end.recoveryEnded).toBe(true);
      expect(sb.inRecovery).toBe(false);
    });

    it('reports D-SACK blocks (RFC 2883) below the ACK or inside the second block, and does not count them as SACK', () => {
      const sb = tenInFlight();
      let u = sb.update(S(5000), [B(1000, 2000)]);
      expect(u.dsack).toEqual(B(1000, 2000));
      expect(u.newlySacked).toEqual([]);
      expect(u.isDupAck).toBe(false);
      u = sb.update(S(5000), [B(6500, 7000), B(6000, 8000)]);
      expect(u.dsack).toEqual(B(6500, 7000));
      expect(u.newlySacked).toEqual([B(6000, 8000)]);
      u = sb.update(S(5000), [B(8000, 9000), B(6000, 8000)]);
      expect(u.dsack).toBeUndefined();
    });

    it('ignores invalid blocks: beyond SND.NXT, reversed, empty', () => {
      const sb = tenInFlight();
      const u = sb.update(S(0), [B(9000, 11_000), B(3000, 2000), B(4000, 4000), B(7000, 8000)]);
      expect(u.invalidBlocks).toBe(3);
      expect(sb.ranges).toEqual([B(7000, 8000)]);
      // An ACK of unsent data changes nothing.
      const bad = sb.update(S(20_000), [B(1000, 2000)]);
      expect(bad.ackedBytes).toBe(0);
      expect(sb.una).toBe(S(0));
    });

    it('cumulative ACKs drop SACKed ranges below them and credit only undelivered bytes', () => {
      const sb = tenInFlight();
      sb.update(S(0), [B(2000, 4000)]);
      const u = sb.update(S(5000), []);
      expect(u.ackedBytes).toBe(5000);
      expect(u.deliveredBytes).toBe(3000);
      expect(sb.ranges).toEqual([]);
      expect(sb.sackedBytes).toBe(0);
    });

    it('refuses SACK blocks beyond maxRanges', () => {
      const sb = new SackScoreboard(S(0), MSS, { dupThresh: 3, maxRanges: 2 });
      sb.onSent(S(10_000));
      sb.update(S(0), [B(1000, 1001), B(2000, 2001), B(3000, 3001)]);
      expect(sb.ranges.length).toBe(2);
      expect(sb.refusedBlocks).toBe(1);
    });

    it('after an RTO, recovery ends and does not restart until the RTO recovery point is acked (5.1)', () => {
      const sb = tenInFlight();
      sb.update(S(1000), [B(2000, 5000)]);
      sb.enterRecovery();
      sb.onSent(S(12_000));
      sb.onRetransmissionTimeout();
      expect(sb.inRecovery).toBe(false);
      expect(sb.recoveryPoint).toBe(S(12_000));
      sb.update(S(1000), [B(6000, 9000)]);
      expect(sb.isLost(S(1000))).toBe(true);
      expect(sb.shouldEnterRecovery()).toBe(false);
      sb.update(S(12_000), []);
      sb.onSent(S(20_000));
      sb.update(S(12_000), [B(13_000, 16_000)]);
      expect(sb.shouldEnterRecovery()).toBe(true);
    });
  });
}
