// Opening connections (RFC 9293 3.5): option negotiation, SYN and SYN-ACK retransmission
// with exponential backoff, simultaneous open, refusal, and the reset rules of the
// handshake states, as packet traces against one host.

import { describe, expect, it } from 'vitest';
import type { TcpConnection } from '../../stack/tcp/connection.js';
import type { TcpError } from '../../stack/tcp/errors.js';
import { show, TcpTrace } from './trace.js';

const ISN = 1000;

function listenAndCollect(tr: TcpTrace, opts: Record<string, unknown> = {}): TcpConnection[] {
  const accepted: TcpConnection[] = [];
  tr.tcp.listen({ port: 5000, onConnection: (c) => accepted.push(c), ...opts });
  return accepted;
}

describe('passive open', () => {
  it('answers a SYN with a SYN-ACK offering what the SYN offered, and accepts on the third ACK', () => {
    const tr = new TcpTrace();
    const accepted = listenAndCollect(tr);
    tr.send(0, { flags: 'S', seq: ISN, mss: 1460, sackOk: true, ts: [100, 0], wscale: 7 });
    const synAck = tr.recvOne();
    expect(synAck).toMatchObject({ flags: 'S.', ack: ISN + 1, win: 65535, mss: 1460, sackOk: true, wscale: 7 });
    expect(synAck.ts?.[1]).toBe(100);
    expect(accepted).toHaveLength(0);
    tr.send(10, { flags: '.', seq: ISN + 1, ack: synAck.seq + 1, ts: [110, synAck.ts![0]] });
    tr.recvNothing();
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.state).toBe('ESTABLISHED');
    const st = accepted[0]!.stats();
    expect(st).toMatchObject({ sackEnabled: true, timestampsEnabled: true, sendScale: 7, mss: 1460 - 12 });
    expect(st.srttMs).toBe(10);
  });

  it('offers nothing the SYN did not offer (RFC 7323 2.2, RFC 2018 2)', () => {
    const tr = new TcpTrace();
    const accepted = listenAndCollect(tr);
    tr.send(0, { flags: 'S', seq: ISN, mss: 1000 });
    const synAck = tr.recvOne();
    expect(synAck).toMatchObject({ flags: 'S.', mss: 1460, sackOk: false, wscale: undefined, ts: undefined });
    tr.send(5, { flags: '.', seq: ISN + 1, ack: synAck.seq + 1 });
    expect(accepted[0]!.stats()).toMatchObject({ sackEnabled: false, timestampsEnabled: false, sendScale: 0, receiveScale: 0, mss: 1000 });
  });

  it('retransmits the SYN-ACK with backoff, answers a repeated SYN at once, and gives up after synAckRetries', () => {
    const tr = new TcpTrace({ config: { tcp: { synAckRetries: 2 } } });
    listenAndCollect(tr);
    tr.send(0, { flags: 'S', seq: ISN });
    const first = tr.recvOne();
    // RFC 6298 2.1 / 5.5: 1 s, then doubled.
    expect(tr.recv(3499).map((s) => [s.time, s.flags, s.seq])).toEqual([
      [1000, 'S.', first.seq],
      [3000, 'S.', first.seq],
    ]);
    // A repeated SYN means our SYN-ACK was lost: answer at once (Linux tcp_check_req).
    tr.send(3500, { flags: 'S', seq: ISN });
    expect(tr.recvOne()).toMatchObject({ time: 3500, flags: 'S.', seq: first.seq, ack: ISN + 1 });
    // The next timeout would exceed synAckRetries: the embryo is dropped quietly.
    tr.recvNothing(20_000);
    expect(tr.tcp.connectionCount).toBe(0);
    // A late ACK for it finds no connection: reset (RFC 9293 3.10.7.1 via LISTEN's ACK rule).
    tr.send(21_000, { flags: '.', seq: ISN + 1, ack: first.seq + 1 });
    expect(tr.recvOne()).toMatchObject({ flags: 'R', seq: first.seq + 1 });
    expect(tr.tcp.counters.synCookiesFailed).toBe(1);
  });

  it('resets an unacceptable ACK in SYN_RECEIVED and keeps waiting for the right one', () => {
    const tr = new TcpTrace();
    const accepted = listenAndCollect(tr);
    tr.send(0, { flags: 'S', seq: ISN });
    const synAck = tr.recvOne();
    tr.send(5, { flags: '.', seq: ISN + 1, ack: synAck.seq + 1000 });
    expect(tr.recvOne()).toMatchObject({ flags: 'R', seq: synAck.seq + 1000 });
    tr.send(6, { flags: '.', seq: ISN + 1, ack: synAck.seq + 1 });
    expect(accepted).toHaveLength(1);
  });

  it('drops the embryo on a RST in SYN_RECEIVED (back to LISTEN, RFC 9293 3.10.7.4)', () => {
    const tr = new TcpTrace();
    const accepted = listenAndCollect(tr);
    tr.send(0, { flags: 'S', seq: ISN });
    tr.recvOne();
    tr.send(5, { flags: 'R', seq: ISN + 1 });
    expect(tr.tcp.connectionCount).toBe(0);
    tr.recvNothing(10_000);
    expect(accepted).toHaveLength(0);
  });

  it('answers a SYN to a closed port with RST,ACK and an ACK with RST (RFC 9293 3.10.7.1)', () => {
    const tr = new TcpTrace();
    tr.send(0, { flags: 'S', seq: ISN, data: 5 }, 6000);
    expect(tr.recvOne()).toMatchObject({ flags: 'R.', seq: 0, ack: ISN + 6 });
    tr.send(1, { flags: '.', seq: ISN, ack: 777 }, 6000);
    expect(tr.recvOne()).toMatchObject({ flags: 'R', seq: 777 });
    tr.send(2, { flags: 'R', seq: ISN }, 6000);
    tr.recvNothing();
  });
});

describe('active open', () => {
  it('sends a SYN with our options and completes on the SYN-ACK', () => {
    const tr = new TcpTrace();
    const conn = tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80 }, 0);
    let connected = 0;
    conn.handler = { onConnect: () => connected++ };
    const syn = tr.recvOne();
    expect(syn).toMatchObject({ flags: 'S', dstPort: 80, mss: 1460, sackOk: true, wscale: 7 });
    expect(syn.ts![1]).toBe(0);
    expect(syn.srcPort).toBeGreaterThanOrEqual(32768);
    tr.send(30, { flags: 'S.', seq: ISN, ack: syn.seq + 1, mss: 1400, sackOk: true, ts: [7, syn.ts![0]], wscale: 2, srcPort: 80, dstPort: syn.srcPort });
    const ack = tr.recvOne();
    expect(ack).toMatchObject({ flags: '.', seq: syn.seq + 1, ack: ISN + 1, ts: [expect.any(Number), 7] });
    expect(conn.state).toBe('ESTABLISHED');
    expect(connected).toBe(1);
    expect(conn.stats()).toMatchObject({ srttMs: 30, mss: 1400 - 12, sendScale: 2, receiveScale: 7 });
  });

  it('retransmits the SYN at 1, 3, 7 ... s (RFC 6298 5.5) and fails with ETIMEDOUT after synRetries', () => {
    const tr = new TcpTrace({ config: { tcp: { synRetries: 3 } } });
    const conn = tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80 }, 0);
    let error: TcpError | undefined;
    conn.handler = { onClose: (_c, e) => (error = e) };
    const times = tr.recv(100_000).map((s) => `${s.time} ${s.flags}`);
    expect(times).toEqual(['0 S', '1000 S', '3000 S', '7000 S']);
    expect(error?.code).toBe('ETIMEDOUT');
    expect(conn.state).toBe('CLOSED');
    expect(tr.tcp.connectionCount).toBe(0);
  });

  it('measures no RTT from a retransmitted SYN (Karn) but does from the timestamp echo', () => {
    const tr = new TcpTrace();
    const conn = tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80 }, 0);
    const syn = tr.recvOne();
    const again = tr.recvOne(1000);
    tr.send(1040, { flags: 'S.', seq: ISN, ack: syn.seq + 1, ts: [9, again.ts![0]], srcPort: 80, dstPort: syn.srcPort });
    expect(conn.stats().srttMs).toBe(40);
  });

  it('reports ECONNREFUSED for a RST acknowledging the SYN, and ignores one that does not', () => {
    const tr = new TcpTrace();
    const conn = tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80 }, 0);
    let error: TcpError | undefined;
    conn.handler = { onClose: (_c, e) => (error = e) };
    const syn = tr.recvOne();
    tr.send(5, { flags: 'R.', seq: 0, ack: syn.seq + 7, srcPort: 80, dstPort: syn.srcPort });
    expect(conn.state).toBe('SYN_SENT');
    tr.send(6, { flags: 'R', seq: 0, srcPort: 80, dstPort: syn.srcPort });
    expect(conn.state).toBe('SYN_SENT');
    tr.send(7, { flags: 'R.', seq: 0, ack: syn.seq + 1, srcPort: 80, dstPort: syn.srcPort });
    expect(error?.code).toBe('ECONNREFUSED');
    expect(conn.state).toBe('CLOSED');
  });

  it('resets a SYN-ACK that acknowledges something else (RFC 9293 3.10.7.3)', () => {
    const tr = new TcpTrace();
    const conn = tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80 }, 0);
    const syn = tr.recvOne();
    tr.send(5, { flags: 'S.', seq: ISN, ack: syn.seq + 100, srcPort: 80, dstPort: syn.srcPort });
    expect(tr.recvOne()).toMatchObject({ flags: 'R', seq: syn.seq + 100 });
    expect(conn.state).toBe('SYN_SENT');
  });

  it('fails with ECONNREFUSED on an ICMP port unreachable for the SYN (RFC 1122 4.2.3.9)', () => {
    const tr = new TcpTrace();
    const conn = tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80 }, 0);
    let error: TcpError | undefined;
    conn.handler = { onClose: (_c, e) => (error = e) };
    tr.recvOne();
    tr.advance(10);
    tr.inject(tr.icmpError(tr.raw[0]!, 'portUnreachable'));
    expect(error?.code).toBe('ECONNREFUSED');
  });

  it('rejects bad arguments and taken ports synchronously', () => {
    const tr = new TcpTrace();
    expect(() => tr.tcp.connect({ remoteAddress: 'nonsense', remotePort: 80 }, 0)).toThrow(/EINVAL/);
    expect(() => tr.tcp.connect({ remoteAddress: '192.168.9.9', remotePort: 80 }, 0)).toThrow(/ENETUNREACH/);
    expect(() => tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80, localAddress: '10.0.0.99' }, 0)).toThrow(/EADDRNOTAVAIL/);
    tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80, localPort: 1234 }, 0);
    expect(() => tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80, localPort: 1234 }, 0)).toThrow(/EADDRINUSE/);
    tr.tcp.listen({ port: 7000 });
    expect(() => tr.tcp.listen({ port: 7000, address: '10.0.0.1' })).toThrow(/EADDRINUSE/);
    expect(() => tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80, localPort: 7000 }, 0)).toThrow(/EADDRINUSE/);
    expect(() => tr.tcp.listen({ port: 7001, address: '10.0.0.99' })).toThrow(/EADDRNOTAVAIL/);
  });

  it('shares an ephemeral port among different peers and reports EADDRNOTAVAIL when none is left', () => {
    const tr = new TcpTrace({ config: { tcp: { ephemeralPortMin: 40000, ephemeralPortMax: 40001 } } });
    const ports = [80, 81].flatMap((remotePort) => [0, 1].map(() => tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort }, 0).localPort));
    expect(ports.sort()).toEqual([40000, 40000, 40001, 40001]);
    expect(() => tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80 }, 0)).toThrow(/EADDRNOTAVAIL/);
  });
});

describe('simultaneous open (RFC 9293 3.5 figure 8)', () => {
  it('goes SYN_SENT -> SYN_RECEIVED -> ESTABLISHED when SYNs cross', () => {
    const tr = new TcpTrace();
    const conn = tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80, localPort: 5555 }, 0);
    let connected = 0;
    conn.handler = { onConnect: () => connected++ };
    const syn = tr.recvOne();
    const peer = { srcPort: 80, dstPort: 5555 };
    tr.send(10, { flags: 'S', seq: ISN, mss: 1460, sackOk: true, ts: [50, 0], wscale: 3, ...peer });
    const synAck = tr.recvOne();
    expect(conn.state).toBe('SYN_RECEIVED');
    expect(synAck).toMatchObject({ flags: 'S.', seq: syn.seq, ack: ISN + 1, sackOk: true, wscale: 7 });
    // The peer's SYN-ACK (its own SYN again, acknowledging ours).
    tr.send(20, { flags: 'S.', seq: ISN, ack: syn.seq + 1, ts: [60, synAck.ts![0]], ...peer });
    expect(conn.state).toBe('ESTABLISHED');
    expect(connected).toBe(1);
    // Data flows both ways afterwards.
    conn.write(new Uint8Array([1, 2, 3]));
    const data = tr.recv(21);
    expect(data.map(show)).toHaveLength(1);
    expect(data[0]).toMatchObject({ flags: 'P.', seq: syn.seq + 1, ack: ISN + 1, len: 3 });
  });
});

describe('handshake packets lost in turn (two hosts)', () => {
  it.each(['SYN', 'SYN-ACK', 'third ACK'] as const)('completes when the %s is lost', async (which) => {
    const { lossyHandshake } = await import('./handshake-loss.js');
    const r = lossyHandshake(which);
    expect(r.clientState).toBe('ESTABLISHED');
    expect(r.serverAccepted).toBe(1);
    expect(r.echoed).toBe('hello');
    expect(r.elapsedMs).toBeGreaterThanOrEqual(r.expectedMinMs);
    expect(r.elapsedMs).toBeLessThan(r.expectedMinMs + 100);
  });
});

describe('soft ICMP errors (RFC 1122 4.2.3.9)', () => {
  it('keep the connection attempt going and explain its timeout', () => {
    const tr = new TcpTrace({ config: { tcp: { synRetries: 1 } } });
    const conn = tr.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 80 }, 0);
    let error: TcpError | undefined;
    conn.handler = { onClose: (_c, e) => (error = e) };
    tr.recvOne();
    tr.advance(10);
    tr.inject(tr.icmpError(tr.raw[0]!, 'hostUnreachable'));
    expect(conn.state).toBe('SYN_SENT');
    tr.recv(100_000);
    expect(error?.code).toBe('EHOSTUNREACH');
  });
});
