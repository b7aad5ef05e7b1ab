// Byte streams through a namestack host daemon's control socket (docs/control-protocol.md),
// for the lab's transfers against kernel peers: one side connects (`connect`), the other
// listens and takes the first connection (`listen`, then `accept` on a second control
// connection). Each sends its payload, half-closes and collects everything the peer sent.

import type { Socket } from 'node:net';
import { openControl } from '../control/client.js';

/** Sends `payload` on an open stream, half-closes, resolves with all bytes until the peer's end. */
export function exchangeOnStream(socket: Socket, rest: Buffer, payload: Uint8Array): Promise<Buffer> {
  const chunks: Buffer[] = [rest];
  return new Promise((resolve, reject) => {
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    socket.resume();
    socket.end(payload);
  });
}

/**
 * Opens a stream from the daemon at `control` to host:port, sends `payload`, half-closes,
 * and returns everything the peer sent back.
 */
export async function streamThroughDaemon(control: string, host: string, port: number, payload: Uint8Array): Promise<Buffer> {
  const { socket, rest } = await openControl(control, { op: 'connect', host, port });
  return exchangeOnStream(socket, rest, payload);
}

export interface DaemonListener {
  /** The listen reply's local address. */
  local: { address: string; port: number };
  /**
   * Resolves with what the first connection's peer sent (until its end), after this side
   * sent `payload` and half-closed.
   */
  received: Promise<Buffer>;
  /** Closes the listener (connections already accepted live on). */
  close(): void;
}

/** Listens on `port` in the daemon at `control`; the first connection exchanges `payload`. */
export async function listenThroughDaemon(control: string, port: number, payload: Uint8Array, address?: string): Promise<DaemonListener> {
  const { socket, reply, rest } = await openControl<{ local: { address: string; port: number } }>(control, {
    op: 'listen',
    port,
    ...(address !== undefined && { address }),
  });
  const received = new Promise<Buffer>((resolve, reject) => {
    let lines = rest.toString();
    let taken = false;
    const onLine = (line: string): void => {
      const event = JSON.parse(line) as { event: string; id: number };
      if (event.event !== 'connection' || taken) return;
      taken = true;
      openControl(control, { op: 'accept', id: event.id })
        .then(({ socket: stream, rest: head }) => exchangeOnStream(stream, head, payload))
        .then(resolve, reject);
    };
    const drain = (): void => {
      for (let nl = lines.indexOf('\n'); nl >= 0; nl = lines.indexOf('\n')) {
        const line = lines.slice(0, nl);
        lines = lines.slice(nl + 1);
        if (line.trim()) onLine(line);
      }
    };
    socket.on('data', (d: Buffer) => {
      lines += d.toString();
      drain();
    });
    socket.on('error', (e) => {
      if (!taken) reject(e);
    });
    socket.on('end', () => {
      if (!taken) reject(new Error('the daemon closed the listen connection before a connection came'));
    });
    socket.resume();
    drain();
  });
  return { local: reply.local, received, close: () => socket.destroy() };
}
