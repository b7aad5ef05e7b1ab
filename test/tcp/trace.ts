// Packet-trace tests (STYLE.md, smoltcp's send!/recv!): one Host with TcpLayer under test,
// a scripted peer that injects typed segments at chosen times, and assertions on the
// segments the host emits, with their times. The host's interface declares no offloads,
// so what it emits is what a wire would carry (super-segments cut, checksums complete).

import { expect } from 'vitest';
import type { PartialConfig } from '../../stack/config.js';
import { Host } from '../../stack/ip/host.js';
import { TcpLayer } from '../../stack/tcp/layer.js';
import { seededRandom } from '../../stack/random.js';
import { parseAddress, type IpAddress } from '../../stack/wire/address.js';
import { emitPacket, parsePacket, verifyPacketChecksums, type IpHeaderRepr } from '../../stack/wire/packet.js';
import { EMPTY_BYTES } from '../../stack/wire/bytes.js';
import { NOP_OPTION, SACK_PERMITTED_OPTION, type TcpOption } from '../../stack/wire/tcp-options.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpRepr } from '../../stack/wire/tcp.js';
import type { Icmpv4Repr } from '../../stack/wire/icmpv4.js';
import type { Icmpv6Repr } from '../../stack/wire/icmpv6.js';
import { flagString } from './describe-segment.js';

export interface SegSpec {
  /** 'S', 'S.', '.', 'P.', 'F.', 'FP.', 'R', 'R.' ... (S SYN, F FIN, R RST, P PSH, '.' ACK). */
  flags: string;
  seq: number;
  ack?: number;
  /** Raw window field (default 65535). */
  win?: number;
  /** Payload, or a length of pattern bytes. */
  data?: Uint8Array | number;
  mss?: number;
  wscale?: number;
  sackOk?: boolean;
  ts?: [number, number];
  sack?: [number, number][];
  /** More options, appended as given (an extension's). */
  extraOptions?: TcpOption[];
  /** Ports as seen from the peer (default: peer port -> host port). */
  srcPort?: number;
  dstPort?: number;
}

export interface Seg {
  time: number;
  flags: string;
  seq: number;
  ack: number;
  win: number;
  len: number;
  payload: Uint8Array;
  srcPort: number;
  dstPort: number;
  mss: number | undefined;
  wscale: number | undefined;
  sackOk: boolean;
  ts: [number, number] | undefined;
  sack: [number, number][];
}

export function parseFlags(s: string): number {
  let f = 0;
  for (const ch of s) {
    if (ch === 'S') f |= TCP_SYN;
    else if (ch === 'F') f |= TCP_FIN;
    else if (ch === 'R') f |= TCP_RST;
    else if (ch === 'P') f |= TCP_PSH;
    else if (ch === '.') f |= TCP_ACK;
  }
  return f;
}

/** Pattern bytes: byte i of a stream is (i * 7 + 3) & 0xff, so any slice is checkable. */
export function pattern(offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ((offset + i) * 7 + 3) & 0xff;
  return out;
}

export class TcpTrace {
  readonly host: Host;
  readonly tcp: TcpLayer;
  readonly local: IpAddress;
  readonly remote: IpAddress;
  /** The peer's port. */
  readonly peerPort = 40000;
  now = 0;
  private readonly outputs: Seg[] = [];
  readonly icmp: Uint8Array[] = [];

  constructor(opts: { family?: 4 | 6; config?: PartialConfig; mtu?: number; seed?: string } = {}) {
    const v6 = opts.family === 6;
    this.host = new Host({ name: 'dut', random: seededRandom(opts.seed ?? 'trace'), config: opts.config });
    const i = this.host.addInterface({ name: 'eth0', mtu: opts.mtu ?? 1500 });
    this.host.addAddress(i, v6 ? 'fd00::1' : '10.0.0.1', v6 ? 64 : 24);
    this.local = parseAddress(v6 ? 'fd00::1' : '10.0.0.1')!;
    this.remote = parseAddress(v6 ? 'fd00::2' : '10.0.0.2')!;
    this.tcp = new TcpLayer(this.host);
  }

  /** Runs the host's timers up to `to` (each at its own time), collecting what it sends. */
  advance(to: number): void {
    this.drain();
    for (;;) {
      const t = this.host.nextTimeout();
      if (t === undefined || t > to) break;
      this.now = Math.max(this.now, t);
      this.host.onTimeout(this.now);
      this.drain();
    }
    this.now = Math.max(this.now, to);
  }

  /** At time `at` (timers before it run first), the peer sends `spec`. */
  send(at: number, spec: SegSpec, port = 5000): void {
    this.advance(at);
    this.inject(this.packet(spec, port));
  }

  /**
   * At time `at`, the peer's segments arrive in one input turn (one TUN read batch, as
   * tun/runtime.ts hands them over): the host's timers run once all are in.
   */
  sendBatch(at: number, specs: SegSpec[], port = 5000): void {
    this.advance(at);
    for (const spec of specs) this.host.input(1, this.packet(spec, port), this.now);
    this.advance(this.now);
  }

  /** Injects a raw IP packet now. */
  inject(packet: Uint8Array): void {
    this.host.input(1, packet, this.now);
    this.drain();
    // Work the layer scheduled "at once" (application calls, events) runs now too.
    this.advance(this.now);
  }

  /** Segments the host sent since the last call (timers up to `until` run first). */
  recv(until = this.now): Seg[] {
    this.advance(until);
    return this.outputs.splice(0);
  }

  /** Runs timers one by one until the host sends something (or `limit`); returns the first segment. */
  recvNext(limit: number): Seg | undefined {
    this.drain();
    while (this.outputs.length === 0) {
      const t = this.host.nextTimeout();
      if (t === undefined || t > limit) break;
      this.now = Math.max(this.now, t);
      this.host.onTimeout(this.now);
      this.drain();
    }
    return this.outputs.shift();
  }

  /** Exactly one segment was sent (by `until`); returns it. */
  recvOne(until = this.now): Seg {
    const segs = this.recv(until);
    expect(segs.map(show), 'expected exactly one segment').toHaveLength(1);
    return segs[0]!;
  }

  /** Nothing was sent up to `until`. */
  recvNothing(until = this.now): void {
    expect(this.recv(until).map(show)).toEqual([]);
  }

  /** The IP packet carrying `spec` from the peer. */
  packet(spec: SegSpec, port = 5000): Uint8Array {
    const options: TcpOption[] = [];
    if (spec.mss !== undefined) options.push({ kind: 'mss', mss: spec.mss });
    if (spec.sackOk) options.push(SACK_PERMITTED_OPTION);
    if (spec.ts !== undefined) options.push(NOP_OPTION, NOP_OPTION, { kind: 'timestamps', tsVal: spec.ts[0], tsEcr: spec.ts[1] });
    if (spec.wscale !== undefined) options.push(NOP_OPTION, { kind: 'windowScale', shift: spec.wscale });
    if (spec.sack !== undefined && spec.sack.length > 0) options.push(NOP_OPTION, NOP_OPTION, { kind: 'sack', blocks: spec.sack.map(([left, right]) => ({ left, right })) });
    if (spec.extraOptions !== undefined) options.push(...spec.extraOptions);
    const payload = spec.data === undefined ? EMPTY_BYTES : typeof spec.data === 'number' ? pattern(0, spec.data) : spec.data;
    const repr: TcpRepr = {
      srcPort: spec.srcPort ?? this.peerPort,
      dstPort: spec.dstPort ?? port,
      seq: spec.seq >>> 0,
      ack: (spec.ack ?? 0) >>> 0,
      flags: parseFlags(spec.flags),
      window: spec.win ?? 65535,
      urgentPointer: 0,
      checksum: 0,
      options,
    };
    return emitPacket({ ip: this.ipHeader(), transport: { protocol: 'tcp', repr }, payload });
  }

  /** An ICMP error from the peer's side quoting `quoted` (a packet the host sent). */
  icmpError(quoted: Uint8Array, kind: 'packetTooBig' | 'portUnreachable' | 'hostUnreachable', mtu = 0): Uint8Array {
    const v6 = this.local.length === 16;
    if (v6) {
      const repr: Icmpv6Repr =
        kind === 'packetTooBig'
          ? { kind: 'packetTooBig', code: 0, mtu, invoking: quoted }
          : { kind: 'destinationUnreachable', code: kind === 'portUnreachable' ? 4 : 3, invoking: quoted };
      return emitPacket({ ip: this.ipHeader(), transport: { protocol: 'icmpv6', repr }, payload: EMPTY_BYTES });
    }
    const repr: Icmpv4Repr = {
      kind: 'destinationUnreachable',
      code: kind === 'packetTooBig' ? 4 : kind === 'portUnreachable' ? 3 : 1,
      nextHopMtu: mtu,
      invoking: quoted,
    };
    return emitPacket({ ip: this.ipHeader(), transport: { protocol: 'icmpv4', repr }, payload: EMPTY_BYTES });
  }

  /** The TSval of the latest segment the host sent. */
  lastTsVal: number | undefined = undefined;
  /** Raw packets sent, for quoting in ICMP errors (kept in order). */
  readonly raw: Uint8Array[] = [];

  private ipHeader(): IpHeaderRepr {
    if (this.local.length === 16) {
      return { version: 6, repr: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: this.remote, dst: this.local, extensionHeaders: [], upperProtocol: 6 } };
    }
    return {
      version: 4,
      repr: { dscpEcn: 0, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 6, src: this.remote, dst: this.local, options: EMPTY_BYTES },
    };
  }

  private drain(): void {
    for (let out = this.host.pollTransmit(); out; out = this.host.pollTransmit()) {
      const packet = out.packet;
      expect(verifyPacketChecksums(packet), 'checksums of a sent packet').toBe(true);
      this.raw.push(packet);
      const r = parsePacket(packet);
      if (!r.ok) throw new Error(`unparsable packet sent: ${r.code}`);
      const t = r.value.transport;
      if (t.protocol !== 'tcp') {
        this.icmp.push(packet);
        continue;
      }
      const seg = toSeg(this.now, t.repr, r.value.payload);
      if (seg.ts) this.lastTsVal = seg.ts[0];
      this.outputs.push(seg);
    }
  }
}

function toSeg(time: number, tcp: TcpRepr, payload: Uint8Array): Seg {
  const seg: Seg = {
    time,
    flags: flagString(tcp.flags),
    seq: tcp.seq,
    ack: tcp.ack,
    win: tcp.window,
    len: payload.length,
    payload: payload.slice(),
    srcPort: tcp.srcPort,
    dstPort: tcp.dstPort,
    mss: undefined,
    wscale: undefined,
    sackOk: false,
    ts: undefined,
    sack: [],
  };
  for (const o of tcp.options) {
    if (o.kind === 'mss') seg.mss = o.mss;
    else if (o.kind === 'windowScale') seg.wscale = o.shift;
    else if (o.kind === 'sackPermitted') seg.sackOk = true;
    else if (o.kind === 'timestamps') seg.ts = [o.tsVal, o.tsEcr];
    else if (o.kind === 'sack') seg.sack = o.blocks.map((b) => [b.left, b.right]);
  }
  return seg;
}

/** "12.0 S. 100:100(0) ack 5 win 65535" for failure messages. */
export function show(s: Seg): string {
  return `${s.time} ${s.flags} ${s.seq}:${(s.seq + s.len) >>> 0}(${s.len}) ack ${s.ack} win ${s.win}${s.sack.length ? ` sack ${s.sack.map((b) => b.join(':')).join(' ')}` : ''}`;
}

export interface Established {
  conn: import('../../stack/tcp/connection.js').TcpConnection;
  /** The host's next sequence number (its ISS + 1). */
  ours: number;
  /** The peer's next sequence number. */
  theirs: number;
  /** The host's latest TSval seen (for the peer to echo). */
  hostTs: () => number;
}

export const PEER_ISN = 1000;

/**
 * Listens on 5000, runs a passive handshake with the peer's options, and returns the
 * accepted connection. The handshake RTT is `rttMs` (the third ACK comes that much later).
 */
export function accept(
  tr: TcpTrace,
  opts: { ts?: boolean; sack?: boolean; wscale?: number; mss?: number; win?: number; rttMs?: number; listen?: Record<string, unknown> } = {},
): Established {
  let conn: Established['conn'] | undefined;
  tr.tcp.listen({ port: 5000, onConnection: (c) => (conn = c), ...opts.listen });
  const start = tr.now;
  const ts = opts.ts ?? false;
  tr.send(start, {
    flags: 'S',
    seq: PEER_ISN,
    mss: opts.mss ?? 1460,
    sackOk: opts.sack ?? false,
    ...(ts && { ts: [1, 0] as [number, number] }),
    ...(opts.wscale !== undefined && { wscale: opts.wscale }),
  });
  const synAck = tr.recvOne();
  let lastTs = synAck.ts?.[0] ?? 0;
  const rtt = opts.rttMs ?? 100;
  tr.send(start + rtt, { flags: '.', seq: PEER_ISN + 1, ack: synAck.seq + 1, win: opts.win ?? 65535, ...(ts && { ts: [2, lastTs] as [number, number] }) });
  if (conn === undefined) throw new Error('handshake did not complete');
  const host = tr;
  return {
    conn,
    ours: (synAck.seq + 1) >>> 0,
    theirs: PEER_ISN + 1,
    hostTs: () => {
      lastTs = host.lastTsVal ?? lastTs;
      return lastTs;
    },
  };
}
