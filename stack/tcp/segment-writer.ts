// Puts segments on the wire through Host.send: the TCP header and options from a reused repr
// (no allocation per segment besides the packet), the checksum left partial for the device
// or the host's software fallback to finish (virtio NEEDS_CSUM, stack/ip/offload.ts). A small
// payload is copied once, straight from the send buffer into the packet (DESIGN.md "Data
// path"); a large one goes as views of the send buffer's chunks (SendRequest.payload), which
// an interface that gathers writes with the headers in one writev: no copy in JavaScript. A
// payload longer than one wire segment goes as a GSO super-segment cut at `gsoSize`. One writer serves every connection of a
// layer (sends are synchronous), so an idle connection carries none of this state.

import type { Host, SendRequest, SendResult } from '../ip/host.js';
import type { IpAddress } from '../wire/address.js';
import type { Ipv6ExtensionHeader } from '../wire/ipv6-ext.js';
import { pseudoHeaderSum } from '../wire/checksum.js';
import { emitTcp, TCP_PROTOCOL, tcpHeaderLength, type TcpRepr } from '../wire/tcp.js';
import type { SendBuffer } from './send-buffer.js';

/** RFC 9293 3.1: the checksum field is at offset 16 of the TCP header. */
const TCP_CHECKSUM_OFFSET = 16;
const NO_ADDRESS: IpAddress = new Uint8Array(4);
/**
 * Payloads of at least this many bytes go as views (gathered); shorter ones are copied into
 * the packet: a copy of a few KiB costs less than the views and iovecs, and the TUN driver
 * copies packets up to 4 KiB behind its header anyway.
 */
const GATHER_MIN_BYTES = 8192;
const KEEP_CHECKSUM = { mode: 'keep' } as const;

export class SegmentWriter {
  /** Filled by begin(); the caller sets the rest, options included. */
  readonly repr: TcpRepr = { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, urgentPointer: 0, checksum: 0, options: [] };
  /** The IP ECN codepoint of this segment (ecn.ts, RFC 3168 5); begin() makes it Not-ECT. */
  ecnCodepoint = 0;
  /** IPv6 extension headers for this segment (ipv6-hook.ts); begin() clears them. */
  ipv6Extensions: Ipv6ExtensionHeader[] | undefined = undefined;
  private readonly checksum: { mode: 'partial'; src: IpAddress; dst: IpAddress } = { mode: 'partial', src: NO_ADDRESS, dst: NO_ADDRESS };
  private readonly plain = { checksumOffset: TCP_CHECKSUM_OFFSET };
  private readonly gso = { checksumOffset: TCP_CHECKSUM_OFFSET, gsoSize: 0 };
  private readonly request: SendRequest;
  private source: SendBuffer | undefined = undefined;
  private sourceOffset = 0;
  private payloadLength = 0;
  private headerLength = 0;
  /** The payload goes as views (SendRequest.payload): writeL4 writes the header only. */
  private gathered = false;
  private readonly writeL4 = (out: Uint8Array, offset: number): void => {
    if (this.gathered) {
      // `out` ends with the header: the partial checksum still counts the whole segment.
      this.repr.checksum = pseudoHeaderSum(this.checksum.src, this.checksum.dst, TCP_PROTOCOL, this.headerLength + this.payloadLength);
      emitTcp(this.repr, undefined, 0, out, offset, KEEP_CHECKSUM);
      return;
    }
    if (this.payloadLength > 0) this.source!.copyRange(this.sourceOffset, this.payloadLength, out, offset + this.headerLength);
    emitTcp(this.repr, undefined, this.payloadLength, out, offset, this.checksum);
  };

  constructor(private readonly host: Host) {
    this.request = { src: NO_ADDRESS, dst: NO_ADDRESS, protocol: TCP_PROTOCOL, l4Length: 0, writeL4: this.writeL4, offload: this.plain };
  }

  /** Starts a segment of the connection `local`:`localPort` -> `remote`:`remotePort`; returns the repr to fill. */
  begin(local: IpAddress, localPort: number, remote: IpAddress, remotePort: number): TcpRepr {
    const r = this.repr;
    r.srcPort = localPort;
    r.dstPort = remotePort;
    r.urgentPointer = 0;
    r.options.length = 0;
    this.ipv6Extensions = undefined;
    this.ecnCodepoint = 0;
    this.checksum.src = this.request.src = local;
    this.checksum.dst = this.request.dst = remote;
    return r;
  }

  /** Header bytes of the segment as the repr stands now. */
  get currentHeaderLength(): number {
    return tcpHeaderLength(this.repr);
  }

  /**
   * Sends the repr with `length` payload bytes taken from `source` at `offset`; with
   * `gsoSize` the host (or the device) cuts the payload into segments of that size.
   */
  send(now: number, source: SendBuffer | undefined, offset: number, length: number, gsoSize: number | undefined): SendResult {
    this.source = source;
    this.sourceOffset = offset;
    this.payloadLength = length;
    this.headerLength = tcpHeaderLength(this.repr);
    const req = this.request;
    req.l4Length = this.headerLength + length;
    this.gathered = source !== undefined && length >= GATHER_MIN_BYTES;
    if (this.gathered) {
      // A new array each time: the host may queue it with the packet.
      const views: Uint8Array[] = [];
      source!.slices(offset, length, views);
      req.payload = views;
    } else {
      req.payload = undefined;
    }
    req.ipv6Extensions = this.ipv6Extensions;
    // We set no DSCP: the traffic class is the ECN field alone.
    req.trafficClass = this.ecnCodepoint;
    if (gsoSize !== undefined && length > gsoSize) {
      this.gso.gsoSize = gsoSize;
      req.offload = this.gso;
    } else {
      req.offload = this.plain;
    }
    const result = this.host.send(req, now);
    this.source = undefined;
    return result;
  }
}
