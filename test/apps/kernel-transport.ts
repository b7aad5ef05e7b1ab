// The control server's StreamTransport over Node's `net`, i.e. the kernel's TCP on loopback:
// it lets the control-protocol tests exercise framing, streams, half-close, backpressure and
// client death against a real TCP peer without a TUN. The daemon itself uses the stack's TCP.

import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import type { StreamSocket, StreamTransport } from '../../apps/host/transport.js';

export function kernelTransport(): StreamTransport & { sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  const track = (s: Socket): Socket => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    return s;
  };
  return {
    sockets,
    connect: (opts) =>
      new Promise((resolve, reject) => {
        const s = connect({
          host: opts.address,
          port: opts.port,
          allowHalfOpen: true,
          ...(opts.localAddress !== undefined && { localAddress: opts.localAddress }),
          ...(opts.localPort !== undefined && { localPort: opts.localPort }),
          ...(opts.noDelay !== undefined && { noDelay: opts.noDelay }),
        });
        s.once('error', reject);
        s.once('connect', () => {
          s.off('error', reject);
          resolve(track(s) as StreamSocket);
        });
      }),
    listen: (opts, onConnection) =>
      new Promise((resolve, reject) => {
        const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => onConnection(track(s) as StreamSocket));
        server.once('error', reject);
        server.listen({ port: opts.port, host: opts.address ?? '127.0.0.1', backlog: opts.backlog }, () => {
          const a = server.address() as AddressInfo;
          resolve({ local: { address: a.address, port: a.port }, close: () => server.close() });
        });
      }),
    stats: () => ({ connections: sockets.size }),
  };
}
