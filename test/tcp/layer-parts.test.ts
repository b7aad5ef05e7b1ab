// The layer's own parts: the lazy timer heap (arming on every ACK costs nothing), the
// 4-tuple table, received-segment decoding (the NOP NOP TS fast path and the general one),
// and the listener's accept queue.

import { describe, expect, it } from 'vitest';
import { ConnectionTable, tupleKey, type TableEntry } from '../../stack/tcp/connection-table.js';
import { ReceivedSegment } from '../../stack/tcp/received-segment.js';
import { TimerHeap, type TimerOwner } from '../../stack/tcp/timer-heap.js';
import { parseAddress } from '../../stack/wire/address.js';
import { emitTcp, type TcpRepr } from '../../stack/wire/tcp.js';
import type { TcpOption } from '../../stack/wire/tcp-options.js';
import { randomBytes, simPair, transfer } from './sim-pair.js';
import { PEER_ISN, TcpTrace } from './trace.js';

describe('TimerHeap', () => {
  it('pushes only when a deadline moves earlier, and skips stale entries', () => {
    const heap = new TimerHeap<TimerOwner & { name: string }>();
    const a = { heapDeadline: Infinity, name: 'a' };
    const b = { heapDeadline: Infinity, name: 'b' };
    heap.schedule(a, 100);
    for (let t = 101; t < 1000; t++) heap.schedule(a, t); // an RTO restarted by every ACK
    expect(heap.size).toBe(1);
    heap.schedule(b, 50);
    heap.schedule(b, 40); // earlier: one more entry, the old one goes stale
    expect(heap.size).toBe(3);
    expect(heap.peek()).toBe(40);
    expect(heap.popDue(45)?.name).toBe('b');
    expect(heap.peek()).toBe(100); // b's stale 50 was dropped
    expect(heap.popDue(99)).toBeUndefined();
    expect(heap.popDue(100)?.name).toBe('a');
    expect(heap.peek()).toBeUndefined();
  });

  it('stays small during a bulk transfer (one entry per connection, not per segment)', () => {
    const p = simPair({ impairment: { delayMs: 5, lossRate: 0.01 } });
    const t = transfer(p, { aData: randomBytes(2_000_000, 'heap'), bData: randomBytes(1_000_000, 'heap2') });
    let max = 0;
    const heapOf = (l: unknown) => (l as { timers: TimerHeap<TimerOwner> }).timers;
    p.net.runUntil(() => {
      max = Math.max(max, heapOf(p.tcpA).size, heapOf(p.tcpB).size);
      return t.client().ended && t.server()?.ended === true;
    }, 600_000);
    expect(t.client().receivedBytes).toBe(1_000_000);
    expect(max).toBeLessThanOrEqual(8);
  });
});

describe('ConnectionTable', () => {
  const entry = (local: string, lp: number, remote: string, rp: number): TableEntry => ({
    localAddress: parseAddress(local)!,
    localPort: lp,
    remoteAddress: parseAddress(remote)!,
    remotePort: rp,
    tableKey: 0,
    tableNext: undefined,
  });

  it('finds entries by exact 4-tuple, chains equal keys, and removes from chains', () => {
    const t = new ConnectionTable<TableEntry>();
    const x = entry('10.0.0.1', 80, '10.0.0.2', 5000);
    const y = entry('10.0.0.1', 80, '10.0.0.2', 5001);
    const z = entry('fd00::1', 80, 'fd00::2', 5000);
    for (const e of [x, y, z]) t.add(e);
    expect(t.get(x.localAddress, 80, x.remoteAddress, 5001)).toBe(y);
    expect(t.get(z.localAddress, 80, z.remoteAddress, 5000)).toBe(z);
    expect(t.get(x.localAddress, 81, x.remoteAddress, 5000)).toBeUndefined();
    // Force a chain: same key for two entries.
    const w = entry('10.0.0.1', 80, '10.0.0.2', 5000);
    (w as { localPort: number }).localPort = 80;
    t.add(w);
    expect(x.tableKey).toBe(w.tableKey);
    expect(t.remove(x)).toBe(true);
    expect(t.get(x.localAddress, 80, x.remoteAddress, 5000)).toBe(w);
    expect(t.remove(x)).toBe(false);
    expect(t.size).toBe(3);
    expect([...t.values()].length).toBe(3);
    expect(tupleKey(x.localAddress, 80, x.remoteAddress, 5000)).toBe(x.tableKey);
  });
});

describe('ReceivedSegment', () => {
  const seg = (options: TcpOption[], payload = 0): Uint8Array => {
    const repr: TcpRepr = { srcPort: 1, dstPort: 2, seq: 7, ack: 9, flags: 0x18, window: 100, urgentPointer: 0, checksum: 0, options };
    const out = new Uint8Array(60 + payload);
    const n = emitTcp(repr, new Uint8Array(payload), payload, out, 0, { mode: 'keep' });
    return out.subarray(0, n);
  };

  it('reads NOP NOP TS directly and anything else through the codec', () => {
    const s = new ReceivedSegment();
    expect(s.decode(seg([{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamps', tsVal: 5, tsEcr: 6 }], 3))).toBe(true);
    expect([s.hasTimestamps, s.tsVal, s.tsEcr, s.payload.length, s.length]).toEqual([true, 5, 6, 3, 3]);
    expect(
      s.decode(
        seg([
          { kind: 'mss', mss: 1400 },
          { kind: 'sackPermitted' },
          { kind: 'timestamps', tsVal: 1, tsEcr: 0 },
          { kind: 'nop' },
          { kind: 'windowScale', shift: 9 },
        ]),
      ),
    ).toBe(true);
    expect([s.mss, s.sackPermitted, s.windowScale, s.tsVal]).toEqual([1400, true, 9, 1]);
    expect(s.decode(seg([{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [{ left: 1, right: 2 }, { left: 5, right: 9 }] }]))).toBe(true);
    expect(s.sackBlocks).toEqual([
      { start: 1, end: 2 },
      { start: 5, end: 9 },
    ]);
    expect(s.hasTimestamps).toBe(false);
  });

  it('ignores a malformed option list and refuses a truncated header', () => {
    const s = new ReceivedSegment();
    const bytes = seg([{ kind: 'mss', mss: 1400 }]);
    bytes[21] = 0; // MSS option of length 0
    expect(s.decode(bytes)).toBe(true);
    expect([s.optionsMalformed, s.mss]).toEqual([true, -1]);
    expect(s.decode(bytes.subarray(0, 10))).toBe(false);
  });
});

describe('TcpListener', () => {
  it('queues connections for accept() when no onConnection is given, up to the backlog', () => {
    const tr = new TcpTrace();
    const l = tr.tcp.listen({ port: 5000, backlog: 1 });
    const handshake = (port: number, at: number): void => {
      tr.send(at, { flags: 'S', seq: PEER_ISN, srcPort: port });
      const synAck = tr.recv().find((s) => s.flags === 'S.' && s.dstPort === port);
      if (synAck) tr.send(at + 1, { flags: '.', seq: PEER_ISN + 1, ack: synAck.seq + 1, srcPort: port });
    };
    handshake(1001, 0);
    expect(l.pending).toBe(1);
    // The accept queue is full: the next SYN is dropped (Linux), the client will retry.
    tr.send(10, { flags: 'S', seq: PEER_ISN, srcPort: 1002 });
    expect(tr.recv()).toEqual([]);
    expect(l.overflows).toBe(1);
    const conn = l.accept()!;
    expect(conn.state).toBe('ESTABLISHED');
    expect(l.accept()).toBeUndefined();
    handshake(1002, 20);
    expect(l.pending).toBe(1);
    // Closing the listener resets what was never accepted.
    l.close();
    expect(tr.recv().map((s) => s.flags)).toEqual(['R']);
    tr.send(30, { flags: 'S', seq: PEER_ISN, srcPort: 1003 });
    expect(tr.recv().map((s) => s.flags)).toEqual(['R.']);
  });
});
