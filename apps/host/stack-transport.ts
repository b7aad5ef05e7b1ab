// The daemon's stream transport over the stack's TCP: a TcpLayer on the Host, driven by the
// HostRuntime (its clock, and a kick after every application call), with the net.Socket-like
// TcpSocket / TcpServer of stack/socket/ as the streams the control server bridges. Name-based
// open and listen go to the name layer on the same TCP layer (name-transport.ts).

import type { Host } from '../../stack/ip/host.js';
import { TcpLayer } from '../../stack/tcp/layer.js';
import { TcpServer } from '../../stack/socket/tcp-server.js';
import { TcpSocket, type SocketDriver } from '../../stack/socket/tcp-socket.js';
import { formatAddress } from '../../stack/wire/address.js';
import type { HostRuntime } from '../../tun/runtime.js';
import type { DaemonConfig } from './config.js';
import { nameTransport } from './name-transport.js';
import type { StreamTransport } from './transport.js';

function anyWildcard(n: { localName?: string; peerName?: string; requireVerified?: boolean }): boolean {
  return (n.localName ?? '*') === '*' && (n.peerName ?? '*') === '*' && n.requireVerified !== true;
}

export function stackTransport(host: Host, runtime: HostRuntime, config: DaemonConfig): StreamTransport {
  const tcp = new TcpLayer(host);
  const driver: SocketDriver = { tcp, now: () => runtime.now(), kick: () => runtime.kick() };
  const names = nameTransport(host, runtime, tcp, config);
  return {
    open: names.open,
    nameStats: names.stats,
    connect: (opts) =>
      new Promise((resolve, reject) => {
        // Half-open like the Unix side: each direction ends on its own (bridge.ts).
        const socket = new TcpSocket({ driver, allowHalfOpen: true });
        socket.once('error', reject);
        socket.connect(
          {
            host: opts.address,
            port: opts.port,
            ...(opts.localAddress !== undefined && { localAddress: opts.localAddress }),
            ...(opts.localPort !== undefined && { localPort: opts.localPort }),
            ...(opts.noDelay !== undefined && { noDelay: opts.noDelay }),
          },
          () => {
            socket.off('error', reject);
            resolve(socket);
          },
        );
      }),
    listen: (opts, onConnection) =>
      // A daemon without a name layer (no nameservers) has no names of its own, so a name
      // listener that asks for nothing but wildcards is a plain listener (any destination
      // name, any peer); constraints it cannot check are refused by the name layer.
      opts.names && (names.names !== undefined || !anyWildcard(opts.names)) ? names.listen(opts, onConnection) : new Promise((resolve, reject) => {
        const server = new TcpServer(driver, { allowHalfOpen: true, pauseOnConnect: true }, onConnection);
        server.once('error', reject);
        server.listen({ port: opts.port, backlog: opts.backlog, ...(opts.address !== undefined && { host: opts.address }) }, () => {
          server.off('error', reject);
          const a = server.address()!;
          resolve({ local: { address: a.address, port: a.port }, close: () => server.close() });
        });
      }),
    stats: () => ({
      counters: { ...tcp.counters },
      connections: [...tcp.connections()].map((c) => ({
        local: { address: formatAddress(c.localAddress), port: c.localPort },
        remote: { address: formatAddress(c.remoteAddress), port: c.remotePort },
        ...c.stats(),
      })),
    }),
  };
}
