// A SimNode around a Host that loses chosen outgoing packets: deterministic loss of "the
// SYN-ACK", "the third data segment", for tests that need a particular packet gone.

import type { Host, RxMeta } from '../../stack/ip/host.js';
import type { SimNode } from '../sim/network.js';

export class FilteredNode implements SimNode {
  readonly dropped: Uint8Array[] = [];

  constructor(
    readonly host: Host,
    /** Return true to lose the packet. */
    public drop: (packet: Uint8Array, now: number) => boolean,
    private clock: () => number,
  ) {}

  get name(): string {
    return this.host.name;
  }

  input(ifIndex: number, packet: Uint8Array, now: number, meta?: RxMeta): void {
    this.host.input(ifIndex, packet, now, meta);
  }

  pollTransmit(): ReturnType<Host['pollTransmit']> {
    for (let out = this.host.pollTransmit(); out; out = this.host.pollTransmit()) {
      if (!this.drop(out.packet, this.clock())) return out;
      this.dropped.push(out.packet);
    }
    return undefined;
  }

  nextTimeout(): number | undefined {
    return this.host.nextTimeout();
  }

  onTimeout(now: number): void {
    this.host.onTimeout(now);
  }
}
