// The daemon's name layer (thesis chapter 2): MPTCP over the daemon's TCP layer, UDP, the
// stack's own DNS resolver on the configured nameservers, and the NameStack, driven by the
// HostRuntime. It gives the control server name-based open and listen (docs/control-protocol.md
// "Names"): streams are NameSockets (Happy Eyeballs with P, names exchanged on IPv6,
// verified in DNS), so replies and events carry the names of both ends.

import { DnsResolver } from '../../stack/dns/resolver.js';
import type { Host } from '../../stack/ip/host.js';
import { MptcpLayer } from '../../stack/mptcp/layer.js';
import { mptcpConnectionStats } from '../../stack/mptcp/stats.js';
import { NameServer } from '../../stack/socket/name-server.js';
import { NameSocket } from '../../stack/socket/name-socket.js';
import { NameStack } from '../../stack/socket/name-stack.js';
import type { SocketDriver } from '../../stack/socket/tcp-socket.js';
import type { TcpLayer } from '../../stack/tcp/layer.js';
import { UdpLayer } from '../../stack/udp/udp.js';
import type { HostRuntime } from '../../tun/runtime.js';
import { resolvePort } from '../control/services.js';
import type { DaemonConfig } from './config.js';
import { codedError, type ListenOptions, type OpenOptions, type StreamListener, type StreamSocket } from './transport.js';

export interface NameTransport {
  readonly names: NameStack | undefined;
  open(opts: OpenOptions): Promise<StreamSocket>;
  listen(opts: ListenOptions, onConnection: (socket: StreamSocket) => void): Promise<StreamListener>;
  stats(): Record<string, unknown>;
}

/** The name layer on `tcp`; without nameservers it still listens by name but cannot open or verify. */
export function nameTransport(host: Host, runtime: HostRuntime, tcp: TcpLayer, config: DaemonConfig): NameTransport {
  const driver: SocketDriver = { tcp, now: () => runtime.now(), kick: () => runtime.kick() };
  const mptcp = new MptcpLayer(host, tcp);
  const udp = new UdpLayer(host);
  // A resolver needs a server; a daemon without one answers open with ENOTSUP.
  const resolver = config.nameservers.length > 0 ? new DnsResolver(host, udp, { servers: config.nameservers }) : undefined;
  const names = resolver
    ? new NameStack(host, { tcp, mptcp, udp, resolver, names: config.name !== undefined ? [config.name] : [], services: (n, p) => resolvePort(n, p) })
    : undefined;
  const noNames = (): Error => codedError('ENOTSUP', 'this daemon has no nameservers (config "nameservers"): no name layer');
  return {
    names,
    open: (opts) =>
      new Promise((resolve, reject) => {
        if (!names) return reject(noNames());
        // Half-open like the Unix side: each direction ends on its own (bridge.ts).
        const socket = new NameSocket({ driver, names, allowHalfOpen: true });
        socket.once('error', reject);
        socket.open(
          {
            peerName: opts.peerName,
            service: opts.port,
            ...(opts.localName !== undefined && { localName: opts.localName }),
            ...(opts.transport !== undefined && { transport: opts.transport }),
            ...(opts.noDelay !== undefined && { noDelay: opts.noDelay }),
          },
          () => {
            socket.off('error', reject);
            resolve(socket);
          },
        );
      }),
    listen: (opts, onConnection) =>
      new Promise((resolve, reject) => {
        if (!names) return reject(noNames());
        const n = opts.names ?? {};
        const server = new NameServer(driver, names, { allowHalfOpen: true }, onConnection);
        server.once('error', reject);
        server.listen(
          {
            service: opts.port,
            backlog: opts.backlog,
            ...(opts.address !== undefined && { address: opts.address }),
            ...(n.localName !== undefined && { localName: n.localName }),
            ...(n.peerName !== undefined && { peerName: n.peerName }),
            ...(n.requireVerified !== undefined && { requireVerified: n.requireVerified }),
            ...(n.transport !== undefined && { transport: n.transport }),
          },
          () => {
            server.off('error', reject);
            resolve({ local: { address: opts.address ?? '::', port: server.port! }, close: () => server.close() });
          },
        );
      }),
    stats: () => nameLayerStats(names, mptcp),
  };
}

/**
 * The name layer's part of a stats reply (`stats.names`): the NameStack's (counters, P, races,
 * listeners, named connections) and every MPTCP connection like `ss -Mi`, each subflow with
 * its addresses, state, flags, cwnd, srtt, byte counters and reinjections; the event log is
 * left out (its count stays), as it would dwarf the rest.
 */
export function nameLayerStats(names: NameStack | undefined, mptcp: MptcpLayer): Record<string, unknown> {
  return {
    ...(names ? names.stats() : { available: false }),
    mptcp: {
      counters: { ...mptcp.counters },
      connections: [...mptcp.connections()].map((c) => {
        const { events, ...s } = mptcpConnectionStats(c);
        return { ...s, events: events.length };
      }),
    },
  };
}
