// namestack's TCP in this process: TcpSocket / TcpServer (stack/socket/) on a stack that a
// SocketDriver runs (a HostRuntime on TUN devices, or a simulator), plain TCP or MPTCP
// (RFC 8684, falling back to TCP when the peer does not offer it). The in-process mode avoids
// the daemon's Unix-socket hop, so a benchmark sees the stack's own cost.

import type { MptcpLayer } from '../../stack/mptcp/layer.js';
import { TcpServer } from '../../stack/socket/tcp-server.js';
import { TcpSocket, type SocketDriver } from '../../stack/socket/tcp-socket.js';
import type { TcpConnectionStats } from '../../stack/tcp/connection.js';
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

/** A socket on an MPTCP connection it opens itself (TcpSocket.connect opens plain TCP). */
class MptcpClientSocket extends TcpSocket {
  /** Active open with MP_CAPABLE; 'connect' or 'error' follow as for connect(). */
  open(mptcp: MptcpLayer, driver: SocketDriver, host: string, port: number): void {
    this.connecting = true;
    let conn;
    try {
      conn = mptcp.connect({ remoteAddress: host, remotePort: port }, driver.now());
    } catch (err) {
      const e = err as { code?: string; message: string };
      queueMicrotask(() => this.destroy(Object.assign(new Error(e.message), { code: e.code ?? 'EINVAL' })));
      return;
    }
    this.attach(conn);
    driver.kick();
  }
}

/** Opens `socket` and resolves once it is established. */
function established<T extends TcpSocket>(socket: T, start: (socket: T) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    start(socket);
  });
}

/**
 * namestack's sockets as a perf transport. With `mptcp`, connections are MPTCP (the kernel's
 * `mptcpize run iperf3` is the peer) and the listener takes MPTCP and plain TCP alike.
 */
export function namestackTransport(driver: SocketDriver, mptcp?: MptcpLayer): PerfTransport {
  return {
    name: mptcp ? 'namestack-mptcp' : 'namestack',
    connect: (host, port) =>
      mptcp
        ? established(new MptcpClientSocket({ driver }), (s) => s.open(mptcp, driver, host, port))
        : established(new TcpSocket({ driver }), (s) => s.connect({ host, port })),
    listen: (port, onConnection) =>
      new Promise((resolve, reject) => {
        if (mptcp) {
          try {
            const listener = mptcp.listen({ port, onConnection: (conn) => onConnection(new TcpSocket({ driver, connection: conn })) });
            driver.kick();
            const close = (): void => {
              listener.close();
              driver.kick();
            };
            resolve({ port: listener.port, close });
          } catch (err) {
            reject(err as Error);
          }
          return;
        }
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
