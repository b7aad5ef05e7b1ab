// namestack's TCP in this process: TcpSocket / TcpServer (stack/socket/) on a stack that a
// SocketDriver runs (a HostRuntime on TUN devices, or a simulator). The in-process mode
// avoids the daemon's Unix-socket hop, so a benchmark sees the stack's own cost.

import type { TcpConnectionStats } from '../../stack/tcp/connection.js';
import { TcpServer } from '../../stack/socket/tcp-server.js';
import { TcpSocket, type SocketDriver } from '../../stack/socket/tcp-socket.js';
import type { PerfSocket, PerfTransport, TcpInfoSample } from './transport.js';

/**
 * The stack's counters in TCP_INFO's terms. The stack counts retransmitted bytes, not
 * segments; divided by the MSS they give the segment count iperf3 shows for the kernel.
 */
export function tcpInfoOf(s: TcpConnectionStats): TcpInfoSample {
  return {
    totalRetransmits: s.mss > 0 ? Math.round(s.retransmittedBytes / s.mss) : 0,
    cwndBytes: s.cwnd,
    sendWindowBytes: s.sendWindow,
    rttUs: Math.round((s.srttMs ?? 0) * 1000),
    rttVarUs: Math.round((s.rttVarMs ?? 0) * 1000),
    pmtu: s.pathMtu,
  };
}

export function namestackTransport(driver: SocketDriver): PerfTransport {
  return {
    name: 'namestack',
    connect: (host, port) =>
      new Promise((resolve, reject) => {
        const socket = new TcpSocket({ driver });
        socket.once('error', reject);
        socket.connect({ host, port }, () => {
          socket.off('error', reject);
          resolve(socket);
        });
      }),
    listen: (port, onConnection) =>
      new Promise((resolve, reject) => {
        const server = new TcpServer(driver, {}, onConnection);
        server.once('error', reject);
        server.listen({ port }, () => {
          server.off('error', reject);
          resolve({ port: server.address()?.port ?? port, close: () => server.close() });
        });
      }),
    tcpInfo: (socket: PerfSocket) => {
      const stats = socket instanceof TcpSocket ? socket.tcpInfo() : undefined;
      return stats && tcpInfoOf(stats);
    },
    // The stack's congestion control is a stack setting (config.tcp), not per socket: -C is not
    // applied here, but the one in use is reported.
    congestion: (socket: PerfSocket) => (socket instanceof TcpSocket ? socket.tcpInfo()?.congestionControl : undefined),
  };
}
