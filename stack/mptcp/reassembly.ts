// Connection-level receive (RFC 8684 3.3): data arrives from any subflow as (data offset,
// bytes), out of order across subflows and duplicated by reinjections; it is delivered to
// the application in order, and the DATA_ACK and the shared receive window (RFC 8684
// 3.3.4: relative to the DATA_ACK, one window for all subflows) are derived from it.
// Out-of-order data goes to TCP's ReassemblyQueue (zero-copy views, overlap trimming,
// limits with eviction from above): everything it holds lies inside the window, which is
// far below 2^31, so data offsets taken modulo 2^32 are valid sequence numbers for it.

import { ReassemblyQueue } from '../tcp/reassembly.js';

const TWO_POW_32 = 4294967296;
/** Out-of-order pieces allowed per byte of receive buffer: one per PIECE_BYTES (see oooLimits). */
const PIECE_BYTES = 512;

/** A non-negative data offset as a 32-bit sequence number for ReassemblyQueue. */
function seq32(offset: number): number {
  return offset % TWO_POW_32;
}

export interface DataReassemblyOptions {
  /** Connection receive buffer (bytes): bounds unread plus out-of-order data, and the window. */
  bufferSize: number;
  /** Out-of-order pieces held at most, or more when the buffer needs more (see oooLimits). */
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
  /** Bytes refused or evicted because the out-of-order queue's limits were reached. */
  outOfOrderLimitBytes: number;
  /** Bytes at or after the DATA_FIN. */
  afterFinBytes: number;
  /** DATA_FINs at a different offset than the first one (ignored, like Linux). */
  conflictingDataFins: number;
}

export function noDataReassemblyDrops(): DataReassemblyStats {
  return { duplicateBytes: 0, outOfWindowBytes: 0, outOfOrderLimitBytes: 0, afterFinBytes: 0, conflictingDataFins: 0 };
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
  readonly stats = noDataReassemblyDrops();
  private readonly ooo: ReassemblyQueue;
  private readonly ready: Uint8Array[] = [];
  private readyBytes = 0;
  /** Next in-order data offset (the DATA_ACK before the DATA_FIN is reached). */
  private rcvNxt: number;
  /** Right edge of the window: never moves left (RFC 8684 3.3.4 follows RFC 7323 2.4). */
  private rightEdge: number;
  private finOffset: number | undefined;
  private bufferSize: number;
  private readonly minPieces: number;

  constructor(options: DataReassemblyOptions) {
    this.rcvNxt = options.initialOffset ?? 0;
    this.bufferSize = options.bufferSize;
    this.minPieces = options.maxOutOfOrderSegments;
    this.ooo = new ReassemblyQueue(this.oooLimits());
    this.rightEdge = this.rcvNxt + this.bufferSize;
  }

  /**
   * The window already bounds out-of-order bytes (nothing past its right edge is stored),
   * so the queue's own limit is on pieces only, and it must admit a whole window: data
   * dropped here was acknowledged by its subflow, so only the peer's slow data-level
   * retransmission brings it back (a failover stalled for 30 s on a 4096-piece limit with
   * 3.5 MB of a 6 MiB window held). Pieces are smaller than an MSS where reinjected copies
   * overlap data already held, hence room for the buffer in pieces of PIECE_BYTES.
   */
  private oooLimits(): { maxBytes: number; maxSegments: number } {
    return { maxBytes: Number.MAX_SAFE_INTEGER, maxSegments: Math.max(this.minPieces, Math.ceil(this.bufferSize / PIECE_BYTES)) };
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
    this.ooo.setLimits(this.oooLimits());
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
      outcome.inOrder += this.takeQueued();
      return outcome;
    }
    const evictedBefore = this.ooo.stats.evictedBytes;
    const r = this.ooo.insert(seq32(this.rcvNxt), seq32(offset), bytes);
    const duplicate = bytes.length - r.queued - r.dropped;
    this.stats.duplicateBytes += duplicate;
    this.stats.outOfOrderLimitBytes += r.dropped + this.ooo.stats.evictedBytes - evictedBefore;
    outcome.queued = r.queued;
    outcome.dropped += r.dropped + duplicate;
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
    this.dropBeyondFin();
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

  /** Move the queued bytes that now continue the stream to the ready list (never past the DATA_FIN). */
  private takeQueued(): number {
    const chunks: Uint8Array[] = [];
    this.ooo.takeInOrder(seq32(this.rcvNxt), chunks);
    let moved = 0;
    for (let c of chunks) {
      if (this.finOffset !== undefined && this.rcvNxt + c.length > this.finOffset) {
        const keep = Math.max(0, this.finOffset - this.rcvNxt);
        this.stats.afterFinBytes += c.length - keep;
        c = c.subarray(0, keep);
      }
      if (c.length === 0) continue;
      this.pushReady(c);
      moved += c.length;
    }
    this.dropBeyondFin();
    return moved;
  }

  /** Whatever is still queued once the DATA_FIN is reached lies beyond it. */
  private dropBeyondFin(): void {
    if (this.finReached && !this.ooo.isEmpty) {
      this.stats.afterFinBytes += this.ooo.bytes;
      this.ooo.clear();
    }
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
