// Tells the main thread when TUN descriptors have packets, without the libuv thread pool.
//
// Why: fs.read on a TUN fd goes through the libuv pool and caps at ~45k packets/s here
// (REFERENCE.md "TUN on Linux"), and Node offers no way to poll a character device on the
// event loop. So a worker thread blocks in poll(2) and the MAIN thread does the reads, on
// non-blocking descriptors, until EAGAIN. Measured against a worker that reads packets
// itself into a SharedArrayBuffer ring (docs/BENCHMARKS.md, "TUN driver"): on this 2-core
// machine under a kernel sender, main-thread reads delivered 626k packets/s at 1500 B and
// 6.7 GB/s at 64 KiB, the ring 382k and 2.0 GB/s (three busy threads on two cores, plus
// a copy out of the ring). The worker costs one wake-up per batch, not per packet.
//
// Protocol over one shared Int32 (`state`):
//   IDLE    the main thread has drained; the worker polls.
//   READY   poll reported a descriptor readable (or in error); the worker waits for IDLE.
//   CLOSING close() was called; the worker leaves (woken from poll by an eventfd).
// Each side changes the state with compareExchange, so CLOSING is never overwritten.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { closeFile, eventfd, eventfdSignal, POLLFD_SIZE, POLLIN, pollfdSet } from './libc.js';

const IDLE = 0;
const READY = 1;
const CLOSING = 2;

// The worker is plain JavaScript evaluated from a string: it then runs the same way from the
// TypeScript sources (vitest) and from build/, which a worker file path could not do.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const poll = koffi.load('libc.so.6').func('int poll(void *fds, unsigned long nfds, int timeout)');
const EINTR = koffi.os.errno.EINTR;
const state = new Int32Array(workerData.state);
const fds = new Uint8Array(workerData.pollfds);
const count = fds.length / ${POLLFD_SIZE};
for (;;) {
  const n = poll(fds, count, -1);
  if (Atomics.load(state, 0) === ${CLOSING}) break;
  if (n < 0) {
    const errno = koffi.errno();
    if (errno === EINTR) continue;
    parentPort.postMessage({ pollErrno: errno });
    break;
  }
  // Only CLOSING ends the loop: a state still READY (the main thread has not drained yet)
  // means waiting again, never leaving, or the descriptors would go unwatched for good.
  const was = Atomics.compareExchange(state, 0, ${IDLE}, ${READY});
  if (was === ${CLOSING}) break;
  if (was === ${IDLE}) Atomics.notify(state, 0);
  while (Atomics.load(state, 0) === ${READY}) Atomics.wait(state, 0, ${READY});
  if (Atomics.load(state, 0) === ${CLOSING}) break;
}
`;

const koffiPath = createRequire(import.meta.url).resolve('koffi');

// Atomics.waitAsync is in Node 16+ but only in TypeScript's ES2024 lib (tsconfig has ES2023).
type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): WaitAsyncResult }).waitAsync;

export class ReadinessWatcher {
  private readonly state = new Int32Array(new SharedArrayBuffer(4));
  private wakeFd: number;
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private closed = false;

  /**
   * Starts watching `fds` for POLLIN. `onReady` runs on the main thread when one is readable
   * (or in error); the caller then reads until EAGAIN and calls rearm(). `onError` gets a
   * failure of the watcher itself (poll failing or the worker dying), after which it stops.
   */
  constructor(
    fds: readonly number[],
    private readonly onReady: () => void,
    private readonly onError: (err: Error) => void,
  ) {
    this.wakeFd = eventfd();
    const pollfds = new Uint8Array((fds.length + 1) * POLLFD_SIZE);
    fds.forEach((fd, i) => pollfdSet(pollfds, i, fd, POLLIN));
    pollfdSet(pollfds, fds.length, this.wakeFd, POLLIN);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { koffiPath, state: this.state.buffer, pollfds: pollfds.buffer },
      // The worker needs no heap to speak of; keep its footprint small.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
    });
    this.worker.on('message', (m: { pollErrno: number }) => this.fail(new Error(`TUN poll failed with errno ${m.pollErrno}`)));
    this.worker.on('error', (err) => this.fail(err));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    // The worker leaves only when closed: any other exit would leave the descriptors unread.
    this.worker.once('exit', (code) => this.fail(new Error(`TUN poll worker exited (code ${code})`)));
    this.waitForReady();
  }

  /** The caller drained every descriptor: let the worker poll again. */
  rearm(): void {
    if (Atomics.compareExchange(this.state, 0, READY, IDLE) !== READY) return;
    Atomics.notify(this.state, 0);
    this.waitForReady();
  }

  /** Stops the worker and waits until it has exited; the watched fds stay open (the caller owns them). */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      Atomics.store(this.state, 0, CLOSING);
      Atomics.notify(this.state, 0);
      eventfdSignal(this.wakeFd);
    }
    await this.exited;
    if (this.wakeFd >= 0) closeFile(this.wakeFd);
    this.wakeFd = -1;
  }

  private waitForReady(): void {
    const wait = waitAsync(this.state, 0, IDLE);
    if (wait.async) void wait.value.then(this.fire);
    else setImmediate(this.fire);
  }

  private readonly fire = (): void => {
    if (this.closed) return;
    if (Atomics.load(this.state, 0) === READY) this.onReady();
    // Woken while IDLE (a notify meant for the worker): keep waiting, or no one ever would.
    else this.waitForReady();
  };

  private fail(err: Error): void {
    if (this.closed) return;
    this.onError(err);
    void this.close();
  }
}
