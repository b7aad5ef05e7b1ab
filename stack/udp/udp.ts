// UDP on the host (RFC 768): port allocation, demultiplexing to sockets, checksum checks,
// port unreachable for datagrams nobody wants, and ICMP errors routed back to the socket
// that sent the offending datagram.

import type { Host, IcmpErrorReport, InboundPacket, SendResult, TransportHandler, TransportVerdict } from '../ip/host.js';
import { addressKey, familyOf, parseAddress, type IpAddress, type IpFamily } from '../wire/address.js';
import { readU16 } from '../wire/bytes.js';
import { wireError } from '../wire/result.js';
import { IPPROTO_UDP, UdpView, verifyUdpChecksum } from '../wire/udp.js';
import { PacketAllocator } from '../ip/packet-alloc.js';
import { UdpSocket, type UdpSocketOwner } from './socket.js';

export interface UdpCounters {
  /** Datagrams queued on a socket (RFC 4113 udpInDatagrams). */
  inDatagrams: number;
  /** Datagrams for a port with no socket (udpNoPorts). */
  noPorts: number;
  /** Datagrams dropped for a bad header or checksum (udpInErrors; also in the host's parseErrors). */
  inErrors: number;
  /** Datagrams dropped because the socket's queue was full (Linux RcvbufErrors). */
  receiveQueueDrops: number;
  outDatagrams: number;
  /** ICMP errors handed to a socket. */
  icmpErrors: number;
}

export interface BindOptions {
  /** A local address (the socket's family follows it); the wildcard of `family` when absent. */
  address?: IpAddress | string;
  family?: IpFamily;
  /** 0 or absent: an ephemeral port. */
  port?: number;
  /** Sets the socket's recvErrors (IP_RECVERR): ICMP errors reported even when not connected. */
  recvErrors?: boolean;
}

export type BindResult = { ok: true; socket: UdpSocket } | { ok: false; code: 'EADDRINUSE' | 'EADDRNOTAVAIL' | 'EINVAL'; message: string };

export class UdpLayer implements TransportHandler {
  readonly counters: UdpCounters = { inDatagrams: 0, noPorts: 0, inErrors: 0, receiveQueueDrops: 0, outDatagrams: 0, icmpErrors: 0 };
  // port -> sockets on it (few per port: a wildcard and some specific addresses, per family).
  private readonly byPort = new Map<number, UdpSocket[]>();
  private readonly owner: UdpSocketOwner;

  /** Creates the UDP layer and registers it with `host` for IP protocol 17. */
  constructor(private readonly host: Host) {
    this.owner = {
      config: host.config.udp,
      allocator: new PacketAllocator(),
      send: (out, now): SendResult => {
        const r = host.send(out, now);
        if (r.ok) this.counters.outDatagrams++;
        return r;
      },
      release: (socket) => this.release(socket),
    };
    host.registerTransport(IPPROTO_UDP, this);
  }

  /** Binds a socket. Like Linux without SO_REUSEADDR, a wildcard and a specific address of one family conflict on a port. */
  bind(opts: BindOptions = {}): BindResult {
    let address: IpAddress | undefined;
    if (opts.address !== undefined) {
      address = typeof opts.address === 'string' ? parseAddress(opts.address) : opts.address;
      if (!address || (address.length !== 4 && address.length !== 16)) return { ok: false, code: 'EINVAL', message: 'bad local address' };
      if (!this.host.interfaces.owner(address)) return { ok: false, code: 'EADDRNOTAVAIL', message: 'not an address of this host' };
    }
    const family = address ? familyOf(address) : (opts.family ?? 6);
    if (opts.family !== undefined && opts.family !== family) return { ok: false, code: 'EINVAL', message: 'family differs from the address' };
    const requested = opts.port ?? 0;
    if (!Number.isInteger(requested) || requested < 0 || requested > 0xffff) return { ok: false, code: 'EINVAL', message: `port ${requested}` };
    const port = requested === 0 ? this.ephemeralPort(family, address) : requested;
    if (port === undefined) return { ok: false, code: 'EADDRINUSE', message: 'no free ephemeral port' };
    if (this.conflicts(family, address, port)) return { ok: false, code: 'EADDRINUSE', message: `port ${port} in use` };
    const socket = new UdpSocket(this.owner, family, address?.slice(), port);
    socket.recvErrors = opts.recvErrors ?? false;
    const list = this.byPort.get(port);
    if (list) list.push(socket);
    else this.byPort.set(port, [socket]);
    return { ok: true, socket };
  }

  input(p: InboundPacket, now: number): TransportVerdict | void {
    const host = this.host;
    const r = UdpView.wrap(p.l4);
    if (!r.ok) {
      this.counters.inErrors++;
      return host.counters.parseError(r);
    }
    const v = r.value;
    if (!p.checksumVerified && !verifyUdpChecksum(p.l4, p.src, p.dst)) {
      this.counters.inErrors++;
      return host.counters.parseError(wireError('udp', 'BAD_CHECKSUM', 'UDP checksum'));
    }
    // No socket can be bound to port 0 (a source port 0 is legal: RFC 768 "no reply expected").
    if (v.dstPort === 0) {
      this.counters.inErrors++;
      return host.counters.parseError(wireError('udp', 'BAD_FIELD', 'port 0'));
    }
    const socket = this.lookup(p.family, p.dst, p.src, v.srcPort, v.dstPort);
    if (!socket) {
      this.counters.noPorts++;
      return 'portUnreachable';
    }
    if (socket.ipv6Hook !== undefined && socket.ipv6Hook(p.ipv6Extensions, p.src, v.srcPort) === 'drop') return;
    if (socket.deliver(p.l4.subarray(8, v.length), p.src, v.srcPort, p.dst, p.ifIndex, now)) this.counters.inDatagrams++;
    else this.counters.receiveQueueDrops++;
  }

  /** RFC 1122 4.1.3.3: ICMP errors go to the application; here, the socket bound to the quoted source, if it takes them (UdpSocket.reportError). */
  icmpError(e: IcmpErrorReport, now: number): void {
    const h = e.original.l4Header;
    if (h.length < 4) return;
    const srcPort = readU16(h, 0);
    const dstPort = readU16(h, 2);
    const socket = this.lookup(e.family, e.original.src, e.original.dst, dstPort, srcPort);
    if (socket?.reportError(e, e.original.dst.slice(), dstPort, now)) this.counters.icmpErrors++;
  }

  /** The socket for a datagram from `remote`:`remotePort` to `local`:`localPort`: specific address first, then wildcard. */
  private lookup(family: IpFamily, local: IpAddress, remote: IpAddress, remotePort: number, localPort: number): UdpSocket | undefined {
    const list = this.byPort.get(localPort);
    if (!list) return undefined;
    let wildcard: UdpSocket | undefined;
    for (const s of list) {
      if (s.family !== family || !s.accepts(local, remote, remotePort)) continue;
      if (s.localAddress) return s;
      // A connected wildcard socket is more specific than an unconnected one.
      if (!wildcard || (s.remote && !wildcard.remote)) wildcard = s;
    }
    return wildcard;
  }

  private conflicts(family: IpFamily, address: IpAddress | undefined, port: number): boolean {
    const list = this.byPort.get(port);
    if (!list) return false;
    const key = address && addressKey(address);
    return list.some((s) => s.family === family && (!s.localAddress || !key || addressKey(s.localAddress) === key));
  }

  /** RFC 6056 3.3.1 (algorithm 1): a random start in the range, then the next free port. */
  private ephemeralPort(family: IpFamily, address: IpAddress | undefined): number | undefined {
    const { ephemeralPortMin: min, ephemeralPortMax: max } = this.host.config.udp;
    const count = max - min + 1;
    const start = this.host.random.uint32() % count;
    for (let i = 0; i < count; i++) {
      const port = min + ((start + i) % count);
      if (!this.conflicts(family, address, port)) return port;
    }
    return undefined;
  }

  private release(socket: UdpSocket): void {
    const list = this.byPort.get(socket.localPort);
    if (!list) return;
    const i = list.indexOf(socket);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPort.delete(socket.localPort);
  }
}
