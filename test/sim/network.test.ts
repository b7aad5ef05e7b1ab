import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SimNetwork, type SimNode, type SimTraceEvent } from './network.js';

/** A minimal node: sends `count` packets of `size` bytes every `intervalMs` on ifIndex 1, records arrivals. */
class Pinger implements SimNode {
  readonly received: { now: number; seq: number; bytes: number }[] = [];
  private readonly out: Uint8Array[] = [];
  private sent = 0;
  private next: number | undefined;
  constructor(
    readonly name: string,
    private readonly count = 0,
    private readonly intervalMs = 10,
    private readonly size = 100,
    private readonly echo = false,
  ) {
    if (count > 0) this.next = 0;
  }
  input(_ifIndex: number, packet: Uint8Array, now: number): void {
    const seq = (packet[0]! << 8) | packet[1]!;
    this.received.push({ now, seq, bytes: packet.length });
    if (this.echo) this.out.push(packet.slice());
  }
  pollTransmit() {
    const packet = this.out.shift();
    return packet && { ifIndex: 1, packet };
  }
  nextTimeout() {
    return this.next;
  }
  onTimeout(now: number): void {
    if (this.next === undefined || now < this.next) return;
    const p = new Uint8Array(this.size);
    p[0] = this.sent >> 8;
    p[1] = this.sent & 0xff;
    this.out.push(p);
    this.sent++;
    this.next = this.sent < this.count ? this.next + this.intervalMs : undefined;
  }
}

describe('SimNetwork', () => {
  it('delivers after the path delay on a virtual clock and reports a trace', () => {
    const net = new SimNetwork(1);
    const a = net.addHost(new Pinger('a', 3, 10));
    const b = net.addHost(new Pinger('b'));
    net.connect({ host: a, ifIndex: 1 }, { host: b, ifIndex: 1 }, { delayMs: 50 });
    const trace: string[] = [];
    net.onTrace((e) => trace.push(`${e.time} ${e.kind} ${e.from}->${e.to} ${e.bytes}`));
    net.run(1000);
    expect(trace).toEqual([
      '0 sent a->b 100',
      '10 sent a->b 100',
      '20 sent a->b 100',
      '50 delivered a->b 100',
      '60 delivered a->b 100',
      '70 delivered a->b 100',
    ]);
    expect(b.received.map((r) => r.now)).toEqual([50, 60, 70]);
    expect(net.now).toBe(1000);
    expect(net.stats).toEqual({ deliveries: 3, timers: 3, dropped: 0 });
  });

  it('applies separate parameters per direction and changes them at run time', () => {
    const net = new SimNetwork(2);
    const a = net.addHost(new Pinger('a', 2, 100));
    const b = net.addHost(new Pinger('b', 0, 10, 100, true));
    const path = net.connect({ host: a, ifIndex: 1 }, { host: b, ifIndex: 1 }, { aToB: { delayMs: 10 }, bToA: { delayMs: 30 } });
    net.run(50);
    expect(a.received.map((r) => r.now)).toEqual([40]);
    path.setParams({ delayMs: 1 }, 'bToA');
    net.run(500);
    expect(a.received.map((r) => r.now)).toEqual([40, 111]);
    expect(path.counters.aToB).toEqual({ sent: 2, delivered: 2, dropped: 0, bytesDelivered: 200 });
  });

  it('loses packets in flight when a path goes down, and carries them again when it is back', () => {
    const net = new SimNetwork(3);
    const a = net.addHost(new Pinger('a', 10, 10));
    const b = net.addHost(new Pinger('b'));
    const path = net.connect({ host: a, ifIndex: 1 }, { host: b, ifIndex: 1 }, { delayMs: 25 });
    const drops: SimTraceEvent[] = [];
    net.onTrace((e) => e.kind === 'dropped' && drops.push(e));
    net.run(35); // sent 0..30, delivered 25 (seq 0)
    path.setUp(false); // seq 1 (due 35... delivered already at 35), 2 and 3 in flight are lost
    net.run(55); // seq 4, 5 sent while down
    path.setUp(true);
    net.run(1000);
    expect(b.received.map((r) => r.seq)).toEqual([0, 1, 6, 7, 8, 9]);
    expect(drops.map((d) => d.reason)).toEqual(['linkDown', 'linkDown', 'linkDown', 'linkDown']);
    expect(path.counters.aToB).toMatchObject({ sent: 10, delivered: 6, dropped: 4 });
  });

  it('drops packets sent on an interface with no path', () => {
    const net = new SimNetwork(4);
    const a = net.addHost(new Pinger('a', 1));
    const drops: string[] = [];
    net.onTrace((e) => drops.push(`${e.kind} ${e.reason}`));
    net.run(10);
    expect(drops).toEqual(['dropped noPath']);
    expect(net.stats.dropped).toBe(1);
    expect(() => net.connect({ host: a, ifIndex: 1 }, { host: a, ifIndex: 1 })).toThrow();
    expect(() => net.addHost(new Pinger('a'))).toThrow();
  });

  it('replays the same trace for the same seed and differs for another seed', () => {
    const run = (seed: number) => {
      const net = new SimNetwork(seed);
      const hosts = ['a', 'b', 'c'].map((n) => net.addHost(new Pinger(n, 300, 3, 200)));
      const echo = net.addHost(new Pinger('echo', 0, 1, 1, true));
      // The echo host answers on ifIndex 1 only; the others just receive.
      const impaired = { delayMs: 40, jitterMs: 15, lossRate: 0.05, reorderRate: 0.1, duplicateRate: 0.02, rateBitsPerSecond: 2_000_000 };
      net.connect({ host: hosts[0]!, ifIndex: 1 }, { host: echo, ifIndex: 1 }, impaired);
      net.connect({ host: hosts[1]!, ifIndex: 1 }, { host: hosts[2]!, ifIndex: 1 }, impaired);
      const hash = createHash('sha256');
      let events = 0;
      net.onTrace((e) => {
        events++;
        hash.update(`${e.time} ${e.kind} ${e.reason} ${e.path} ${e.direction} ${e.bytes} ${e.packet[0]},${e.packet[1]}\n`);
      });
      net.run(10_000);
      return { hash: hash.digest('hex'), events, drops: net.stats.dropped };
    };
    const first = run(11);
    expect(first.events).toBeGreaterThan(2000);
    expect(first.drops).toBeGreaterThan(0);
    expect(run(11)).toEqual(first);
    expect(run(12).hash).not.toBe(first.hash);
  });

  it('runUntil stops at the event that makes the predicate true, or at the limit', () => {
    const net = new SimNetwork(5);
    const a = net.addHost(new Pinger('a', 5, 10));
    const b = net.addHost(new Pinger('b'));
    net.connect({ host: a, ifIndex: 1 }, { host: b, ifIndex: 1 }, { delayMs: 7 });
    expect(net.runUntil(() => b.received.length === 2, 1000)).toBe(true);
    expect(net.now).toBe(17);
    expect(net.runUntil(() => b.received.length === 99, 500)).toBe(false);
    expect([net.now, b.received.length]).toEqual([500, 5]);
    expect(net.step()).toBe(false); // nothing left to do
  });

  it('refuses to spin forever on a host whose timer never moves', () => {
    const net = new SimNetwork(6);
    net.addHost({ name: 'stuck', input() {}, pollTransmit: () => undefined, nextTimeout: () => 5, onTimeout() {} });
    expect(() => net.run(10)).toThrow(/stuck keeps asking for a timer at 5 ms/);
  });
  it('gives each duplicate its own bytes, as a wire would: a receiver may change a packet in place', () => {
    const net = new SimNetwork(2);
    const a = net.addHost(new Pinger('a', 1, 10));
    const seen: number[][] = [];
    const b = net.addHost(
      Object.assign(new Pinger('b'), {
        input(_ifIndex: number, packet: Uint8Array) {
          seen.push([packet[0]!, packet[1]!, packet[99]!]);
          packet.fill(0xee); // a receiver that decrypts or rewrites in place
        },
      }),
    );
    const sent: Uint8Array[] = [];
    net.onTrace((e) => {
      if (e.kind === 'sent') sent.push(e.packet.slice());
    });
    net.connect({ host: a, ifIndex: 1 }, { host: b, ifIndex: 1 }, { delayMs: 5, duplicateRate: 1 });
    net.run(100);
    expect(seen).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(sent).toHaveLength(1);
  });
});
