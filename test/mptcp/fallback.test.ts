// Fallback to plain TCP (RFC 8684 3.7): a peer without MPTCP, a middlebox stripping the
// options from the start or after the SYNs, one dropping MPTCP SYNs (Linux resends the SYN
// without MP_CAPABLE after syn_retrans_before_tcp_fallback = 2), and a payload rewritten in
// flight under DSS checksums (MP_FAIL, infinite mapping). The byte stream survives each.

import { describe, expect, it } from 'vitest';
import type { MptcpConnection } from '../../stack/mptcp/connection.js';
import { mptcpConnectionStats } from '../../stack/mptcp/stats.js';
import { TcpConnection } from '../../stack/tcp/connection.js';
import { parsePacket } from '../../stack/wire/packet.js';
import { TCP_SYN } from '../../stack/wire/tcp.js';
import { isMptcp, mptcpPair, mptcpTransfer, Peer, randomBytes, serverV4, sha256, stripMptcp, tcpOf } from './sim-mptcp.js';

const PATH = { delayMs: 5, rateBitsPerSecond: 20_000_000, queueLimitPackets: 100 };

describe('fallback to plain TCP', () => {
  it('a server without MPTCP (SYN/ACK without MP_CAPABLE): the client carries on as TCP', () => {
    const p = mptcpPair({ seed: 'plain-server', paths: [{ params: PATH, ipv6: false }, { params: PATH, ipv6: false }] });
    const clientData = randomBytes(1_000_000, 'ps-c');
    const serverData = randomBytes(800_000, 'ps-s');
    let server: Peer | undefined;
    p.serverTcp.listen({ port: 80, onConnection: (conn) => (server = new Peer(conn, serverData, p.net)) });
    const conn = p.clientMptcp.connect({ remoteAddress: serverV4(1), remotePort: 80 }, p.net.now);
    const client = new Peer(conn, clientData, p.net);
    expect(p.net.runUntil(() => client.closed && server?.ended === true, 30_000)).toBe(true);
    expect(conn.fallback).toBe(true);
    expect(conn.fallbackCause).toBe('SYN/ACK without MP_CAPABLE');
    expect(conn.subflows.length).toBe(1);
    expect(client.error).toBeUndefined();
    expect(sha256(server!.received)).toBe(sha256(clientData));
    expect(sha256(client.received)).toBe(sha256(serverData));
  });

  it('options stripped on every packet: the listener sees a plain TCP client, the client falls back', () => {
    const p = mptcpPair({ seed: 'strip-all', paths: [{ params: PATH, ipv6: false }, { params: PATH, ipv6: false }] });
    p.toServer.edit = (pkt) => stripMptcp(pkt);
    p.toClient.edit = (pkt) => stripMptcp(pkt);
    const clientData = randomBytes(1_000_000, 'sa-c');
    const serverData = randomBytes(1_000_000, 'sa-s');
    const t = mptcpTransfer(p, { clientData, serverData });
    // The server is a plain TcpConnection: it closes only after TIME_WAIT; its end of stream is enough.
    expect(p.net.runUntil(() => t.client.closed && t.server()?.ended === true, 30_000)).toBe(true);
    expect(t.serverConn()).toBeInstanceOf(TcpConnection);
    expect((t.client.conn as MptcpConnection).fallback).toBe(true);
    expect(sha256(t.server()!.received)).toBe(sha256(clientData));
    expect(sha256(t.client.received)).toBe(sha256(serverData));
  });

  it('options stripped after the SYNs: the server falls back on the third ACK, the client on the first reply without DSS', () => {
    const p = mptcpPair({ seed: 'strip-late', paths: [{ params: PATH, ipv6: false }, { params: PATH, ipv6: false }] });
    const unlessSyn = (pkt: Parameters<typeof stripMptcp>[0]) => ((tcpOf(pkt)?.flags ?? 0) & TCP_SYN ? undefined : stripMptcp(pkt));
    p.toServer.edit = unlessSyn;
    p.toClient.edit = unlessSyn;
    const clientData = randomBytes(1_000_000, 'sl-c');
    const serverData = randomBytes(1_000_000, 'sl-s');
    const t = mptcpTransfer(p, { clientData, serverData });
    expect(p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 30_000)).toBe(true);
    const client = t.client.conn as MptcpConnection;
    const server = t.serverConn() as MptcpConnection;
    expect(isMptcp(server)).toBe(true);
    expect(server.fallback).toBe(true);
    expect(server.fallbackCause).toBe('third ACK without MP_CAPABLE');
    expect(client.fallback).toBe(true);
    expect(client.subflows.filter((s) => s.role === 'join-client').length).toBe(0);
    expect(sha256(t.server()!.received)).toBe(sha256(clientData));
    expect(sha256(t.client.received)).toBe(sha256(serverData));
  });

  it('MPTCP SYNs dropped: after 2 retransmissions the SYN goes without MP_CAPABLE and the connection works as TCP', () => {
    const p = mptcpPair({ seed: 'syn-drop', paths: [{ params: PATH, ipv6: false }] });
    const syns: boolean[] = [];
    p.toServer.edit = (pkt) => {
      const tcp = tcpOf(pkt);
      if (!tcp || !(tcp.flags & TCP_SYN)) return undefined;
      const mptcp = tcp.options.some((o) => o.kind === 'mptcp');
      syns.push(mptcp);
      return mptcp ? 'drop' : undefined;
    };
    const clientData = randomBytes(300_000, 'sd-c');
    const t = mptcpTransfer(p, { clientData });
    expect(p.net.runUntil(() => t.client.closed && t.server()?.ended === true, 60_000)).toBe(true);
    // The first SYN and two retransmissions carry MP_CAPABLE (Linux syn_retrans_before_tcp_fallback = 2).
    expect(syns).toEqual([true, true, true, false]);
    expect((t.client.conn as MptcpConnection).fallback).toBe(true);
    expect(t.serverConn()).toBeInstanceOf(TcpConnection);
    expect(sha256(t.server()!.received)).toBe(sha256(clientData));
  });
});

describe('DSS checksum failure (RFC 8684 3.7)', () => {
  it('a payload rewritten in flight: MP_FAIL, the infinite mapping, both sides continue as TCP', () => {
    const p = mptcpPair({ seed: 'csum', paths: [{ params: PATH, ipv6: false }], clientConfig: { mptcp: { checksum: true } } });
    const clientData = randomBytes(1_000_000, 'cs-c');
    const serverData = randomBytes(500_000, 'cs-s');
    const fails: bigint[] = [];
    const infinite: number[] = [];
    let rewritten: { value: number } | undefined;
    let dataSeen = 0;
    p.toServer.edit = (pkt) => {
      const tcp = tcpOf(pkt);
      if (!tcp || pkt.payload.length === 0) return undefined;
      dataSeen++;
      // A payload-rewriting middlebox, once, on the 40th data segment: TCP sees a valid segment.
      if (dataSeen !== 40 || rewritten) return undefined;
      const payload = pkt.payload.slice();
      payload[10]! ^= 0x20;
      rewritten = { value: payload[10]! };
      return { ...pkt, payload };
    };
    p.net.onTrace((e) => {
      if (e.kind !== 'sent') return;
      const r = parsePacket(e.packet);
      const tcp = r.ok ? tcpOf(r.value) : undefined;
      for (const o of tcp?.options ?? []) {
        if (o.kind !== 'mptcp') continue;
        if (o.option.subtype === 'mpFail') fails.push(o.option.dsn);
        if (o.option.subtype === 'dss' && o.option.mapping?.dataLength === 0) infinite.push(e.time);
      }
    });
    const t = mptcpTransfer(p, { clientData, serverData });
    expect(p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 60_000)).toBe(true);
    const client = t.client.conn as MptcpConnection;
    const server = t.serverConn() as MptcpConnection;
    expect(rewritten).toBeDefined();
    expect(mptcpConnectionStats(server).checksumFailures).toBe(1);
    expect(fails.length).toBeGreaterThan(0);
    expect(infinite.length).toBeGreaterThan(0);
    expect(server.fallback).toBe(true);
    expect(client.fallback).toBe(true);
    expect(client.counters.mpFailReceived).toBeGreaterThan(0);
    // As plain TCP, the stream is whole and in order; only the rewritten byte differs (Linux
    // keeps the data TCP already acknowledged, as we do).
    const got = Buffer.concat(t.server()!.received);
    expect(got.length).toBe(clientData.length);
    let diffs = 0;
    for (let i = 0; i < got.length; i++) if (got[i] !== clientData[i]) diffs++;
    expect(diffs).toBe(1);
    expect(sha256(t.client.received)).toBe(sha256(serverData));
  });

  it('with several subflows the failing one is reset (MP_FAIL, MP_TCPRST 6) and its data arrives through the others', () => {
    const p = mptcpPair({ seed: 'csum-multi', paths: [{ params: PATH, ipv6: false }, { params: PATH, ipv6: false }], clientConfig: { mptcp: { checksum: true } } });
    const clientData = randomBytes(2_000_000, 'cm-c');
    const resets: number[] = [];
    let dataOnPath2 = 0;
    p.toServer.edit = (pkt) => {
      if (pkt.payload.length === 0) return undefined;
      const src = pkt.ip.repr.src;
      if (src[1] !== 2) return undefined;
      // The 20th data segment from the client's second address is rewritten.
      if (++dataOnPath2 !== 20) return undefined;
      const payload = pkt.payload.slice();
      payload[0]! ^= 0x01;
      return { ...pkt, payload };
    };
    p.net.onTrace((e) => {
      if (e.kind !== 'sent') return;
      const r = parsePacket(e.packet);
      const tcp = r.ok ? tcpOf(r.value) : undefined;
      for (const o of tcp?.options ?? []) if (o.kind === 'mptcp' && o.option.subtype === 'mpTcpRst') resets.push(o.option.reason);
    });
    const t = mptcpTransfer(p, { clientData });
    expect(p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 60_000)).toBe(true);
    const server = t.serverConn() as MptcpConnection;
    expect(mptcpConnectionStats(server).checksumFailures).toBe(1);
    expect(server.fallback).toBe(false);
    expect(resets).toContain(0x06);
    // Nothing corrupted reached the application: the sender reinjected what the reset subflow carried.
    expect(sha256(t.server()!.received)).toBe(sha256(clientData));
    expect(mptcpConnectionStats(t.client.conn as MptcpConnection).reinjectedBytes).toBeGreaterThan(0);
  });
});
