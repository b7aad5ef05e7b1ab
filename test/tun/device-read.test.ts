// TunDevice's read loop over a descriptor that is not a TUN (no root needed): whatever reads
// return, a receive batch ends and the event loop gets its turn.

import { describe, expect, it } from 'vitest';
import { TunDevice } from '../../tun/device.js';
import { O_CLOEXEC, O_NONBLOCK, openFile } from '../../tun/libc.js';

describe('TunDevice reads', () => {
  it('gives the event loop back after readBatch reads even when no read yields a packet (0-byte reads)', async () => {
    // /dev/null polls readable and every read returns 0 bytes: shorter than a virtio header.
    const fd = openFile('/dev/null', O_NONBLOCK | O_CLOEXEC); // O_RDONLY is 0
    const offloads = { csum: false, tso4: false, tso6: false, uso: false };
    const dev = new TunDevice('null0', [fd], true, offloads, 1500, undefined, 16);
    let batches = 0;
    dev.onReceive(() => batches++);
    // Reached only if the reader yields; the poll worker needs a moment to start.
    for (let waited = 0; dev.stats.rxErrors === 0 && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await dev.close();
    expect(batches).toBe(0);
    expect(dev.stats.rxErrors).toBeGreaterThanOrEqual(16);
    expect(dev.stats.rxErrors % 16).toBe(0);
  });
});
