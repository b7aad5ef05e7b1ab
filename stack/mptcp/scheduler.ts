// Packet schedulers (which subflow sends the next data-level bytes, RFC 8684 3.3.8 leaves
// the choice to the implementation) and the reinjection decision (which data sent on a
// stalled or dead subflow is sent again on others). Pure functions over snapshots: the
// connection builds a SubflowSnapshot per subflow, calls `schedule`, sends what the
// decisions say and calls again.

import type { MptcpSchedulerName } from '../config.js';

/** Linux MPTCP_SEND_BURST_SIZE: 64 KiB less TCP/IPv6/fragment headers and option space. */
export const SEND_BURST_SIZE = 65536 - 20 - 40 - 40 - 8;


export interface SubflowSnapshot {
  id: number;
  /** Fully established (a join after its fourth ACK) and not closing: may carry new data. */
  active: boolean;
  /** Backup priority (RFC 8684 3.3.8: B flag of MP_JOIN, MP_PRIO), ours or the peer's. */
  backup: boolean;
  /** Marked stale by the reinjection logic and not yet recovered (Linux subflow->stale). */
  stale: boolean;
  /** Smoothed RTT (ms), undefined before the first sample. */
  srtt: number | undefined;
  /** Congestion window (bytes). */
  cwnd: number;
  /** Bytes sent and not yet acknowledged at subflow level. */
  inFlight: number;
  /** Bytes handed to the subflow and not sent yet. */
  queued: number;
  /** Further bytes the subflow's send queue accepts (Linux: sk_stream_memory_free on the send buffer). */
  queueRoom: number;
  /** Pacing rate (bytes per ms); when absent cwnd / srtt stands for it. */
  pacingRate?: number | undefined;
}

export interface SchedulerContext {
  /** First data offset the peer has not acknowledged (its DATA_ACK). */
  dataUna: number;
  /** Next new data offset to send. */
  dataNext: number;
  /** End of the data written by the application. */
  dataEnd: number;
  /** Right edge of the peer's data-level window, DATA_ACK + window (RFC 8684 3.3.4). */
  windowEnd: number;
  /** Round robin: the subflow served last. */
  lastSubflowId?: number | undefined;
  /** Redundant: per subflow, the offset it has sent up to (absent: nothing yet). */
  sentUpTo?: ReadonlyMap<number, number> | undefined;
}

/** Send data-level bytes [offset, offset + length) on a subflow. */
export interface ScheduleDecision {
  subflowId: number;
  offset: number;
  length: number;
}

export const SCHEDULER_NAMES: readonly MptcpSchedulerName[] = ['default', 'lowest-rtt', 'round-robin', 'redundant', 'backup'];

/** The scheduler named in config.mptcp.scheduler. */
export function schedule(name: MptcpSchedulerName, subflows: readonly SubflowSnapshot[], ctx: SchedulerContext): ScheduleDecision[] {
  switch (name) {
    case 'default':
      return scheduleDefault(subflows, ctx);
    case 'lowest-rtt':
      return scheduleLowestRtt(subflows, ctx);
    case 'round-robin':
      return scheduleRoundRobin(subflows, ctx);
    case 'redundant':
      return scheduleRedundant(subflows, ctx);
    case 'backup':
      return scheduleActiveBackup(subflows, ctx);
  }
}

function usable(s: SubflowSnapshot): boolean {
  return s.active && !s.stale;
}

/** Bytes the congestion window still admits, counting what is queued. */
function cwndRoom(s: SubflowSnapshot): number {
  return Math.max(0, s.cwnd - s.inFlight - s.queued);
}

/**
 * RFC 8684 3.3.8 / Linux mptcp_subflow_get_send: backup subflows carry data only when no
 * regular subflow is usable.
 */
function preferred(subflows: readonly SubflowSnapshot[]): SubflowSnapshot[] {
  const live = subflows.filter(usable);
  const regular = live.filter((s) => !s.backup);
  return regular.length > 0 ? regular : live;
}

/** New data the window and the application allow from dataNext, capped at `max`. */
function newData(ctx: SchedulerContext, max: number): number {
  return Math.max(0, Math.min(max, ctx.dataEnd - ctx.dataNext, ctx.windowEnd - ctx.dataNext));
}

function single(s: SubflowSnapshot | undefined, ctx: SchedulerContext, max: number): ScheduleDecision[] {
  if (!s) return [];
  const length = newData(ctx, max);
  return length > 0 ? [{ subflowId: s.id, offset: ctx.dataNext, length }] : [];
}

/**
 * Time to drain what the subflow already holds (Linux: sk_wmem_queued / pacing rate). A
 * subflow without an RTT sample has an unlimited pacing rate in Linux (sk_pacing_rate
 * starts at ~0), hence a linger time of zero.
 */
export function lingerTime(s: SubflowSnapshot): number {
  const held = s.inFlight + s.queued;
  if (held === 0) return 0;
  const rate = s.pacingRate ?? (s.srtt !== undefined && s.srtt > 0 ? s.cwnd / s.srtt : Infinity);
  return rate > 0 ? held / rate : Infinity;
}

/**
 * Linux's default scheduler (net/mptcp/protocol.c mptcp_subflow_get_send, BLEST-inspired):
 * the usable subflow that drains what it holds soonest, regular ones before backups; if it
 * has no queue room the connection waits rather than use a slower one (head-of-line
 * blocking avoidance). The chosen subflow gets a burst of up to SEND_BURST_SIZE bytes.
 */
export function scheduleDefault(subflows: readonly SubflowSnapshot[], ctx: SchedulerContext): ScheduleDecision[] {
  let best: SubflowSnapshot | undefined;
  let bestLinger = Infinity;
  for (const s of preferred(subflows)) {
    const l = lingerTime(s);
    if (!best || l < bestLinger) {
      best = s;
      bestLinger = l;
    }
  }
  if (!best || best.queueRoom <= 0) return [];
  return single(best, ctx, Math.min(SEND_BURST_SIZE, best.queueRoom));
}

/**
 * Lowest RTT first (the out-of-tree kernel's default "minRTT"): among usable subflows whose
 * congestion window has room, the lowest smoothed RTT; subflows without a sample count as
 * slowest. Sends at most the window room, so data never waits behind a full window.
 */
export function scheduleLowestRtt(subflows: readonly SubflowSnapshot[], ctx: SchedulerContext): ScheduleDecision[] {
  let best: SubflowSnapshot | undefined;
  for (const s of preferred(subflows)) {
    if (cwndRoom(s) <= 0 || s.queueRoom <= 0) continue;
    if (!best || (s.srtt ?? Infinity) < (best.srtt ?? Infinity)) best = s;
  }
  return best ? single(best, ctx, Math.min(cwndRoom(best), best.queueRoom, SEND_BURST_SIZE)) : [];
}

/** Round robin over usable subflows with window room, in id order after the last one served. */
export function scheduleRoundRobin(subflows: readonly SubflowSnapshot[], ctx: SchedulerContext): ScheduleDecision[] {
  const ready = preferred(subflows)
    .filter((s) => cwndRoom(s) > 0 && s.queueRoom > 0)
    .sort((a, b) => a.id - b.id);
  if (ready.length === 0) return [];
  const last = ctx.lastSubflowId;
  const next = (last === undefined ? undefined : ready.find((s) => s.id > last)) ?? ready[0]!;
  return single(next, ctx, Math.min(cwndRoom(next), next.queueRoom, SEND_BURST_SIZE));
}

/**
 * Redundant: every usable subflow sends every byte (the out-of-tree kernel's "redundant"
 * scheduler), each from where it left off but never below the DATA_ACK, so a subflow that
 * fell behind skips what another one already delivered.
 */
export function scheduleRedundant(subflows: readonly SubflowSnapshot[], ctx: SchedulerContext): ScheduleDecision[] {
  const out: ScheduleDecision[] = [];
  const end = Math.min(ctx.dataEnd, ctx.windowEnd);
  for (const s of preferred(subflows)) {
    const from = Math.max(ctx.sentUpTo?.get(s.id) ?? ctx.dataUna, ctx.dataUna);
    const length = Math.min(end - from, cwndRoom(s), s.queueRoom, SEND_BURST_SIZE);
    if (length > 0) out.push({ subflowId: s.id, offset: from, length });
  }
  return out;
}

/**
 * Active/backup failover: all data on one regular subflow (the lowest id that is usable),
 * switching only when it becomes unusable; backups only when no regular subflow is left.
 */
export function scheduleActiveBackup(subflows: readonly SubflowSnapshot[], ctx: SchedulerContext): ScheduleDecision[] {
  const first = preferred(subflows).sort((a, b) => a.id - b.id)[0];
  if (!first || first.queueRoom <= 0) return [];
  return single(first, ctx, Math.min(first.queueRoom, SEND_BURST_SIZE));
}

// ---------------------------------------------------------------------------------------
// Reinjection

export interface DataRange {
  start: number;
  end: number;
}

/** Sorted, merged copies of `ranges`, clipped to start at `floor` (empty ones dropped). */
export function mergeRanges(ranges: readonly DataRange[], floor: number): DataRange[] {
  const sorted = ranges
    .map((r) => ({ start: Math.max(r.start, floor), end: r.end }))
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start);
  const out: DataRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push(r);
  }
  return out;
}

/**
 * The subflow to carry reinjected data (Linux mptcp_subflow_get_retrans): a usable one
 * other than the failed ones, preferring an idle regular subflow, then the regular one
 * holding least, and a backup only when no regular subflow is usable.
 */
export function pickReinjectionSubflow(
  subflows: readonly SubflowSnapshot[],
  exclude: ReadonlySet<number>,
): SubflowSnapshot | undefined {
  const candidates = preferred(subflows.filter((s) => !exclude.has(s.id))).filter((s) => s.queueRoom > 0);
  let best: SubflowSnapshot | undefined;
  for (const s of candidates) {
    if (!best || lingerTime(s) < lingerTime(best)) best = s;
  }
  return best;
}
