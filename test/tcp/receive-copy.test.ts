// The receive path's one copy (receiver.ts): payload in a borrowed packet is copied before it
// is queued for the application; a packet the driver gave away (RxMeta.owned, as the TUN
// runtime and the simulated network do) keeps its bytes where a view fills at least half the
// buffer (a TUN read buffer holding one super-packet), so the bulk path copies nothing.

import { describe, expect, it } from 'vitest';
import { accept, pattern, TcpTrace } from './trace.js';

/** The peer's packet carrying `length` pattern bytes at `seq`, inside a buffer of `bufferBytes`. */
function packetIn(tr: TcpTrace, seq: number, ack: number, length: number, bufferBytes: number): Uint8Array {
  const p = tr.packet({ flags: 'P.', seq, ack, data: pattern(0, length) });
  const buffer = new Uint8Array(bufferBytes);
  buffer.set(p);
  return buffer.subarray(0, p.length);
}

describe('receive copy', () => {
  it('copies payload out of a borrowed packet: the driver may reuse it at once', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    const packet = packetIn(tr, theirs, ours, 30_000, 30_100);
    tr.host.input(1, packet, tr.now);
    packet.fill(0);
    const chunk = conn.read()!;
    expect(chunk.buffer).not.toBe(packet.buffer);
    expect(chunk).toEqual(pattern(0, 30_000));
  });

  it('keeps a super-segment of an owned packet where it is (no copy)', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    const packet = packetIn(tr, theirs, ours, 30_000, 30_100);
    tr.host.input(1, packet, tr.now, { owned: true });
    const chunk = conn.read()!;
    expect(chunk.buffer).toBe(packet.buffer);
    expect(chunk).toEqual(pattern(0, 30_000));
  });

  it('copies a small payload of an owned packet that would pin a much larger buffer, in order and out of order', () => {
    const tr = new TcpTrace();
    const { conn, ours, theirs } = accept(tr);
    const late = packetIn(tr, theirs + 1000, ours, 1000, 65_546);
    tr.host.input(1, late, tr.now, { owned: true });
    const first = packetIn(tr, theirs, ours, 1000, 65_546);
    tr.host.input(1, first, tr.now, { owned: true });
    const chunks: Uint8Array[] = [];
    for (let c = conn.read(); c; c = conn.read()) chunks.push(c);
    expect(chunks.map((c) => c.length)).toEqual([1000, 1000]);
    for (const c of chunks) expect([late.buffer, first.buffer]).not.toContain(c.buffer);
  });
});
