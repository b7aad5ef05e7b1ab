// What `namestack perf` needs from a TCP implementation: connect, listen, and sockets that
// are Node Duplex streams. The engine runs unchanged over Node's `net` (the kernel's TCP,
// the reference) and over namestack's TCP (in-process, or through the host daemon's control
// socket), so the same test compares the two.

import net from 'node:net';
import type { Duplex } from 'node:stream';
import { kernelCongestion, kernelTcpInfo, setKernelCongestion } from './tcp-info.js';

/** Sender-side TCP state like iperf3 reads from TCP_INFO (iperf3's Retr and Cwnd columns). */
export interface TcpInfoSample {
  /** Retransmitted segments since the connection began (tcpi_total_retrans). */
  totalRetransmits: number;
  /** Congestion window in bytes (tcpi_snd_cwnd x tcpi_snd_mss). */
  cwndBytes: number;
  /** Peer's advertised window in bytes (tcpi_snd_wnd). */
  sendWindowBytes: number;
  /** Smoothed RTT and its variation, microseconds. */
  rttUs: number;
  rttVarUs: number;
  /** Path MTU. */
  pmtu: number;
}

export interface PerfSocket extends Duplex {
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  setNoDelay?(noDelay?: boolean): unknown;
}

export interface PerfListener {
  /** The port listened on (the one chosen when 0 was asked for). */
  readonly port: number;
  close(): void;
}

export interface PerfTransport {
  /** A short name for reports ('kernel', 'namestack'). */
  readonly name: string;
  /** Resolves once the connection is established; rejects with a coded Error (ECONNREFUSED, ...). */
  connect(host: string, port: number): Promise<PerfSocket>;
  /** Accepts connections on `port` (every address, both families); rejects with EADDRINUSE, ... */
  listen(port: number, onConnection: (socket: PerfSocket) => void): Promise<PerfListener>;
  /** TCP_INFO-like counters of a socket this transport made, when it can read them. */
  tcpInfo?(socket: PerfSocket): TcpInfoSample | undefined;
  /** Sets a socket's congestion control (iperf3 -C); false when the name is unknown here. */
  setCongestion?(socket: PerfSocket, name: string): boolean;
  /** The congestion control a socket uses (iperf3's congestion_used). */
  congestion?(socket: PerfSocket): string | undefined;
}

/** Node's `net`: the Linux kernel's TCP. */
export const kernelTransport: PerfTransport = {
  name: 'kernel',
  connect(host, port) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', reject);
    });
  },
  listen(port, onConnection) {
    return new Promise((resolve, reject) => {
      const server = net.createServer(onConnection);
      server.once('error', reject);
      // No host: Node binds '::' with IPV6_V6ONLY off, so IPv4 clients arrive too (as iperf3 does).
      server.listen(port, () => {
        server.off('error', reject);
        const address = server.address();
        resolve({ port: typeof address === 'object' && address ? address.port : port, close: () => server.close() });
      });
    });
  },
  tcpInfo: (socket) => kernelTcpInfo(socket),
  setCongestion: (socket, name) => setKernelCongestion(socket, name),
  congestion: (socket) => kernelCongestion(socket),
};
