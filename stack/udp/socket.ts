// A UDP socket on the sans-I/O host: bound to an address (or the wildcard) and a port,
// optionally connected to one peer; received datagrams wait in a bounded queue, ICMP errors
// about what it sent are kept as the latest error (like a kernel socket's sk_err), and only
// the ones Linux would report (see reportError).

import type { UdpConfig } from '../config.js';
import { type IpAddress, type IpFamily, addressEquals } from '../wire/address.js';
import type { Ipv6ExtensionHeader } from '../wire/ipv6-ext.js';
import { emitUdp, IPPROTO_UDP, UDP_HEADER_LENGTH } from '../wire/udp.js';
import type { IcmpErrorReport, SendRequest, SendResult } from '../ip/host.js';
import { icmpErrno, icmpErrorIsFatal, type IcmpErrno } from '../ip/icmp-errors.js';
import type { PacketAllocator } from '../ip/packet-alloc.js';

export interface UdpDatagram {
  /** The payload, copied out of the received packet. */
  data: Uint8Array;
  /** Sender. */
  address: IpAddress;
  port: number;
  /** The local address it was sent to (useful on a wildcard socket). */
  localAddress: IpAddress;
  ifIndex: number;
  /** When it arrived (ms). */
  at: number;
}

/** An ICMP error about a datagram this socket sent, as Node's dgram would report it. */
export interface UdpSocketError {
  code: IcmpErrno;
  /** The peer the failed datagram was sent to. */
  address: IpAddress;
  port: number;
  icmp: IcmpErrorReport;
  at: number;
}

export interface UdpSocketCounters {
  received: number;
  sent: number;
  /** Datagrams dropped because the receive queue was full (Linux RcvbufErrors). */
  receiveQueueDrops: number;
  errors: number;
}

/** What a socket needs from the UDP layer that created it. */
export interface UdpSocketOwner {
  readonly config: UdpConfig;
  /** Where received payloads are copied to (slabs: cheaper than one ArrayBuffer per datagram). */
  readonly allocator: PacketAllocator;
  send(out: SendRequest, now: number): SendResult;
  release(socket: UdpSocket): void;
}

export class UdpSocket {
  readonly counters: UdpSocketCounters = { received: 0, sent: 0, receiveQueueDrops: 0, errors: 0 };
  /** Called after a datagram is queued or an error recorded (inside the host's input()). */
  onReadable: ((what: 'datagram' | 'error') => void) | undefined = undefined;
  /**
   * Sees every datagram's IPv6 extension headers (empty for IPv4; views valid during the
   * call) before it is queued; 'drop' discards it. The name exchange of dgram sockets.
   */
  ipv6Hook: ((headers: readonly Ipv6ExtensionHeader[], address: IpAddress, port: number) => 'accept' | 'drop') | undefined = undefined;
  /**
   * IP_RECVERR / IPV6_RECVERR: every ICMP error about what this socket sent is reported, on
   * a connected socket or not. Off by default, as in Linux.
   */
  recvErrors = false;
  private queue: UdpDatagram[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private error: UdpSocketError | undefined;
  private peer: { address: IpAddress; port: number } | undefined;
  private closed = false;

  constructor(
    private readonly owner: UdpSocketOwner,
    readonly family: IpFamily,
    /** undefined = every address of the family (wildcard). */
    readonly localAddress: IpAddress | undefined,
    readonly localPort: number,
  ) {}

  get remote(): { address: IpAddress; port: number } | undefined {
    return this.peer;
  }

  /** Datagrams waiting in the receive queue. */
  get pending(): number {
    return this.queue.length - this.queueHead;
  }

  /** Only datagrams from this peer are received afterwards, and send() may omit the destination. */
  connect(address: IpAddress, port: number): void {
    if (address.length !== (this.family === 4 ? 4 : 16)) throw new RangeError('peer address of another family');
    if (!validPort(port)) throw new RangeError(`port ${port}`);
    this.peer = { address: address.slice(), port };
  }

  /** Sends one datagram (to the connected peer when `to` is absent), with IPv6 extension headers if given. */
  send(data: Uint8Array, now: number, to?: { address: IpAddress; port: number }, ipv6Extensions?: Ipv6ExtensionHeader[]): SendResult {
    if (this.closed) return { ok: false, code: 'EINVAL', message: 'socket closed' };
    const dst = to ?? this.peer;
    if (!dst) return { ok: false, code: 'EINVAL', message: 'no destination: not connected' };
    if (dst.address.length !== (this.family === 4 ? 4 : 16)) return { ok: false, code: 'EINVAL', message: 'destination of another family' };
    if (!validPort(dst.port)) return { ok: false, code: 'EINVAL', message: `port ${dst.port}` };
    const l4Length = UDP_HEADER_LENGTH + data.length;
    if (l4Length > 0xffff) return { ok: false, code: 'EMSGSIZE', message: `datagram of ${data.length} bytes` };
    const srcPort = this.localPort;
    const result = this.owner.send(
      {
        src: this.localAddress,
        dst: dst.address,
        protocol: IPPROTO_UDP,
        l4Length,
        writeL4: (out, offset, src, d) => emitUdp({ srcPort, dstPort: dst.port }, data, out, offset, src, d),
        ...(ipv6Extensions && { ipv6Extensions }),
      },
      now,
    );
    if (result.ok) this.counters.sent++;
    return result;
  }

  /** The next received datagram, if any. */
  receive(): UdpDatagram | undefined {
    if (this.queueHead >= this.queue.length) return undefined;
    const d = this.queue[this.queueHead]!;
    this.queue[this.queueHead++] = undefined as unknown as UdpDatagram;
    this.queuedBytes -= d.data.length;
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    }
    return d;
  }

  /** The latest ICMP-reported error, cleared by reading (like SO_ERROR). */
  takeError(): UdpSocketError | undefined {
    const e = this.error;
    this.error = undefined;
    return e;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.owner.release(this);
  }

  /** Whether a datagram from `address`/`port` to `local` belongs here. */
  accepts(local: IpAddress, address: IpAddress, port: number): boolean {
    if (this.localAddress && !addressEquals(this.localAddress, local)) return false;
    return !this.peer || (this.peer.port === port && addressEquals(this.peer.address, address));
  }

  /** Called by the UDP layer: queues a copy of `payload` unless the queue is full. Returns false on drop. */
  deliver(payload: Uint8Array, address: IpAddress, port: number, localAddress: IpAddress, ifIndex: number, now: number): boolean {
    const c = this.owner.config;
    if (this.pending >= c.receiveQueueDatagrams || this.queuedBytes + payload.length > c.receiveQueueBytes) {
      this.counters.receiveQueueDrops++;
      return false;
    }
    // The one copy on the receive side: the input packet is only borrowed (see Host.input).
    const data = this.owner.allocator.alloc(payload.length);
    data.set(payload);
    this.queue.push({ data, address: address.slice(), port, localAddress: localAddress.slice(), ifIndex, at: now });
    this.queuedBytes += payload.length;
    this.counters.received++;
    this.onReadable?.('datagram');
    return true;
  }

  /**
   * Called by the UDP layer with an ICMP error about a datagram sent from here to `port` at
   * `address`; returns whether the socket took it. Like Linux (__udp4_lib_err,
   * __udp6_lib_err), without recvErrors only a connected socket hears of errors, and only of
   * hard ones: fatal unreachables, parameter problems, and packet too big (path MTU
   * discovery is on, IP_PMTUDISC_WANT). An unconnected socket talks to many peers, and a
   * stray or forged error about one must not fail it for all.
   */
  reportError(icmp: IcmpErrorReport, address: IpAddress, port: number, now: number): boolean {
    if (!this.recvErrors && !(this.peer && (icmp.kind === 'packetTooBig' || icmpErrorIsFatal(icmp)))) return false;
    this.counters.errors++;
    this.error = { code: icmpErrno(icmp), address, port, icmp, at: now };
    this.onReadable?.('error');
    return true;
  }
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port <= 0xffff;
}
