// Application bytes waiting to be sent or acknowledged. Offsets count from the first
// unacknowledged data byte (the sender maps them to sequence numbers; SYN and FIN are
// not in here). Large writes are kept by reference, as Node streams do: the caller must
// not modify a written Uint8Array. Small writes are copied once into a shared tail chunk
// so a stream of tiny writes does not become a long list of tiny chunks. The segmenter
// copies payload straight into the packet buffer with `copyRange` (the one copy on the
// send side), or takes views with `slices` for gathered I/O.

// Writes shorter than this are coalesced by copying; longer ones are referenced.
const COALESCE_BELOW = 1024;
const TAIL_CAPACITY = 16 * 1024;

export class SendBuffer {
  /** Byte limit for backpressure: `hasRoom` turns false at or above it. */
  limit: number;
  private readonly chunks: Uint8Array[] = [];
  /** Stream offset (since creation) of each chunk's first byte, parallel to `chunks`. */
  private readonly starts: number[] = [];
  private head = 0;
  /** Stream offset of the first held byte (everything before it was released). */
  private base = 0;
  /** Stream offset one past the last held byte. */
  private top = 0;
  /** The coalescing buffer of small writes and how much of it is used. */
  private tail: Uint8Array | undefined = undefined;
  private tailUsed = 0;
  /** The last chunk is a view of `tail` that later small writes may extend. */
  private tailIsLast = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes held: unacknowledged plus unsent. */
  get length(): number {
    return this.top - this.base;
  }

  /** Bytes that may still be written before the limit. */
  get room(): number {
    return Math.max(0, this.limit - this.length);
  }

  hasRoom(): boolean {
    return this.length < this.limit;
  }

  /** Queue application data; returns hasRoom() afterwards (the stream.write() contract). */
  append(data: Uint8Array): boolean {
    if (data.length === 0) return this.hasRoom();
    if (data.length < COALESCE_BELOW) this.appendSmall(data);
    else this.push(data);
    this.top += data.length;
    return this.hasRoom();
  }

  /** Copy bytes [offset, offset + length) into `out` at `outOffset`. */
  copyRange(offset: number, length: number, out: Uint8Array, outOffset: number): void {
    this.walk(offset, length, (view, at) => out.set(view, outOffset + at));
  }

  /** Append views of bytes [offset, offset + length) to `into` (no copy). */
  slices(offset: number, length: number, into: Uint8Array[]): void {
    this.walk(offset, length, (view) => into.push(view));
  }

  /** Drop `n` acknowledged bytes from the front. */
  release(n: number): void {
    if (n <= 0) return;
    if (n > this.length) throw new RangeError(`release(${n}) beyond the ${this.length} bytes held`);
    this.base += n;
    const c = this.chunks;
    while (this.head < c.length && this.starts[this.head]! + c[this.head]!.length <= this.base) {
      this.head++;
    }
    if (this.head === c.length) {
      // Everything released: start afresh. The tail buffer is not reused, since views of
      // it may still sit in an output queue.
      c.length = this.starts.length = this.head = 0;
      this.tail = undefined;
      this.tailIsLast = false;
    } else if (this.head > 64 && this.head * 2 > c.length) {
      c.splice(0, this.head);
      this.starts.splice(0, this.head);
      this.head = 0;
    }
  }

  private walk(offset: number, length: number, visit: (view: Uint8Array, at: number) => void): void {
    if (offset < 0 || length < 0 || offset + length > this.length) {
      throw new RangeError(`range ${offset}+${length} outside the ${this.length} bytes held`);
    }
    let pos = this.base + offset;
    const end = pos + length;
    for (let i = this.chunkAt(pos); pos < end; i++) {
      const chunk = this.chunks[i]!;
      const from = pos - this.starts[i]!;
      const take = Math.min(chunk.length - from, end - pos);
      visit(chunk.subarray(from, from + take), pos - this.base - offset);
      pos += take;
    }
  }

  /** Index of the chunk holding stream offset `pos` (binary search). */
  private chunkAt(pos: number): number {
    let lo = this.head;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private push(view: Uint8Array): void {
    this.chunks.push(view);
    this.starts.push(this.top);
    this.tailIsLast = false;
  }

  private appendSmall(data: Uint8Array): void {
    let t = this.tail;
    if (t !== undefined && this.tailIsLast && this.tailUsed + data.length <= t.length) {
      // Grow the last chunk, a view of the tail buffer, in place.
      t.set(data, this.tailUsed);
      const last = this.chunks.length - 1;
      const from = this.chunks[last]!.byteOffset - t.byteOffset;
      this.tailUsed += data.length;
      this.chunks[last] = t.subarray(from, this.tailUsed);
      return;
    }
    if (t === undefined || this.tailUsed + data.length > t.length) {
      t = this.tail = new Uint8Array(TAIL_CAPACITY);
      this.tailUsed = 0;
    }
    t.set(data, this.tailUsed);
    this.push(t.subarray(this.tailUsed, this.tailUsed + data.length));
    this.tailUsed += data.length;
    this.tailIsLast = true;
  }
}
