// Joins refused (unknown token, bad HMAC on the SYN/ACK or on the third ACK), an ADD_ADDR
// with a bad HMAC ignored, MP_FASTCLOSE, and MP_PRIO: a middlebox in front of one host
// rewrites the option in flight and the other side must react as RFC 8684 and Linux say.

import { describe, expect, it } from 'vitest';
import type { MptcpConnection } from '../../stack/mptcp/connection.js';
import { mptcpConnectionStats } from '../../stack/mptcp/stats.js';
import { MP_TCPRST_ADMIN_PROHIBITED, MP_TCPRST_MPTCP_ERROR, type MptcpOption } from '../../stack/wire/mptcp-options.js';
import { TCP_RST } from '../../stack/wire/tcp.js';
import { editMptcp, mptcpPair, mptcpTransfer, randomBytes, sha256, tcpOf, type MptcpPair } from './sim-mptcp.js';
import { parsePacket } from '../../stack/wire/packet.js';

const PATH = { delayMs: 5, rateBitsPerSecond: 20_000_000, queueLimitPackets: 100 };

function twoPaths(seed: string): MptcpPair {
  return mptcpPair({ seed, paths: [{ params: PATH, ipv6: false }, { params: PATH, ipv6: false }] });
}

/** MPTCP options of RSTs seen on the network (sent by either host). */
function watchResets(p: MptcpPair): MptcpOption[][] {
  const resets: MptcpOption[][] = [];
  p.net.onTrace((e) => {
    if (e.kind !== 'sent') return;
    const r = parsePacket(e.packet);
    const tcp = r.ok ? tcpOf(r.value) : undefined;
    if (tcp && tcp.flags & TCP_RST) resets.push(tcp.options.flatMap((o) => (o.kind === 'mptcp' ? [o.option] : [])));
  });
  return resets;
}

const flip = (b: Uint8Array): Uint8Array => {
  const c = b.slice();
  c[0]! ^= 0xff;
  return c;
};

function runToEnd(p: MptcpPair, bytes = 500_000) {
  const clientData = randomBytes(bytes, 'sig-c');
  const serverData = randomBytes(bytes, 'sig-s');
  const t = mptcpTransfer(p, { clientData, serverData });
  const done = p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 60_000);
  expect(done).toBe(true);
  expect(sha256(t.server()!.received)).toBe(sha256(clientData));
  expect(sha256(t.client.received)).toBe(sha256(serverData));
  return { client: t.client.conn as MptcpConnection, server: t.server()!.conn as MptcpConnection };
}

describe('MP_JOIN refused', () => {
  it('an unknown token gets a RST with MP_TCPRST (reason 1); the pair is not retried', () => {
    const p = twoPaths('join-token');
    const resets = watchResets(p);
    p.toServer.edit = (pkt) => editMptcp(pkt, (o) => (o.subtype === 'mpJoinSyn' ? { ...o, token: (o.token ^ 0x5a5a5a5a) >>> 0 } : undefined));
    const { client } = runToEnd(p);
    expect(p.serverMptcp.counters.joinNoToken).toBeGreaterThan(0);
    expect(resets.some((r) => r.some((o) => o.subtype === 'mpTcpRst' && o.reason === MP_TCPRST_MPTCP_ERROR))).toBe(true);
    const s = mptcpConnectionStats(client);
    expect(s.subflows.filter((f) => f.role === 'join-client' && f.fullyEstablished)).toEqual([]);
    // Each pair was tried once: a refusal is not a transient failure.
    expect(s.subflows.filter((f) => f.role === 'join-client').length).toBe(3);
  });

  it('a bad HMAC on the SYN/ACK: the client resets the join with MP_TCPRST (reason 1)', () => {
    const p = twoPaths('join-synack');
    const resets = watchResets(p);
    p.toClient.edit = (pkt) => editMptcp(pkt, (o) => (o.subtype === 'mpJoinSynAck' ? { ...o, hmac: flip(o.hmac) } : undefined));
    const { client, server } = runToEnd(p);
    expect(client.counters.joinsRejected).toBe(3);
    expect(client.events.entries().filter((e) => e.event.kind === 'join-rejected' && e.event.reason.includes('HMAC')).length).toBe(3);
    expect(resets.filter((r) => r.some((o) => o.subtype === 'mpTcpRst' && o.reason === MP_TCPRST_MPTCP_ERROR)).length).toBeGreaterThanOrEqual(3);
    expect(mptcpConnectionStats(server).subflows.filter((f) => f.role === 'join-server' && f.fullyEstablished)).toEqual([]);
  });

  it('a bad HMAC on the third ACK: the server resets the join with MP_TCPRST (reason 3, administratively prohibited)', () => {
    const p = twoPaths('join-ack');
    const resets = watchResets(p);
    p.toServer.edit = (pkt) => editMptcp(pkt, (o) => (o.subtype === 'mpJoinAck' ? { ...o, hmac: flip(o.hmac) } : undefined));
    const { server } = runToEnd(p);
    expect(server.counters.joinsRejected).toBeGreaterThan(0);
    expect(resets.some((r) => r.some((o) => o.subtype === 'mpTcpRst' && o.reason === MP_TCPRST_ADMIN_PROHIBITED))).toBe(true);
    expect(mptcpConnectionStats(server).subflows.filter((f) => f.role === 'join-server' && f.fullyEstablished)).toEqual([]);
  });
});

describe('MP_JOIN third ACK', () => {
  it('is sent again when lost until the fourth ACK arrives (Linux: every 200 ms), and the joins then carry data', () => {
    const p = twoPaths('join-ack-lost');
    let dropped = 0;
    // Lose the first MP_JOIN third ACK of every join.
    const seen = new Set<number>();
    p.toServer.edit = (pkt) => {
      const tcp = tcpOf(pkt);
      if (!tcp || !tcp.options.some((o) => o.kind === 'mptcp' && o.option.subtype === 'mpJoinAck')) return undefined;
      if (seen.has(tcp.srcPort)) return undefined;
      seen.add(tcp.srcPort);
      dropped++;
      return 'drop';
    };
    const { client, server } = runToEnd(p, 2_000_000);
    expect(dropped).toBe(3);
    const joins = mptcpConnectionStats(client).subflows.filter((f) => f.role === 'join-client');
    expect(joins.length).toBe(3);
    expect(joins.every((f) => f.fullyEstablished)).toBe(true);
    expect(joins.reduce((n, f) => n + f.dataBytesSent, 0)).toBeGreaterThan(0);
    expect(mptcpConnectionStats(server).subflows.filter((f) => f.role === 'join-server' && f.fullyEstablished).length).toBe(3);
  });
});

describe('address signals', () => {
  it('an ADD_ADDR with a bad HMAC is ignored: no echo, no join to it', () => {
    const p = twoPaths('addaddr');
    const echoes: number[] = [];
    p.toClient.edit = (pkt) => editMptcp(pkt, (o) => (o.subtype === 'addAddr' && !o.echo ? { ...o, hmac: flip(o.hmac!) } : undefined));
    p.net.onTrace((e) => {
      if (e.kind !== 'sent') return;
      const r = parsePacket(e.packet);
      const tcp = r.ok ? tcpOf(r.value) : undefined;
      for (const o of tcp?.options ?? []) if (o.kind === 'mptcp' && o.option.subtype === 'addAddr' && o.option.echo) echoes.push(o.option.addressId);
    });
    const { client } = runToEnd(p);
    const s = mptcpConnectionStats(client);
    expect(s.addAddrBadHmac).toBeGreaterThan(0);
    expect(s.addAddrReceived).toBe(0);
    expect(echoes).toEqual([]);
    // Only the join from the client's second address to the server's initial one.
    expect(s.subflows.filter((f) => f.role === 'join-client').map((f) => f.remote)).toEqual(['10.1.0.2:5001']);
  });

  it('a valid ADD_ADDR is echoed and joined (full mesh: 2 x 2 subflows)', () => {
    const p = twoPaths('addaddr-ok');
    const { client, server } = runToEnd(p);
    expect(mptcpConnectionStats(client).addAddrReceived).toBe(1);
    expect(server.events.count('announce')).toBe(1);
    expect(mptcpConnectionStats(client).subflows.filter((f) => f.fullyEstablished).length).toBe(4);
  });
});

describe('MP_FASTCLOSE', () => {
  it('destroy() resets every subflow with MP_FASTCLOSE (the peer key) and MP_TCPRST; the peer closes with ECONNRESET', () => {
    const p = twoPaths('fastclose');
    const resets = watchResets(p);
    const t = mptcpTransfer(p, { clientData: randomBytes(2_000_000, 'fc'), serverData: randomBytes(2_000_000, 'fs') });
    p.net.runUntil(() => (t.server()?.receivedBytes ?? 0) > 300_000, 10_000);
    const client = t.client.conn as MptcpConnection;
    const server = t.server()!.conn as MptcpConnection;
    const open = client.subflows.filter((s) => !s.closed).length;
    expect(open).toBe(4);
    client.destroy();
    expect(p.net.runUntil(() => t.server()!.closed, 5000)).toBe(true);
    expect(t.server()!.error?.message).toMatch(/ECONNRESET/);
    expect(server.counters.fastcloseReceived).toBe(true);
    expect(server.subflows.every((s) => s.closed)).toBe(true);
    const fast = resets.filter((r) => r.some((o) => o.subtype === 'mpFastclose' && o.receiverKey === server.localKey));
    expect(fast.length).toBe(open);
    // Linux puts MP_TCPRST next to it (reason 0).
    for (const r of fast) expect(r.some((o) => o.subtype === 'mpTcpRst' && o.reason === 0)).toBe(true);
  });
});
