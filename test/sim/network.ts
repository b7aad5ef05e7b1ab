// The simulated network: hosts (anything with the Host's sans-I/O shape) joined by
// point-to-point paths, each direction impaired by tun/impairment.ts, on a virtual clock that
// jumps straight to the next event (a packet arriving or a host timer). Everything random
// comes from the network seed, so a run replays exactly.

import { Impairment, type ImpairmentParams } from '../../tun/impairment.js';
import { seededRandom, type RandomSource } from '../../stack/random.js';
import { finishPartialChecksum, segmentSuperPacket } from '../../stack/ip/gso.js';
import type { RxMeta } from '../../stack/ip/host.js';
import type { TxOffload } from '../../stack/ip/offload.js';
import { ECN_CE, ECN_MASK, ECN_NOT_ECT } from '../../stack/tcp/ecn.js';
import { updateChecksum } from '../../stack/wire/checksum.js';
import { EventQueue } from './event-queue.js';

/** What the network needs from a host: exactly the Host's driver-facing half. */
export interface SimNode {
  /** `meta.owned`: the network gives each packet away (a delivered packet is never touched again), as a TUN driver does. */
  input(ifIndex: number, packet: Uint8Array, now: number, meta?: RxMeta): void;
  pollTransmit(): { ifIndex: number; packet: Uint8Array; offload?: TxOffload } | undefined;
  nextTimeout(): number | undefined;
  onTimeout(now: number): void;
  readonly name?: string;
}

/** A delivered packet is the receiver's: the network keeps no reference it writes through. */
const DELIVERED: RxMeta = Object.freeze({ owned: true });

export type Direction = 'aToB' | 'bToA';
export type DropReason = 'loss' | 'queue' | 'linkDown' | 'noPath';

export interface SimTraceEvent {
  readonly time: number;
  readonly kind: 'sent' | 'delivered' | 'dropped';
  readonly reason?: DropReason;
  /** Path name; '' when a host sent on an interface with no path. */
  readonly path: string;
  readonly direction?: Direction;
  readonly from: string;
  readonly to?: string;
  readonly bytes: number;
  /** The packet itself; read-only, valid only during the callback. */
  readonly packet: Uint8Array;
}

export interface SimEndpoint<N extends SimNode = SimNode> {
  host: N;
  ifIndex: number;
}

export interface PathCounters {
  sent: number;
  delivered: number;
  dropped: number;
  bytesDelivered: number;
}

/** Anything that records packets, e.g. tun/pcap.ts PcapWriter. */
export interface PacketRecorder {
  writePacket(timestampMs: number, packet: Uint8Array): void;
}

interface HostEntry {
  readonly node: SimNode;
  readonly name: string;
}

interface Delivery {
  readonly time: number;
  readonly path: SimPath;
  readonly direction: Direction;
  readonly epoch: number;
  readonly packet: Uint8Array;
}

export class SimPath {
  readonly aToB: Impairment;
  readonly bToA: Impairment;
  readonly counters: Record<Direction, PathCounters> = {
    aToB: { sent: 0, delivered: 0, dropped: 0, bytesDelivered: 0 },
    bToA: { sent: 0, delivered: 0, dropped: 0, bytesDelivered: 0 },
  };
  private isUp = true;
  /** Bumped when the path goes down: packets in flight from an older epoch are lost. */
  epoch = 0;

  constructor(
    readonly name: string,
    readonly a: SimEndpoint,
    readonly b: SimEndpoint,
    params: { aToB: Partial<ImpairmentParams>; bToA: Partial<ImpairmentParams> },
    random: (direction: Direction) => RandomSource,
  ) {
    this.aToB = new Impairment(params.aToB, random('aToB'));
    this.bToA = new Impairment(params.bToA, random('bToA'));
  }

  get up(): boolean {
    return this.isUp;
  }

  /** Cut or restore the path; going down loses every packet still in flight. */
  setUp(up: boolean): void {
    if (this.isUp && !up) this.epoch++;
    this.isUp = up;
  }

  setParams(p: Partial<ImpairmentParams>, direction: Direction | 'both' = 'both'): void {
    if (direction !== 'bToA') this.aToB.setParams(p);
    if (direction !== 'aToB') this.bToA.setParams(p);
  }

  impairment(direction: Direction): Impairment {
    return direction === 'aToB' ? this.aToB : this.bToA;
  }
}

export interface SimStats {
  /** Packets handed to a host's input(). */
  deliveries: number;
  /** onTimeout() calls. */
  timers: number;
  /** Packets lost for any reason. */
  dropped: number;
}

/** A host that keeps asking to be woken at the same instant would hang the simulation. */
const MAX_TIMERS_AT_ONE_INSTANT = 10_000;

export class SimNetwork {
  private clock = 0;
  private readonly hosts: HostEntry[] = [];
  private readonly byNode = new Map<SimNode, HostEntry>();
  private readonly ends = new Map<string, { path: SimPath; direction: Direction }>();
  private readonly paths: SimPath[] = [];
  private readonly queue = new EventQueue<Delivery>();
  private readonly listeners: ((e: SimTraceEvent) => void)[] = [];
  private spin = { host: undefined as HostEntry | undefined, time: -1, count: 0 };
  readonly stats: SimStats = { deliveries: 0, timers: 0, dropped: 0 };

  constructor(readonly seed: number | string) {}

  get now(): number {
    return this.clock;
  }

  /** A RandomSource derived from the network seed, for a host's constructor. */
  random(label: string): RandomSource {
    return seededRandom(`${this.seed}/host/${label}`);
  }

  addHost<N extends SimNode>(node: N, name?: string): N {
    if (this.byNode.has(node)) throw new Error('host already added');
    const entry = { node, name: name ?? node.name ?? `host${this.hosts.length}` };
    if (this.hosts.some((h) => h.name === entry.name)) throw new Error(`a host named ${entry.name} exists`);
    this.hosts.push(entry);
    this.byNode.set(node, entry);
    return node;
  }

  /**
   * A point-to-point path between two interfaces, impaired with `params` in both directions,
   * or with `{ aToB, bToA }` separately. An interface takes part in at most one path.
   */
  connect(
    a: SimEndpoint,
    b: SimEndpoint,
    params: Partial<ImpairmentParams> | { aToB?: Partial<ImpairmentParams>; bToA?: Partial<ImpairmentParams> } = {},
    name?: string,
  ): SimPath {
    const ea = this.entry(a.host);
    const eb = this.entry(b.host);
    const keyA = endKey(ea, a.ifIndex);
    const keyB = endKey(eb, b.ifIndex);
    if (this.ends.has(keyA) || this.ends.has(keyB) || keyA === keyB) throw new Error('interface already connected');
    const perDirection = 'aToB' in params || 'bToA' in params;
    const split = params as { aToB?: Partial<ImpairmentParams>; bToA?: Partial<ImpairmentParams> };
    const both = params as Partial<ImpairmentParams>;
    const index = this.paths.length;
    const path = new SimPath(
      name ?? `${ea.name}#${a.ifIndex}-${eb.name}#${b.ifIndex}`,
      a,
      b,
      perDirection ? { aToB: split.aToB ?? {}, bToA: split.bToA ?? {} } : { aToB: both, bToA: both },
      (direction) => seededRandom(`${this.seed}/path/${index}/${direction}`),
    );
    this.paths.push(path);
    this.ends.set(keyA, { path, direction: 'aToB' });
    this.ends.set(keyB, { path, direction: 'bToA' });
    return path;
  }

  /** Calls `listener` for every packet sent, delivered or dropped; returns a function that removes it. */
  onTrace(listener: (e: SimTraceEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Records the packets of `path` (both directions) as they are delivered, or as they are sent. */
  attachPcap(path: SimPath, writer: PacketRecorder, at: 'sent' | 'delivered' = 'delivered'): () => void {
    return this.onTrace((e) => {
      if (e.path === path.name && e.kind === at) writer.writePacket(e.time, e.packet);
    });
  }

  /** Handles the next event if it is due at or before `limitMs`; false when there is none. */
  step(limitMs = Infinity): boolean {
    this.drainAll();
    const packetTime = this.queue.peekTime() ?? Infinity;
    let timerTime = Infinity;
    let timerHost: HostEntry | undefined;
    for (const h of this.hosts) {
      const t = h.node.nextTimeout();
      if (t !== undefined && t < timerTime) {
        timerTime = t;
        timerHost = h;
      }
    }
    const t = Math.min(packetTime, timerTime);
    if (t === Infinity || t > limitMs) return false;
    this.clock = Math.max(this.clock, t);
    if (packetTime <= timerTime) {
      this.deliver(this.queue.pop()!);
    } else {
      this.checkSpin(timerHost!);
      this.stats.timers++;
      timerHost!.node.onTimeout(this.clock);
      this.drain(timerHost!);
    }
    return true;
  }

  /** Runs every event up to `untilMs` and leaves the clock there; returns the events handled. */
  run(untilMs: number): number {
    let n = 0;
    while (this.step(untilMs)) n++;
    this.clock = Math.max(this.clock, untilMs);
    return n;
  }

  /** Steps until `predicate()` holds (true) or the clock would pass `limitMs` (false). */
  runUntil(predicate: () => boolean, limitMs: number): boolean {
    for (;;) {
      if (predicate()) return true;
      if (!this.step(limitMs)) {
        this.clock = Math.max(this.clock, limitMs);
        return predicate();
      }
    }
  }

  private entry(node: SimNode): HostEntry {
    const e = this.byNode.get(node);
    if (!e) throw new Error('host not added to this network');
    return e;
  }

  private drainAll(): void {
    for (const h of this.hosts) this.drain(h);
  }

  private drain(h: HostEntry): void {
    for (let out = h.node.pollTransmit(); out; out = h.node.pollTransmit()) {
      const end = this.ends.get(endKey(h, out.ifIndex));
      if (!end) {
        this.stats.dropped++;
        if (this.listeners.length > 0) this.emit({ time: this.clock, kind: 'dropped', reason: 'noPath', path: '', from: h.name, bytes: out.packet.length, packet: out.packet });
        continue;
      }
      if (out.offload?.gsoSize) {
        for (const segment of segmentSuperPacket(out.packet, out.offload)) this.transmit(end.path, end.direction, segment);
      } else {
        if (out.offload) finishPartialChecksum(out.packet, out.offload);
        this.transmit(end.path, end.direction, out.packet);
      }
    }
  }

  private transmit(path: SimPath, direction: Direction, packet: Uint8Array): void {
    path.counters[direction].sent++;
    this.trace('sent', undefined, path, direction, packet);
    if (!path.up) return this.drop(path, direction, packet, 'linkDown');
    const imp = path.impairment(direction);
    const lostBefore = imp.stats.lost;
    const arrivals = imp.schedule(packet.length, this.clock, ipEcn(packet) !== ECN_NOT_ECT);
    if (arrivals.length === 0) return this.drop(path, direction, packet, imp.stats.lost > lostBefore ? 'loss' : 'queue');
    if (imp.lastCeMarked) setCe(packet);
    // A duplicate gets its own bytes, as on a wire: the receiver may change a packet in place.
    for (let i = 0; i < arrivals.length; i++) {
      this.queue.push({ time: arrivals[i]!, path, direction, epoch: path.epoch, packet: i === 0 ? packet : packet.slice() });
    }
  }

  private deliver(d: Delivery): void {
    const { path, direction, packet } = d;
    if (!path.up || d.epoch !== path.epoch) return this.drop(path, direction, packet, 'linkDown');
    const toEnd = direction === 'aToB' ? path.b : path.a;
    const to = this.entry(toEnd.host);
    path.counters[direction].delivered++;
    path.counters[direction].bytesDelivered += packet.length;
    this.stats.deliveries++;
    this.trace('delivered', undefined, path, direction, packet);
    to.node.input(toEnd.ifIndex, packet, this.clock, DELIVERED);
    this.drain(to);
  }

  private drop(path: SimPath, direction: Direction, packet: Uint8Array, reason: DropReason): void {
    path.counters[direction].dropped++;
    this.stats.dropped++;
    this.trace('dropped', reason, path, direction, packet);
  }

  private trace(kind: SimTraceEvent['kind'], reason: DropReason | undefined, path: SimPath, direction: Direction, packet: Uint8Array): void {
    if (this.listeners.length === 0) return;
    const [from, to] = direction === 'aToB' ? [path.a, path.b] : [path.b, path.a];
    this.emit({
      time: this.clock,
      kind,
      ...(reason && { reason }),
      path: path.name,
      direction,
      from: this.entry(from.host).name,
      to: this.entry(to.host).name,
      bytes: packet.length,
      packet,
    });
  }

  private emit(e: SimTraceEvent): void {
    for (const l of this.listeners) l(e);
  }

  private checkSpin(h: HostEntry): void {
    const s = this.spin;
    if (s.host === h && s.time === this.clock) {
      if (++s.count > MAX_TIMERS_AT_ONE_INSTANT) throw new Error(`${h.name} keeps asking for a timer at ${this.clock} ms without making progress`);
    } else {
      s.host = h;
      s.time = this.clock;
      s.count = 0;
    }
  }
}

function endKey(h: HostEntry, ifIndex: number): string {
  return `${h.name}\u0000${ifIndex}`;
}

/** The ECN field of an IPv4 or IPv6 packet (RFC 3168 5: the low bits of TOS / traffic class); Not-ECT for anything else. */
export function ipEcn(packet: Uint8Array): number {
  const version = packet.length > 1 ? packet[0]! >>> 4 : 0;
  if (version === 4) return packet[1]! & ECN_MASK;
  if (version === 6) return (packet[1]! >>> 4) & ECN_MASK;
  return ECN_NOT_ECT;
}

/** What a marking router does (RFC 3168 5): ECN field to CE, the IPv4 header checksum updated (RFC 1624). */
function setCe(packet: Uint8Array): void {
  if (packet[0]! >>> 4 === 4) {
    const old = (packet[0]! << 8) | packet[1]!;
    packet[1]! |= ECN_CE;
    const sum = updateChecksum((packet[10]! << 8) | packet[11]!, old, (packet[0]! << 8) | packet[1]!);
    packet[10] = sum >>> 8;
    packet[11] = sum & 0xff;
  } else {
    packet[1]! |= ECN_CE << 4;
  }
}
