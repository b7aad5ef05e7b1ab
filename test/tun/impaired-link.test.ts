// ImpairedLink over an in-memory link with a hand-driven clock: what it holds is bounded.

import { afterEach, describe, expect, it } from 'vitest';
import { ImpairedLink } from '../../tun/impaired-link.js';
import type { LinkPacket } from '../../tun/link.js';
import { seededRandom } from '../../stack/random.js';
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
