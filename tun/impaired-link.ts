// A Link wrapper that delays, drops, reorders, duplicates and rate-limits packets in real
// time, in either direction: user-space netem (this kernel has none, DESIGN.md). What happens
// to each packet is decided by the pure model in impairment.ts (shared with the simulated
// network); this file only keeps the packets until the model's delivery times, with one timer
// per direction (release-queue.ts). What it keeps is bounded: the model's queue limit only
// covers packets waiting for serialization, not those in propagation, so a long delay on a
// fast sender would otherwise hold without limit (netem's `limit` counts both).

import type { TxOffload } from '../stack/ip/offload.js';
import { cryptoRandom, type RandomSource } from '../stack/random.js';
import { Impairment, type ImpairmentParams } from './impairment.js';
import type { Link, LinkPacket, ReceiveHandler } from './link.js';
import { monotonicNow, ReleaseQueue, type Clock } from './release-queue.js';

export interface ImpairedLinkParams {
  /** Applied to both directions (before tx / rx, which override it field by field). */
  both?: Partial<ImpairmentParams>;
  /** Packets this side sends into the link. */
  tx?: Partial<ImpairmentParams>;
  /** Packets the link delivers to this side. */
  rx?: Partial<ImpairmentParams>;
}

export interface ImpairedLinkOptions extends ImpairedLinkParams {
  /** Source of the model's draws; seededRandom(...) makes a run's decisions repeatable. Default cryptoRandom(). */
  random?: RandomSource;
  /** Clock in milliseconds; default performance.now. */
  clock?: Clock;
  /** Packets held for later delivery per direction; beyond it a packet is dropped (holdDropped). Default 65536. */
  holdLimitPackets?: number;
  /** Bytes held per direction, likewise. Default 64 MiB (half a second at 1 Gbit/s). */
  holdLimitBytes?: number;
}

const DEFAULT_HOLD_LIMIT_PACKETS = 65_536;
const DEFAULT_HOLD_LIMIT_BYTES = 64 << 20;

interface HeldSend {
  packet: Uint8Array;
  offload: TxOffload | undefined;
}

/** One direction's release queue, with the packets and bytes it holds kept under the limits. */
class Held<T extends { packet: Uint8Array }> {
  dropped = 0;
  private bytes = 0;
  private readonly queue: ReleaseQueue<T>;

  constructor(
    release: (items: T[]) => void,
    clock: Clock,
    private readonly limitPackets: number,
    private readonly limitBytes: number,
  ) {
    this.queue = new ReleaseQueue((items) => {
      for (const item of items) this.bytes -= item.packet.length;
      release(items);
    }, clock);
  }

  get size(): number {
    return this.queue.size;
  }

  /** Holds `item` until `deadline`, or counts it dropped when that would pass a limit. */
  push(deadline: number, item: T): void {
    const length = item.packet.length;
    if (this.queue.size >= this.limitPackets || this.bytes + length > this.limitBytes) {
      this.dropped++;
      return;
    }
    this.bytes += length;
    this.queue.push(deadline, item);
  }

  flushDue(): void {
    this.queue.flushDue();
  }

  clear(): void {
    this.queue.clear();
    this.bytes = 0;
  }
}

export class ImpairedLink implements Link {
  /** The model of each direction; its `stats` count offered, lost, duplicated, reordered, queue-dropped. */
  readonly tx: Impairment;
  readonly rx: Impairment;
  private readonly txQueue: Held<HeldSend>;
  private readonly rxQueue: Held<LinkPacket>;
  private readonly clock: Clock;
  private handler: ReceiveHandler | undefined;
  private closed = false;

  constructor(
    private readonly inner: Link,
    opts: ImpairedLinkOptions = {},
  ) {
    const random = opts.random ?? cryptoRandom();
    this.clock = opts.clock ?? monotonicNow;
    this.tx = new Impairment({ ...opts.both, ...opts.tx }, random);
    this.rx = new Impairment({ ...opts.both, ...opts.rx }, random);
    const limitPackets = opts.holdLimitPackets ?? DEFAULT_HOLD_LIMIT_PACKETS;
    const limitBytes = opts.holdLimitBytes ?? DEFAULT_HOLD_LIMIT_BYTES;
    this.txQueue = new Held<HeldSend>(
      (held) => {
        for (const h of held) this.inner.send(h.packet, h.offload);
      },
      this.clock,
      limitPackets,
      limitBytes,
    );
    this.rxQueue = new Held<LinkPacket>((batch) => this.handler?.(batch), this.clock, limitPackets, limitBytes);
    inner.onReceive((batch) => this.receive(batch));
  }

  get name(): string {
    return this.inner.name;
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  /** Packets held for later delivery, per direction. */
  get pending(): { tx: number; rx: number } {
    return { tx: this.txQueue.size, rx: this.rxQueue.size };
  }

  /** Packets the model delivered but the link had no room to hold (holdLimitPackets/Bytes), per direction. */
  get holdDropped(): { tx: number; rx: number } {
    return { tx: this.txQueue.dropped, rx: this.rxQueue.dropped };
  }

  /** Changes the impairment while running; packets already held keep their delivery times. */
  setParams(p: ImpairedLinkParams): void {
    if (p.both || p.tx) this.tx.setParams({ ...p.both, ...p.tx });
    if (p.both || p.rx) this.rx.setParams({ ...p.both, ...p.rx });
  }

  send(packet: Uint8Array, offload?: TxOffload): boolean {
    if (this.closed) return false;
    const now = this.clock();
    const times = this.tx.schedule(packet.length, now);
    for (let i = 0; i < times.length; i++) {
      const at = times[i]!;
      // Unimpaired and nothing held: straight through, no copy, no timer.
      if (at <= now && this.txQueue.size === 0) {
        this.inner.send(packet, offload);
        continue;
      }
      // The caller may reuse its buffer once send returns, so a held packet is copied.
      this.txQueue.push(at, { packet: packet.slice(), offload });
    }
    if (this.txQueue.size > 0) this.txQueue.flushDue();
    return true;
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  /** Drops whatever is still held and closes the inner link. */
  close(): Promise<void> {
    this.closed = true;
    this.txQueue.clear();
    this.rxQueue.clear();
    return this.inner.close();
  }

  private receive(batch: LinkPacket[]): void {
    if (this.closed) return;
    const now = this.clock();
    const direct: LinkPacket[] = [];
    for (const p of batch) {
      const times = this.rx.schedule(p.packet.length, now);
      for (let i = 0; i < times.length; i++) {
        // A duplicate gets its own bytes: the receiver may modify a packet in place.
        const copy = i === 0 ? p : { packet: p.packet.slice(), meta: { ...p.meta } };
        if (times[i]! <= now && this.rxQueue.size === 0) direct.push(copy);
        else this.rxQueue.push(times[i]!, copy);
      }
    }
    if (direct.length > 0) this.handler?.(direct);
    if (this.rxQueue.size > 0) this.rxQueue.flushDue();
  }
}
