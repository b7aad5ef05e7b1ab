import { describe, expect, it } from 'vitest';
import { ReassemblyQueue } from '../../stack/tcp/reassembly.js';
import { seqAdd, seqGt, seqLeq, seqSub } from '../../stack/tcp/seq.js';
import { concat, pattern as bytes } from './bytes.js';

const big = { maxBytes: 1 << 20, maxSegments: 1 << 16 };

describe('ReassemblyQueue', () => {
  it('holds out-of-order segments and releases them once the gap is filled', () => {
    const q = new ReassemblyQueue(big);
    const stream = bytes(300);
    expect(q.insert(0, 100, stream.subarray(100, 200)).queued).toBe(100);
    expect(q.insert(0, 250, stream.subarray(250, 300)).queued).toBe(50);
    expect(q.ranges).toEqual([
      { start: 100, end: 200 },
      { start: 250, end: 300 },
    ]);
    const out: Uint8Array[] = [];
    expect(q.takeInOrder(0, out)).toBe(0);
    // The application got 0..100 in order; the queue continues from there.
    expect(q.takeInOrder(100, out)).toBe(100);
    expect(concat(out)).toEqual(stream.subarray(100, 200));
    expect(q.ranges).toEqual([{ start: 250, end: 300 }]);
    expect(q.bytes).toBe(50);
  });

  it('keeps views of the arriving buffers (no copy)', () => {
    const q = new ReassemblyQueue(big);
    const packet = new Uint8Array(1500);
    const payload = packet.subarray(60, 1060);
    q.insert(0, 1000, payload);
    const out: Uint8Array[] = [];
    q.takeInOrder(1000, out);
    expect(out[0]!.buffer).toBe(packet.buffer);
    expect(out[0]!.byteOffset).toBe(60);
    expect(q.stats.copiedBytes).toBe(0);
  });

  it('copies a tiny piece out of a huge buffer so the buffer can be freed', () => {
    const q = new ReassemblyQueue(big);
    const huge = new Uint8Array(65_536);
    q.insert(0, 10, huge.subarray(100, 101));
    const out: Uint8Array[] = [];
    q.takeInOrder(10, out);
    expect(out[0]!.buffer.byteLength).toBe(1);
    expect(q.stats.copiedBytes).toBe(1);
  });

  it('trims overlaps, stores each byte once, and reports the duplicate part for D-SACK', () => {
    const q = new ReassemblyQueue(big);
    const s = bytes(1000);
    q.insert(0, 100, s.subarray(100, 200));
    q.insert(0, 300, s.subarray(300, 400));
    // Covers both and the gap between: only 200..300 is new.
    const r = q.insert(0, 150, s.subarray(150, 350));
    expect(r.queued).toBe(100);
    expect(r.duplicate).toEqual({ start: 150, end: 200 });
    expect(q.ranges).toEqual([{ start: 100, end: 400 }]);
    expect(q.segmentCount).toBe(3);
    // An exact duplicate queues nothing.
    const d = q.insert(0, 300, s.subarray(300, 400));
    expect(d).toEqual({ queued: 0, duplicate: { start: 300, end: 400 }, dropped: 0 });
    // A segment below RCV.NXT is a duplicate too; its new tail is kept.
    const low = q.insert(120, 50, s.subarray(50, 130));
    expect(low.duplicate).toEqual({ start: 50, end: 120 });
    expect(low.queued).toBe(0); // 120..130 is already queued
    expect(q.stats.duplicateBytes).toBe(50 + 50 + 100 + 70 + 10);
    const out: Uint8Array[] = [];
    expect(q.takeInOrder(100, out)).toBe(300);
    expect(concat(out)).toEqual(s.subarray(100, 400));
  });

  it('reassembles any segmentation, order, overlap and duplication into the original stream, across the wrap', () => {
    let seed = 99;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    for (const iss of [0, 0xffff_ffff - 2000, 0x7fff_ff00]) {
      for (let trial = 0; trial < 20; trial++) {
        const total = 5000;
        const stream = bytes(total, trial);
        const segs: Array<[number, number]> = [];
        for (let i = 0; i < 200; i++) {
          const a = rnd(total);
          segs.push([a, Math.min(total, a + 1 + rnd(trial % 2 ? 3 : 400))]);
        }
        for (let a = 0; a < total; a += 700) segs.push([a, Math.min(total, a + 700)]); // full coverage
        segs.sort(() => rnd(3) - 1);
        const q = new ReassemblyQueue(big);
        let rcvNxt = iss;
        const got: Uint8Array[] = [];
        for (const [a, b] of segs) {
          const seq = seqAdd(iss, a);
          const end = seqAdd(iss, b);
          if (seqLeq(seq, rcvNxt) && seqGt(end, rcvNxt)) {
            // In order: straight to the application, then whatever it unblocks.
            got.push(stream.subarray(seqSub(rcvNxt, iss), b));
            rcvNxt = end;
            rcvNxt = seqAdd(rcvNxt, q.takeInOrder(rcvNxt, got));
          } else if (seqGt(seq, rcvNxt)) {
            q.insert(rcvNxt, seq, stream.subarray(a, b));
          }
        }
        expect(rcvNxt).toBe(seqAdd(iss, total));
        expect(concat(got)).toEqual(stream);
        expect(q.isEmpty).toBe(true);
        expect(q.bytes).toBe(0);
      }
    }
  });

  it('takes a 64 KiB super-segment over many 1-byte segments', () => {
    const q = new ReassemblyQueue(big);
    const s = bytes(70_000);
    for (let i = 1000; i < 2000; i += 2) q.insert(0, i, s.subarray(i, i + 1));
    expect(q.segmentCount).toBe(500);
    const r = q.insert(0, 1, s.subarray(1, 65_537));
    expect(r.queued).toBe(65_536 - 500);
    expect(q.ranges).toEqual([{ start: 1, end: 65_537 }]);
    const out: Uint8Array[] = [];
    expect(q.takeInOrder(1, out)).toBe(65_536);
    expect(concat(out)).toEqual(s.subarray(1, 65_537));
  });

  it('when full, evicts data above a new segment nearer RCV.NXT, and drops (counted) what does not fit', () => {
    const q = new ReassemblyQueue({ maxBytes: 300, maxSegments: 100 });
    const s = bytes(2000);
    q.insert(0, 1000, s.subarray(1000, 1200));
    q.insert(0, 1500, s.subarray(1500, 1600));
    expect(q.bytes).toBe(300);
    // Above everything, no room: dropped.
    const high = q.insert(0, 1800, s.subarray(1800, 1900));
    expect(high.dropped).toBe(100);
    expect(q.stats.droppedBytes).toBe(100);
    // Nearer RCV.NXT: the highest data makes room.
    const near = q.insert(0, 100, s.subarray(100, 250));
    expect(near.queued).toBe(150);
    expect(q.stats.evictedBytes).toBe(100 + 50);
    expect(q.ranges).toEqual([
      { start: 100, end: 250 },
      { start: 1000, end: 1150 },
    ]);
    expect(q.bytes).toBe(300);
  });

  it('bounds the number of pieces against 1-byte floods', () => {
    const q = new ReassemblyQueue({ maxBytes: 1 << 20, maxSegments: 64 });
    for (let i = 0; i < 1000; i++) q.insert(0, 10 + 2 * i, new Uint8Array(1));
    expect(q.segmentCount).toBe(64);
    expect(q.stats.droppedBytes).toBe(1000 - 64);
  });
});
