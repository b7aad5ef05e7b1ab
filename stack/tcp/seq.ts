// 32-bit modular sequence-number arithmetic (RFC 9293 3.4, RFC 1982 serial numbers).
// Sequence numbers are plain JS numbers holding unsigned 32-bit values (0 .. 2^32-1).
// Comparisons take the signed 32-bit difference, so they are correct whenever the two
// values are less than 2^31 apart, which the window rules guarantee.

/** A half-open range [start, end) of sequence numbers; `end` may have wrapped below `start`. */
export interface SeqRange {
  start: number;
  end: number;
}

/** a < b in sequence space. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** a <= b in sequence space. */
export function seqLeq(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** a > b in sequence space. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** a >= b in sequence space. */
export function seqGeq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** seq + n, wrapped to 32 bits (n may be negative). */
export function seqAdd(seq: number, n: number): number {
  return (seq + n) >>> 0;
}

/** The signed distance a - b: how far a lies after b (negative when before). */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}

/** The later of two sequence numbers. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a : b;
}

/** The earlier of two sequence numbers. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a : b;
}

/** left <= seq < left + size (RFC 9293 3.4 acceptability tests); false when size is 0. */
export function inWindow(seq: number, left: number, size: number): boolean {
  return ((seq - left) >>> 0) < size;
}

/** The number of sequence numbers in [start, end); 0 when end is not after start. */
export function rangeLength(r: SeqRange): number {
  const n = (r.end - r.start) | 0;
  return n > 0 ? n : 0;
}
