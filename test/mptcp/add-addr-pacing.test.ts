// ADD_ADDR to a peer that, like Linux, takes one announcement at a time. Linux keeps a single
// received ADD_ADDR for its path-manager worker (pm.c mptcp_pm_add_addr_received: pm->remote)
// and drops, without an echo, one that arrives before the worker ran (MPTcpExtAddAddrDrop).
// In the lab a namestack server that announced its three other addresses back to back lost
// the IPv4 one about 1 run in 5 (the kernel client echoed only ID 1, AddAddrDrop 1-2, never
// joined). A middlebox in front of the client drops every ADD_ADDR that arrives within 1 ms
// of the one it let through, as the busy worker does.

import { describe, expect, it } from 'vitest';
import type { MptcpConnection } from '../../stack/mptcp/connection.js';
import { mptcpConnectionStats } from '../../stack/mptcp/stats.js';
import { formatAddress } from '../../stack/wire/address.js';
import { parsePacket } from '../../stack/wire/packet.js';
import { mptcpPair, mptcpTransfer, randomBytes, serverV4, sha256, tcpOf } from './sim-mptcp.js';

const PATH = { delayMs: 5, rateBitsPerSecond: 20_000_000, queueLimitPackets: 100 };
/** How long the peer's path-manager worker keeps its single slot busy. */
const WORKER_MS = 1;

describe('ADD_ADDR to a peer that takes one at a time (Linux)', () => {
  it('announces the next address only after the echo: none dropped, all echoed, the IPv4 one first and joined', () => {
    const p = mptcpPair({ seed: 'add-addr-pacing', paths: [{ params: PATH }, { params: PATH }] });
    let busyUntil = -1;
    const announced: string[] = [];
    p.toClient.edit = (pkt) => {
      const tcp = tcpOf(pkt);
      for (const o of tcp?.options ?? []) {
        if (o.kind !== 'mptcp' || o.option.subtype !== 'addAddr' || o.option.echo) continue;
        if (p.net.now < busyUntil) return 'drop';
        busyUntil = p.net.now + WORKER_MS;
        announced.push(`${o.option.addressId} ${formatAddress(o.option.address)}`);
      }
      return undefined;
    };
    const echoes: number[] = [];
    p.net.onTrace((e) => {
      if (e.kind !== 'sent') return;
      const r = parsePacket(e.packet);
      const tcp = r.ok ? tcpOf(r.value) : undefined;
      for (const o of tcp?.options ?? []) if (o.kind === 'mptcp' && o.option.subtype === 'addAddr' && o.option.echo) echoes.push(o.option.addressId);
    });
    const clientData = randomBytes(1_000_000, 'pacing-c');
    const serverData = randomBytes(1_000_000, 'pacing-s');
    const t = mptcpTransfer(p, { clientData, serverData });
    expect(p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 60_000)).toBe(true);
    expect(sha256(t.server()!.received)).toBe(sha256(clientData));
    expect(sha256(t.client.received)).toBe(sha256(serverData));
    expect(p.toClient.dropped).toBe(0);
    // The server's other addresses: 10.2.0.2 (the connection's family) before fd01::2, fd02::2.
    expect(announced).toEqual(['2 10.2.0.2', '1 fd01::2', '3 fd02::2']);
    expect(echoes).toEqual([2, 1, 3]);
    const client = mptcpConnectionStats(t.client.conn as MptcpConnection);
    expect(client.subflows.some((f) => f.remote === `${serverV4(2)}:5001` && f.bytesReceived > 100_000)).toBe(true);
  });
});
