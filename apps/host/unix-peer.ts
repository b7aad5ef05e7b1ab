// Two facts about the process at the other end of a Unix stream socket that Node does not
// expose: who it is (SO_PEERCRED, unix(7)), so limits can be kept per client process, and
// whether it has closed the socket completely or only shut down its sending side (POLLHUP
// versus POLLRDHUP, poll(2)), so a stream whose client died can be treated like an orphaned
// kernel socket. Both are single non-blocking system calls through koffi (poll(2) is the
// TUN driver's binding in tun/libc.ts).

import type { Socket } from 'node:net';
import koffi from 'koffi';
import { poll, POLLFD_SIZE, pollfdRevents, pollfdSet, POLLHUP } from '../../tun/libc.js';

// <sys/socket.h> on Linux (x86-64 and arm64 agree).
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** struct ucred { pid_t pid; uid_t uid; gid_t gid; } */
const UCRED_SIZE = 12;

const cGetsockopt = koffi.load('libc.so.6').func('getsockopt', 'int', ['int', 'int', 'int', 'void *', 'void *']);

/** The descriptor under a connected net.Socket (libuv's handle keeps it; undefined if gone). */
function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** The credentials the peer had when it connected, or undefined when they cannot be read. */
export function peerCredentials(socket: Socket): PeerCredentials | undefined {
  const fd = socketFd(socket);
  if (fd === undefined) return undefined;
  const cred = new Uint8Array(UCRED_SIZE);
  const len = new Uint32Array([UCRED_SIZE]);
  if ((cGetsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len) as number) !== 0) return undefined;
  const v = new DataView(cred.buffer);
  return { pid: v.getInt32(0, true), uid: v.getUint32(4, true), gid: v.getUint32(8, true) };
}

/**
 * True when the peer has closed its end entirely (the kernel reports POLLHUP only once both
 * directions are shut down, which a live client that merely half-closed never causes).
 */
export function peerHungUp(socket: Socket): boolean {
  const fd = socketFd(socket);
  if (fd === undefined) return true;
  const pfd = new Uint8Array(POLLFD_SIZE);
  // events 0: POLLHUP and POLLERR are always reported.
  pollfdSet(pfd, 0, fd, 0);
  if (poll(pfd, 1, 0) < 0) return false;
  return (pollfdRevents(pfd, 0) & POLLHUP) !== 0;
}

/**
 * Calls `gone` once the peer of a socket it has shut down for sending (we saw EOF) has closed
 * it entirely, checking every `intervalMs` (it tells a client that died apart from one that
 * only half-closed and still reads). Only meaningful while our own side is not shut down.
 * Returns a function that stops the checks.
 */
export function watchHangup(socket: Socket, gone: () => void, intervalMs = 2000): () => void {
  const check = (): void => {
    if (socket.destroyed) return stop();
    if (peerHungUp(socket)) {
      stop();
      gone();
    }
  };
  const timer = setInterval(check, intervalMs);
  timer.unref();
  const stop = (): void => clearInterval(timer);
  check();
  return stop;
}
