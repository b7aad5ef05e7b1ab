// Holds items until their deadlines and hands them back in batches, in deadline order, from
// one timer armed for the earliest deadline: the real-time half of link impairment (the
// decisions come from the pure model in impairment.ts). Never blocks the event loop.
//
// Deadlines from the impairment model almost always arrive in order (it keeps order under
// jitter; only reordered packets jump ahead), so a sorted array that is appended to at the
// end and consumed from a moving head costs O(1) per item; an out-of-order deadline is
// placed by binary search. Equal deadlines keep insertion order.

import { setTimer } from './timer.js';

/** Milliseconds on the monotonic clock (performance.now), the time base of every deadline. */
export type Clock = () => number;

export const monotonicNow: Clock = () => performance.now();

export class ReleaseQueue<T> {
  private readonly deadlines: number[] = [];
  private readonly items: T[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  /** `release` gets every item whose deadline has passed, oldest deadline first. */
  constructor(
    private readonly release: (items: T[]) => void,
    private readonly now: Clock = monotonicNow,
  ) {}

  /** Items waiting. */
  get size(): number {
    return this.deadlines.length - this.head;
  }

  /** Earliest deadline waiting, or undefined. */
  get nextDeadline(): number | undefined {
    return this.size > 0 ? this.deadlines[this.head] : undefined;
  }

  /** Queues `item` for `deadline`; it is released by the timer, or by flushDue(). */
  push(deadline: number, item: T): void {
    const d = this.deadlines;
    let at = d.length;
    if (at > this.head && d[at - 1]! > deadline) {
      // Upper bound in [head, length): after every deadline <= this one, so ties stay FIFO.
      let lo = this.head;
      let hi = at;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (d[mid]! <= deadline) lo = mid + 1;
        else hi = mid;
      }
      at = lo;
      d.splice(at, 0, deadline);
      this.items.splice(at, 0, item);
    } else {
      d.push(deadline);
      this.items.push(item);
    }
    if (deadline < this.armedFor) this.arm();
  }

  /** Releases everything due now (synchronously) and re-arms the timer for the rest. */
  flushDue(): void {
    const now = this.now();
    const d = this.deadlines;
    let end = this.head;
    while (end < d.length && d[end]! <= now) end++;
    if (end > this.head) {
      const due = this.items.slice(this.head, end);
      this.items.fill(undefined as T, this.head, end); // let the packets be collected
      this.head = end;
      this.compact();
      this.release(due);
    }
    this.arm();
  }

  /** Drops everything waiting and disarms the timer. */
  clear(): void {
    this.deadlines.length = 0;
    this.items.length = 0;
    this.head = 0;
    this.disarm();
  }

  private arm(): void {
    const next = this.nextDeadline;
    if (next === undefined) {
      this.disarm();
      return;
    }
    if (this.timer !== undefined && this.armedFor <= next) return;
    this.disarm();
    this.armedFor = next;
    // setTimeout rounds to whole milliseconds and may fire a little early: flushDue then
    // finds nothing due and arms again, so nothing is ever released before its deadline.
    this.timer = setTimer(this.fire, next - this.now());
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    this.flushDue();
  };

  private compact(): void {
    if (this.head === this.deadlines.length) {
      this.deadlines.length = 0;
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.deadlines.length) {
      this.deadlines.splice(0, this.head);
      this.items.splice(0, this.head);
      this.head = 0;
    }
  }
}
