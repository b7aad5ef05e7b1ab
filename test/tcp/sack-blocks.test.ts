import { describe, expect, it } from 'vitest';
import { ReassemblyQueue } from '../../stack/tcp/reassembly.js';
import { SackBlockBuilder, maxSackBlocks } from '../../stack/tcp/sack-blocks.js';

function receiver(): { q: ReassemblyQueue; sb: SackBlockBuilder; arrive: (start: number, end: number) => void } {
  const q = new ReassemblyQueue({ maxBytes: 1 << 20, maxSegments: 1024 });
  const sb = new SackBlockBuilder();
  return {
    q,
    sb,
    arrive(start, end) {
      const r = q.insert(0, start, new Uint8Array(end - start));
      if (r.duplicate) sb.onDuplicate(r.duplicate);
      else sb.onOutOfOrder(start);
    },
  };
}

describe('SackBlockBuilder (RFC 2018 4, RFC 2883 4)', () => {
  it('puts the block of the triggering segment first, then recently reported blocks', () => {
    const { q, sb, arrive } = receiver();
    arrive(1000, 2000);
    expect(sb.takeBlocks(q, 0, 4)).toEqual([{ start: 1000, end: 2000 }]);
    arrive(3000, 4000);
    expect(sb.takeBlocks(q, 0, 4)).toEqual([
      { start: 3000, end: 4000 },
      { start: 1000, end: 2000 },
    ]);
    arrive(5000, 6000);
    arrive(2000, 2500); // extends the first block
    expect(sb.takeBlocks(q, 0, 4)).toEqual([
      { start: 1000, end: 2500 },
      { start: 5000, end: 6000 },
      { start: 3000, end: 4000 },
    ]);
  });

  it('sends at most the given number of blocks (3 with timestamps, 4 without)', () => {
    const { q, sb, arrive } = receiver();
    for (let i = 1; i <= 6; i++) arrive(i * 1000, i * 1000 + 100);
    expect(maxSackBlocks(true)).toBe(3);
    expect(maxSackBlocks(false)).toBe(4);
    const blocks = sb.takeBlocks(q, 0, maxSackBlocks(true));
    expect(blocks.map((b) => b.start)).toEqual([6000, 5000, 4000]);
  });

  it('does not repeat a block that is a subset of one already included', () => {
    const { q, sb, arrive } = receiver();
    arrive(1000, 1100);
    arrive(1100, 1200);
    arrive(1200, 1300);
    expect(sb.takeBlocks(q, 0, 4)).toEqual([{ start: 1000, end: 1300 }]);
  });

  it('reports a duplicate first, once, followed by the block that contains it', () => {
    const { q, sb, arrive } = receiver();
    arrive(1000, 2000);
    arrive(3000, 4000);
    sb.takeBlocks(q, 0, 4);
    arrive(1200, 1400); // duplicate inside the first block
    expect(sb.takeBlocks(q, 0, 4)).toEqual([
      { start: 1200, end: 1400 },
      { start: 1000, end: 2000 },
      { start: 3000, end: 4000 },
    ]);
    expect(sb.takeBlocks(q, 0, 4)).toEqual([
      { start: 3000, end: 4000 },
      { start: 1000, end: 2000 },
    ]);
    // A duplicate below RCV.NXT: just the D-SACK block, then the usual ones.
    sb.onDuplicate({ start: 10, end: 20 });
    expect(sb.takeBlocks(q, 500, 4)[0]).toEqual({ start: 10, end: 20 });
  });

  it('forgets blocks once RCV.NXT passes them', () => {
    const { q, sb, arrive } = receiver();
    arrive(1000, 2000);
    arrive(3000, 4000);
    q.takeInOrder(1000, []);
    expect(sb.takeBlocks(q, 2000, 4)).toEqual([{ start: 3000, end: 4000 }]);
  });
});
