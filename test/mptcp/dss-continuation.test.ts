// RFC 8684 3.3: a DSS mapping covers all its bytes however many segments carry them, so a
// subflow puts the DSS on the first segment of a mapping and sends the rest without it
// (Subflow.continuation), 24 bytes more payload each; retransmissions always carry it.
// Checked on the wire of a simulated lossy pair, with the transfer intact both ways.

import { describe, expect, it } from 'vitest';
import type { MptcpConnection } from '../../stack/mptcp/connection.js';
import { mptcpConnectionStats } from '../../stack/mptcp/stats.js';
import { parsePacket } from '../../stack/wire/packet.js';
import { TCP_SYN } from '../../stack/wire/tcp.js';
import { mptcpPair, mptcpTransfer, randomBytes, sha256 } from './sim-mptcp.js';

interface DataSegment {
  subflow: string;
  /** Relative to the subflow's ISN, as a DSS subflow sequence number. */
  rel: number;
  length: number;
  mapping: { start: number; length: number } | undefined;
}

describe('DSS on the first segment of a mapping only', () => {
  it('segments inside a mapping go without DSS (1448 bytes instead of 1424), retransmissions with it; 4 MB + 256 KB intact', () => {
    const p = mptcpPair({
      seed: 'continuation',
      paths: [
        { ipv6: false, params: { delayMs: 5, rateBitsPerSecond: 50e6, lossRate: 0.01, queueLimitPackets: 100 } },
        { ipv6: false, params: { delayMs: 10, rateBitsPerSecond: 50e6, queueLimitPackets: 100 } },
      ],
    });
    const client = new Set(['10.1.0.1', '10.2.0.1']);
    const iss = new Map<string, number>();
    const segments: DataSegment[] = [];
    p.net.onTrace((e) => {
      if (e.kind !== 'sent') return;
      const r = parsePacket(e.packet);
      if (!r.ok || r.value.transport.protocol !== 'tcp' || !client.has(Array.from(r.value.ip.repr.src).join('.'))) return;
      const t = r.value.transport.repr;
      const key = `${Array.from(r.value.ip.repr.src).join('.')}:${t.srcPort}`;
      if (t.flags & TCP_SYN) iss.set(key, t.seq);
      const base = iss.get(key);
      if (base === undefined || r.value.payload.length === 0) return;
      let mapping: DataSegment['mapping'];
      for (const o of t.options) {
        if (o.kind === 'mptcp' && o.option.subtype === 'dss' && o.option.mapping) mapping = { start: o.option.mapping.subflowSeq, length: o.option.mapping.dataLength };
        if (o.kind === 'mptcp' && o.option.subtype === 'mpCapable' && o.option.dataLength !== undefined) mapping = { start: 1, length: o.option.dataLength };
      }
      segments.push({ subflow: key, rel: (t.seq - base) >>> 0, length: r.value.payload.length, mapping });
    });
    const up = randomBytes(4 << 20, 'cont-up');
    const down = randomBytes(256 << 10, 'cont-down');
    const t = mptcpTransfer(p, { clientData: up, serverData: down });
    expect(p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 60_000)).toBe(true);
    expect(sha256(t.server()!.received)).toBe(sha256(up));
    expect(sha256(t.client.received)).toBe(sha256(down));
    expect(mptcpConnectionStats(t.client.conn as MptcpConnection).fallback).toBe(false);

    // Every segment without a DSS lies inside a mapping its subflow announced before.
    const mappings = new Map<string, { start: number; length: number }[]>();
    const seen = new Map<string, Set<number>>();
    let bare = 0;
    let retransmitted = 0;
    for (const s of segments) {
      const known = mappings.get(s.subflow) ?? [];
      mappings.set(s.subflow, known);
      const sent = seen.get(s.subflow) ?? new Set<number>();
      seen.set(s.subflow, sent);
      if (sent.has(s.rel)) {
        retransmitted++;
        expect(s.mapping, `retransmission at ${s.subflow} +${s.rel}`).toBeDefined();
      }
      sent.add(s.rel);
      if (s.mapping) {
        known.push(s.mapping);
        expect(s.length).toBeLessThanOrEqual(1424);
        continue;
      }
      bare++;
      expect(s.length).toBeLessThanOrEqual(1448);
      expect(known.some((m) => s.rel >= m.start && s.rel + s.length <= m.start + m.length), `${s.subflow} +${s.rel}`).toBe(true);
    }
    expect(retransmitted).toBeGreaterThan(10);
    // Most of the upload goes without DSS, in segments 24 bytes longer.
    expect(bare).toBeGreaterThan(segments.length / 2);
    expect(segments.filter((s) => !s.mapping && s.length === 1448).length).toBeGreaterThan(segments.length / 3);
  });
});
