// The conversation between the lab and a path's relay process over its Unix socket: one
// JSON request line, one JSON reply line, then the relay closes the connection. Changing a
// path's impairment is a request, so the relay (and the packets it holds) keeps running.

import { rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { ImpairmentStats } from '../../tun/impairment.js';
import type { PathImpairment } from './state.js';

/** The part of a path's impairment the relay applies (the rate is tbf's job). */
export type RelayParams = Omit<PathImpairment, 'rateBitsPerSecond'>;

export type RelayRequest = { op: 'set'; params: RelayParams } | { op: 'stats' };

export interface RelayReply {
  ok: boolean;
  error?: string;
  params?: RelayParams;
  /**
   * Per relay TUN (`rc`: traffic that came from the client side, `rs`: from the server side):
   * the model's counters, packets held now, and packets dropped because the relay held its
   * limit (ImpairedLink holdLimitPackets/Bytes).
   */
  stats?: Record<string, ImpairmentStats & { pending: number; holdDropped: number }>;
}

/** Largest request or reply line either side accepts. */
export const MAX_LINE = 64 * 1024;

export function relayRequest(socketPath: string, request: RelayRequest, timeoutMs = 3000): Promise<RelayReply> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`relay at ${socketPath} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(request) + '\n'));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE) sock.destroy(new Error('relay reply too long'));
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        const reply = JSON.parse(buf) as RelayReply;
        if (!reply.ok) reject(new Error(`relay: ${reply.error ?? 'request failed'}`));
        else resolve(reply);
      } catch {
        reject(new Error(`relay at ${socketPath} sent an unreadable reply: ${JSON.stringify(buf.slice(0, 200))}`));
      }
    });
  });
}

/**
 * The relay's side: listens on `socketPath` (replacing a stale socket file) and answers each
 * connection's first line with `answer`, then closes it; anything sent after that line is
 * ignored, and a line longer than MAX_LINE ends the connection unanswered.
 */
export function serveRelayControl(socketPath: string, answer: (req: RelayRequest) => RelayReply, onListening?: () => void): Server {
  const server = createServer((sock: Socket) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => sock.destroy());
    const onData = (chunk: string): void => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > MAX_LINE) sock.destroy();
        return;
      }
      sock.off('data', onData);
      let reply: RelayReply;
      try {
        reply = answer(JSON.parse(buf.slice(0, nl)) as RelayRequest);
      } catch (err) {
        reply = { ok: false, error: (err as Error).message };
      }
      sock.end(JSON.stringify(reply) + '\n');
    };
    sock.on('data', onData);
  });
  rmSync(socketPath, { force: true });
  server.listen(socketPath, onListening);
  return server;
}
