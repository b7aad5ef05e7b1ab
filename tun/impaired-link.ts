// A Link wrapper that delays, drops, reorders, duplicates and rate-limits packets in real
// time, in either direction: user-space netem (this kernel has none, DESIGN.md). What happens
// to each packet is decided by the pure model in impairment.ts (shared with the simulated
// network); this file only keeps the packets until the model's delivery times, with one timer
// per direction (release-queue.ts). What it keeps is bounded: the model's queue limit only
// covers packets waiting for serialization, not those in propagation, so a long delay on a
// fast sender would otherwise hold without limit (netem's `limit` counts both).
//
// The model decides per wire packet: a TCP super-packet (GSO, in either direction) is first
// cut into the MSS-sized segments the wire would carry (stack/ip/gso.ts, full checksums), so
// "1% loss" loses 1% of segments rather than 64 KiB at a time, and a rate limit serializes
// segment by segment. UDP super-packets (USO) pass whole; the daemon does not ask for USO on
// an impaired link.

import { segmentSuperPacket } from '../stack/ip/gso.js';
import type { TxOffload } from '../stack/ip/offload.js';
import { parseExtensionHeaders } from '../stack/wire/ipv6-ext.js';
import { cryptoRandom, type RandomSource } from '../stack/random.js';
import { Impairment, type ImpairmentParams } from './impairment.js';
import type { Link, LinkPacket, LinkRxMeta, ReceiveHandler } from './link.js';
import { monotonicNow, ReleaseQueue, type Clock } from './release-queue.js';
import { concatBytes } from '../stack/wire/bytes.js';

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

  send(packet: Uint8Array, offload?: TxOffload, payload?: readonly Uint8Array[]): boolean {
    if (this.closed) return false;
    const now = this.clock();
    // The model needs whole packets (it cuts super-packets and holds them): join a gathered one.
    if (payload) packet = concatBytes([packet, ...payload]);
    if (offload?.gsoSize !== undefined) {
      // Fresh arrays (or the caller's, finished in place when it already fits): no copy to hold.
      for (const segment of segmentSuperPacket(packet, offload)) this.sendOne(segment, undefined, now, payload !== undefined || segment !== packet);
    } else {
      this.sendOne(packet, offload, now, payload !== undefined);
    }
    if (this.txQueue.size > 0) this.txQueue.flushDue();
    return true;
  }

  /** One wire packet through the model; `owned`: ours to hold without a copy. */
  private sendOne(packet: Uint8Array, offload: TxOffload | undefined, now: number, owned: boolean): void {
    const times = this.tx.schedule(packet.length, now);
    for (let i = 0; i < times.length; i++) {
      const at = times[i]!;
      // Unimpaired and nothing held: straight through, no copy, no timer.
      if (at <= now && this.txQueue.size === 0) {
        this.inner.send(packet, offload);
        continue;
      }
      // The caller may reuse its buffer once send returns, so a held packet is copied.
      this.txQueue.push(at, { packet: owned && i === 0 ? packet : packet.slice(), offload });
    }
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
    for (const p of wirePackets(batch)) {
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

/** The batch with every TCP super-packet the kernel handed over replaced by its segments. */
function wirePackets(batch: LinkPacket[]): LinkPacket[] {
  if (!batch.some((p) => p.meta.gsoSize !== undefined)) return batch;
  const out: LinkPacket[] = [];
  for (const p of batch) {
    const offload = p.meta.gsoSize !== undefined ? receivedOffload(p.packet, p.meta) : undefined;
    if (!offload) {
      out.push(p);
      continue;
    }
    let segments: Uint8Array[];
    try {
      segments = segmentSuperPacket(p.packet, offload);
    } catch {
      // Not a TCP header that can be cut: whole, for the stack's parsers to judge.
      out.push(p);
      continue;
    }
    // Each segment gets its own meta: the receiver may change what it is handed.
    for (const packet of segments) out.push({ packet, meta: p.meta.checksumVerified === undefined ? {} : { checksumVerified: p.meta.checksumVerified } });
  }
  return out;
}

// RFC 9293 3.1: the TCP checksum field sits 16 bytes into the header.
const TCP_CHECKSUM_OFFSET = 16;
const TCP_MIN_HEADER = 20;

/**
 * The segmentation metadata of a received TCP super-packet (the L4 offset after the IPv4
 * options or the IPv6 extension headers), or undefined when it is not one that can be cut
 * (UDP, or bytes that are not the TCP packet the metadata says).
 */
function receivedOffload(packet: Uint8Array, meta: LinkRxMeta): TxOffload | undefined {
  const { gsoType, gsoSize } = meta;
  if ((gsoType !== 'tcpv4' && gsoType !== 'tcpv6') || !(gsoSize! > 0) || packet.length < 40) return undefined;
  let l4: number;
  if (gsoType === 'tcpv4') {
    if (packet[0]! >>> 4 !== 4 || packet[9] !== 6) return undefined;
    l4 = (packet[0]! & 0x0f) * 4;
  } else {
    if (packet[0]! >>> 4 !== 6) return undefined;
    const chain = parseExtensionHeaders(packet, packet[6]!, 40, packet.length);
    if (!chain.ok || chain.value.upperProtocol !== 6) return undefined;
    l4 = chain.value.upperOffset;
  }
  if (l4 + TCP_MIN_HEADER > packet.length) return undefined;
  return { checksumStart: l4, checksumOffset: TCP_CHECKSUM_OFFSET, gsoSize: gsoSize!, gsoType };
}
