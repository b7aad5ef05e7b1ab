// The loss-recovery pieces composed the way rack.ts documents, over a simulated link with
// a virtual clock: a sender (SendBuffer, SentSegments, SackScoreboard, RACK, RttEstimator,
// CUBIC) and a receiver (ReassemblyQueue, SackBlockBuilder). Checks that the stream
// arrives intact, losses are repaired by RACK without an RTO, and the window is reduced
// exactly once per loss episode.

import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../stack/config.js';
import { Cubic } from '../../stack/tcp/congestion/cubic.js';
import { Rack } from '../../stack/tcp/rack.js';
import { ReassemblyQueue } from '../../stack/tcp/reassembly.js';
import { RttEstimator } from '../../stack/tcp/rto.js';
import { SackBlockBuilder } from '../../stack/tcp/sack-blocks.js';
import { SackScoreboard } from '../../stack/tcp/sack-scoreboard.js';
import { SendBuffer } from '../../stack/tcp/send-buffer.js';
import { SentSegments, type SentSegment } from '../../stack/tcp/sent-segments.js';
import { seqAdd, seqGt, seqLt, seqSub, type SeqRange } from '../../stack/tcp/seq.js';
import { concat, pattern } from './bytes.js';

const MSS = 1000;
const ONE_WAY = 25;

type Event =
  | { t: number; kind: 'data'; seq: number; payload: Uint8Array }
  | { t: number; kind: 'ack'; ack: number; blocks: SeqRange[] }
  | { t: number; kind: 'rack-timer' };

/** `drop(index, copy)`: whether the link loses copy `copy` (1 = first) of segment `index`. */
function run(iss: number, total: number, drop: (index: number, copy: number) => boolean) {
  const events: Event[] = [];
  const schedule = (e: Event): void => {
    let i = events.length;
    while (i > 0 && events[i - 1]!.t > e.t) i--;
    events.splice(i, 0, e);
  };
  const stream = pattern(total, 7);

  // Sender.
  const buffer = new SendBuffer(1 << 20);
  buffer.append(stream);
  const sent = new SentSegments();
  const sb = new SackScoreboard(iss, MSS, { dupThresh: 3, maxRanges: 256 });
  const rack = new Rack(3);
  const rtt = new RttEstimator(DEFAULT_CONFIG.tcp);
  const cc = new Cubic(MSS, { initialCwndSegments: 10, hystart: false });
  let sndNxt = iss;
  let reductions = 0;
  const copies = new Map<number, number>();

  const transmit = (start: number, end: number, now: number): void => {
    const payload = new Uint8Array(seqSub(end, start));
    // The send buffer starts at SND.UNA: acknowledged bytes were released.
    buffer.copyRange(seqSub(start, sb.una), payload.length, payload, 0);
    const index = seqSub(start, iss) / MSS;
    const copy = (copies.get(index) ?? 0) + 1;
    copies.set(index, copy);
    if (!drop(index, copy)) schedule({ t: now + ONE_WAY, kind: 'data', seq: start, payload });
  };

  const sendWhatCwndAllows = (now: number): void => {
    for (;;) {
      if (sent.inFlight + MSS > cc.cwnd) return;
      const lost = sent.firstLost();
      if (lost !== undefined) {
        transmit(lost.startSeq, lost.endSeq, now);
        sent.onRetransmitted(lost, now);
        sb.onRetransmit({ kind: 'lost', start: lost.startSeq, end: lost.endSeq });
        continue;
      }
      const unsent = total - seqSub(sndNxt, iss);
      if (unsent <= 0) return;
      const end = seqAdd(sndNxt, Math.min(MSS, unsent));
      transmit(sndNxt, end, now);
      sent.onSent(sndNxt, end, now);
      sb.onSent(end);
      sndNxt = end;
    }
  };

  const detect = (now: number): void => {
    const reo = rack.reoWnd({
      minRtt: rtt.minRtt.value,
      srtt: rtt.srtt ?? 0,
      inRecovery: cc.inRecovery,
      sackedSegments: sent.sackedCount,
    });
    const lost: SentSegment[] = [];
    const timeout = rack.detectLoss(sent, now, reo, (s) => lost.push(s));
    if (lost.length > 0 && !cc.inRecovery) {
      cc.onCongestionEvent({ now, mss: MSS, flightSize: seqSub(sndNxt, sb.una), kind: 'rack' });
      sb.enterRecovery();
      reductions++;
    }
    if (timeout > 0) schedule({ t: now + timeout, kind: 'rack-timer' });
  };

  const onAck = (now: number, ack: number, blocks: SeqRange[]): void => {
    const inFlightBefore = sent.inFlight;
    const u = sb.update(ack, blocks);
    buffer.release(u.ackedBytes);
    const delivered = (s: SentSegment): void => {
      if (!s.retransmitted) rtt.sample(now, now - s.xmitTs); // Karn
      rack.onDelivered(s, now, rtt.minRtt.value);
    };
    sent.ackTo(ack, delivered);
    for (const r of u.newlySacked) sent.markSacked(r, delivered);
    rack.updateReoWnd({ sndUna: sb.una, sndNxt, dsack: u.dsack !== undefined, exitingRecovery: u.recoveryEnded });
    if (u.recoveryEnded) cc.onRecoveryExit(now);
    cc.onAck({
      now,
      ackedBytes: u.deliveredBytes,
      mss: MSS,
      inFlight: inFlightBefore,
      srttMs: rtt.srtt,
      ackNumber: ack,
      sndNxt,
    });
    detect(now);
    sendWhatCwndAllows(now);
  };

  // Receiver.
  const q = new ReassemblyQueue({ maxBytes: 1 << 20, maxSegments: 1024 });
  const blocks = new SackBlockBuilder();
  const received: Uint8Array[] = [];
  let rcvNxt = iss;
  const onData = (now: number, seq: number, payload: Uint8Array): void => {
    const end = seqAdd(seq, payload.length);
    if (!seqGt(seq, rcvNxt)) {
      if (seqGt(end, rcvNxt)) {
        received.push(payload.subarray(seqSub(rcvNxt, seq)));
        rcvNxt = end;
        rcvNxt = seqAdd(rcvNxt, q.takeInOrder(rcvNxt, received));
      } else blocks.onDuplicate({ start: seq, end });
    } else {
      const r = q.insert(rcvNxt, seq, payload);
      if (r.duplicate) blocks.onDuplicate(r.duplicate);
      else blocks.onOutOfOrder(seq);
    }
    schedule({ t: now + ONE_WAY, kind: 'ack', ack: rcvNxt, blocks: blocks.takeBlocks(q, rcvNxt, 3) });
  };

  sendWhatCwndAllows(0);
  let now = 0;
  while (events.length > 0 && now < 10_000) {
    const e = events.shift()!;
    now = e.t;
    if (e.kind === 'data') onData(now, e.seq, e.payload);
    else if (e.kind === 'ack') onAck(now, e.ack, e.blocks);
    else {
      detect(now);
      sendWhatCwndAllows(now);
    }
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of received) (out.set(c, o), (o += c.length));
  const retransmissions = [...copies.values()].reduce((n, c) => n + c - 1, 0);
  if (process.env.DEBUG_LR) console.log([...copies].filter(([, c]) => c > 1));
  return { out, stream, now, reductions, cc, sb, sent, rcvNxt, retransmissions };
}

describe('loss recovery composed: SACK scoreboard + RACK + CUBIC over a lossy link', () => {
  for (const iss of [1, 0xffff_ffff - 20_000]) {
    it(`repairs two losses in one window with one reduction, ISS ${iss}`, () => {
      const r = run(iss, 60 * MSS, (i, copy) => copy === 1 && (i === 3 || i === 7));
      expect(r.out).toEqual(r.stream);
      expect(r.rcvNxt).toBe(seqAdd(iss, 60 * MSS));
      expect(r.reductions).toBe(1);
      expect(r.retransmissions).toBe(2);
      expect(r.sent.size).toBe(0);
      expect(r.sent.inFlight).toBe(0);
      expect(r.sb.inRecovery).toBe(false);
      expect(r.cc.inRecovery).toBe(false);
      // Well before any RTO would fire (initial RTO 1 s; RTT 50 ms).
      expect(r.now).toBeLessThan(1000);
    });

    it(`detects a lost retransmission by time and repairs it without an RTO, ISS ${iss}`, () => {
      // Segment 5 is lost, and so is its first retransmission; new data sent after that
      // retransmission gets through, which is what RACK needs to declare it lost again.
      const r = run(iss, 80 * MSS, (i, copy) => i === 5 && copy <= 2);
      expect(r.out).toEqual(r.stream);
      expect(r.retransmissions).toBe(2);
      expect(r.now).toBeLessThan(1000);
    });
  }

  it('without losses never reduces and ends in slow start growth', () => {
    const r = run(7, 100 * MSS, () => false);
    expect(r.out).toEqual(r.stream);
    expect(r.reductions).toBe(0);
    expect(r.cc.cwnd).toBeGreaterThan(10 * MSS);
    expect(seqLt(r.sb.una, r.sb.highData)).toBe(false);
  });
});
