// The impairment model's ECN marking (step 3b) and what the simulated network does with it:
// CE in the IP header of ECN-capable packets only, the IPv4 header checksum still valid, and
// the ECN bits of IPv4/IPv6 and TCP (ECE, CWR) surviving a parse and re-emit byte for byte.

import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../stack/random.js';
import { ECN_CE, ECN_ECT0, ECN_NOT_ECT } from '../../stack/tcp/ecn.js';
import { parseAddress } from '../../stack/wire/address.js';
import { EMPTY_BYTES } from '../../stack/wire/bytes.js';
import { Ipv4View, verifyIpv4HeaderChecksum } from '../../stack/wire/ipv4.js';
import { emitPacket, parsePacket, type PacketRepr } from '../../stack/wire/packet.js';
import { TCP_ACK, TCP_CWR, TCP_ECE } from '../../stack/wire/tcp.js';
import { Impairment } from '../../tun/impairment.js';
import { ipEcn, SimNetwork, type SimNode } from './network.js';

function tcpPacket(family: 4 | 6, ecn: number, flags: number): Uint8Array {
  const transport = { protocol: 'tcp' as const, repr: { srcPort: 1000, dstPort: 2000, seq: 7, ack: 9, flags, window: 100, urgentPointer: 0, checksum: 0, options: [] } };
  const payload = new Uint8Array(100).fill(0xab);
  const packet: PacketRepr =
    family === 4
      ? {
          ip: { version: 4, repr: { dscpEcn: 0xb8 | ecn, identification: 1, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 6, src: parseAddress('10.0.0.1')!, dst: parseAddress('10.0.0.2')!, options: EMPTY_BYTES } },
          transport,
          payload,
        }
      : {
          ip: { version: 6, repr: { trafficClass: 0xb8 | ecn, flowLabel: 0x12345, hopLimit: 64, src: parseAddress('fd00::1')!, dst: parseAddress('fd00::2')!, extensionHeaders: [], upperProtocol: 6 } },
          transport,
          payload,
        };
  return emitPacket(packet);
}

describe('ECN marking in the impairment model', () => {
  it('marks ECN-capable packets at ceMarkRate and never Not-ECT ones', () => {
    const imp = new Impairment({ ceMarkRate: 0.2 }, seededRandom(3));
    let marked = 0;
    for (let i = 0; i < 10_000; i++) {
      imp.schedule(1000, i, true);
      if (imp.lastCeMarked) marked++;
    }
    expect(marked / 10_000).toBeGreaterThan(0.18);
    expect(marked / 10_000).toBeLessThan(0.22);
    for (let i = 0; i < 1000; i++) {
      imp.schedule(1000, 20_000 + i, false);
      expect(imp.lastCeMarked).toBe(false);
    }
    expect(imp.stats.ceMarked).toBe(marked);
  });

  it('marks at a queue threshold: the packets that find 5 queued, none before', () => {
    // 8 Mbit/s: a 1000-byte packet takes 1 ms; 10 offered at once queue up.
    const imp = new Impairment({ rateBitsPerSecond: 8e6, ceMarkThresholdPackets: 5 }, seededRandom(1));
    const marks: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      imp.schedule(1000, 0, true);
      marks.push(imp.lastCeMarked);
    }
    expect(marks).toEqual([false, false, false, false, false, true, true, true, true, true]);
    // Once the queue drained, nothing is marked.
    imp.schedule(1000, 100, true);
    expect(imp.lastCeMarked).toBe(false);
  });
});

describe('CE on the simulated wire', () => {
  it.each([4, 6] as const)('IPv%s: an ECT(0) packet arrives CE with a valid header, a Not-ECT one untouched', (family) => {
    const net = new SimNetwork('ce-wire');
    const received: Uint8Array[] = [];
    const outbox: Uint8Array[] = [];
    const node = (name: string): SimNode => ({
      name,
      input: (_i, packet) => void received.push(packet.slice()),
      pollTransmit: () => (outbox.length > 0 ? { ifIndex: 1, packet: outbox.shift()! } : undefined),
      nextTimeout: () => undefined,
      onTimeout: () => undefined,
    });
    const a = net.addHost(node('a'));
    const b = net.addHost(node('b'));
    net.connect({ host: a, ifIndex: 1 }, { host: b, ifIndex: 1 }, { aToB: { ceMarkRate: 1 } }, 'ab');
    const ect = tcpPacket(family, ECN_ECT0, TCP_ACK | TCP_ECE | TCP_CWR);
    const notEct = tcpPacket(family, ECN_NOT_ECT, TCP_ACK);
    outbox.push(ect.slice(), notEct.slice());
    net.runUntil(() => received.length === 2, 10);
    expect(received.map(ipEcn)).toEqual([ECN_CE, ECN_NOT_ECT]);
    // Only the ECN bits changed (DSCP kept); IPv4's header checksum was updated.
    const ecnBits = family === 4 ? 0x03 : 0x30;
    expect(received[0]![1]! & ~ecnBits).toBe(ect[1]! & ~ecnBits);
    expect(received[0]!.subarray(family === 4 ? 12 : 2)).toEqual(ect.subarray(family === 4 ? 12 : 2));
    expect(received[1]).toEqual(notEct);
    if (family === 4) {
      const v = Ipv4View.wrap(received[0]!);
      expect(v.ok && verifyIpv4HeaderChecksum(v.value)).toBe(true);
    }
  });

  it.each([4, 6] as const)('IPv%s: the ECN field and ECE/CWR round-trip through parse and emit', (family) => {
    for (const ecn of [ECN_NOT_ECT, ECN_ECT0, ECN_CE]) {
      const bytes = tcpPacket(family, ecn, TCP_ACK | TCP_ECE | TCP_CWR);
      const parsed = parsePacket(bytes);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      const ip = parsed.value.ip;
      expect((ip.version === 4 ? ip.repr.dscpEcn : ip.repr.trafficClass) & 3).toBe(ecn);
      expect(parsed.value.transport.protocol === 'tcp' && parsed.value.transport.repr.flags & (TCP_ECE | TCP_CWR)).toBe(TCP_ECE | TCP_CWR);
      expect(emitPacket(parsed.value, { keepChecksums: true })).toEqual(bytes);
    }
  });
});
