// Which address a name-based dgram open() takes (stack/socket/dgram.ts): no race (a datagram
// has no handshake), the family P prefers, and RFC 8305 3's resolution delay instead of
// waiting for both lookups: the preferred family's answer decides at once, the other one's
// waits at most 50 ms for it.

import { describe, expect, it } from 'vitest';
import type { NameDgramSocket } from '../../stack/socket/dgram.js';
import { formatAddress } from '../../stack/wire/address.js';
import { ADDR, nameWorld, type NameWorld } from './name-world.js';

/** alice opens carol with dgram; the socket, the time it took and P before and after. */
function openCarol(w: NameWorld): { socket: NameDgramSocket; ms: number; p: number } {
  const t0 = w.net.now;
  let socket: NameDgramSocket | undefined;
  w.alice.names.openDgram({ peerName: 'carol.lab.test', service: 7, transport: 'dgram' }, t0, (r) => {
    if (!r.ok) throw r.error;
    socket = r.socket;
  });
  w.net.runUntil(() => socket !== undefined, t0 + 10_000);
  return { socket: socket!, ms: w.net.now - t0, p: w.alice.names.preferences.get('carol.lab.test') };
}

describe('dgram open: the family P prefers, no race', () => {
  it('P = 0: IPv6 (where names ride) once both answers are in; P is not learned', () => {
    const w = nameWorld();
    const r = openCarol(w);
    expect(formatAddress(r.socket.address)).toBe(ADDR.carol6);
    expect([r.ms, r.p]).toEqual([2, 0]);
  });

  it('P < 0: IPv4', () => {
    const w = nameWorld();
    w.alice.names.preferences.set('carol.lab.test', -3);
    const r = openCarol(w);
    expect(formatAddress(r.socket.address)).toBe(ADDR.carol4);
    expect(r.p).toBe(-3);
  });

  it('the preferred answer never comes: the other family 50 ms after its answer (RFC 8305 3), not after the DNS timeout', () => {
    const w = nameWorld({ ignoreQuery: (q) => q.question.type === 'AAAA' });
    const r = openCarol(w);
    expect(formatAddress(r.socket.address)).toBe(ADDR.carol4);
    expect(r.ms).toBe(2 + 50);
  });

  it('the other family never answers: the preferred answer decides at once', () => {
    const w = nameWorld({ ignoreQuery: (q) => q.question.type === 'A' });
    const r = openCarol(w);
    expect(formatAddress(r.socket.address)).toBe(ADDR.carol6);
    expect(r.ms).toBe(2);
  });

  it('no AAAA record: IPv4 as soon as both answers are in', () => {
    const zone = { 'carol.lab.test': { A: [ADDR.carol4], ttl: 5 } };
    const w = nameWorld({ zone });
    const r = openCarol(w);
    expect(formatAddress(r.socket.address)).toBe(ADDR.carol4);
    expect(r.ms).toBe(2);
  });
});
