// A pure link impairment model: given a packet's length and the time it is offered, it says
// when (if ever) each copy arrives at the far end. No timers and no I/O, so the simulated
// network (virtual clock) and the real TUN link wrappers (wall clock) share the exact same
// behaviour. This kernel has no netem (DESIGN.md), so this stands in for it.
//
// The model, in the order a packet meets it (netem's order, sch_netem.c netem_enqueue):
//  1. loss: dropped with probability lossRate (independent draws, before the queue, so a lost
//     packet costs no capacity, as in netem);
//  2. duplication: with probability duplicateRate a second copy follows; each copy goes
//     through steps 3-5 on its own (a duplicate costs link capacity, as on a real wire);
//  3. queue: a single FIFO in front of the link. When the backlog (copies accepted whose
//     serialization has not finished at `now`) has reached queueLimitPackets or would exceed
//     queueLimitBytes, the copy is dropped (tail drop, like tbf's limit). Unlike netem, packets
//     in propagation (step 5) do not count: the limit models a router buffer, not the wire;
//  3b. ECN marking (RFC 3168 5, an AQM that marks instead of dropping): a copy of an
//     ECN-capable packet (the caller says so) is CE-marked with probability ceMarkRate, and
//     always when ceMarkThresholdPackets > 0 and it joins a queue already holding that many
//     (step marking at a fixed threshold, as fq_codel's ce_threshold or DCTCP's K). The model
//     only decides (lastCeMarked); the caller rewrites the packet's ECN field;
//  4. rate: serialization through that queue, departure = max(now, previous departure) +
//     length * 8 / rate (rateBitsPerSecond 0 = infinitely fast);
//  5. delay: arrival = departure + delayMs + a uniform draw in [-jitterMs, +jitterMs]
//     (netem's default distribution), never below departure. Jitter does NOT reorder:
//     an arrival is raised to the previous in-order arrival if it would come before it,
//     so jitter only stretches gaps (netem keeps order only when a rate is set; one rule
//     for all cases is easier to reason about). Reordering comes only from reorderRate:
//     such a copy skips step 5 (netem's "reorder" sends it without delay) and so overtakes
//     the copies still in propagation; with delayMs 0 it cannot reorder anything.

import type { RandomSource } from '../stack/random.js';

export interface ImpairmentParams {
  /** One-way propagation delay added to every packet, ms. */
  delayMs: number;
  /** Half-width of the uniform delay variation, ms (delay is delayMs +- jitterMs). */
  jitterMs: number;
  /** Probability in [0,1] that a packet is lost. */
  lossRate: number;
  /** Probability in [0,1] that a packet skips the delay and overtakes those in flight. */
  reorderRate: number;
  /** Probability in [0,1] that a packet is delivered twice. */
  duplicateRate: number;
  /** Link rate in bits per second; 0 = unlimited. */
  rateBitsPerSecond: number;
  /** Queue limit in packets waiting for serialization; 0 = unlimited. */
  queueLimitPackets: number;
  /** Queue limit in bytes waiting for serialization; 0 = unlimited. */
  queueLimitBytes: number;
  /** Probability in [0,1] that an ECN-capable packet is CE-marked. */
  ceMarkRate: number;
  /** CE-mark ECN-capable packets that find at least this many packets queued; 0 = off. */
  ceMarkThresholdPackets: number;
}

export const DEFAULT_IMPAIRMENT: Readonly<ImpairmentParams> = {
  delayMs: 0,
  jitterMs: 0,
  lossRate: 0,
  reorderRate: 0,
  duplicateRate: 0,
  rateBitsPerSecond: 0,
  // netem's default limit; only matters when a rate makes a queue build up.
  queueLimitPackets: 1000,
  queueLimitBytes: 0,
  ceMarkRate: 0,
  ceMarkThresholdPackets: 0,
};

export interface ImpairmentStats {
  /** Packets offered to schedule(). */
  offered: number;
  offeredBytes: number;
  /** Copies given a delivery time (duplicates count twice). */
  scheduled: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Copies dropped because the queue was full. */
  queueDropped: number;
  /** Packets CE-marked (step 3b). */
  ceMarked: number;
}

/** Throws RangeError unless every field present is in range (finite >= 0; probabilities in [0,1]). */
export function checkImpairmentParams(p: Partial<ImpairmentParams>): void {
  const nonNegative = ['delayMs', 'jitterMs', 'rateBitsPerSecond', 'queueLimitPackets', 'queueLimitBytes', 'ceMarkThresholdPackets'] as const;
  for (const k of nonNegative) {
    const v = p[k];
    if (k in p && (!(v! >= 0) || !Number.isFinite(v))) throw new RangeError(`impairment ${k} must be a finite number >= 0, got ${v}`);
  }
  for (const k of ['lossRate', 'reorderRate', 'duplicateRate', 'ceMarkRate'] as const) {
    const v = p[k];
    if (k in p && !(v! >= 0 && v! <= 1)) throw new RangeError(`impairment ${k} must be in [0,1], got ${v}`);
  }
}

export class Impairment {
  private p: ImpairmentParams;
  readonly stats: ImpairmentStats = {
    offered: 0,
    offeredBytes: 0,
    scheduled: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    queueDropped: 0,
    ceMarked: 0,
  };
  /** The copies of the last schedule() call are to be CE-marked (step 3b). */
  lastCeMarked = false;
  // The serialization FIFO as parallel arrays with a moving head: departure time and length
  // of each copy still in the queue at the last call.
  private readonly qDeparture: number[] = [];
  private readonly qLength: number[] = [];
  private qHead = 0;
  private qBytes = 0;
  private lastDeparture = -Infinity;
  private lastArrival = -Infinity;

  constructor(
    params: Partial<ImpairmentParams>,
    private readonly rng: RandomSource,
  ) {
    this.p = { ...DEFAULT_IMPAIRMENT, ...params };
    checkImpairmentParams(this.p);
  }

  get params(): Readonly<ImpairmentParams> {
    return this.p;
  }

  /** Change parameters at run time; packets already scheduled keep their times. */
  setParams(p: Partial<ImpairmentParams>): void {
    const next = { ...this.p, ...p };
    checkImpairmentParams(next);
    this.p = next;
  }

  /** Copies currently waiting for (or in) serialization at time `now`. */
  backlog(now: number): { packets: number; bytes: number } {
    this.drainQueue(now);
    return { packets: this.qDeparture.length - this.qHead, bytes: this.qBytes };
  }

  /**
   * Arrival times of the copies of a packet offered at `now`: [] when it is lost or the queue
   * is full, two entries when duplicated (not necessarily sorted).
   */
  schedule(packetLength: number, now: number, ecnCapable = false): number[] {
    const s = this.stats;
    s.offered++;
    s.offeredBytes += packetLength;
    this.lastCeMarked = false;
    const p = this.p;
    if (p.lossRate > 0 && this.rng.float() < p.lossRate) {
      s.lost++;
      return [];
    }
    if (ecnCapable && this.shouldMark(now)) {
      this.lastCeMarked = true;
      s.ceMarked++;
    }
    const copies = p.duplicateRate > 0 && this.rng.float() < p.duplicateRate ? 2 : 1;
    if (copies === 2) s.duplicated++;
    const out: number[] = [];
    for (let c = 0; c < copies; c++) {
      const departure = this.serialize(packetLength, now);
      if (departure === undefined) {
        s.queueDropped++;
        continue;
      }
      out.push(this.propagate(departure));
    }
    s.scheduled += out.length;
    return out;
  }

  /** Step 3b, before the packet joins the queue. */
  private shouldMark(now: number): boolean {
    const p = this.p;
    if (p.ceMarkRate > 0 && this.rng.float() < p.ceMarkRate) return true;
    return p.ceMarkThresholdPackets > 0 && p.rateBitsPerSecond > 0 && this.backlog(now).packets >= p.ceMarkThresholdPackets;
  }

  /** Steps 3 and 4: the departure time of a copy, or undefined when the queue is full. */
  private serialize(length: number, now: number): number | undefined {
    const p = this.p;
    if (p.rateBitsPerSecond === 0) return now;
    this.drainQueue(now);
    const waiting = this.qDeparture.length - this.qHead;
    if (p.queueLimitPackets > 0 && waiting >= p.queueLimitPackets) return undefined;
    if (p.queueLimitBytes > 0 && this.qBytes + length > p.queueLimitBytes) return undefined;
    const departure = Math.max(now, this.lastDeparture) + (length * 8 * 1000) / p.rateBitsPerSecond;
    this.lastDeparture = departure;
    this.qDeparture.push(departure);
    this.qLength.push(length);
    this.qBytes += length;
    return departure;
  }

  /** Step 5: arrival time after propagation, jitter and possible reordering. */
  private propagate(departure: number): number {
    const p = this.p;
    if (p.reorderRate > 0 && this.rng.float() < p.reorderRate) {
      this.stats.reordered++;
      return departure;
    }
    let delay = p.delayMs;
    if (p.jitterMs > 0) delay += (this.rng.float() * 2 - 1) * p.jitterMs;
    const arrival = Math.max(departure + Math.max(0, delay), this.lastArrival);
    this.lastArrival = arrival;
    return arrival;
  }

  private drainQueue(now: number): void {
    const dep = this.qDeparture;
    while (this.qHead < dep.length && dep[this.qHead]! <= now) {
      this.qBytes -= this.qLength[this.qHead]!;
      this.qHead++;
    }
    // Compact once the consumed prefix dominates, keeping pushes and shifts amortized O(1).
    if (this.qHead > 1024 && this.qHead * 2 > dep.length) {
      dep.splice(0, this.qHead);
      this.qLength.splice(0, this.qHead);
      this.qHead = 0;
    }
  }
}
