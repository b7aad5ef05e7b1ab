// A Link in memory for unit tests of the Link wrappers: records what is sent, delivers what
// the test pushes.

import type { TxOffload } from '../../stack/ip/offload.js';
import type { Link, LinkPacket, ReceiveHandler } from '../../tun/link.js';

export class MemoryLink implements Link {
  readonly name = 'mem0';
  readonly mtu = 1500;
  readonly sent: Uint8Array[] = [];
  /** The offload metadata each sent packet came with, in the same order. */
  readonly offloads: (TxOffload | undefined)[] = [];
  private handler: ReceiveHandler | undefined;

  send(packet: Uint8Array, offload?: TxOffload): boolean {
    this.sent.push(packet);
    this.offloads.push(offload);
    return true;
  }
  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }
  deliver(batch: LinkPacket[]): void {
    this.handler?.(batch);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
