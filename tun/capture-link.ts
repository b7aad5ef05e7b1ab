// A Link wrapper that records every packet sent and received into a pcap file (pcap.ts,
// LINKTYPE_RAW), switchable on and off while running, like tcpdump on the interface.
//
// Offloaded packets are written as they crossed the link: a TCP super-packet stays one
// record of up to 64 KiB (its IP length field is right, tshark and tcpdump read it as one
// large segment), and a partial checksum (virtio NEEDS_CSUM) stays partial, exactly what
// `tcpdump -i tunX` shows for the same traffic. Segmenting them instead would cost a copy
// per segment on the hot path and record packets that never existed on this link.

import type { TxOffload } from '../stack/ip/offload.js';
import type { Link, ReceiveHandler } from './link.js';
import { openPcapFile, type PcapWriter } from './pcap.js';

/** Wall-clock milliseconds with sub-millisecond resolution, for pcap timestamps. */
function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export class CaptureLink implements Link {
  /** Packets recorded since creation. */
  captured = 0;
  private writer: PcapWriter | undefined;
  // Set when start() opened the file itself, so stop() closes it.
  private closeWriter: (() => void) | undefined;
  private handler: ReceiveHandler | undefined;

  constructor(private readonly inner: Link) {
    inner.onReceive((batch) => {
      const w = this.writer;
      if (w) {
        const at = wallClockMs();
        for (const p of batch) w.writePacket(at, p.packet);
        this.captured += batch.length;
      }
      this.handler?.(batch);
    });
  }

  get name(): string {
    return this.inner.name;
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  get capturing(): boolean {
    return this.writer !== undefined;
  }

  /**
   * Starts recording, into a pcap file at `target` (created or truncated; closed by stop())
   * or into a PcapWriter the caller owns. A capture already running is stopped first.
   */
  start(target: string | PcapWriter): void {
    this.stop();
    if (typeof target === 'string') {
      const file = openPcapFile(target);
      this.writer = file;
      this.closeWriter = () => file.close();
    } else {
      this.writer = target;
    }
  }

  /** Stops recording (closing the file start() opened); packets flow on unrecorded. */
  stop(): void {
    this.writer = undefined;
    this.closeWriter?.();
    this.closeWriter = undefined;
  }

  send(packet: Uint8Array, offload?: TxOffload): boolean {
    const sent = this.inner.send(packet, offload);
    // Only what the link accepted went on the wire.
    if (sent && this.writer) {
      this.writer.writePacket(wallClockMs(), packet);
      this.captured++;
    }
    return sent;
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  close(): Promise<void> {
    this.stop();
    return this.inner.close();
  }
}
