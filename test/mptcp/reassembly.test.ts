import { describe, expect, it } from 'vitest';
import { DataReassembly } from '../../stack/mptcp/reassembly.js';
import { seededRandom } from '../../stack/random.js';

/** A data stream whose byte at offset i is (i * 31 + 7) & 0xff, so any slice is checkable. */
const STREAM = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + 7) & 0xff);
const stream = (from: number, length: number): Uint8Array => STREAM.slice(from, from + length);
const concat = (chunks: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(chunks));

describe('DataReassembly', () => {
  const opts = { bufferSize: 100_000, maxOutOfOrderSegments: 64 };

  it('delivers in order across subflows with reordering and reinjected duplicates', () => {
    const r = new DataReassembly(opts);
    // subflow 1 carries [0,1000) [2000,3000); subflow 2 [1000,2000) [3000,4000) late
    expect(r.receive(0, stream(0, 1000))).toEqual({ inOrder: 1000, queued: 0, dropped: 0 });
    expect(r.receive(2000, stream(2000, 1000))).toEqual({ inOrder: 0, queued: 1000, dropped: 0 });
    expect(r.dataAck).toBe(1000);
    // reinjection of [2000, 3000) on subflow 2 before the original [1000, 2000) arrives
    expect(r.receive(2000, stream(2000, 1000))).toEqual({ inOrder: 0, queued: 0, dropped: 1000 });
    expect(r.receive(1000, stream(1000, 1000))).toEqual({ inOrder: 2000, queued: 0, dropped: 0 });
    expect(r.receive(500, stream(500, 3000))).toEqual({ inOrder: 500, queued: 0, dropped: 2500 });
    expect(r.dataAck).toBe(3500);
    expect(r.stats.duplicateBytes).toBe(3500);
    expect(concat(r.read())).toEqual(stream(0, 3500));
  });

  it('reassembles a shuffled, duplicated stream from two subflows exactly', () => {
    const rnd = seededRandom('reassembly');
    const total = 200_000;
    const segs: [number, number][] = [];
    for (let at = 0; at < total; ) {
      const n = 1 + Math.floor(rnd.float() * 3000);
      segs.push([at, Math.min(n, total - at)]);
      at += n;
    }
    // duplicates with shifted boundaries (reinjections re-cut the stream)
    for (let i = 0; i < 60; i++) {
      const at = Math.floor(rnd.float() * total);
      segs.push([at, Math.min(1 + Math.floor(rnd.float() * 5000), total - at)]);
    }
    for (let i = segs.length - 1; i > 0; i--) {
      const j = Math.floor(rnd.float() * (i + 1));
      [segs[i], segs[j]] = [segs[j]!, segs[i]!];
    }
    const r = new DataReassembly({ bufferSize: total, maxOutOfOrderSegments: 10_000 });
    const got: Uint8Array[] = [];
    for (const [at, n] of segs) {
      r.receive(at, stream(at, n));
      if (rnd.float() < 0.3) got.push(...r.read());
    }
    got.push(...r.read());
    expect(r.dataAck).toBe(total);
    expect(r.outOfOrderBytes).toBe(0);
    // Buffer.equals: vitest's element-wise diff of 200 kB arrays is slow
    expect(Buffer.from(concat(got)).equals(stream(0, total))).toBe(true);
  });

  it('shares one window relative to the DATA_ACK and never retracts its right edge (RFC 8684 3.3.4)', () => {
    const r = new DataReassembly({ bufferSize: 10_000, maxOutOfOrderSegments: 8 });
    expect(r.window).toBe(10_000);
    r.receive(0, stream(0, 4000));
    expect(r.window).toBe(6000); // 4000 unread
    r.receive(8000, stream(8000, 3000)); // beyond the right edge at 10000: 1000 dropped
    expect(r.stats.outOfWindowBytes).toBe(1000);
    expect(r.outOfOrderBytes).toBe(2000);
    expect(r.window).toBe(6000); // out-of-order bytes already sit inside the window
    r.read(3000);
    expect(r.window).toBe(9000);
    r.setBufferSize(2000);
    expect(r.window).toBe(9000); // shrinking the buffer does not pull the edge back
    expect(r.dataAck + r.window).toBe(13_000);
  });

  it('counts drops beyond the out-of-order limit but always accepts in-order data', () => {
    // 1 KiB of buffer: the configured 2 pieces are the limit (one per 512 bytes is also 2).
    const r = new DataReassembly({ bufferSize: 1024, maxOutOfOrderSegments: 2 });
    r.receive(100, stream(100, 10));
    r.receive(200, stream(200, 10));
    expect(r.receive(300, stream(300, 10))).toEqual({ inOrder: 0, queued: 0, dropped: 10 });
    expect(r.stats.outOfOrderLimitBytes).toBe(10);
    expect(r.receive(0, stream(0, 100)).inOrder).toBe(110);
  });

  it('holds a whole window out of order: one piece per 512 bytes of buffer, above the configured count, also after the buffer grows', () => {
    const r = new DataReassembly({ bufferSize: 100_000, maxOutOfOrderSegments: 2 });
    // ceil(100,000 / 512) = 196 separate pieces fit, the 197th does not.
    for (let i = 1; i <= 196; i++) expect(r.receive(i * 500, stream(i * 500, 10)).queued).toBe(10);
    expect(r.receive(197 * 500, stream(197 * 500, 10)).dropped).toBe(10);
    r.setBufferSize(200_000);
    expect(r.receive(197 * 500, stream(197 * 500, 10)).queued).toBe(10);
    expect(r.stats.outOfOrderLimitBytes).toBe(10);
  });

  it('acknowledges the DATA_FIN once everything before it arrived', () => {
    const r = new DataReassembly({ ...opts, initialOffset: 5000 });
    r.receive(5500, stream(5500, 500));
    expect(r.dataFin(6000)).toBe(true);
    expect(r.dataFin(6001)).toBe(false);
    expect(r.stats.conflictingDataFins).toBe(1);
    expect(r.finReached).toBe(false);
    expect(r.receive(5900, stream(5900, 200))).toEqual({ inOrder: 0, queued: 0, dropped: 200 });
    expect(r.stats.afterFinBytes).toBe(100);
    r.receive(5000, stream(5000, 500));
    expect(r.finReached).toBe(true);
    expect(r.dataAck).toBe(6001);
    expect(concat(r.read())).toEqual(stream(5000, 1000));
  });

  it('drops queued data past a DATA_FIN that arrives later', () => {
    const r = new DataReassembly(opts);
    r.receive(100, stream(100, 100));
    r.receive(300, stream(300, 100));
    expect(r.dataFin(150)).toBe(true);
    r.receive(0, stream(0, 100));
    expect(r.dataAck).toBe(151);
    expect(r.stats.afterFinBytes).toBe(150);
    expect(r.outOfOrderBytes).toBe(0);
    expect(concat(r.read())).toEqual(stream(0, 150));
  });

  it('works with data offsets beyond 2^32 (the queue sees them modulo 2^32)', () => {
    const base = 3 * 2 ** 32 - 1000;
    const r = new DataReassembly({ ...opts, initialOffset: base });
    const data = STREAM.slice(0, 5000);
    expect(r.receive(base + 2000, data.subarray(2000)).queued).toBe(3000);
    expect(r.receive(base, data.subarray(0, 2000)).inOrder).toBe(5000);
    expect(r.dataAck).toBe(base + 5000);
    expect(concat(r.read())).toEqual(data);
  });
});
