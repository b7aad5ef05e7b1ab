// A set of sequence numbers kept as sorted, disjoint, non-adjacent ranges: the SACKed
// ranges of the sender's scoreboard (RFC 6675) and the out-of-order ranges of the
// receiver's reassembly queue (RFC 2018 blocks). All members must lie within 2^31 of each
// other so that modular comparison orders them (the window rules guarantee it).
// Lookups are binary searches; insertion splices, O(number of ranges) at worst.

import { seqAdd, seqGeq, seqGt, seqLeq, seqLt, seqMax, seqMin, type SeqRange } from './seq.js';

export class SeqRangeSet {
  /** Sorted, disjoint, non-adjacent. Do not mutate from outside. */
  readonly ranges: SeqRange[] = [];
  /** Total count of sequence numbers in the set. */
  bytes = 0;

  get size(): number {
    return this.ranges.length;
  }

  /** The highest member + 1 (end of the last range), or undefined when empty. */
  get end(): number | undefined {
    return this.ranges.length > 0 ? this.ranges[this.ranges.length - 1]!.end : undefined;
  }

  /**
   * Add [start, end). Returns the count of sequence numbers not already present; when
   * `added` is given, the newly covered pieces are appended to it in ascending order.
   * With `maxRanges`, an addition that would need a new separate range beyond that many
   * ranges is refused (returns -1) so hostile input cannot grow the set without bound.
   */
  add(start: number, end: number, added?: SeqRange[], maxRanges = Infinity): number {
    if (!seqLt(start, end)) return 0;
    const r = this.ranges;
    const i = this.firstEndingAfter(seqAdd(start, -1));
    // Ranges i .. j-1 overlap or touch [start, end).
    let j = i;
    while (j < r.length && seqLeq(r[j]!.start, end)) j++;
    if (i === j && r.length >= maxRanges) return -1;
    const fresh = this.gapsFrom(i, start, end, added);
    const merged =
      i === j
        ? { start, end }
        : { start: seqMin(start, r[i]!.start), end: seqMax(end, r[j - 1]!.end) };
    r.splice(i, j - i, merged);
    this.bytes += fresh;
    return fresh;
  }

  /**
   * The parts of [start, end) not in the set: returns their size and, when `out` is
   * given, appends them in ascending order. The set is not changed.
   */
  gaps(start: number, end: number, out?: SeqRange[]): number {
    if (!seqLt(start, end)) return 0;
    return this.gapsFrom(this.firstEndingAfter(seqAdd(start, -1)), start, end, out);
  }

  /** Remove every member below `seq`; returns how many were removed. */
  removeBelow(seq: number): number {
    const r = this.ranges;
    let removed = 0;
    let n = 0;
    while (n < r.length && seqLeq(r[n]!.end, seq)) {
      removed += (r[n]!.end - r[n]!.start) >>> 0;
      n++;
    }
    if (n > 0) r.splice(0, n);
    const first = r[0];
    if (first !== undefined && seqLt(first.start, seq)) {
      removed += (seq - first.start) >>> 0;
      r[0] = { start: seq, end: first.end };
    }
    this.bytes -= removed;
    return removed;
  }

  /** Remove every member at or above `seq`; returns how many were removed. */
  removeFrom(seq: number): number {
    const r = this.ranges;
    let removed = 0;
    while (r.length > 0 && seqGeq(r[r.length - 1]!.start, seq)) {
      const last = r.pop()!;
      removed += (last.end - last.start) >>> 0;
    }
    const last = r[r.length - 1];
    if (last !== undefined && seqGt(last.end, seq)) {
      removed += (last.end - seq) >>> 0;
      r[r.length - 1] = { start: last.start, end: seq };
    }
    this.bytes -= removed;
    return removed;
  }

  /** The range holding `seq`, if any. */
  containing(seq: number): SeqRange | undefined {
    const i = this.firstEndingAfter(seq);
    const r = this.ranges[i];
    return r !== undefined && seqLeq(r.start, seq) ? r : undefined;
  }

  has(seq: number): boolean {
    return this.containing(seq) !== undefined;
  }

  /** Index of the first range whose end is after `seq` (ranges.length if none). */
  firstEndingAfter(seq: number): number {
    const r = this.ranges;
    let lo = 0;
    let hi = r.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqGt(r[mid]!.end, seq)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Members of the set within [start, end). */
  countWithin(start: number, end: number): number {
    let n = 0;
    const r = this.ranges;
    for (let k = this.firstEndingAfter(start); k < r.length && seqLt(r[k]!.start, end); k++) {
      n += (seqMin(r[k]!.end, end) - seqMax(r[k]!.start, start)) >>> 0;
    }
    return n;
  }

  clear(): void {
    this.ranges.length = 0;
    this.bytes = 0;
  }

  /** gaps() starting the walk at range index `i` (the first range that ends at or after `start`). */
  private gapsFrom(i: number, start: number, end: number, out: SeqRange[] | undefined): number {
    const r = this.ranges;
    let missing = 0;
    let cursor = start;
    for (let k = i; k < r.length && seqLt(r[k]!.start, end); k++) {
      const rk = r[k]!;
      if (seqLt(cursor, rk.start)) {
        out?.push({ start: cursor, end: rk.start });
        missing += (rk.start - cursor) >>> 0;
      }
      cursor = seqMax(cursor, rk.end);
    }
    if (seqLt(cursor, end)) {
      out?.push({ start: cursor, end });
      missing += (end - cursor) >>> 0;
    }
    return missing;
  }
}
