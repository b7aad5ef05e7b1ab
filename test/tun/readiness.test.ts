// ReadinessWatcher (tun/readiness.ts) on eventfds, which poll(2) like a TUN queue: the main
// thread hears of every readable moment however the wake-ups interleave, and a worker that
// goes away is reported instead of leaving the descriptors unwatched.

import { afterEach, describe, expect, it } from 'vitest';
import { closeFile, eventfd, eventfdSignal, readInto } from '../../tun/libc.js';
import { ReadinessWatcher } from '../../tun/readiness.js';

const NONBLOCK = 0o4000;
const open: number[] = [];
const watchers: ReadinessWatcher[] = [];

afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
  for (const fd of open.splice(0)) closeFile(fd);
});

/** A watcher on one eventfd whose onReady drains it and rearms; resolves `next()` per wake-up. */
function watched(): { fd: number; watcher: ReadinessWatcher; next: () => Promise<void>; errors: Error[] } {
  const fd = eventfd(NONBLOCK);
  open.push(fd);
  const errors: Error[] = [];
  let wake: () => void = () => {};
  const buf = new Uint8Array(8);
  const watcher = new ReadinessWatcher(
    [fd],
    () => {
      while (readInto(fd, buf) > 0);
      watcher.rearm();
      wake();
    },
    (e) => errors.push(e),
  );
  watchers.push(watcher);
  const next = () => new Promise<void>((resolve) => (wake = resolve));
  return { fd, watcher, next, errors };
}

const within = <T>(p: Promise<T>, ms = 2000): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms))]);

describe('ReadinessWatcher', () => {
  it('wakes the main thread for every readable moment, 200 times in a row', async () => {
    const { fd, next } = watched();
    for (let i = 0; i < 200; i++) {
      const woke = next();
      eventfdSignal(fd);
      await within(woke);
    }
  });

  it('keeps waiting after a wake-up that finds nothing ready (a stray notify while idle)', async () => {
    const { fd, watcher, next, errors } = watched();
    const first = next();
    eventfdSignal(fd);
    await within(first);
    // A notify on the shared word while idle wakes the main thread's waiter: it must wait again.
    Atomics.notify((watcher as unknown as { state: Int32Array }).state, 0);
    await new Promise((r) => setTimeout(r, 50));
    const second = next();
    eventfdSignal(fd);
    await within(second);
    expect(errors).toEqual([]);
  });

  it('reports a worker that exits without close()', async () => {
    const { watcher, errors } = watched();
    await (watcher as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await within(
      (async () => {
        while (errors.length === 0) await new Promise((r) => setTimeout(r, 10));
      })(),
    );
    expect(errors[0]!.message).toMatch(/TUN poll worker exited/);
  });
});
