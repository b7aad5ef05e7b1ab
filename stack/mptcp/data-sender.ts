// The connection-level send side (RFC 8684 3.3): application bytes in one data sequence
// space, scheduled onto subflows, released only by the peer's DATA_ACK (3.3.2), limited by
// the peer's one receive window relative to that DATA_ACK (3.3.4), plus the queue of
// ranges to send again on another subflow (reinjection, 3.3.6) and the DATA_FIN (3.3.3).
// Offsets are DsnSpace offsets (0 = IDSN+1).

import { SendBuffer } from '../tcp/send-buffer.js';
import { mergeRanges, type DataRange } from './scheduler.js';

export interface DataAckOutcome {
  /** Bytes newly acknowledged (released from the buffer). */
  acked: number;
  /** Our DATA_FIN is acknowledged now. */
  finAcked: boolean;
}

export class DataSender {
  /** Offsets are relative to `una`: byte `una` is buffer offset 0. */
  readonly buffer: SendBuffer;
  /** The peer's DATA_ACK: first unacknowledged data offset. */
  una = 0;
  /** Next new offset to hand to a subflow. */
  nxt = 0;
  /** Right edge of the peer's data-level window (DATA_ACK + window, RFC 8684 3.3.4); never moves left. */
  windowEnd = 0;
  /** end() was called: the DATA_FIN follows the last written byte. */
  finQueued = false;
  finAcked = false;
  /** Bytes queued again for another subflow, in total (stats). */
  reinjectedBytes = 0;
  /** Ranges waiting to be reinjected, sorted and merged, all at or above `una`. */
  private reinject: DataRange[] = [];

  constructor(limit: number) {
    this.buffer = new SendBuffer(limit);
  }

  /** One past the last byte written. */
  get end(): number {
    return this.una + this.buffer.length;
  }

  /** The DATA_FIN's offset once end() was called. */
  get finOffset(): number | undefined {
    return this.finQueued ? this.end : undefined;
  }

  /** Bytes the peer's window still admits beyond `nxt`. */
  get windowRoom(): number {
    return Math.max(0, this.windowEnd - this.nxt);
  }

  /** Bytes written and not yet handed to any subflow. */
  get unsent(): number {
    return this.end - this.nxt;
  }

  /** Bytes the application may still write. */
  get room(): number {
    return this.finQueued ? 0 : this.buffer.room;
  }

  /** Queue application bytes; returns how many were taken. */
  write(data: Uint8Array): number {
    const n = Math.min(data.length, this.room);
    if (n > 0) this.buffer.append(n === data.length ? data : data.subarray(0, n));
    return n;
  }

  /** Views of data bytes [offset, offset + length) (offset >= una). */
  slices(offset: number, length: number, into: Uint8Array[] = []): Uint8Array[] {
    this.buffer.slices(offset - this.una, length, into);
    return into;
  }

  /**
   * A DATA_ACK (offset) and the window it advertises. Acks beyond what was sent are ignored,
   * as Linux does (ack_update_msk); the window edge only grows.
   */
  onDataAck(ack: number, window: number): DataAckOutcome {
    const out: DataAckOutcome = { acked: 0, finAcked: false };
    const finSent = this.finQueued && this.nxt === this.end;
    const highest = this.nxt + (finSent ? 1 : 0);
    if (ack > highest || ack < this.una) return out;
    const dataAck = Math.min(ack, this.end);
    if (dataAck > this.una) {
      out.acked = dataAck - this.una;
      this.buffer.release(out.acked);
      this.una = dataAck;
      this.trimReinjections();
    }
    if (finSent && !this.finAcked && ack === this.end + 1) {
      this.finAcked = true;
      out.finAcked = true;
    }
    this.windowEnd = Math.max(this.windowEnd, ack + window);
    return out;
  }

  /** `n` new bytes from `nxt` were handed to a subflow. */
  advance(n: number): void {
    this.nxt += n;
  }

  /** Queue ranges to send again on another subflow (RFC 8684 3.3.6). */
  queueReinjection(ranges: readonly DataRange[]): void {
    const clipped = ranges.map((r) => ({ start: r.start, end: Math.min(r.end, this.nxt) }));
    const before = this.pendingReinjection;
    this.reinject = mergeRanges([...this.reinject, ...clipped], this.una);
    this.reinjectedBytes += Math.max(0, this.pendingReinjection - before);
  }

  /** Bytes waiting to be reinjected. */
  get pendingReinjection(): number {
    let n = 0;
    for (const r of this.reinject) n += r.end - r.start;
    return n;
  }

  /** The next range to reinject, at most `max` bytes; taken out of the queue. */
  takeReinjection(max: number): DataRange | undefined {
    const r = this.reinject[0];
    if (r === undefined || max <= 0) return undefined;
    const end = Math.min(r.end, r.start + max);
    const taken = { start: r.start, end };
    if (end === r.end) this.reinject.shift();
    else r.start = end;
    return taken;
  }

  /** Put back a range taken with takeReinjection that could not be sent. */
  returnReinjection(r: DataRange): void {
    this.reinject = mergeRanges([r, ...this.reinject], this.una);
  }

  private trimReinjections(): void {
    if (this.reinject.length > 0) this.reinject = mergeRanges(this.reinject, this.una);
  }
}
