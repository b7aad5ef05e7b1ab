// ImpairedLink over an in-memory link with a hand-driven clock: what it holds is bounded.

import { afterEach, describe, expect, it } from 'vitest';
import { ImpairedLink } from '../../tun/impaired-link.js';
import type { LinkPacket } from '../../tun/link.js';
import { seededRandom } from '../../stack/random.js';
import { emitTcp, TCP_ACK, TCP_PROTOCOL, TCP_PSH, tcpHeaderLength, type TcpRepr } from '../../stack/wire/tcp.js';
import { describe as describePacket, ip, ipv4, ipv6 } from '../ip/packets.js';
import { MemoryLink } from './memory-link.js';

const links: ImpairedLink[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) await l.close();
});

describe('ImpairedLink holding packets', () => {
  it('holds at most holdLimitPackets per direction under a long delay, counting what it refuses', () => {
    const inner = new MemoryLink();
    const link = new ImpairedLink(inner, { both: { delayMs: 10_000 }, clock: () => 0, random: seededRandom(1), holdLimitPackets: 100 });
    links.push(link);
    const received: LinkPacket[] = [];
    link.onReceive((batch) => received.push(...batch));
    for (let i = 0; i < 250; i++) {
      link.send(new Uint8Array(100));
      inner.deliver([{ packet: new Uint8Array(100), meta: {} }]);
    }
    expect(link.pending).toEqual({ tx: 100, rx: 100 });
    expect(link.holdDropped).toEqual({ tx: 150, rx: 150 });
    expect(inner.sent).toHaveLength(0);
    expect(received).toHaveLength(0);
  });

  it('holds at most holdLimitBytes per direction, and frees the room as packets leave', () => {
    let now = 0;
    const inner = new MemoryLink();
    const link = new ImpairedLink(inner, { tx: { delayMs: 10 }, clock: () => now, random: seededRandom(2), holdLimitBytes: 10_000 });
    links.push(link);
    for (let i = 0; i < 20; i++) link.send(new Uint8Array(1000));
    expect(link.pending.tx).toBe(10);
    expect(link.holdDropped.tx).toBe(10);
    now = 10;
    link.send(new Uint8Array(1000)); // releases the ten due, then holds this one
    expect(inner.sent).toHaveLength(10);
    for (let i = 0; i < 20; i++) link.send(new Uint8Array(1000));
    expect(link.pending.tx).toBe(10);
    expect(link.holdDropped.tx).toBe(21);
  });

  it('holds up to 65536 packets or 64 MiB per direction by default', () => {
    const many = new ImpairedLink(new MemoryLink(), { tx: { delayMs: 1000 }, clock: () => 0, random: seededRandom(3) });
    const large = new ImpairedLink(new MemoryLink(), { tx: { delayMs: 1000 }, clock: () => 0, random: seededRandom(4) });
    links.push(many, large);
    for (let i = 0; i < 70_000; i++) many.send(new Uint8Array(1));
    expect([many.pending.tx, many.holdDropped.tx]).toEqual([65_536, 70_000 - 65_536]);
    for (let i = 0; i < 1100; i++) large.send(new Uint8Array(65_000));
    const fit = Math.floor((64 << 20) / 65_000);
    expect([large.pending.tx, large.holdDropped.tx]).toEqual([fit, 1100 - fit]);
  });
});

describe('ImpairedLink and GSO super-packets', () => {
  const MSS = 1448;
  const SEGMENTS = 45; // 45 x 1448 = 65160 payload bytes: a 64 KiB super-packet
  const data = new Uint8Array(SEGMENTS * MSS).map((_, i) => i);
  /** A TCP super-packet as the stack hands it over (partial checksum) or the kernel reads it. */
  const superPacket = (v6: boolean, seq: number): Uint8Array => {
    const src = v6 ? 'fd00::1' : '10.0.0.1';
    const dst = v6 ? 'fd00::2' : '10.0.0.2';
    const repr: TcpRepr = { srcPort: 40000, dstPort: 5201, seq, ack: 1, flags: TCP_ACK | TCP_PSH, window: 512, urgentPointer: 0, checksum: 0, options: [] };
    const tcp = new Uint8Array(tcpHeaderLength(repr) + data.length);
    emitTcp(repr, data, data.length, tcp, 0, { mode: 'partial', src: ip(src), dst: ip(dst) });
    return v6 ? ipv6(src, dst, TCP_PROTOCOL, tcp) : ipv4(src, dst, TCP_PROTOCOL, tcp);
  };
  /** Every packet is one full-sized wire segment with a valid checksum. */
  const checkSegments = (packets: Uint8Array[], headers: number): void => {
    for (const p of packets) {
      expect(p.length).toBe(headers + 20 + MSS);
      expect(describePacket(p)).not.toContain('BADSUM');
    }
  };

  it('loses about 10% of the segments of 64 KiB super-packets sent with 10% loss, not whole super-packets', () => {
    const inner = new MemoryLink();
    const link = new ImpairedLink(inner, { tx: { lossRate: 0.1 }, clock: () => 0, random: seededRandom('gso-tx') });
    links.push(link);
    for (let i = 0; i < 20; i++) link.send(superPacket(false, i * data.length), { checksumStart: 20, checksumOffset: 16, gsoSize: MSS, gsoType: 'tcpv4' });
    expect(link.tx.stats.offered).toBe(20 * SEGMENTS);
    // Seeded: the same 102 of 900 every run (binomial mean 90, sd 9).
    expect(link.tx.stats.lost).toBe(102);
    expect(inner.sent).toHaveLength(20 * SEGMENTS - 102);
    expect(inner.offloads.every((o) => o === undefined)).toBe(true);
    checkSegments(inner.sent, 20);
  });

  it('cuts TCP super-packets the kernel hands over before impairing them', () => {
    const inner = new MemoryLink();
    const link = new ImpairedLink(inner, { rx: { lossRate: 0.1 }, clock: () => 0, random: seededRandom('gso-rx') });
    links.push(link);
    const received: LinkPacket[] = [];
    link.onReceive((batch) => received.push(...batch));
    for (let i = 0; i < 20; i++) {
      inner.deliver([{ packet: superPacket(true, i * data.length), meta: { checksumVerified: true, gsoType: 'tcpv6', gsoSize: MSS } }]);
    }
    expect(link.rx.stats.offered).toBe(20 * SEGMENTS);
    expect(link.rx.stats.lost).toBeGreaterThan(60);
    expect(link.rx.stats.lost).toBeLessThan(120);
    expect(received).toHaveLength(20 * SEGMENTS - link.rx.stats.lost);
    expect(received.every((p) => p.meta.gsoSize === undefined && p.meta.checksumVerified === true)).toBe(true);
    checkSegments(received.map((p) => p.packet), 40);
  });

  it('passes a packet with only a partial checksum through whole, its offload kept', () => {
    const inner = new MemoryLink();
    const link = new ImpairedLink(inner, { clock: () => 0, random: seededRandom(5) });
    links.push(link);
    const offload = { checksumStart: 20, checksumOffset: 16 };
    link.send(superPacket(false, 0), offload);
    expect(inner.sent).toHaveLength(1);
    expect(inner.offloads).toEqual([offload]);
  });
});
