import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../stack/config.js';
import {
  SCHEDULER_NAMES,
  SEND_BURST_SIZE,
  lingerTime,
  mergeRanges,
  pickReinjectionSubflow,
  schedule,
  type SchedulerContext,
  type SubflowSnapshot,
} from '../../stack/mptcp/scheduler.js';

const MSS = 1448;
const sf = (id: number, o: Partial<SubflowSnapshot> = {}): SubflowSnapshot => ({
  id,
  active: true,
  backup: false,
  stale: false,
  srtt: 10,
  cwnd: 10 * MSS,
  inFlight: 0,
  queued: 0,
  queueRoom: 1 << 20,
  ...o,
});
const ctx = (o: Partial<SchedulerContext> = {}): SchedulerContext => ({
  dataUna: 0,
  dataNext: 0,
  dataEnd: 1 << 30,
  windowEnd: 1 << 30,
  ...o,
});
const ids = (d: { subflowId: number }[]) => d.map((x) => x.subflowId);

describe('schedule', () => {
  it('knows every configurable scheduler, the default one included', () => {
    expect(SCHEDULER_NAMES).toContain(DEFAULT_CONFIG.mptcp.scheduler);
    for (const name of SCHEDULER_NAMES) {
      expect(schedule(name, [sf(7)], ctx({ dataEnd: 100 }))).toEqual([{ subflowId: 7, offset: 0, length: 100 }]);
    }
  });
});

describe('default scheduler (Linux mptcp_subflow_get_send)', () => {
  it('picks the subflow that drains what it holds soonest, and gives it one burst', () => {
    const fast = sf(1, { srtt: 10, inFlight: 10 * MSS });
    const slow = sf(2, { srtt: 100, inFlight: 2 * MSS });
    // linger: fast 10 segments at 1 cwnd/10 ms = 10 ms; slow 2 segments at 1 cwnd/100 ms = 20 ms
    expect(lingerTime(fast)).toBeCloseTo(10);
    expect(lingerTime(slow)).toBeCloseTo(20);
    expect(schedule('default', [fast, slow], ctx())).toEqual([{ subflowId: 1, offset: 0, length: SEND_BURST_SIZE }]);
    // an empty subflow lingers zero: the slow path is used as soon as it is idle
    expect(ids(schedule('default', [fast, sf(2, { srtt: 100 })], ctx()))).toEqual([2]);
  });

  it('uses a backup only when no regular subflow is usable; skips stale and inactive ones', () => {
    const backup = sf(3, { backup: true });
    const busy = sf(1, { inFlight: 50 * MSS });
    expect(ids(schedule('default', [busy, backup], ctx()))).toEqual([1]);
    expect(ids(schedule('default', [sf(1, { stale: true }), sf(2, { active: false }), backup], ctx()))).toEqual([3]);
    expect(schedule('default', [sf(1, { active: false })], ctx())).toEqual([]);
  });

  it('waits instead of using a slower subflow when the best one has no queue room (HoL avoidance)', () => {
    const best = sf(1, { queueRoom: 0 });
    const worse = sf(2, { srtt: 100, inFlight: MSS });
    expect(schedule('default', [best, worse], ctx())).toEqual([]);
  });

  it('never sends past the peer window or the written data', () => {
    expect(schedule('default', [sf(1)], ctx({ dataNext: 1000, dataEnd: 1500 }))).toEqual([
      { subflowId: 1, offset: 1000, length: 500 },
    ]);
    expect(schedule('default', [sf(1)], ctx({ dataNext: 1000, windowEnd: 1200 }))[0]!.length).toBe(200);
    expect(schedule('default', [sf(1)], ctx({ dataNext: 1000, windowEnd: 1000 }))).toEqual([]);
  });

  it('spreads a bulk transfer over two paths in proportion to their rates', () => {
    // Fluid model: path 1 drains 10 bytes/ms at 10 ms RTT, path 2 drains 5 bytes/ms at 40 ms;
    // each subflow queues at most two windows, as a send buffer would allow.
    const paths = [
      { id: 1, rate: 10, srtt: 10 },
      { id: 2, rate: 5, srtt: 40 },
    ];
    const held = new Map([
      [1, 0],
      [2, 0],
    ]);
    const carried = new Map([
      [1, 0],
      [2, 0],
    ]);
    let next = 0;
    for (let t = 0; t < 20_000; t++) {
      for (const p of paths) held.set(p.id, Math.max(0, held.get(p.id)! - p.rate));
      for (;;) {
        const snaps = paths.map((p) => {
          const cwnd = p.rate * p.srtt;
          return sf(p.id, { srtt: p.srtt, cwnd, inFlight: held.get(p.id)!, queueRoom: 2 * cwnd - held.get(p.id)! });
        });
        const [d] = schedule('default', snaps, ctx({ dataNext: next }));
        if (!d) break;
        const n = Math.min(d.length, 100);
        held.set(d.subflowId, held.get(d.subflowId)! + n);
        carried.set(d.subflowId, carried.get(d.subflowId)! + n);
        next += n;
      }
    }
    const share = carried.get(1)! / (carried.get(1)! + carried.get(2)!);
    expect(share).toBeGreaterThan(0.62);
    expect(share).toBeLessThan(0.72); // 2/3 is the rate ratio
    // and both paths stay busy: the sum of their capacities is used
    expect(carried.get(1)! + carried.get(2)!).toBeGreaterThan(0.99 * 20_000 * 15);
  });
});

describe('lowest-rtt scheduler', () => {
  it('takes the lowest RTT with window room and sends at most that room', () => {
    const a = sf(1, { srtt: 5, inFlight: 10 * MSS });
    const b = sf(2, { srtt: 20, inFlight: 4 * MSS });
    const c = sf(3, { srtt: undefined });
    expect(schedule('lowest-rtt', [a, b, c], ctx())).toEqual([{ subflowId: 2, offset: 0, length: 6 * MSS }]);
    expect(ids(schedule('lowest-rtt', [a, c], ctx()))).toEqual([3]);
    expect(schedule('lowest-rtt', [a], ctx())).toEqual([]);
  });
});

describe('round-robin scheduler', () => {
  it('cycles through subflows with window room in id order', () => {
    const subs = [sf(3), sf(1), sf(2, { inFlight: 10 * MSS })];
    expect(ids(schedule('round-robin', subs, ctx()))).toEqual([1]);
    expect(ids(schedule('round-robin', subs, ctx({ lastSubflowId: 1 })))).toEqual([3]);
    expect(ids(schedule('round-robin', subs, ctx({ lastSubflowId: 3 })))).toEqual([1]);
  });
});

describe('redundant scheduler', () => {
  it('sends the same bytes on every subflow, skipping what the peer already acknowledged', () => {
    const subs = [sf(1), sf(2), sf(3, { inFlight: 10 * MSS })];
    const sentUpTo = new Map([
      [1, 5000],
      [2, 1000],
    ]);
    expect(schedule('redundant', subs, ctx({ dataUna: 3000, dataNext: 5000, dataEnd: 6000, sentUpTo }))).toEqual([
      { subflowId: 1, offset: 5000, length: 1000 },
      { subflowId: 2, offset: 3000, length: 3000 },
    ]);
  });
});

describe('active/backup scheduler', () => {
  it('stays on one subflow and fails over in order', () => {
    const subs = [sf(2), sf(1, { inFlight: 9 * MSS }), sf(3, { backup: true })];
    expect(ids(schedule('backup', subs, ctx()))).toEqual([1]);
    expect(ids(schedule('backup', [sf(2), sf(1, { active: false }), sf(3, { backup: true })], ctx()))).toEqual([2]);
    expect(ids(schedule('backup', [sf(1, { active: false }), sf(3, { backup: true })], ctx()))).toEqual([3]);
  });
});

describe('reinjection', () => {
  it('merges overlapping ranges', () => {
    expect(
      mergeRanges(
        [
          { start: 50, end: 60 },
          { start: 0, end: 10 },
          { start: 5, end: 20 },
          { start: 20, end: 30 },
          { start: 70, end: 70 },
        ],
        2,
      ),
    ).toEqual([
      { start: 2, end: 30 },
      { start: 50, end: 60 },
    ]);
  });

  it('picks an idle regular subflow other than the failed one for the reinjected data', () => {
    const subs = [sf(1), sf(2, { inFlight: 5 * MSS }), sf(3), sf(4, { backup: true })];
    expect(pickReinjectionSubflow(subs, new Set([1]))!.id).toBe(3);
    expect(pickReinjectionSubflow(subs, new Set([1, 3]))!.id).toBe(2);
    expect(pickReinjectionSubflow(subs, new Set([1, 2, 3]))!.id).toBe(4);
    expect(pickReinjectionSubflow([sf(1)], new Set([1]))).toBeUndefined();
  });
});
