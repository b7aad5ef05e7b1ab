// When a receiver acknowledges (RFC 9293 3.8.6.3, RFC 5681 4.2, RFC 1122 4.2.3.2), with
// Linux's refinements from net/ipv4/tcp_input.c:
// - immediately for out-of-order data and for data that fills a gap (RFC 5681 4.2);
// - once more than one full-sized segment is unacknowledged, so at least every second
//   full-sized segment is ACKed (Linux: rcv_nxt - rcv_wup > rcv_mss); with ackPerTurn this
//   ACK waits for the end of the driver's input turn (a zero-delay timer: the runtime and
//   the simulator run due timers after the packets of one read batch or instant, before
//   transmitting), so a batch of in-order segments gets one ACK covering all of it. That is
//   the receive side of Linux GRO, which merges what one NAPI poll read and ACKs the
//   merged packet once; the ACKs it saves would all have left together anyway;
// - "quick ACK" mode for the first segments of a connection and after an idle period,
//   so the sender's slow start is not held back by delayed ACKs (tcp_incr_quickack,
//   TCP_MAX_QUICKACKS = 16);
// - otherwise delayed, by an adaptive timeout (ato) that follows the inter-arrival time,
//   between delayedAckMinMs (Linux TCP_ATO_MIN, 40 ms) and delayedAckMaxMs (Linux
//   TCP_DELACK_MAX, 200 ms; RFC 9293 requires under 500 ms), and not longer than the
//   SRTT: a longer delay would only stall the sender.
// Any ACK that leaves (pure or carried by data) must be reported with onAckSent.

import type { TcpConfig } from '../config.js';

/**
 * Within one input turn an ACK still leaves once this much is unacknowledged: four 64 KiB
 * super-packets (a Linux GRO receiver ACKs each one), so a long read batch (up to 256
 * packets) does not hold the sender's ACK clock for all of it.
 */
const TURN_ACK_MAX_BYTES = 4 * 65536;

export type DelayedAckConfig = Pick<TcpConfig, 'delayedAckMinMs' | 'delayedAckMaxMs' | 'quickAckSegments' | 'ackPerTurn'>;

/** 'turn': at the end of the current input turn (deadline = now), one ACK for the turn's segments. */
export type AckDecision = 'now' | 'turn' | 'delay';

export interface ReceivedSegment {
  now: number;
  /** Payload bytes. */
  length: number;
  /** The peer's MSS as we observe it (the largest segment seen, Linux rcv_mss). */
  mss: number;
  /** Above RCV.NXT: goes to the reassembly queue. */
  outOfOrder: boolean;
  /** Fills (part of) a hole below queued out-of-order data. */
  fillsGap: boolean;
  pushFlag: boolean;
  /** The MSS we announced: a pushed segment shorter than this is a small one (see onApplicationRead). */
  ourMss: number;
  /** Smoothed RTT, when known, bounds the delay. */
  srttMs?: number | undefined;
}

export class DelayedAckPolicy {
  /** When the pending delayed ACK must leave; undefined when none is pending. */
  deadline: number | undefined = undefined;
  /** Adaptive ACK timeout (Linux icsk_ack.ato). */
  ato: number;
  private quickAcks = 0;
  private unackedBytes = 0;
  private unackedSegments = 0;
  private pushed = false;
  /** The deadline is the end of the input turn, not a delayed-ACK timeout. */
  private endOfTurn = false;
  private lastArrival: number | undefined = undefined;

  constructor(private readonly config: DelayedAckConfig) {
    this.ato = config.delayedAckMinMs;
  }

  /** In quick-ACK mode: every segment is acknowledged at once. */
  get inQuickAck(): boolean {
    return this.quickAcks > 0;
  }

  onSegmentReceived(e: ReceivedSegment): AckDecision {
    this.adaptTimeout(e.now);
    this.unackedBytes += e.length;
    this.unackedSegments++;
    // Linux marks only pushed segments shorter than the MSS (tcp_measure_rcv_mss,
    // ICSK_ACK_PUSHED): a bulk sender pushes every super-packet, and ACKing each on read would
    // undo the batching below.
    if (e.pushFlag && e.length < e.ourMss) this.pushed = true;
    if (e.outOfOrder || e.fillsGap) {
      // Out-of-order data also means the sender is in trouble: ACK quickly for a while.
      this.enterQuickAck();
      return 'now';
    }
    // Quick ACKs stay one per segment: a sender limiting slow-start growth per ACK (RFC 3465
    // L = 2) would otherwise grow slower at the start.
    if (this.quickAcks > 0) return 'now';
    if (this.unackedBytes > e.mss) {
      if (!this.config.ackPerTurn || this.unackedBytes >= TURN_ACK_MAX_BYTES) return 'now';
      this.deadline = e.now;
      this.endOfTurn = true;
      return 'turn';
    }
    if (this.deadline === undefined) {
      let delay = Math.min(this.ato, this.config.delayedAckMaxMs);
      if (e.srttMs !== undefined) delay = Math.min(delay, Math.max(e.srttMs, this.config.delayedAckMinMs));
      this.deadline = e.now + delay;
    }
    return 'delay';
  }

  /** An ACK left (pure, or on a data segment): nothing is pending any more. */
  onAckSent(): void {
    this.quickAcks = Math.max(0, this.quickAcks - this.unackedSegments);
    this.deadline = undefined;
    this.endOfTurn = false;
    this.unackedBytes = this.unackedSegments = 0;
    this.pushed = false;
  }

  /** The timer fired at `now`: true when the delayed ACK must be sent now. */
  onTimeout(now: number): boolean {
    if (this.deadline === undefined || now < this.deadline) return false;
    if (this.endOfTurn) return true;
    // The sender is waiting on us more than we thought: be quicker next time (Linux
    // doubles ato here, bounded), but never slower than the configured maximum.
    this.ato = Math.min(this.ato * 2, this.config.delayedAckMaxMs);
    return true;
  }

  /**
   * The application read data and left the receive queue `queueEmpty`. Linux
   * (tcp_cleanup_rbuf) ACKs at once when the peer pushed a small segment and everything was consumed: a
   * request-response peer is waiting and no reply data is coming to carry the ACK.
   */
  onApplicationRead(queueEmpty: boolean): boolean {
    return this.deadline !== undefined && this.pushed && queueEmpty;
  }

  /** ACK every segment for the next `segments` (connection start, idle restart, ECN CE). */
  enterQuickAck(segments = this.config.quickAckSegments): void {
    this.quickAcks = Math.max(this.quickAcks, segments);
  }

  /** Linux tcp_event_data_recv: track the inter-arrival time. */
  private adaptTimeout(now: number): void {
    const min = this.config.delayedAckMinMs;
    const last = this.lastArrival;
    this.lastArrival = now;
    if (last === undefined) {
      this.enterQuickAck();
      this.ato = min;
      return;
    }
    const gap = now - last;
    if (gap <= min / 2) this.ato = this.ato / 2 + min / 2;
    else if (gap < this.ato) this.ato = Math.min(this.ato / 2 + gap, this.config.delayedAckMaxMs);
    else if (gap > this.config.delayedAckMaxMs) this.enterQuickAck(); // idle: restart quickly
  }
}
