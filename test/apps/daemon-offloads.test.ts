// The daemon declares to the stack only the offloads its TUN device negotiated: a kernel
// that refused TSO6 (or a link configured with offloads=csum+tso4) must not be handed IPv6
// super-packets, and a device without checksum offload gets full checksums and whole packets
// (a gathered one leaves its checksum to the kernel).

import { describe, expect, it } from 'vitest';
import { stackOffloads } from '../../apps/host/daemon.js';

describe('stackOffloads', () => {
  it('follows what the TUN accepted, not whether the virtio header is on', () => {
    expect(stackOffloads({ csum: true, tso4: true, tso6: true, uso: false })).toEqual({ checksum: true, gso: true, gather: true });
    expect(stackOffloads({ csum: true, tso4: true, tso6: true, uso: true })).toEqual({ checksum: true, gso: true, gather: true });
    // TSO6 refused: the stack's one GSO switch covers IPv6 too, so it must be off.
    expect(stackOffloads({ csum: true, tso4: true, tso6: false, uso: false })).toEqual({ checksum: true, gso: false, gather: true });
    expect(stackOffloads({ csum: true, tso4: false, tso6: true, uso: false })).toEqual({ checksum: true, gso: false, gather: true });
    expect(stackOffloads({ csum: true, tso4: false, tso6: false, uso: false })).toEqual({ checksum: true, gso: false, gather: true });
    // offloads=off, or a kernel that refused everything: the stack finishes everything itself.
    expect(stackOffloads({ csum: false, tso4: false, tso6: false, uso: false })).toEqual({ checksum: false, gso: false, gather: false });
  });
});
