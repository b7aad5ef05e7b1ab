// ECN (RFC 3168) on the simulated network: negotiation in both roles and with SYN cookies,
// ECT(0) on new data only, and a marking bottleneck (tun/impairment.ts ceMark*) whose CE
// marks come back as ECE, reduce the sender's cwnd once per window without retransmission,
// and end with CWR. Packets are read off the network trace.

import { describe, expect, it } from 'vitest';
import type { TcpEcnMode } from '../../stack/config.js';
import { ECN_CE, ECN_ECT0, ECN_NOT_ECT } from '../../stack/tcp/ecn.js';
import { parseAddress } from '../../stack/wire/address.js';
import { EMPTY_BYTES } from '../../stack/wire/bytes.js';
import { emitPacket, parsePacket } from '../../stack/wire/packet.js';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_SYN, type TcpRepr } from '../../stack/wire/tcp.js';
import type { SimTraceEvent } from '../sim/network.js';
import { B4, randomBytes, sha256, simPair, transfer, type Pair } from './sim-pair.js';

interface Seen {
  time: number;
  from: string;
  ecn: number;
  tcp: TcpRepr;
  payload: number;
}

/** Every TCP packet of `kind` ('sent': as its host wrote it; 'delivered': as the path handed it over). */
function record(p: Pair, kind: SimTraceEvent['kind']): Seen[] {
  const seen: Seen[] = [];
  p.net.onTrace((e) => {
    if (e.kind !== kind) return;
    const r = parsePacket(e.packet);
    if (!r.ok || r.value.transport?.protocol !== 'tcp') return;
    const ip = r.value.ip;
    const ecn = (ip.version === 4 ? ip.repr.dscpEcn : ip.repr.trafficClass) & 3;
    seen.push({ time: e.time, from: e.from, ecn, tcp: r.value.transport.repr, payload: r.value.payload.length });
  });
  return seen;
}

function handshake(client: TcpEcnMode, server: TcpEcnMode, family: 4 | 6 = 4) {
  const p = simPair({ seed: `ecn-${client}-${server}-${family}`, impairment: { delayMs: 5 }, configA: { tcp: { ecn: client } }, configB: { tcp: { ecn: server } } });
  const sent = record(p, 'sent');
  const data = randomBytes(100_000, `hs-${client}-${server}`);
  const t = transfer(p, { family, aData: data, bData: data });
  expect(p.net.runUntil(() => t.client().ended && t.server()?.ended === true, 60_000)).toBe(true);
  expect(sha256(t.server()!.received)).toBe(sha256(data));
  const syn = sent.find((s) => s.tcp.flags & TCP_SYN && !(s.tcp.flags & TCP_ACK))!;
  const synAck = sent.find((s) => (s.tcp.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK))!;
  return { p, sent, syn, synAck, client: t.client().conn.stats(), server: t.server()!.conn.stats() };
}

describe('ECN negotiation (RFC 3168 6.1.1)', () => {
  it.each([
    ['on', 'accept', true],
    ['on', 'on', true],
    ['accept', 'on', false],
    ['accept', 'accept', false],
    ['on', 'off', false],
    ['off', 'on', false],
  ] as const)('client %s, server %s: agreed %s', (client, server, agreed) => {
    const h = handshake(client, server);
    // Only 'on' asks: ECE and CWR on the SYN; an ECN-setup SYN-ACK has ECE without CWR.
    expect(h.syn.tcp.flags & (TCP_ECE | TCP_CWR)).toBe(client === 'on' ? TCP_ECE | TCP_CWR : 0);
    expect(h.synAck.tcp.flags & (TCP_ECE | TCP_CWR)).toBe(agreed ? TCP_ECE : 0);
    // SYNs are never ECT.
    expect([h.syn.ecn, h.synAck.ecn]).toEqual([ECN_NOT_ECT, ECN_NOT_ECT]);
    expect(h.client.ecn).toBe(agreed);
    expect(h.server.ecn).toBe(agreed);
    expect(h.p.tcpA.counters.ecnConnections + h.p.tcpB.counters.ecnConnections).toBe(agreed ? 2 : 0);
    const data = h.sent.filter((s) => s.payload > 0);
    expect(data.length).toBeGreaterThan(10);
    expect(data.every((s) => s.ecn === (agreed ? ECN_ECT0 : ECN_NOT_ECT))).toBe(true);
  });

  it('over IPv6: ECT(0) in the traffic class, pure ACKs Not-ECT', () => {
    const h = handshake('on', 'accept', 6);
    expect(h.client.ecn && h.server.ecn).toBe(true);
    const pureAcks = h.sent.filter((s) => s.payload === 0 && !(s.tcp.flags & TCP_SYN));
    expect(pureAcks.length).toBeGreaterThan(5);
    expect(pureAcks.every((s) => s.ecn === ECN_NOT_ECT)).toBe(true);
    expect(h.sent.filter((s) => s.payload > 0).every((s) => s.ecn === ECN_ECT0)).toBe(true);
  });

  it('a retransmitted SYN gives ECN up (RFC 3168 6.1.1.1)', () => {
    const p = simPair({ seed: 'ecn-syn-rtx', configA: { tcp: { ecn: 'on' } } });
    const sent = record(p, 'sent');
    p.path.setParams({ lossRate: 1 }, 'aToB');
    const t = transfer(p, { aData: randomBytes(1000, 'x') });
    p.net.runUntil(() => sent.length >= 1, 100);
    p.path.setParams({ lossRate: 0 }, 'aToB');
    expect(p.net.runUntil(() => t.client().ended || t.server()?.ended === true || t.server()?.receivedBytes === 1000, 10_000)).toBe(true);
    const syns = sent.filter((s) => s.tcp.flags & TCP_SYN && !(s.tcp.flags & TCP_ACK));
    expect(syns.length).toBe(2);
    expect(syns.map((s) => s.tcp.flags & (TCP_ECE | TCP_CWR))).toEqual([TCP_ECE | TCP_CWR, 0]);
    expect(t.client().conn.stats().ecn).toBe(false);
  });

  it('a SYN cookie keeps the ECN bit: the connection completed from it has ECN', () => {
    const p = simPair({ seed: 'ecn-cookie', impairment: { delayMs: 2 }, configA: { tcp: { ecn: 'on' } } });
    const sent = record(p, 'sent');
    const data = randomBytes(50_000, 'cookie');
    const t = transfer(p, { bData: data, listen: { backlog: 1 } });
    // A spoofed SYN that never completes fills the one-entry SYN queue: our client gets a cookie.
    const spoof = emitPacket({
      ip: { version: 4, repr: { dscpEcn: 0, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 6, src: parseAddress('10.0.0.77')!, dst: parseAddress(B4)!, options: EMPTY_BYTES } },
      transport: { protocol: 'tcp', repr: { srcPort: 4000, dstPort: 5001, seq: 1, ack: 0, flags: TCP_SYN, window: 65535, urgentPointer: 0, checksum: 0, options: [{ kind: 'mss', mss: 1460 }] } },
      payload: EMPTY_BYTES,
    });
    p.b.input(1, spoof, 0);
    expect(p.net.runUntil(() => t.client().ended, 30_000)).toBe(true);
    expect(sha256(t.client().received)).toBe(sha256(data));
    expect(p.tcpB.counters.synCookiesValid).toBe(1);
    const port = t.client().conn.localPort;
    const synAck = sent.find((s) => s.from === 'b' && s.tcp.dstPort === port && (s.tcp.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK))!;
    expect(synAck.tcp.flags & (TCP_ECE | TCP_CWR)).toBe(TCP_ECE);
    expect(t.server()!.conn.stats().ecn).toBe(true);
    expect(sent.filter((s) => s.from === 'b' && s.payload > 0).every((s) => s.ecn === ECN_ECT0)).toBe(true);
  });
});

describe('ECN congestion signals (RFC 3168 6.1.2-6.1.3)', () => {
  it('one burst of CE marks: ECE until CWR, one cwnd reduction, nothing retransmitted', () => {
    const p = simPair({
      seed: 'ecn-burst',
      impairment: { delayMs: 10, rateBitsPerSecond: 50e6, queueLimitPackets: 1000 },
      config: { tcp: { ecn: 'on' } },
    });
    const delivered = record(p, 'delivered');
    const data = randomBytes(4_000_000, 'burst');
    const t = transfer(p, { aData: data });
    // Mark every data packet a offers during 2 ms of the transfer (several in one window).
    expect(p.net.runUntil(() => (t.server()?.receivedBytes ?? 0) > 1_000_000, 60_000)).toBe(true);
    const cwndBefore = t.client().conn.stats().cwnd;
    const markFrom = p.net.now;
    p.path.setParams({ ceMarkRate: 1 }, 'aToB');
    p.net.runUntil(() => false, p.net.now + 2);
    p.path.setParams({ ceMarkRate: 0 }, 'aToB');
    expect(p.net.runUntil(() => t.server()?.ended === true, 120_000)).toBe(true);
    expect(sha256(t.server()!.received)).toBe(sha256(data));

    const a = t.client().conn.stats();
    const b = t.server()!.conn.stats();
    const marks = delivered.filter((s) => s.from === 'a' && s.ecn === ECN_CE);
    expect(marks.length).toBeGreaterThan(3);
    expect(b.ecnCeReceived).toBe(marks.length);
    // ECE on b's ACKs from the first CE until the CWR arrived; a reduced once and said so once.
    const eces = delivered.filter((s) => s.from === 'b' && !(s.tcp.flags & TCP_SYN) && s.tcp.flags & TCP_ECE);
    expect(eces.length).toBeGreaterThan(0);
    expect(a.ecnEceReceived).toBe(eces.length);
    expect(a.ecnCwndReductions).toBe(1);
    expect(a.ecnCwrSent).toBe(1);
    const cwr = delivered.find((s) => s.from === 'a' && !(s.tcp.flags & TCP_SYN) && s.tcp.flags & TCP_CWR)!;
    expect(cwr.payload).toBeGreaterThan(0);
    expect(cwr.time).toBeGreaterThan(markFrom);
    // After the ACK of the CWR segment, no more ECE.
    const lastEce = eces[eces.length - 1]!;
    expect(lastEce.time).toBeLessThan(cwr.time + 2 * 10 + 5);
    // The reduction was a congestion response, not a loss recovery.
    expect(a.retransmittedBytes).toBe(0);
    expect(a.fastRecoveries).toBe(0);
    expect(a.timeouts).toBe(0);
    expect(a.ssthresh).toBeLessThan(cwndBefore);
    expect(p.tcpA.counters.ecnCwndReductions).toBe(1);
    expect(p.tcpB.counters.ecnCeReceived).toBe(marks.length);
    // Pure ACKs and retransmissions stay Not-ECT; new data is ECT(0) (or CE from the path).
    expect(delivered.filter((s) => s.from === 'b').every((s) => s.ecn === ECN_NOT_ECT)).toBe(true);
  });

  it.each(['cubic', 'newreno'] as const)('a marking bottleneck instead of drops (%s): reductions at most one per RTT, no loss, SHA-256 both ways', (cc) => {
    // 20 Mbit/s, 40 ms RTT: a BDP of ~67 packets; mark above 20 queued, drop only above 1000.
    const p = simPair({
      seed: `ecn-aqm-${cc}`,
      impairment: { delayMs: 20, rateBitsPerSecond: 20e6, queueLimitPackets: 1000, ceMarkThresholdPackets: 20 },
      config: { tcp: { ecn: 'on', congestionControl: cc } },
    });
    const delivered = record(p, 'delivered');
    const aData = randomBytes(6_000_000, `aqm-a-${cc}`);
    const bData = randomBytes(3_000_000, `aqm-b-${cc}`);
    const t = transfer(p, { aData, bData });
    expect(p.net.runUntil(() => t.client().ended && t.server()?.ended === true, 600_000)).toBe(true);
    expect(sha256(t.server()!.received)).toBe(sha256(aData));
    expect(sha256(t.client().received)).toBe(sha256(bData));
    const a = t.client().conn.stats();
    const b = t.server()!.conn.stats();
    for (const s of [a, b]) {
      expect(s.ecn).toBe(true);
      expect(s.retransmittedBytes).toBe(0);
      expect(s.ecnCwndReductions).toBeGreaterThan(0);
      // Each reduction is told with CWR on the next new data; the last may find none left.
      expect(s.ecnCwrSent).toBeGreaterThanOrEqual(s.ecnCwndReductions - 1);
      expect(s.ecnCwrSent).toBeLessThanOrEqual(s.ecnCwndReductions);
    }
    expect(p.path.counters.aToB.dropped + p.path.counters.bToA.dropped).toBe(0);
    // Many marks, far fewer reductions: one per window of data.
    expect(b.ecnCeReceived).toBeGreaterThan(2 * a.ecnCwndReductions);
    const cwrs = delivered.filter((s) => s.from === 'a' && s.payload > 0 && s.tcp.flags & TCP_CWR).map((s) => s.time);
    expect(cwrs.length).toBe(a.ecnCwrSent);
    for (let i = 1; i < cwrs.length; i++) expect(cwrs[i]! - cwrs[i - 1]!).toBeGreaterThanOrEqual(40);
  });
});
