// A Linux TUN device (Documentation/networking/tuntap.rst): raw IP packets in and out of
// the kernel, with the virtio_net_hdr (vnet-header.ts) so the kernel hands us TCP
// super-packets and segments the ones we write (REFERENCE.md "TUN on Linux").
//
// Reads never touch the libuv thread pool: the descriptors are non-blocking, a worker thread
// waits in poll(2) and wakes the main thread, which reads until EAGAIN (readiness.ts says
// why this beat a worker-filled ring). Writes are synchronous write(2)/writev(2) calls: the
// kernel takes a TUN write in the caller's context without blocking.
//
// The interface is configured by spawning `ip` (iproute2), once at set-up, never per packet.
// A TUN device may be moved to another network namespace after creation (`netns` option or
// moveToNetns): the open descriptor keeps working, which lets one root process serve several
// lab namespaces.

import type { TxOffload } from '../stack/ip/offload.js';
import {
  closeFile,
  EAGAIN,
  EINTR,
  errnoName,
  ioctlPointer,
  ioctlValue,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  openFile,
  readInto,
  SyscallError,
  writeFrom,
  writev,
} from './libc.js';
import { runIp } from './ip-command.js';
import type { Link, LinkPacket, LinkRxMeta, ReceiveHandler } from './link.js';
import { ReadinessWatcher } from './readiness.js';
import {
  emitVnetHeader,
  VNET_HDR_F_NEEDS_CSUM,
  VNET_HDR_GSO_ECN,
  VNET_HDR_GSO_NONE,
  VNET_HDR_GSO_TCPV4,
  VNET_HDR_GSO_TCPV6,
  VNET_HDR_GSO_UDP_L4,
  VNET_HEADER_LENGTH,
  VnetHeaderView,
} from './vnet-header.js';

// include/uapi/linux/if_tun.h (x86-64/arm64 _IOW encodings).
const TUNSETIFF = 0x400454ca;
const TUNSETOFFLOAD = 0x400454d0;
const IFF_TUN = 0x0001;
const IFF_MULTI_QUEUE = 0x0100;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
const TUN_F_CSUM = 0x01;
const TUN_F_TSO4 = 0x02;
const TUN_F_TSO6 = 0x04;
// The kernel enables UDP segmentation offload only when both are given (tun_set_offload).
const TUN_F_USO4 = 0x20;
const TUN_F_USO6 = 0x40;

/** struct ifreq: char ifr_name[IFNAMSIZ = 16], then the flags (short) at 16; 40 bytes on LP64. */
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;
const IFR_FLAGS = 16;

/** Largest packet a read can return: an IPv6 header plus a 65535-byte payload. */
const MAX_PACKET = 40 + 0xffff;
/** Packets up to this size are copied behind the header and written at once; larger ones use writev. */
const COPY_WRITE_MAX = 4096;
const DEFAULT_READ_BATCH = 256;
const DEFAULT_NAME = 'nstun%d';

export interface TunOffloads {
  /** The kernel may leave transport checksums partial (NEEDS_CSUM); required by the others. */
  csum: boolean;
  /** The kernel may hand over IPv4 TCP super-packets (TSO4). */
  tso4: boolean;
  /** The kernel may hand over IPv6 TCP super-packets (TSO6). */
  tso6: boolean;
  /** The kernel may hand over UDP super-packets (USO, kernel >= 6.2; dropped when refused). */
  uso: boolean;
}

export interface TunOptions {
  /** Interface name, at most 15 characters; `%d` lets the kernel pick a free number. Default 'nstun%d'. */
  name?: string;
  /** MTU to set (`ip link set mtu`); the kernel default is 1500. */
  mtu?: number;
  /** Prefix every packet with a virtio_net_hdr, enabling offloads. Default true. */
  vnetHeader?: boolean;
  /** Offloads to ask for (only with vnetHeader). Default csum + tso4 + tso6. */
  offloads?: Partial<TunOffloads>;
  /** Open the device with IFF_MULTI_QUEUE (other processes may attach queues). */
  multiQueue?: boolean;
  /** Number of queues (descriptors) to open; more than 1 implies multiQueue. Default 1. */
  queues?: number;
  /** Move the device into this network namespace (`ip netns` name) right after creating it. */
  netns?: string;
  /** Bring the interface up. Default true (a TUN that is down refuses writes with EIO). */
  up?: boolean;
  /** At most this many packets per receive batch; the event loop gets a turn between batches. Default 256. */
  readBatch?: number;
  /** TunDevice.busyPollUs: after a write, poll from the event loop this long for the answer. Default 0 (off). */
  busyPollUs?: number;
  /** The clone device; only tests change it (to exercise the error path). Default /dev/net/tun. */
  devicePath?: string;
}

export interface TunStats {
  rxPackets: number;
  rxBytes: number;
  /** Receive batches delivered (rxPackets / rxBatches is the mean batch size). */
  rxBatches: number;
  /** Reads that returned something unusable (shorter than the virtio header). */
  rxErrors: number;
  /** Batches a busy poll found (busyPollUs), each one a wake-up of the poller thread saved. */
  rxBusyPolled: number;
  txPackets: number;
  txBytes: number;
  /** Packets the kernel refused, by errno name ('EIO' = interface down, 'EINVAL' = bad header). */
  txErrors: number;
  lastTxError?: string;
}

const GSO_TYPES: Record<number, LinkRxMeta['gsoType']> = {
  [VNET_HDR_GSO_TCPV4]: 'tcpv4',
  [VNET_HDR_GSO_TCPV6]: 'tcpv6',
  [VNET_HDR_GSO_UDP_L4]: 'udp',
};

// Shared (frozen) metadata of the packets that are not super-packets: no allocation per packet.
const META_NONE: LinkRxMeta = Object.freeze({});
const META_VERIFIED: LinkRxMeta = Object.freeze({ checksumVerified: true });

/** Packets larger than this keep the buffer they were read into instead of being copied. */
const KEEP_READ_BUFFER_ABOVE = 16 * 1024;

function newReadBuffer(): Uint8Array {
  // Not zero-filled: only the bytes a read wrote are ever exposed.
  const b = Buffer.allocUnsafeSlow(VNET_HEADER_LENGTH + MAX_PACKET);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

function wrapHeader(buffer: Uint8Array): VnetHeaderView {
  const view = VnetHeaderView.wrap(buffer);
  if (!view.ok) throw new Error('read buffer shorter than a virtio header');
  return view.value;
}

/** An open TUN device: a Link plus device controls. Create it with openTun(). */
export class TunDevice implements Link {
  readonly stats: TunStats = {
    rxPackets: 0,
    rxBytes: 0,
    rxBatches: 0,
    rxErrors: 0,
    rxBusyPolled: 0,
    txPackets: 0,
    txBytes: 0,
    txErrors: 0,
  };
  private handler: ReceiveHandler | undefined;
  private watcher: ReadinessWatcher | undefined;
  private closing: Promise<void> | undefined;
  // Where the next read lands; a large packet keeps it (see takePacket) and a new one is made.
  private readBuffer = newReadBuffer();
  // Every read puts its header at the start of readBuffer: one view, wrapped once per buffer.
  private readHeader = wrapHeader(this.readBuffer);
  // Header and copied packet share one off-heap buffer; writev needs memory V8 never moves.
  private readonly writeBuffer = new Uint8Array(VNET_HEADER_LENGTH + COPY_WRITE_MAX);
  private readonly writeHeader = this.writeBuffer.subarray(0, VNET_HEADER_LENGTH);
  private nextQueue = 0;
  private nextDrain: NodeJS.Immediate | undefined;
  /**
   * Busy polling (Linux net.core.busy_poll, for the same reason): a packet that arrives while
   * the main thread waits is read after two thread wake-ups (the kernel wakes the poller, the
   * poller the main thread), 0.1-0.4 ms on an idle 2-vCPU VM, more than a LAN's round trip.
   * For busyPollUs after each write the main thread polls from the event loop instead
   * (setImmediate reads: other callbacks still run), so an answer within that time is read at
   * once. It costs up to that much CPU per write that finds the link idle, and pays only where
   * answers come back that fast; 0 (the default) turns it off.
   */
  busyPollUs = 0;
  private busyPollUntil = 0;
  /** The pending drain was scheduled by the busy poll (not by the poller or a full batch). */
  private busyDrain = false;

  /** @internal Use openTun(). */
  constructor(
    /** The real interface name (the kernel filled in any %d). */
    readonly name: string,
    /** One descriptor per queue; writes go to the first. */
    readonly fds: readonly number[],
    readonly vnetHeader: boolean,
    /** Offloads the kernel accepted. */
    readonly offloads: Readonly<TunOffloads>,
    private mtuValue: number,
    private netnsName: string | undefined,
    private readonly readBatch: number,
    /** Called when the device fails while running (read error, watcher death); then it closes. */
    public onError: (err: Error) => void = () => {},
  ) {}

  get mtu(): number {
    return this.mtuValue;
  }

  /** The network namespace the interface lives in (undefined: the one this process started in). */
  get netns(): string | undefined {
    return this.netnsName;
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
    if (!this.watcher && !this.closing) {
      this.watcher = new ReadinessWatcher(this.fds, this.drain, (err) => this.fail(err));
    }
  }

  send(packet: Uint8Array, offload?: TxOffload, payload?: readonly Uint8Array[]): boolean {
    if (this.closing) return this.refuse('EBADF');
    let n: number;
    if (!this.vnetHeader) {
      // Without the header the kernel cannot be told about partial checksums or segmentation.
      if (offload || payload) return this.refuse('EOFFLOAD');
      n = writeFrom(this.fds[0]!, packet);
    } else {
      this.fillWriteHeader(packet, offload);
      if (payload) {
        // Gathered (the host's headers, then views of the send buffer): one writev, no copy.
        n = writev(this.fds[0]!, this.writeHeader, packet, payload);
      } else if (packet.length <= COPY_WRITE_MAX) {
        this.writeBuffer.set(packet, VNET_HEADER_LENGTH);
        n = writeFrom(this.fds[0]!, this.writeBuffer, VNET_HEADER_LENGTH + packet.length);
      } else {
        n = writev(this.fds[0]!, this.writeHeader, packet);
      }
    }
    if (n < 0) return this.refuse(errnoName(-n));
    if (this.busyPollUs > 0) this.busyPoll();
    this.stats.txPackets++;
    this.stats.txBytes += n - VNET_HEADER_LENGTH * (this.vnetHeader ? 1 : 0);
    return true;
  }

  /** Sets the interface MTU (`ip link set mtu`). */
  setMtu(mtu: number): void {
    runIp(['link', 'set', 'dev', this.name, 'mtu', String(mtu)], this.netnsName);
    this.mtuValue = mtu;
  }

  /** Reads the interface MTU from the kernel (after someone else changed it); returns it. */
  readMtu(): number {
    const info = JSON.parse(runIp(['-j', 'link', 'show', 'dev', this.name], this.netnsName)) as { mtu: number }[];
    this.mtuValue = info[0]!.mtu;
    return this.mtuValue;
  }

  /** Brings the interface up (or down). */
  setUp(up = true): void {
    runIp(['link', 'set', 'dev', this.name, up ? 'up' : 'down'], this.netnsName);
  }

  /** Adds an address in CIDR notation ('10.0.0.1/24', 'fd00::1/64'). */
  addAddress(cidr: string): void {
    runIp(['address', 'add', cidr, 'dev', this.name], this.netnsName);
  }

  /**
   * Moves the interface into network namespace `netns` (an `ip netns` name). Addresses and
   * the up state are lost on the move (the kernel resets them), the MTU is kept.
   */
  moveToNetns(netns: string): void {
    runIp(['link', 'set', 'dev', this.name, 'netns', netns], this.netnsName);
    this.netnsName = netns;
  }

  /** Stops the reader worker and closes every descriptor (which deletes the interface). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearImmediate(this.nextDrain);
      await this.watcher?.close();
      for (const fd of this.fds) closeFile(fd);
    })();
    return this.closing;
  }

  private fillWriteHeader(packet: Uint8Array, offload: TxOffload | undefined): void {
    const h = this.writeHeader;
    if (!offload) {
      h.fill(0);
      return;
    }
    const gso = offload.gsoType !== undefined && (offload.gsoSize ?? 0) > 0;
    // hdr_len tells the kernel how much to put in the linear part: all headers for GSO
    // (IP + TCP with options), else up to the checksum field (the kernel's own minimum).
    const tcpHeader = (packet[offload.checksumStart + 12] ?? 0x50) >>> 4;
    const hdrLen = gso ? offload.checksumStart + tcpHeader * 4 : offload.checksumStart + offload.checksumOffset + 2;
    emitVnetHeader(
      {
        flags: VNET_HDR_F_NEEDS_CSUM,
        gsoType: gso ? (offload.gsoType === 'tcpv6' ? VNET_HDR_GSO_TCPV6 : VNET_HDR_GSO_TCPV4) : VNET_HDR_GSO_NONE,
        hdrLen: Math.min(hdrLen, packet.length),
        gsoSize: gso ? offload.gsoSize! : 0,
        csumStart: offload.checksumStart,
        csumOffset: offload.checksumOffset,
      },
      h,
      0,
    );
  }

  /** Keeps reading from the event loop for busyPollUs from now (see busyPollUs). */
  private busyPoll(): void {
    this.busyPollUntil = performance.now() + this.busyPollUs / 1000;
    if (this.nextDrain === undefined && this.watcher) this.scheduleDrain(true);
  }

  /** The next drain from the event loop, in place of any pending one; `busy`: the busy poll asked for it. */
  private scheduleDrain(busy: boolean): void {
    clearImmediate(this.nextDrain);
    this.busyDrain = busy;
    this.nextDrain = setImmediate(this.drain);
  }

  private refuse(code: string): boolean {
    this.stats.txErrors++;
    this.stats.lastTxError = code;
    return false;
  }

  /** Runs on the main thread when a queue is readable: read up to readBatch packets, deliver them. */
  private readonly drain = (): void => {
    // Run by the poller while a drain is pending (busyPoll schedules one while the poller is
    // armed): one chain of drains, not two.
    clearImmediate(this.nextDrain);
    this.nextDrain = undefined;
    const busy = this.busyDrain;
    this.busyDrain = false;
    if (this.closing) return;
    const batch: LinkPacket[] = [];
    let exhausted = 0;
    // Round-robin over the queues so one busy queue cannot starve the others. Reads are
    // counted, not packets: one that yields nothing (too short) still ends the batch in time.
    for (let reads = 0; reads < this.readBatch && exhausted < this.fds.length; ) {
      const fd = this.fds[this.nextQueue]!;
      const n = readInto(fd, this.readBuffer);
      if (n < 0) {
        if (-n !== EAGAIN && -n !== EINTR) {
          this.fail(new SyscallError('read', -n, `read from TUN ${this.name}`, 'the interface was probably deleted; open it again'));
          return;
        }
        exhausted++;
        this.nextQueue = (this.nextQueue + 1) % this.fds.length;
        continue;
      }
      exhausted = 0;
      reads++;
      const packet = this.parse(n);
      if (packet) batch.push(packet);
    }
    if (batch.length > 0) {
      this.stats.rxBatches++;
      if (busy) this.stats.rxBusyPolled++;
      // A handler that throws must not stall the reader: report it and carry on.
      try {
        this.handler?.(batch);
      } catch (err) {
        this.onError(err as Error);
      }
    }
    if (this.closing) return;
    // Like NAPI: while packets keep coming, poll again from the event loop (other callbacks
    // run in between); only a poll that finds nothing hands waiting back to the worker.
    // Under load this saves the two thread wake-ups per batch, which on a busy 2-core
    // machine cost milliseconds while the kernel's queue (500 packets) overflowed.
    // After a batch this drain takes the place of a busy one a write from the handler asked for.
    if (batch.length > 0) this.scheduleDrain(false);
    // The poller may be armed meanwhile; a packet it also sees costs one spare wake-up.
    else if (performance.now() < this.busyPollUntil) this.scheduleDrain(true);
    else this.watcher?.rearm();
  };

  /**
   * The packet of the last read (at readBuffer[start, end)) with its metadata. A packet is a
   * plain Uint8Array the receiver may keep. Small ones are copied into Node's 8 KiB Buffer
   * pool (0.3 us at 1500 B here, against 0.8 us for Uint8Array#slice); a large one keeps the
   * read buffer itself (no copy of up to 64 KiB; at most 4x its size in memory) and the next
   * read gets a fresh buffer. Reading everything into shared 1 MiB blocks would save the
   * small copies too, but one retained packet would pin its whole block: a reassembly queue
   * could then hold ~700 times the memory it accounts for.
   */
  private parse(n: number): LinkPacket | undefined {
    if (!this.vnetHeader) {
      this.countRx(n);
      return { packet: this.takePacket(0, n), meta: META_NONE };
    }
    if (n <= VNET_HEADER_LENGTH) {
      this.stats.rxErrors++;
      return undefined;
    }
    const h = this.readHeader;
    const gsoType = GSO_TYPES[h.gsoType & ~VNET_HDR_GSO_ECN];
    let meta: LinkRxMeta;
    if (gsoType) meta = { checksumVerified: h.checksumVerified, gsoType, gsoSize: h.gsoSize };
    else meta = h.checksumVerified ? META_VERIFIED : META_NONE;
    this.countRx(n - VNET_HEADER_LENGTH);
    return { packet: this.takePacket(VNET_HEADER_LENGTH, n), meta };
  }

  private takePacket(start: number, end: number): Uint8Array {
    const buffer = this.readBuffer;
    if (end - start > KEEP_READ_BUFFER_ABOVE) {
      this.readBuffer = newReadBuffer();
      this.readHeader = wrapHeader(this.readBuffer);
      return buffer.subarray(start, end);
    }
    const pooled = Buffer.allocUnsafe(end - start);
    pooled.set(buffer.subarray(start, end));
    // A plain Uint8Array, not a Buffer: Buffer#slice makes a view where Uint8Array#slice
    // copies, and receivers rely on slice() copying.
    return new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.length);
  }

  private countRx(bytes: number): void {
    this.stats.rxPackets++;
    this.stats.rxBytes += bytes;
  }

  private fail(err: Error): void {
    if (this.closing) return;
    void this.close();
    this.onError(err);
  }
}

/**
 * Creates (or attaches to) a TUN interface and returns it configured: offloads negotiated,
 * moved to `netns` if asked, MTU set, up. Throws an Error with `code`:
 *  - 'ETUNPERM'    no permission (run as root or grant CAP_NET_ADMIN);
 *  - 'ETUNMISSING' no /dev/net/tun (modprobe tun);
 *  - an errno name ('EBUSY', 'EINVAL', ...) for other kernel refusals;
 *  - 'EIPCOMMAND'  an `ip` command failed (its stderr is in the message).
 */
export function openTun(opts: TunOptions = {}): TunDevice {
  const name = opts.name ?? DEFAULT_NAME;
  if (Buffer.byteLength(name) >= IFNAMSIZ) {
    throw Object.assign(new Error(`TUN name '${name}' is longer than ${IFNAMSIZ - 1} bytes; choose a shorter one`), {
      code: 'EINVAL',
    });
  }
  const vnetHeader = opts.vnetHeader ?? true;
  const queues = Math.max(1, opts.queues ?? 1);
  const multiQueue = (opts.multiQueue ?? false) || queues > 1;
  const devicePath = opts.devicePath ?? '/dev/net/tun';
  const flags = IFF_TUN | IFF_NO_PI | (vnetHeader ? IFF_VNET_HDR : 0) | (multiQueue ? IFF_MULTI_QUEUE : 0);

  const fds: number[] = [];
  let realName = name;
  let offloads: TunOffloads = { csum: false, tso4: false, tso6: false, uso: false };
  try {
    for (let q = 0; q < queues; q++) {
      const fd = openCloneDevice(devicePath);
      fds.push(fd);
      // Every queue after the first attaches to the name the kernel gave the first.
      realName = setInterface(fd, q === 0 ? name : realName, flags);
    }
    if (vnetHeader) offloads = negotiateOffloads(fds, { csum: true, tso4: true, tso6: true, uso: false, ...opts.offloads });
  } catch (err) {
    for (const fd of fds) closeFile(fd);
    throw err;
  }

  const device = new TunDevice(realName, fds, vnetHeader, offloads, 0, undefined, opts.readBatch ?? DEFAULT_READ_BATCH);
  device.busyPollUs = opts.busyPollUs ?? 0;
  try {
    if (opts.netns !== undefined) device.moveToNetns(opts.netns);
    // Ask the kernel rather than assume 1500: a queue may attach to a device set up elsewhere.
    if (opts.mtu !== undefined) device.setMtu(opts.mtu);
    else device.readMtu();
    if (opts.up ?? true) device.setUp();
  } catch (err) {
    void device.close();
    throw err;
  }
  return device;
}

function openCloneDevice(path: string): number {
  try {
    return openFile(path, O_RDWR | O_NONBLOCK | O_CLOEXEC, `open ${path}`);
  } catch (err) {
    const e = err as SyscallError;
    if (e.code === 'ENOENT' || e.code === 'ENODEV' || e.code === 'ENXIO') {
      throw new SyscallError('open', e.errno, `open ${path}`, 'the TUN driver is missing: load it (modprobe tun)', 'ETUNMISSING');
    }
    if (e.code === 'EACCES' || e.code === 'EPERM') {
      throw new SyscallError('open', e.errno, `open ${path}`, 'run as root or grant CAP_NET_ADMIN', 'ETUNPERM');
    }
    throw err;
  }
}

/** TUNSETIFF; returns the interface name the kernel chose (it expands %d). */
function setInterface(fd: number, name: string, flags: number): string {
  const ifr = Buffer.alloc(IFREQ_SIZE);
  ifr.write(name, 0, IFNAMSIZ - 1, 'latin1');
  ifr.writeUInt16LE(flags, IFR_FLAGS);
  try {
    ioctlPointer(fd, TUNSETIFF, ifr, `TUNSETIFF ${name}`);
  } catch (err) {
    const e = err as SyscallError;
    if (e.code === 'EPERM' || e.code === 'EACCES') {
      throw new SyscallError('ioctl', e.errno, `TUNSETIFF ${name}`, 'run as root or grant CAP_NET_ADMIN', 'ETUNPERM');
    }
    throw err;
  }
  const end = ifr.indexOf(0);
  return ifr.toString('latin1', 0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end);
}

/** TUNSETOFFLOAD on every queue; retries without USO when the kernel refuses it. */
function negotiateOffloads(fds: readonly number[], want: TunOffloads): TunOffloads {
  // TSO and USO are only honoured together with CSUM (tun_set_offload rejects them alone).
  const csum = want.csum;
  const attempt: TunOffloads = { csum, tso4: csum && want.tso4, tso6: csum && want.tso6, uso: csum && want.uso };
  const bits = (o: TunOffloads): number =>
    (o.csum ? TUN_F_CSUM : 0) | (o.tso4 ? TUN_F_TSO4 : 0) | (o.tso6 ? TUN_F_TSO6 : 0) | (o.uso ? TUN_F_USO4 | TUN_F_USO6 : 0);
  try {
    for (const fd of fds) ioctlValue(fd, TUNSETOFFLOAD, bits(attempt), 'TUNSETOFFLOAD');
    return attempt;
  } catch (err) {
    if (!attempt.uso || (err as SyscallError).code !== 'EINVAL') throw err;
    const fallback = { ...attempt, uso: false };
    for (const fd of fds) ioctlValue(fd, TUNSETOFFLOAD, bits(fallback), 'TUNSETOFFLOAD');
    return fallback;
  }
}
