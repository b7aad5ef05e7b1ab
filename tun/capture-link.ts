// A Link wrapper that records every packet sent and received into a pcap file (pcap.ts,
// LINKTYPE_RAW), switchable on and off while running, like tcpdump on the interface.
//
// Offloaded packets are written as they crossed the link: a TCP super-packet stays one
// record of up to 64 KiB (its IP length field is right, tshark and tcpdump read it as one
// large segment), and a partial checksum (virtio NEEDS_CSUM) stays partial, exactly what
// `tcpdump -i tunX` shows for the same traffic. Segmenting them instead would cost a copy
// per segment on the hot path and record packets that never existed on this link.
//
// A capture that cannot be written (disk full) ends the capture, never the link: the error
// is kept in `captureError` instead of being thrown into the packet path.

import type { TxOffload } from '../stack/ip/offload.js';
import type { Link, ReceiveHandler } from './link.js';
import { openPcapFile, type PcapWriter } from './pcap.js';
import { concatBytes } from '../stack/wire/bytes.js';

/** Wall-clock milliseconds with sub-millisecond resolution, for pcap timestamps. */
function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export class CaptureLink implements Link {
  /** Packets recorded since creation. */
  captured = 0;
  /** Why the last capture stopped on its own (its writer threw); cleared by start(). */
  captureError: Error | undefined;
  private writer: PcapWriter | undefined;
  // Set when start() opened the file itself, so stop() closes it.
  private closeWriter: (() => void) | undefined;
  private handler: ReceiveHandler | undefined;

  constructor(private readonly inner: Link) {
    inner.onReceive((batch) => {
      if (this.writer) {
        const at = wallClockMs();
        for (const p of batch) this.record(at, p.packet);
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
    this.captureError = undefined;
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
    const close = this.closeWriter;
    this.writer = undefined;
    this.closeWriter = undefined;
    close?.();
  }

  send(packet: Uint8Array, offload?: TxOffload, payload?: readonly Uint8Array[]): boolean {
    const sent = this.inner.send(packet, offload, payload);
    // Only what the link accepted went on the wire.
    if (sent && this.writer) this.record(wallClockMs(), payload ? concatBytes([packet, ...payload]) : packet);
    return sent;
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  close(): Promise<void> {
    this.stop();
    return this.inner.close();
  }

  private record(at: number, packet: Uint8Array): void {
    const w = this.writer;
    if (!w) return;
    try {
      w.writePacket(at, packet);
      this.captured++;
    } catch (err) {
      this.captureError = err as Error;
      try {
        this.stop();
      } catch {
        // The file was failing already; closing it is all that is left to try.
      }
    }
  }
}
