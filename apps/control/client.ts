// A Node client of the control protocol (docs/control-protocol.md): open the socket, send one
// request line, read the reply line, keep the connection for the stream or the events that
// follow. The CLI tools use it; other languages need only the few lines the doc shows.

import { createConnection, type Socket } from 'node:net';
import { LineReader, TOO_BIG } from './line-reader.js';
import { encodeLine, type ControlRequest, type ErrorBody, type NameListenRequest } from './protocol.js';

/** A reply line may be large (stats of many connections), but not without bound. */
const MAX_REPLY_BYTES = 64 << 20;

/** An error reply from the daemon, or a failure to reach it; `code` says which. */
export class ControlError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

export interface ControlSession<R> {
  /** The connection, paused, positioned after the reply line. */
  socket: Socket;
  reply: R;
  /** Bytes that arrived after the reply line (the start of a stream, or of the next event line). */
  rest: Buffer;
}

function unreachable(path: string, err: NodeJS.ErrnoException): ControlError {
  const code = err.code ?? 'EIO';
  const advice =
    code === 'ENOENT' || code === 'ECONNREFUSED'
      ? `no daemon serves ${path}: start one with 'namestack host', or give --control PATH`
      : code === 'EACCES'
        ? `no permission to use ${path} (the socket is mode 0600: run as the daemon's user)`
        : `cannot reach the daemon at ${path}: ${err.message}`;
  return new ControlError(code, advice);
}

/**
 * Sends `request` on a new control connection and resolves with the successful reply and the
 * connection; an error reply rejects with ControlError(code).
 */
export function openControl<R = Record<string, unknown>>(path: string, request: ControlRequest | NameListenRequest): Promise<ControlSession<R>> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path, allowHalfOpen: true });
    const reader = new LineReader(MAX_REPLY_BYTES);
    let connected = false;
    const fail = (e: ControlError): void => {
      socket.destroy();
      reject(e);
    };
    const onData = (chunk: Buffer): void => {
      reader.push(chunk);
      const line = reader.next();
      if (line === undefined) return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.pause();
      if (line === TOO_BIG) return fail(new ControlError('ETOOBIG', 'the reply line is too long'));
      let reply: { ok?: boolean; error?: ErrorBody };
      try {
        reply = JSON.parse(line) as typeof reply;
      } catch {
        return fail(new ControlError('EPROTO', `the daemon sent a reply that is not JSON: ${line.slice(0, 80)}`));
      }
      if (reply.ok !== true) {
        socket.destroy();
        return reject(new ControlError(reply.error?.code ?? 'EPROTO', reply.error?.message ?? 'error reply without a message'));
      }
      resolve({ socket, reply: reply as R, rest: reader.rest() });
    };
    const onEnd = (): void => fail(new ControlError('EPROTO', 'the daemon closed the connection without a reply'));
    const onError = (err: NodeJS.ErrnoException): void => fail(connected ? new ControlError(err.code ?? 'EIO', err.message) : unreachable(path, err));
    socket.once('connect', () => {
      connected = true;
      socket.write(encodeLine(request));
    });
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
  });
}

/** One request, one reply, connection closed: ping, version, stats, wait. */
export async function controlCall<R = Record<string, unknown>>(path: string, request: ControlRequest): Promise<R> {
  const { socket, reply } = await openControl<R>(path, request);
  socket.destroy();
  return reply;
}
