// The earliest deadline over all connections, kept cheaply (RFC 6298 timers re-armed on
// every ACK must not cost a heap operation each). Every connection has one deadline (the
// earliest of its own timers) and the heap holds it lazily:
// - a deadline that moves later (an RTO restarted by an ACK) is not touched: when the old
//   entry comes due, the connection is visited, finds nothing to do and reschedules;
// - only a deadline that moves earlier than the one in the heap pushes a new entry;
// - entries that no longer match their connection's scheduled deadline are skipped.
// So arming a timer is O(1) when it moves later and O(log n) when it moves earlier.

export interface TimerOwner {
  /** The deadline of this owner's live heap entry; Infinity when it has none. */
  heapDeadline: number;
}

interface Entry<T> {
  deadline: number;
  owner: T;
}

export class TimerHeap<T extends TimerOwner> {
  private readonly heap: Entry<T>[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** Makes sure `owner` is visited no later than `deadline` (undefined: no timer). */
  schedule(owner: T, deadline: number | undefined): void {
    if (deadline === undefined || deadline >= owner.heapDeadline) return;
    owner.heapDeadline = deadline;
    this.push({ deadline, owner });
  }

  /** The earliest live deadline, if any. */
  peek(): number | undefined {
    this.dropStale();
    return this.heap[0]?.deadline;
  }

  /** Removes and returns an owner whose deadline is at or before `now`; its heapDeadline becomes Infinity. */
  popDue(now: number): T | undefined {
    this.dropStale();
    const top = this.heap[0];
    if (top === undefined || top.deadline > now) return undefined;
    this.pop();
    top.owner.heapDeadline = Infinity;
    return top.owner;
  }

  /** Forgets entries of owners that are gone or rescheduled when stale ones pile up. */
  compact(liveOwners: number): void {
    if (this.heap.length <= 4 * liveOwners + 64) return;
    const live = this.heap.filter((e) => e.owner.heapDeadline === e.deadline);
    this.heap.length = 0;
    for (const e of live) this.push(e);
  }

  private dropStale(): void {
    while (this.heap.length > 0 && this.heap[0]!.owner.heapDeadline !== this.heap[0]!.deadline) this.pop();
  }

  private push(e: Entry<T>): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.deadline <= e.deadline) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = e;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.deadline < h[l]!.deadline ? r : l;
      if (h[c]!.deadline >= last.deadline) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}
