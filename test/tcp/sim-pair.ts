// Two Hosts running TcpLayer on one SimNetwork path, IPv4 and IPv6 addresses on both, and
// helpers to move data through connections and check it (SHA-256 both ways).

import { createHash } from 'node:crypto';
import type { PartialConfig } from '../../stack/config.js';
import { Host } from '../../stack/ip/host.js';
import type { TcpConnection } from '../../stack/tcp/connection.js';
import { TcpLayer } from '../../stack/tcp/layer.js';
import { seededRandom } from '../../stack/random.js';
import type { ImpairmentParams } from '../../tun/impairment.js';
import { SimNetwork, type SimPath } from '../sim/network.js';

export const A4 = '10.0.0.1';
export const B4 = '10.0.0.2';
export const A6 = 'fd00::1';
export const B6 = 'fd00::2';

export interface Pair {
  net: SimNetwork;
  path: SimPath;
  a: Host;
  b: Host;
  tcpA: TcpLayer;
  tcpB: TcpLayer;
}

export function simPair(opts: {
  seed?: number | string;
  impairment?: Partial<ImpairmentParams> | { aToB?: Partial<ImpairmentParams>; bToA?: Partial<ImpairmentParams> };
  config?: PartialConfig;
  configA?: PartialConfig;
  configB?: PartialConfig;
  mtu?: number;
  offloads?: { checksum?: boolean; gso?: boolean };
} = {}): Pair {
  const net = new SimNetwork(opts.seed ?? 1);
  const make = (name: string, four: string, six: string, config: PartialConfig | undefined): Host => {
    const merged: PartialConfig = { ...opts.config, ...config, tcp: { ...opts.config?.tcp, ...config?.tcp } };
    const h = new Host({ name, random: net.random(name), config: merged });
    const i = h.addInterface({ name: 'eth0', mtu: opts.mtu ?? 1500, ...(opts.offloads && { offloads: opts.offloads }) });
    h.addAddress(i, four, 24);
    h.addAddress(i, six, 64);
    return net.addHost(h);
  };
  const a = make('a', A4, A6, opts.configA);
  const b = make('b', B4, B6, opts.configB);
  const path = net.connect({ host: a, ifIndex: 1 }, { host: b, ifIndex: 1 }, opts.impairment ?? {}, 'ab');
  return { net, path, a, b, tcpA: new TcpLayer(a), tcpB: new TcpLayer(b) };
}

/** Deterministic pseudo-random bytes. */
export function randomBytes(n: number, seed: number | string): Uint8Array {
  return seededRandom(`data/${seed}`).bytes(n);
}

export function sha256(chunks: Uint8Array[] | Uint8Array): string {
  const h = createHash('sha256');
  for (const c of Array.isArray(chunks) ? chunks : [chunks]) h.update(c);
  return h.digest('hex');
}

/**
 * Streams `data` into `conn` as the send buffer allows, then end()s; collects what
 * arrives (flowing mode). `done` once the peer's FIN came after all data.
 */
/** What Endpoint drives: a TCP connection or anything with its application-side shape (MPTCP). */
export interface StreamConnection {
  readonly state: string;
  write(data: Uint8Array): number;
  end(): void;
}

export class Endpoint<C extends StreamConnection = TcpConnection> {
  readonly received: Uint8Array[] = [];
  receivedBytes = 0;
  ended = false;
  closed = false;
  error: Error | undefined;
  connected = false;
  /** Simulated time when the last byte arrived (kept when a network is given). */
  lastByteAt = 0;
  private offset = 0;

  constructor(
    readonly conn: C,
    private readonly data: Uint8Array = new Uint8Array(0),
    private readonly endAfter = true,
    private readonly net?: SimNetwork,
  ) {
    // Both connection kinds take the same handler shape; their handler types differ by the
    // connection argument only, which the handlers here ignore.
    (conn as unknown as { handler: unknown }).handler = {
      onConnect: () => {
        this.connected = true;
        this.pump();
      },
      onData: (_c: unknown, chunk: Uint8Array) => {
        this.received.push(chunk.slice());
        this.receivedBytes += chunk.length;
        if (this.net) this.lastByteAt = this.net.now;
      },
      onEnd: () => {
        this.ended = true;
      },
      onWritable: () => this.pump(),
      onClose: (_c: unknown, error?: Error) => {
        this.closed = true;
        this.error = error;
      },
    };
    this.pump();
  }

  get sentAll(): boolean {
    return this.offset >= this.data.length;
  }

  get sentBytes(): number {
    return this.offset;
  }

  pump(): void {
    const c = this.conn;
    if (c.state !== 'ESTABLISHED' && c.state !== 'CLOSE_WAIT' && c.state !== 'SYN_SENT' && c.state !== 'SYN_RECEIVED') return;
    while (this.offset < this.data.length) {
      const n = c.write(this.data.subarray(this.offset));
      this.offset += n;
      if (n === 0) return;
    }
    if (this.endAfter) c.end();
  }
}

/** Connects a to b (listener on b) and returns both endpoints, each sending its data. */
export function transfer(
  p: Pair,
  opts: { family?: 4 | 6; port?: number; aData?: Uint8Array; bData?: Uint8Array; connect?: Record<string, unknown>; listen?: Record<string, unknown> } = {},
): { client: () => Endpoint; server: () => Endpoint | undefined } {
  const port = opts.port ?? 5001;
  let server: Endpoint | undefined;
  p.tcpB.listen({
    port,
    ...opts.listen,
    onConnection: (conn) => {
      server = new Endpoint(conn, opts.bData);
    },
  });
  const conn = p.tcpA.connect({ remoteAddress: opts.family === 6 ? B6 : B4, remotePort: port, ...opts.connect }, p.net.now);
  const client = new Endpoint(conn, opts.aData);
  return { client: () => client, server: () => server };
}
