// The receive half of a connection (gVisor rcv.go): RCV.NXT and the window we advertise
// (RFC 9293 3.3.1, window.ts), in-order delivery and the out-of-order queue
// (reassembly.ts) with the SACK blocks it produces (sack-blocks.ts), the ACK policy
// (delayed-ack.ts), the receive queue the application reads from (its flow control: unread
// bytes shrink the window), and receive-buffer auto-tuning (receive-buffer-tuning.ts).
//
// Payload arrives as views into packets that are borrowed (Host contract): it is copied once,
// here, into memory the application then owns; or given away by the driver (a TUN read
// buffer holding one super-packet): then a view that fills most of its buffer is kept as it
// is, and the bulk receive path copies nothing (at most 2x the accounted bytes in memory).

import type { TcpConfig } from '../config.js';
import type { PacketAllocator } from '../ip/packet-alloc.js';
import { DelayedAckPolicy } from './delayed-ack.js';
import type { TcpExtension } from './extension.js';
import { ReassemblyQueue } from './reassembly.js';
import { ReceiveBufferTuner, ReceiverRtt } from './receive-buffer-tuning.js';
import { maxSackBlocks, SackBlockBuilder } from './sack-blocks.js';
import { seqAdd, seqGt, seqLt, seqSub, type SeqRange } from './seq.js';
import { ReceiveWindow } from './window.js';

type ReceiverConfig = Pick<
  TcpConfig,
  'delayedAckMinMs' | 'delayedAckMaxMs' | 'quickAckSegments' | 'ackPerTurn' | 'outOfOrderMaxSegments' | 'receiveBufferMaxBytes' | 'receiveBufferAutoTune' | 'initialCwndSegments'
>;

/** What receiving one segment's text did. */
export interface DataOutcome {
  /** Bytes appended in order (RCV.NXT moved by this much, FIN excluded). */
  delivered: number;
  /** An ACK must leave now (out of order, gap filled, duplicate, enough unacknowledged data). */
  ackNow: boolean;
}

const EMPTY_RANGES: SeqRange[] = [];
/** Scratch for reassembled chunks (processing is synchronous: one serves every receiver). */
const PULLED: Uint8Array[] = [];

export class TcpReceiver {
  /** RCV.NXT. */
  nxt: number;
  readonly window: ReceiveWindow;
  readonly delayedAck: DelayedAckPolicy;
  readonly tuner: ReceiveBufferTuner;
  readonly rtt = new ReceiverRtt();
  /** The peer's FIN sequence number once seen (it may arrive before the data it ends). */
  finSeq: number | undefined = undefined;
  /** The FIN has been taken in order (RCV.NXT moved past it). */
  finReceived = false;
  /** Largest payload seen, our estimate of the peer's MSS (Linux rcv_mss). */
  peerMss: number;
  /** The MSS we announced. */
  readonly ourMss: number;
  /** Bytes waiting for the application. */
  queuedBytes = 0;
  /** Counters for stats(). */
  bytesReceived = 0;
  outOfOrderSegments = 0;
  duplicateBytes = 0;
  private reassembly: ReassemblyQueue | undefined = undefined;
  private sackBuilder: SackBlockBuilder | undefined = undefined;
  private readonly queue: Uint8Array[] = [];
  private queueHead = 0;

  constructor(
    private readonly config: ReceiverConfig,
    irs: number,
    ourMss: number,
    receiveBufferBytes: number,
    private readonly extension: TcpExtension | undefined,
    private readonly allocator: PacketAllocator,
  ) {
    this.nxt = seqAdd(irs, 1);
    this.ourMss = ourMss;
    this.peerMss = ourMss;
    // RFC 7323 2.2: the SYN's own window is never scaled; the shift applies once agreed.
    this.window = new ReceiveWindow(0);
    this.delayedAck = new DelayedAckPolicy(config);
    this.tuner = new ReceiveBufferTuner({
      initial: receiveBufferBytes,
      max: config.receiveBufferAutoTune ? Math.max(config.receiveBufferMaxBytes, receiveBufferBytes) : receiveBufferBytes,
      mss: ourMss,
      initialCwndSegments: config.initialCwndSegments,
    });
  }

  get bufferSize(): number {
    return this.tuner.size;
  }

  /** Out-of-order bytes held. */
  get outOfOrderBytes(): number {
    return this.reassembly?.bytes ?? 0;
  }

  /** Receive space not holding data: what the window may offer. */
  freeSpace(): number {
    const ext = this.extension?.receiveWindow?.();
    if (ext !== undefined) return ext;
    return this.tuner.size - this.queuedBytes - this.outOfOrderBytes;
  }

  /** RCV.WND as last advertised (for the acceptability test, RFC 9293 3.10.7.4). */
  get wnd(): number {
    const edge = this.window.rightEdge;
    return edge === undefined ? 0 : Math.max(seqSub(edge, this.nxt), 0);
  }

  /** The window field for the next segment (advances the advertised right edge). */
  windowField(): number {
    const shared = this.extension?.receiveWindow?.();
    if (shared !== undefined) return this.window.advertiseShared(this.nxt, shared);
    return this.window.advertise(this.nxt, this.freeSpace(), this.tuner.size, this.ourMss);
  }

  /**
   * Text of an acceptable segment (RFC 9293 3.10.7.4 seventh step). The caller trimmed it
   * to the window's right edge; `seq` may lie below RCV.NXT (a partial duplicate, reported
   * as D-SACK, RFC 2883). Reports what happened in `out`.
   */
  onData(now: number, seq: number, payload: Uint8Array, push: boolean, srttMs: number | undefined, out: DataOutcome, owned = false): void {
    out.delivered = 0;
    out.ackNow = false;
    const len = payload.length;
    if (len > this.peerMss) this.peerMss = Math.min(len, 65535);
    const end = seqAdd(seq, len);
    if (!seqGt(end, this.nxt)) {
      // All duplicate (RFC 5681 4.2 / RFC 2883): ACK at once with a D-SACK block.
      this.duplicateBytes += len;
      this.sack().onDuplicate({ start: seq, end });
      out.ackNow = true;
      return;
    }
    let data = payload;
    let start = seq;
    if (seqLt(seq, this.nxt)) {
      const skip = seqSub(this.nxt, seq);
      this.duplicateBytes += skip;
      this.sack().onDuplicate({ start: seq, end: this.nxt });
      data = payload.subarray(skip);
      start = this.nxt;
    }
    let outOfOrder = false;
    let fillsGap = false;
    if (start === this.nxt) {
      const hadQueue = this.reassembly !== undefined && !this.reassembly.isEmpty;
      this.deliver(this.nxt, keepable(data, owned) ? data : this.copy(data));
      this.nxt = seqAdd(this.nxt, data.length);
      out.delivered = data.length;
      if (hadQueue) {
        fillsGap = true;
        const pulled = PULLED;
        let at = this.nxt;
        const n = this.reassembly!.takeInOrder(this.nxt, pulled);
        for (const chunk of pulled) {
          this.deliver(at, chunk);
          at = seqAdd(at, chunk.length);
        }
        pulled.length = 0;
        this.nxt = seqAdd(this.nxt, n);
        out.delivered += n;
      }
    } else {
      outOfOrder = true;
      this.outOfOrderSegments++;
      const q = (this.reassembly ??= new ReassemblyQueue({ maxBytes: this.reassemblyRoom(), maxSegments: this.config.outOfOrderMaxSegments }));
      // The queue keeps what it is given: memory of its own (a tight copy, not a slab it
      // would pin), not a borrowed packet.
      const r = q.insert(this.nxt, start, keepable(data, owned) ? data : data.slice());
      if (r.duplicate) this.sack().onDuplicate(r.duplicate);
      this.sack().onOutOfOrder(start);
    }
    this.bytesReceived += out.delivered;
    if (out.delivered > 0) this.rtt.onAdvance(now, this.nxt, this.wnd);
    const decision = this.delayedAck.onSegmentReceived({ now, length: len, mss: this.peerMss, outOfOrder, fillsGap, pushFlag: push, ourMss: this.ourMss, srttMs });
    out.ackNow = decision === 'now';
  }

  /** The peer's FIN at `seq` arrived (in order or not). True when RCV.NXT reached it now. */
  onFin(seq: number): boolean {
    this.finSeq ??= seq;
    return this.takeFinIfInOrder();
  }

  /** After in-order delivery: take a FIN that was waiting for the data before it. */
  takeFinIfInOrder(): boolean {
    if (this.finReceived || this.finSeq === undefined || this.finSeq !== this.nxt) return false;
    this.finReceived = true;
    this.nxt = seqAdd(this.nxt, 1);
    return true;
  }

  /** SACK blocks for the next ACK (RFC 2018 4), at most what `room` option bytes hold. */
  sackBlocks(timestamps: boolean, room: number): SeqRange[] {
    if (this.sackBuilder === undefined || room < 10) return EMPTY_RANGES;
    const max = Math.min(maxSackBlocks(timestamps), Math.floor((room - 2) / 8));
    return this.sackBuilder.takeBlocks(this.reassembly ?? NO_QUEUE, this.nxt, max);
  }

  // ---- application side ------------------------------------------------------------------

  /** Takes the next chunk of at most `max` bytes for the application. */
  read(max: number): Uint8Array | undefined {
    if (this.queueHead === this.queue.length) return undefined;
    let chunk = this.queue[this.queueHead]!;
    if (chunk.length > max) {
      this.queue[this.queueHead] = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    } else {
      this.queue[this.queueHead++] = undefined as unknown as Uint8Array;
      if (this.queueHead === this.queue.length) this.queue.length = this.queueHead = 0;
      else if (this.queueHead > 64 && this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
    }
    this.queuedBytes -= chunk.length;
    return chunk;
  }

  /**
   * The application consumed `bytes` at `now`: auto-tune, and say whether the window
   * opened enough for an update not to wait (RFC 1122 4.2.3.3), or the delayed ACK should
   * leave because a pushed request was read (delayed-ack.ts onApplicationRead).
   */
  onConsumed(now: number, bytes: number): boolean {
    this.tuner.onConsumed(now, bytes, this.rtt.rttMs);
    const update = this.window.shouldUpdate(this.nxt, this.freeSpace(), this.tuner.size, this.ourMss);
    return update || this.delayedAck.onApplicationRead(this.queuedBytes === 0);
  }

  /** Drops everything held (abort, or data after close). */
  discard(): void {
    this.queue.length = this.queueHead = 0;
    this.queuedBytes = 0;
    this.reassembly?.clear();
  }

  private deliver(seq: number, data: Uint8Array): void {
    if (this.extension?.onPayload) {
      this.extension.onPayload(seq, data);
      return;
    }
    this.queue.push(data);
    this.queuedBytes += data.length;
  }

  private copy(data: Uint8Array): Uint8Array {
    const out = this.allocator.alloc(data.length);
    out.set(data);
    return out;
  }

  private sack(): SackBlockBuilder {
    return (this.sackBuilder ??= new SackBlockBuilder());
  }

  /** Out-of-order data may use the receive buffer as it can grow (the window we offered). */
  private reassemblyRoom(): number {
    return Math.max(this.tuner.size, this.config.receiveBufferMaxBytes);
  }
}

/** A payload view kept as it is: the packet was given away and the view fills at least half its buffer. */
function keepable(data: Uint8Array, owned: boolean): boolean {
  return owned && 2 * data.length >= data.buffer.byteLength;
}

const NO_QUEUE = { rangeContaining: (): undefined => undefined };
