// Two Hosts with TcpLayer + MptcpLayer joined by 1 to 4 simulated paths, one interface pair
// per path (client 10.<i>.0.1 / fd0<i>::1, server 10.<i>.0.2 / fd0<i>::2), each uplink with
// its own default route for its source (thesis 3.5), and an endpoint that streams data both
// ways and checks it with SHA-256.

import type { PartialConfig } from '../../stack/config.js';
import { Host, type RxMeta } from '../../stack/ip/host.js';
import { MptcpConnection } from '../../stack/mptcp/connection.js';
import { MptcpLayer, type MptcpLayerOptions } from '../../stack/mptcp/layer.js';
import type { TcpConnection } from '../../stack/tcp/connection.js';
import { TcpLayer } from '../../stack/tcp/layer.js';
import type { ImpairmentParams } from '../../tun/impairment.js';
import { SimNetwork, type SimNode, type SimPath } from '../sim/network.js';
import { Endpoint } from '../tcp/sim-pair.js';
import { emitPacket, parsePacket, type PacketRepr } from '../../stack/wire/packet.js';
import type { TcpRepr } from '../../stack/wire/tcp.js';
import { NOP_OPTION, type TcpOption } from '../../stack/wire/tcp-options.js';
import { mptcpOptionLength, type MptcpOption } from '../../stack/wire/mptcp-options.js';

export interface PathSpec {
  params?: Partial<ImpairmentParams> | { aToB?: Partial<ImpairmentParams>; bToA?: Partial<ImpairmentParams> };
  /** Give this path IPv6 addresses too (default true). */
  ipv6?: boolean;
  /** IPv4 addresses on this path (default true). */
  ipv4?: boolean;
}

export interface MptcpPair {
  net: SimNetwork;
  paths: SimPath[];
  client: Host;
  server: Host;
  /** Middleboxes in front of each host: set `edit` to rewrite or drop what it receives. */
  toClient: Mangler;
  toServer: Mangler;
  clientTcp: TcpLayer;
  serverTcp: TcpLayer;
  clientMptcp: MptcpLayer;
  serverMptcp: MptcpLayer;
}

export const clientV4 = (i: number): string => `10.${i}.0.1`;
export const serverV4 = (i: number): string => `10.${i}.0.2`;
export const clientV6 = (i: number): string => `fd0${i}::1`;
export const serverV6 = (i: number): string => `fd0${i}::2`;

export function mptcpPair(opts: {
  seed?: number | string;
  paths?: PathSpec[];
  config?: PartialConfig;
  clientConfig?: PartialConfig;
  serverConfig?: PartialConfig;
  clientOptions?: MptcpLayerOptions;
  serverOptions?: MptcpLayerOptions;
} = {}): MptcpPair {
  const net = new SimNetwork(opts.seed ?? 1);
  const specs = opts.paths ?? [{}];
  const merge = (c: PartialConfig | undefined): PartialConfig => ({
    tcp: { ...opts.config?.tcp, ...c?.tcp },
    mptcp: { ...opts.config?.mptcp, ...c?.mptcp },
    ip: { ...opts.config?.ip, ...c?.ip },
  });
  const make = (name: string, addr4: (i: number) => string, addr6: (i: number) => string, config: PartialConfig): Host => {
    const h = new Host({ name, random: net.random(name), config });
    specs.forEach((spec, k) => {
      const i = k + 1;
      const ifIndex = h.addInterface({ name: `p${i}`, mtu: 1500 });
      if (spec.ipv4 !== false) {
        h.addAddress(ifIndex, addr4(i), 24);
        h.addRoute({ destination: '0.0.0.0', prefixLength: 0, ifIndex, sourceInterface: true, metric: i });
      }
      if (spec.ipv6 !== false) {
        h.addAddress(ifIndex, addr6(i), 64);
        h.addRoute({ destination: '::', prefixLength: 0, ifIndex, sourceInterface: true, metric: i });
      }
    });
    return h;
  };
  const client = make('client', clientV4, clientV6, merge(opts.clientConfig));
  const server = make('server', serverV4, serverV6, merge(opts.serverConfig));
  const clientNode = new Mangler(client);
  const serverNode = new Mangler(server);
  net.addHost(clientNode, 'client');
  net.addHost(serverNode, 'server');
  const paths = specs.map((spec, k) => net.connect({ host: clientNode, ifIndex: k + 1 }, { host: serverNode, ifIndex: k + 1 }, spec.params ?? {}, `path${k + 1}`));
  const clientTcp = new TcpLayer(client);
  const serverTcp = new TcpLayer(server);
  return {
    net,
    paths,
    client,
    server,
    toClient: clientNode,
    toServer: serverNode,
    clientTcp,
    serverTcp,
    clientMptcp: new MptcpLayer(client, clientTcp, opts.clientOptions),
    serverMptcp: new MptcpLayer(server, serverTcp, opts.serverOptions),
  };
}

/** Deterministic pseudo-random bytes. */
export { randomBytes, sha256 } from '../tcp/sim-pair.js';

type AnyConnection = MptcpConnection | TcpConnection;

/** The TCP harness's Endpoint over either connection kind, timing the last byte on `net`. */
export class Peer extends Endpoint<AnyConnection> {
  constructor(conn: AnyConnection, data?: Uint8Array, net?: SimNetwork, endAfter = true) {
    super(conn, data, endAfter, net);
  }
}

/** Listen on the server, connect from the client; both send their data. */
export function mptcpTransfer(
  p: MptcpPair,
  opts: { remote?: string; port?: number; clientData?: Uint8Array; serverData?: Uint8Array; connect?: Record<string, unknown>; listen?: Record<string, unknown>; endAfter?: boolean } = {},
): { client: Peer; server: () => Peer | undefined; serverConn: () => AnyConnection | undefined } {
  const port = opts.port ?? 5001;
  let server: Peer | undefined;
  let serverConn: AnyConnection | undefined;
  p.serverMptcp.listen({
    port,
    ...opts.listen,
    onConnection: (conn) => {
      serverConn = conn;
      server = new Peer(conn, opts.serverData, p.net, opts.endAfter ?? true);
    },
  });
  const conn = p.clientMptcp.connect({ remoteAddress: opts.remote ?? serverV4(1), remotePort: port, ...opts.connect }, p.net.now);
  const client = new Peer(conn, opts.clientData, p.net, opts.endAfter ?? true);
  return { client, server: () => server, serverConn: () => serverConn };
}

export function isMptcp(c: AnyConnection | undefined): c is MptcpConnection {
  return c instanceof MptcpConnection;
}

/** What a mangler does with a packet: keep it (possibly changed) or drop it. */
export type PacketEdit = (repr: PacketRepr, packet: Uint8Array) => PacketRepr | 'drop' | undefined;

/**
 * A middlebox in front of a host: every packet the host receives passes `edit` first, which
 * may rewrite it (checksums are recomputed, as a NAT or option-stripping box does) or drop it.
 */
export class Mangler implements SimNode {
  edit: PacketEdit | undefined = undefined;
  /** Packets changed and dropped. */
  changed = 0;
  dropped = 0;

  constructor(readonly inner: Host) {}

  get name(): string {
    return this.inner.name;
  }

  input(ifIndex: number, packet: Uint8Array, now: number, meta?: RxMeta): void {
    if (this.edit) {
      const r = parsePacket(packet);
      if (r.ok) {
        const out = this.edit(r.value, packet);
        if (out === 'drop') {
          this.dropped++;
          return;
        }
        if (out !== undefined) {
          this.changed++;
          packet = emitPacket(out);
        }
      }
    }
    this.inner.input(ifIndex, packet, now, meta);
  }

  pollTransmit(): ReturnType<Host['pollTransmit']> {
    return this.inner.pollTransmit();
  }

  nextTimeout(): number | undefined {
    return this.inner.nextTimeout();
  }

  onTimeout(now: number): void {
    this.inner.onTimeout(now);
  }
}

/** The TCP repr of a packet, if it is TCP. */
export function tcpOf(p: PacketRepr): TcpRepr | undefined {
  return p.transport.protocol === 'tcp' ? p.transport.repr : undefined;
}

/** The packet with every MPTCP option replaced by NOPs of the same length (an option-stripping middlebox). */
export function stripMptcp(p: PacketRepr): PacketRepr | undefined {
  const tcp = tcpOf(p);
  if (!tcp || !tcp.options.some((o) => o.kind === 'mptcp')) return undefined;
  const options: TcpOption[] = [];
  for (const o of tcp.options) {
    if (o.kind !== 'mptcp') options.push(o);
    else for (let i = 0; i < mptcpOptionLength(o.option); i++) options.push(NOP_OPTION);
  }
  return { ...p, transport: { protocol: 'tcp', repr: { ...tcp, options } } };
}

/** The packet with its MPTCP options passed through `change` (return the option to keep). */
export function editMptcp(p: PacketRepr, change: (o: MptcpOption) => MptcpOption | undefined): PacketRepr | undefined {
  const tcp = tcpOf(p);
  if (!tcp) return undefined;
  let touched = false;
  const options = tcp.options.map((o) => {
    if (o.kind !== 'mptcp') return o;
    const n = change(o.option);
    if (n === undefined || n === o.option) return o;
    touched = true;
    return { kind: 'mptcp' as const, option: n };
  });
  return touched ? { ...p, transport: { protocol: 'tcp', repr: { ...tcp, options } } } : undefined;
}
