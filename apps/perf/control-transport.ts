// namestack's TCP through the host daemon (docs/control-protocol.md): each connection is a
// Unix connection to the daemon's control socket that becomes the TCP stream after the
// reply to `connect` or `accept`; a listener is a `listen` connection whose event lines
// announce connections, each taken with its own `accept`.

import type { Socket } from 'node:net';
import { ControlError, openControl } from '../control/client.js';
import { LineReader, TOO_BIG } from '../control/line-reader.js';
import { DEFAULT_CONTROL_PATH, type Endpoint, type ListenEvent, type ListenReply, type StreamReply } from '../control/protocol.js';
import type { PerfListener, PerfSocket, PerfTransport } from './transport.js';

/** Longest event line we accept from the daemon. */
const MAX_EVENT_BYTES = 64 * 1024;

/** The stream's TCP endpoints on the Unix socket that carries it (Node's own fields are the Unix ones). */
function asTcpSocket(socket: Socket, rest: Buffer, local: Endpoint, remote: Endpoint): PerfSocket {
  if (rest.length > 0) socket.unshift(rest);
  Object.defineProperties(socket, {
    localAddress: { value: local.address },
    localPort: { value: local.port },
    remoteAddress: { value: remote.address },
    remotePort: { value: remote.port },
    // The daemon sets TCP options at connect; the Unix socket has none to set.
    setNoDelay: { value: () => socket },
  });
  return socket;
}

export function controlTransport(path = process.env.NAMESTACK_CONTROL ?? DEFAULT_CONTROL_PATH): PerfTransport {
  const accept = async (id: number, onConnection: (socket: PerfSocket) => void): Promise<void> => {
    const { socket, reply, rest } = await openControl<StreamReply>(path, { op: 'accept', id });
    onConnection(asTcpSocket(socket, rest, reply.local, reply.remote));
  };
  return {
    name: 'namestack',
    async connect(host, port) {
      // noDelay: iperf3 sets TCP_NODELAY on its control connection; small messages must not wait.
      const { socket, reply, rest } = await openControl<StreamReply>(path, { op: 'connect', host, port, noDelay: true });
      return asTcpSocket(socket, rest, reply.local, reply.remote);
    },
    async listen(port, onConnection): Promise<PerfListener> {
      const { socket, reply, rest } = await openControl<ListenReply>(path, { op: 'listen', port });
      const reader = new LineReader(MAX_EVENT_BYTES);
      const onData = (chunk: Buffer): void => {
        reader.push(chunk);
        for (let line = reader.next(); line !== undefined; line = reader.next()) {
          if (line === TOO_BIG) return void socket.destroy();
          let event: ListenEvent;
          try {
            event = JSON.parse(line) as ListenEvent;
          } catch {
            continue;
          }
          if (event.event === 'connection' && Number.isSafeInteger(event.id)) {
            // A connection that vanished before we took it is the daemon's to count.
            accept(event.id, onConnection).catch((err: unknown) => {
              if (!(err instanceof ControlError)) throw err;
            });
          }
        }
      };
      socket.on('data', onData);
      socket.on('error', () => {});
      onData(rest);
      socket.resume();
      return { port: reply.local.port, close: () => socket.destroy() };
    },
  };
}
