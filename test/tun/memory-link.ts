// A Link in memory for unit tests of the Link wrappers: records what is sent, delivers what
// the test pushes.

import type { Link, LinkPacket, ReceiveHandler } from '../../tun/link.js';

export class MemoryLink implements Link {
  readonly name = 'mem0';
  readonly mtu = 1500;
  readonly sent: Uint8Array[] = [];
  private handler: ReceiveHandler | undefined;

  send(packet: Uint8Array): boolean {
    this.sent.push(packet);
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
