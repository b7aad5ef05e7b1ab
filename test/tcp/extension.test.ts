// The TcpExtension hook (extension.ts) with a toy extension in the place MPTCP will take:
// options on every kind of segment, incoming options and the veto, payload diverted with
// its subflow sequence numbers, an overridden receive window, tagged writes whose
// retransmissions carry the same tag, a RST with options, an ACK on request.

import { describe, expect, it } from 'vitest';
import type { OutgoingSegment, TcpExtension } from '../../stack/tcp/extension.js';
import type { ReceivedSegment } from '../../stack/tcp/received-segment.js';
import type { TcpState } from '../../stack/tcp/state.js';
import type { TcpOption } from '../../stack/wire/tcp-options.js';
import { describeTcpPacket } from './describe-segment.js';
import { B4, randomBytes, sha256, simPair } from './sim-pair.js';
import { accept, TcpTrace } from './trace.js';

const KIND_HELLO = 253;
const KIND_TAG = 254;
const KIND_RESET = 252;

/** Marks every segment with its kind, tags mapped payload, collects what it sees. */
class ToyExtension implements TcpExtension {
  readonly dataOptionSpace = 8;
  readonly sent: { kind: OutgoingSegment['kind']; seq: number; length: number; retransmission: boolean; tag: number | undefined; offset: number | undefined }[] = [];
  readonly seen: { state: TcpState; hello: number | undefined }[] = [];
  readonly payload: { seq: number; data: Uint8Array }[] = [];
  readonly states: TcpState[] = [];
  window: number | undefined = undefined;
  vetoOn: number | undefined = undefined;

  outgoingOptions(seg: OutgoingSegment, room: number): readonly TcpOption[] | undefined {
    const m = seg.mapping;
    this.sent.push({ kind: seg.kind, seq: seg.seq, length: seg.payloadLength, retransmission: seg.retransmission, tag: m?.tag, offset: m && ((seg.seq - m.seq) >>> 0) });
    expect(room).toBeGreaterThanOrEqual(8);
    const code = { syn: 1, 'syn-ack': 2, 'handshake-ack': 3, segment: 4, reset: 5 }[seg.kind];
    const out: TcpOption[] = [{ kind: 'unknown', type: KIND_HELLO, data: new Uint8Array([code]) }];
    if (m) out.push({ kind: 'unknown', type: KIND_TAG, data: new Uint8Array([m.tag, (seg.seq - m.seq) & 0xff]) });
    return out;
  }

  incomingSegment(seg: ReceivedSegment, state: TcpState): 'accept' | 'reset' {
    const hello = seg.options().find((o) => o.kind === 'unknown' && o.type === KIND_HELLO);
    const code = hello?.kind === 'unknown' ? hello.data[0] : undefined;
    this.seen.push({ state, hello: code });
    return code !== undefined && code === this.vetoOn ? 'reset' : 'accept';
  }

  onPayload(seq: number, data: Uint8Array): void {
    this.payload.push({ seq, data });
  }

  receiveWindow(): number | undefined {
    return this.window;
  }

  resetOptions(): readonly TcpOption[] {
    return [{ kind: 'unknown', type: KIND_RESET, data: new Uint8Array([7, 7]) }];
  }

  onStateChange(state: TcpState): void {
    this.states.push(state);
  }
}

describe('TcpExtension', () => {
  it('rides on both ends of a connection from the SYN on, and takes the payload', () => {
    const p = simPair({ impairment: { delayMs: 5 } });
    const client = new ToyExtension();
    const server = new ToyExtension();
    const options: string[] = [];
    p.net.onTrace((e) => {
      if (e.kind === 'sent') options.push(describeTcpPacket(e.packet) ?? '');
    });
    p.tcpB.listen({ port: 80, extension: () => server, onConnection: () => {} });
    const conn = p.tcpA.connect({ remoteAddress: B4, remotePort: 80, extension: client }, 0);
    conn.write(new Uint8Array([1, 2, 3]));
    p.net.run(100);
    expect(client.sent.map((s) => s.kind)).toEqual(['syn', 'handshake-ack', 'segment']);
    expect(server.sent.map((s) => s.kind).slice(0, 2)).toEqual(['syn-ack', 'segment']);
    // Options seen on the other side, SYN and SYN-ACK included.
    expect(server.seen.map((s) => s.hello)).toEqual([3, 4]);
    expect(client.seen.map((s) => `${s.state}:${s.hello}`)).toEqual(['SYN_SENT:2', 'ESTABLISHED:4']);
    expect(options.every((o) => o.includes('opt253'))).toBe(true);
    // The payload went to the extension with its subflow sequence number, not to read().
    expect(server.payload.map((x) => [...x.data])).toEqual([[1, 2, 3]]);
    expect(server.payload[0]!.seq).toBe((conn.iss + 1) >>> 0);
    expect(client.states).toEqual(['SYN_SENT', 'ESTABLISHED']);
  });

  it('lowers the MSS by dataOptionSpace so full segments still fit the MTU', () => {
    const tr = new TcpTrace();
    const ext = new ToyExtension();
    const { conn } = accept(tr, { listen: { extension: () => ext } });
    expect(conn.stats().mss).toBe(1460 - 8);
    conn.write(randomBytes(5000, 'mss'));
    const segs = tr.recv();
    expect(Math.max(...segs.map((s) => s.len))).toBeLessThanOrEqual(1452);
    expect(tr.raw.every((pkt) => pkt.length <= 1500)).toBe(true);
  });

  it('takes a tagged write in several arrays, and a write continuing the last one with its tag, as one write', () => {
    const tr = new TcpTrace();
    const ext = new ToyExtension();
    const { conn, ours } = accept(tr, { listen: { extension: () => ext }, rttMs: 100 });
    conn.setNoDelay(true);
    const a = randomBytes(1000, 'a');
    const b = randomBytes(1000, 'b');
    const c = randomBytes(904, 'c');
    // Two arrays, one tag; then more bytes under the same tag right after them.
    expect(conn.writeMapped([a, b], 7)).toBe(2000);
    expect(conn.writeMapped(c, 7)).toBe(904);
    const segs = tr.recv();
    // Segments cross the arrays' edges: one tagged write of 2904 bytes.
    expect(segs.map((s) => [s.seq - ours, s.len])).toEqual([
      [0, 1452],
      [1452, 1452],
    ]);
    expect(Buffer.concat(segs.map((s) => s.payload))).toEqual(Buffer.concat([a, b, c]));
    // One super-segment left with the one tag (the host cut it for the wire).
    expect(ext.sent.filter((s) => s.length > 0).map((s) => [s.tag, s.offset, s.length])).toEqual([[7, 0, 2904]]);
  });

  it('keeps each tagged write in its own segments, also when retransmitted', () => {
    const tr = new TcpTrace();
    const ext = new ToyExtension();
    const { conn, ours, theirs } = accept(tr, { listen: { extension: () => ext }, rttMs: 100 });
    // (Nagle would hold the short pieces back; this test is about where segments end.)
    conn.setNoDelay(true);
    conn.writeMapped(randomBytes(1000, 'w1'), 1);
    conn.writeMapped(randomBytes(3000, 'w2'), 2);
    conn.write(randomBytes(500, 'w3'));
    const first = tr.recv();
    // Boundaries at 1000 and 4000; the untagged bytes go on their own.
    expect(first.map((s) => [s.seq - ours, s.len])).toEqual([
      [0, 1000],
      [1000, 1452],
      [2452, 1452],
      [3904, 96],
      [4000, 500],
    ]);
    const sentData = ext.sent.filter((s) => s.length > 0);
    expect(sentData.map((s) => [s.tag, s.offset])).toEqual([
      [1, 0],
      [2, 0],
      [undefined, undefined],
    ]);
    // The second write's first 1452 bytes are lost: the RTO resends them with the same tag and offset.
    tr.send(200, { flags: '.', seq: theirs, ack: ours + 1000 });
    const retx = tr.recvNext(10_000)!;
    expect(retx).toMatchObject({ seq: ours + 1000 });
    const last = ext.sent.at(-1)!;
    expect(last).toMatchObject({ retransmission: true, tag: 2, offset: 0 });
  });

  it('advertises the window the extension gives (RFC 8684 3.3.4 shared window)', () => {
    const tr = new TcpTrace();
    const ext = new ToyExtension();
    const { conn, ours, theirs } = accept(tr, { wscale: 7, listen: { extension: () => ext } });
    ext.window = 5000 * 128;
    tr.send(200, { flags: 'P.', seq: theirs, ack: ours, data: 100 });
    const ack = tr.recvOne();
    expect(ack.win).toBe(5000);
    expect(conn.readableLength).toBe(0);
  });

  it('resets with its options when it vetoes a segment, and sends an ACK on request', () => {
    const tr = new TcpTrace();
    const ext = new ToyExtension();
    const { conn, ours, theirs } = accept(tr, { listen: { extension: () => ext } });
    conn.sendAck();
    expect(tr.recvOne()).toMatchObject({ flags: '.', seq: ours, ack: theirs });
    expect(ext.sent.at(-1)!.kind).toBe('segment');
    let code: string | undefined;
    conn.handler = { onClose: (_c, e) => (code = e?.code) };
    ext.vetoOn = 9;
    tr.send(300, { flags: '.', seq: theirs, ack: ours, extraOptions: [{ kind: 'unknown', type: KIND_HELLO, data: new Uint8Array([9]) }] });
    const rst = tr.recvOne();
    expect(rst).toMatchObject({ flags: 'R', seq: ours });
    expect(describeTcpPacket(tr.raw.at(-1)!)).toContain('opt252');
    expect(code).toBe('ECONNABORTED');
  });

  it('moves data through a lossy path with the payload diverted on both sides', () => {
    const p = simPair({ impairment: { delayMs: 5, lossRate: 0.02 } });
    const client = new ToyExtension();
    const server = new ToyExtension();
    p.tcpB.listen({ port: 80, extension: () => server, onConnection: () => {} });
    const conn = p.tcpA.connect({ remoteAddress: B4, remotePort: 80, extension: client }, 0);
    const data = randomBytes(500_000, 'ext');
    let off = 0;
    const pump = () => {
      while (off < data.length) {
        const n = conn.writeMapped(data.subarray(off, Math.min(off + 20_000, data.length)), (off / 20_000) & 0xff);
        if (n === 0) return;
        off += n;
      }
    };
    conn.handler = { onConnect: pump, onWritable: pump };
    p.net.runUntil(() => server.payload.reduce((n, x) => n + x.data.length, 0) === data.length, 60_000);
    // In order, contiguous, by subflow sequence number.
    let seq = (conn.iss + 1) >>> 0;
    for (const x of server.payload) {
      expect(x.seq).toBe(seq);
      seq = (seq + x.data.length) >>> 0;
    }
    expect(sha256(server.payload.map((x) => x.data))).toBe(sha256(data));
    // Every transmission of tagged bytes stayed within its write.
    for (const s of client.sent) if (s.tag !== undefined) expect(s.offset! + s.length).toBeLessThanOrEqual(20_000);
    expect(client.sent.some((s) => s.retransmission && s.tag !== undefined)).toBe(true);
  });
});

