// Connection-level receive (RFC 8684 3.3): data arrives from any subflow as (data offset,
// bytes), out of order across subflows and duplicated by reinjections; it is delivered to
// the application in order, and the DATA_ACK and the shared receive window (RFC 8684
// 3.3.4: relative to the DATA_ACK, one window for all subflows) are derived from it.
// OutOfOrderQueue is the generic part (byte ranges keyed by a number offset) and fits a
// TCP receiver as well once its 32-bit sequence numbers are unwrapped to offsets.
// Bytes are kept by reference (subarrays of what the caller hands in): no copy here.

interface Piece {
  offset: number;
  bytes: Uint8Array;
}

/** Byte ranges received ahead of the in-order point, kept sorted and non-overlapping. */
export class OutOfOrderQueue {
  private readonly pieces: Piece[] = [];
  private byteCount = 0;

  /** Bytes held. */
  get bytes(): number {
    return this.byteCount;
  }

  /** Separate ranges held (the resource a hostile sender inflates with tiny holes). */
  get segments(): number {
    return this.pieces.length;
  }

  /** Offset of the first held byte (undefined when empty). */
  get firstOffset(): number | undefined {
    return this.pieces[0]?.offset;
  }

  /**
   * Store the parts of [offset, offset + bytes.length) not held yet. Returns the number of
   * new bytes stored, or -1 (nothing stored) when that would need more than `maxSegments`
   * ranges.
   */
  insert(offset: number, bytes: Uint8Array, maxSegments: number): number {
    const end = offset + bytes.length;
    // First piece that ends after `offset`.
    let i = this.firstEndingAfter(offset);
    const gaps: Piece[] = [];
    let cursor = offset;
    for (let j = i; j < this.pieces.length && cursor < end; j++) {
      const p = this.pieces[j]!;
      if (p.offset >= end) break;
      if (p.offset > cursor) gaps.push({ offset: cursor, bytes: bytes.subarray(cursor - offset, p.offset - offset) });
      cursor = Math.max(cursor, p.offset + p.bytes.length);
    }
    if (cursor < end) gaps.push({ offset: cursor, bytes: bytes.subarray(cursor - offset) });
    if (gaps.length === 0) return 0;
    if (this.pieces.length + gaps.length > maxSegments) return -1;
    let stored = 0;
    for (const g of gaps) {
      while (i < this.pieces.length && this.pieces[i]!.offset < g.offset) i++;
      this.pieces.splice(i, 0, g);
      i++;
      stored += g.bytes.length;
    }
    this.byteCount += stored;
    return stored;
  }

  /**
   * Remove and return the bytes contiguous from `from` (pieces starting at or before it, trimmed
   * of what lies before it). Pieces wholly before `from` are discarded.
   */
  takeFrom(from: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let cursor = from;
    let n = 0;
    for (; n < this.pieces.length; n++) {
      const p = this.pieces[n]!;
      if (p.offset > cursor) break;
      const pEnd = p.offset + p.bytes.length;
      if (pEnd > cursor) {
        out.push(p.bytes.subarray(cursor - p.offset));
        cursor = pEnd;
      }
      this.byteCount -= p.bytes.length;
    }
    this.pieces.splice(0, n);
    return out;
  }

  /** Drop every piece at or after `offset` (trimming one that straddles it). */
  discardFrom(offset: number): number {
    let dropped = 0;
    for (let i = this.pieces.length - 1; i >= 0; i--) {
      const p = this.pieces[i]!;
      const pEnd = p.offset + p.bytes.length;
      if (pEnd <= offset) break;
      if (p.offset >= offset) {
        dropped += p.bytes.length;
        this.pieces.splice(i, 1);
      } else {
        dropped += pEnd - offset;
        p.bytes = p.bytes.subarray(0, offset - p.offset);
      }
    }
    this.byteCount -= dropped;
    return dropped;
  }

  private firstEndingAfter(offset: number): number {
    let lo = 0;
    let hi = this.pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = this.pieces[mid]!;
      if (p.offset + p.bytes.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export interface DataReassemblyOptions {
  /** Connection receive buffer (bytes): bounds unread plus out-of-order data, and the window. */
  bufferSize: number;
  /** Out-of-order ranges held at most. */
  maxOutOfOrderSegments: number;
  /** Offset of the first data byte expected (0: IDSN+1). */
  initialOffset?: number;
}

/** Counted drops and duplicates (each a reason a byte was not stored). */
export interface DataReassemblyStats {
  /** Bytes already received (reinjections, retransmissions on another subflow). */
  duplicateBytes: number;
  /** Bytes beyond the advertised window (RFC 8684 3.3.4; Linux MPTCP_MIB_NODSSWINDOW). */
  outOfWindowBytes: number;
  /** Bytes dropped because the out-of-order range limit was reached. */
  outOfOrderLimitBytes: number;
  /** Bytes at or after the DATA_FIN. */
  afterFinBytes: number;
  /** DATA_FINs at a different offset than the first one (ignored, like Linux). */
  conflictingDataFins: number;
}

export interface ReceiveOutcome {
  /** Bytes that became readable in order (this segment and the queued ones it completed). */
  inOrder: number;
  /** Bytes of this segment queued out of order. */
  queued: number;
  /** Bytes of this segment not stored (duplicate, out of window, over a limit, after the DATA_FIN). */
  dropped: number;
}

/** The connection-level receiver: in-order delivery, DATA_ACK, shared window, DATA_FIN. */
export class DataReassembly {
  readonly stats: DataReassemblyStats = {
    duplicateBytes: 0,
    outOfWindowBytes: 0,
    outOfOrderLimitBytes: 0,
    afterFinBytes: 0,
    conflictingDataFins: 0,
  };
  private readonly ooo = new OutOfOrderQueue();
  private readonly ready: Uint8Array[] = [];
  private readyBytes = 0;
  /** Next in-order data offset (the DATA_ACK before the DATA_FIN is reached). */
  private rcvNxt: number;
  /** Right edge of the window: never moves left (RFC 8684 3.3.4 follows RFC 7323 2.4). */
  private rightEdge: number;
  private finOffset: number | undefined;
  private bufferSize: number;
  private readonly maxOutOfOrderSegments: number;

  constructor(options: DataReassemblyOptions) {
    this.rcvNxt = options.initialOffset ?? 0;
    this.bufferSize = options.bufferSize;
    this.maxOutOfOrderSegments = options.maxOutOfOrderSegments;
    this.rightEdge = this.rcvNxt + this.bufferSize;
  }

  /** The DATA_ACK to send: the next expected data offset, plus one once the DATA_FIN is in. */
  get dataAck(): number {
    return this.finReached ? this.rcvNxt + 1 : this.rcvNxt;
  }

  /** The receive window to advertise, relative to the DATA_ACK (bytes). */
  get window(): number {
    this.updateRightEdge();
    return Math.max(0, this.rightEdge - this.rcvNxt);
  }

  /** Bytes the application can read now. */
  get readable(): number {
    return this.readyBytes;
  }

  /** Bytes held out of order. */
  get outOfOrderBytes(): number {
    return this.ooo.bytes;
  }

  /** All data up to the DATA_FIN has arrived: the application sees end of stream after `readable`. */
  get finReached(): boolean {
    return this.finOffset !== undefined && this.rcvNxt === this.finOffset;
  }

  /** The data offset of the peer's DATA_FIN, once known. */
  get dataFinOffset(): number | undefined {
    return this.finOffset;
  }

  /** Grow (or shrink, for new data only) the buffer; the window edge already advertised stays. */
  setBufferSize(bytes: number): void {
    this.bufferSize = bytes;
  }

  /** Data from any subflow, already translated to a data offset by its mapping. */
  receive(offset: number, bytes: Uint8Array): ReceiveOutcome {
    const outcome: ReceiveOutcome = { inOrder: 0, queued: 0, dropped: 0 };
    let end = offset + bytes.length;
    if (end <= this.rcvNxt) {
      this.stats.duplicateBytes += bytes.length;
      outcome.dropped = bytes.length;
      return outcome;
    }
    if (offset < this.rcvNxt) {
      this.stats.duplicateBytes += this.rcvNxt - offset;
      outcome.dropped += this.rcvNxt - offset;
      bytes = bytes.subarray(this.rcvNxt - offset);
      offset = this.rcvNxt;
    }
    if (this.finOffset !== undefined && end > this.finOffset) {
      const cut = Math.min(bytes.length, end - this.finOffset);
      this.stats.afterFinBytes += cut;
      outcome.dropped += cut;
      bytes = bytes.subarray(0, bytes.length - cut);
      end = offset + bytes.length;
    }
    this.updateRightEdge();
    if (end > this.rightEdge) {
      const cut = Math.min(bytes.length, end - this.rightEdge);
      this.stats.outOfWindowBytes += cut;
      outcome.dropped += cut;
      bytes = bytes.subarray(0, bytes.length - cut);
    }
    if (bytes.length === 0) return outcome;

    if (offset === this.rcvNxt) {
      this.pushReady(bytes);
      outcome.inOrder = bytes.length;
      for (const b of this.ooo.takeFrom(this.rcvNxt)) {
        this.pushReady(b);
        outcome.inOrder += b.length;
      }
      return outcome;
    }
    const stored = this.ooo.insert(offset, bytes, this.maxOutOfOrderSegments);
    if (stored < 0) {
      this.stats.outOfOrderLimitBytes += bytes.length;
      outcome.dropped += bytes.length;
    } else {
      this.stats.duplicateBytes += bytes.length - stored;
      outcome.dropped += bytes.length - stored;
      outcome.queued = stored;
    }
    return outcome;
  }

  /**
   * The peer's DATA_FIN sits at `offset` (RFC 8684 3.3.3). Data queued beyond it is dropped.
   * Returns false for a DATA_FIN that contradicts an earlier one or data already delivered.
   */
  dataFin(offset: number): boolean {
    if (this.finOffset !== undefined || offset < this.rcvNxt) {
      if (this.finOffset !== offset) this.stats.conflictingDataFins++;
      return this.finOffset === offset;
    }
    this.finOffset = offset;
    this.stats.afterFinBytes += this.ooo.discardFrom(offset);
    return true;
  }

  /** Take up to `maxBytes` in-order bytes for the application (freeing window). */
  read(maxBytes = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    let left = maxBytes;
    while (left > 0 && this.ready.length > 0) {
      const head = this.ready[0]!;
      if (head.length <= left) {
        out.push(head);
        this.ready.shift();
        left -= head.length;
        this.readyBytes -= head.length;
      } else {
        out.push(head.subarray(0, left));
        this.ready[0] = head.subarray(left);
        this.readyBytes -= left;
        left = 0;
      }
    }
    return out;
  }

  private pushReady(bytes: Uint8Array): void {
    this.ready.push(bytes);
    this.readyBytes += bytes.length;
    this.rcvNxt += bytes.length;
  }

  private updateRightEdge(): void {
    this.rightEdge = Math.max(this.rightEdge, this.rcvNxt + this.bufferSize - this.readyBytes);
  }
}
