// CaptureLink over an in-memory link: a capture that cannot be written never breaks the link.

import { describe, expect, it } from 'vitest';
import { CaptureLink } from '../../tun/capture-link.js';
import type { LinkPacket } from '../../tun/link.js';
import { PcapWriter } from '../../tun/pcap.js';
import { MemoryLink } from './memory-link.js';

describe('CaptureLink', () => {
  it('stops capturing when the pcap sink fails (disk full), and packets keep flowing both ways', () => {
    const inner = new MemoryLink();
    const link = new CaptureLink(inner);
    const received: LinkPacket[] = [];
    link.onReceive((batch) => received.push(...batch));
    let room = 2; // the file header and one record fit
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    link.start(
      new PcapWriter(() => {
        if (room-- <= 0) throw full;
      }),
    );
    expect(link.send(new Uint8Array([0x45, 1]))).toBe(true);
    expect(link.captured).toBe(1);
    expect(link.send(new Uint8Array([0x45, 2]))).toBe(true);
    inner.deliver([{ packet: new Uint8Array([0x45, 3]), meta: {} }]);
    expect(inner.sent).toHaveLength(2);
    expect(received).toHaveLength(1);
    expect(link.capturing).toBe(false);
    expect(link.captured).toBe(1);
    expect(link.captureError).toBe(full);
    // A new capture starts clean.
    link.start(new PcapWriter(() => {}));
    expect(link.captureError).toBeUndefined();
    inner.deliver([{ packet: new Uint8Array([0x45, 4]), meta: {} }]);
    expect(link.captured).toBe(2);
  });
});
