// The device boundary (smoltcp's phy::Device): something that carries raw IP packets in both
// directions. A TUN device is one; CaptureLink and ImpairedLink wrap any Link and are Links
// themselves, so they stack (capture what the impaired link really delivered, or the other
// way round).

import type { RxMeta } from '../stack/ip/host.js';
import type { TxOffload } from '../stack/ip/offload.js';

/**
 * What the link knows about a received packet: the stack's RxMeta (`checksumVerified` when
 * the kernel produced the packet, its checksum field possibly holding only the pseudo-header
 * sum (virtio NEEDS_CSUM), or verified it (DATA_VALID)), plus the GSO facts of a super-packet.
 */
export interface LinkRxMeta extends RxMeta {
  /** Set on a GSO super-packet: payload bytes per segment the sender meant (its MSS for TCP). */
  gsoSize?: number;
  /** Set on a GSO super-packet: its kind. */
  gsoType?: 'tcpv4' | 'tcpv6' | 'udp';
}

export interface LinkPacket {
  /**
   * One IP packet (IPv4 or IPv6), owned by the receiver from now on. It may be a view into a
   * larger ArrayBuffer (Node's Buffer pool): honour byteOffset when wrapping `.buffer`.
   */
  packet: Uint8Array;
  meta: LinkRxMeta;
}

/** Receives packets in batches: everything the link had ready at once, in arrival order. */
export type ReceiveHandler = (batch: LinkPacket[]) => void;

export interface Link {
  readonly name: string;
  /** Largest packet the link carries without offload, in bytes. */
  readonly mtu: number;
  /**
   * Hands one IP packet to the link. With `offload` the packet may be a TCP super-packet
   * and its checksum partial (stack/ip/offload.ts). With `payload` (the host's gathered
   * output, OutboundPacket.payload) `packet` holds the headers and the views follow it.
   * The caller may reuse `packet` once send returns; the payload views never change.
   * Returns false when the link refused it (counted in the link's statistics); a packet
   * lost by an impaired link still counts as sent.
   */
  send(packet: Uint8Array, offload?: TxOffload, payload?: readonly Uint8Array[]): boolean;
  /** Sets the receiver (replacing any previous one). Packets arriving with none set are dropped. */
  onReceive(handler: ReceiveHandler): void;
  /** Releases everything; nothing keeps running after the promise resolves. */
  close(): Promise<void>;
}

// The wrappers live one per file; importing them from here works too.
export { CaptureLink } from './capture-link.js';
export { ImpairedLink, type ImpairedLinkOptions, type ImpairedLinkParams } from './impaired-link.js';
