// Joins a control client's Unix connection to a TCP connection once the stream reply has been
// sent (docs/control-protocol.md "Streams"): bytes both ways, with the kernel's semantics for
// every way either side can end.
//
//   client shutdown(SHUT_WR)      -> TCP end() (FIN after the queued bytes)
//   TCP peer's FIN                -> shutdown(SHUT_WR) of the Unix socket (client reads EOF)
//   TCP reset / timeout / error   -> the Unix socket is destroyed; the error is the stream's
//                                    outcome (wait, or the listener's `closed` event)
//   client closes its socket      -> like close(2) on a kernel socket: FIN when nothing is
//                                    unread, reset when received bytes are left unread or
//                                    more arrive; an orphan gets orphanTimeoutMs to finish
//
// Backpressure: a write that fills the other side's buffer pauses the reading side until
// 'drain', so a slow Unix client shrinks the TCP window (the TCP socket stops being read)
// and a slow TCP peer stops the daemon reading the Unix socket. Memory per stream is bounded
// by the two sockets' high-water marks.

import type { Socket } from 'node:net';
import type { ErrorBody } from '../control/protocol.js';
import type { StreamSocket } from './transport.js';
import { watchHangup } from './unix-peer.js';

export interface BridgeOptions {
  /** How long a stream whose client closed its socket may take to finish before a reset, ms. */
  orphanTimeoutMs: number;
  /** How often a half-closed client is checked for having gone away, ms. */
  hangupCheckMs?: number;
}

export interface Bridge {
  /** Graceful stop (daemon shutdown): no more bytes from the client, FIN to the peer. */
  drain(): void;
  /** Hard stop: reset the TCP connection and drop the client. */
  abort(): void;
}

/** The outcome code for an error from either socket. */
export function errorBody(err: unknown, fallback = 'EIO'): ErrorBody {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === 'string' ? e.code : fallback, message: typeof e?.message === 'string' ? e.message : String(err) };
}

const CLIENT_GONE: ErrorBody = { code: 'ECONNABORTED', message: 'the control client closed the stream with data left unread' };

export function bridge(unix: Socket, tcp: StreamSocket, initial: Buffer, opts: BridgeOptions, done: (error: ErrorBody | null) => void): Bridge {
  let error: ErrorBody | null = null;
  let unixClosed = false;
  let tcpClosed = false;
  let clientEnded = false; // the client shut down its sending side (or closed)
  let peerEnded = false; // the TCP peer's FIN reached us
  let finished = false;
  let orphanTimer: NodeJS.Timeout | undefined;
  let stopHangupWatch: (() => void) | undefined;

  const finish = (): void => {
    if (finished || !unixClosed || !tcpClosed) return;
    finished = true;
    clearTimeout(orphanTimer);
    stopHangupWatch?.();
    done(error);
  };
  const fail = (e: ErrorBody): void => {
    error ??= e;
  };
  const reset = (e: ErrorBody): void => {
    fail(e);
    if (!tcp.destroyed) tcp.resetAndDestroy();
  };

  // Client -> peer.
  const fromClient = (chunk: Buffer): void => {
    if (!tcp.write(chunk)) unix.pause();
  };
  if (initial.length > 0) tcp.write(initial);
  unix.on('data', fromClient);
  tcp.on('drain', () => unix.resume());
  const onClientEnd = (): void => {
    clientEnded = true;
    tcp.end();
    // A half-closed client may still be reading; one that closed entirely (or died) is an
    // orphan, which only poll(2) can tell apart while we have nothing to write to it.
    if (!peerEnded) stopHangupWatch = watchHangup(unix, () => unix.destroy(), opts.hangupCheckMs);
  };
  // The client may have sent its EOF with the request, before we got here.
  if (unix.readableEnded) onClientEnd();
  else unix.once('end', onClientEnd);

  // Peer -> client.
  tcp.on('data', (chunk: Buffer) => {
    if (unixClosed) return reset(CLIENT_GONE);
    if (!unix.write(chunk)) tcp.pause();
  });
  unix.on('drain', () => tcp.resume());
  tcp.on('end', () => {
    peerEnded = true;
    // Our shutdown makes poll(2) report a hang-up whatever the client did: stop asking.
    stopHangupWatch?.();
    if (!unix.destroyed) unix.end();
  });

  tcp.on('error', (err) => {
    fail(errorBody(err));
    unix.destroy();
  });
  tcp.on('close', () => {
    tcpClosed = true;
    // Closed without the peer's FIN: reset, timeout or abort; the client must not mistake it for EOF.
    if (!peerEnded) unix.destroy();
    finish();
  });

  unix.on('error', (err) => {
    // EPIPE/ECONNRESET: the client went away while we wrote to it.
    reset({ code: 'ECONNABORTED', message: `the control client went away (${errorBody(err).code})` });
  });
  unix.on('close', () => {
    unixClosed = true;
    stopHangupWatch?.();
    if (!tcp.destroyed && !(clientEnded && peerEnded)) {
      if (!clientEnded || tcp.readableLength > 0) {
        // Gone without shutting down, or with received bytes unread: close(2) would reset.
        reset(CLIENT_GONE);
      } else {
        orphanTimer = setTimeout(() => reset({ code: 'ETIMEDOUT', message: 'orphaned stream did not finish in time' }), opts.orphanTimeoutMs);
        orphanTimer.unref();
        // Nobody reads any more: take what arrives, so a late segment resets as on an orphaned kernel socket.
        tcp.resume();
      }
    }
    finish();
  });

  return {
    drain(): void {
      if (finished) return;
      unix.off('data', fromClient);
      unix.pause();
      if (!tcp.destroyed) tcp.end();
    },
    abort(): void {
      if (finished) return;
      reset({ code: 'ESHUTDOWN', message: 'the daemon stopped' });
      unix.destroy();
    },
  };
}
