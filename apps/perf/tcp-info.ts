// The two TCP socket options iperf3 uses on a kernel socket Node opened (tcp(7)):
// TCP_INFO (struct tcp_info in include/uapi/linux/tcp.h), so `namestack perf --kernel`
// reports retransmissions and the congestion window as iperf3 does (iperf3 tcp_info.c), one
// getsockopt per statistics interval; and TCP_CONGESTION for -C. Through koffi.

import type { Duplex } from 'node:stream';
import koffi from 'koffi';
import type { TcpInfoSample } from './transport.js';

const IPPROTO_TCP = 6;
const TCP_INFO = 11;
const TCP_CONGESTION = 13;
/** Bytes of struct tcp_info read: through tcpi_snd_wnd (offset 228), present since Linux 5.4. */
const TCP_INFO_SIZE = 232;

// Offsets in struct tcp_info (eight u8 fields first, then u32 fields).
const OFF_SND_MSS = 16;
const OFF_PMTU = 60;
const OFF_RTT = 68;
const OFF_RTTVAR = 72;
const OFF_SND_CWND = 80;
const OFF_TOTAL_RETRANS = 100;
const OFF_SND_WND = 228;

type Getsockopt = (fd: number, level: number, name: number, value: Uint8Array, length: Uint32Array) => number;
type Setsockopt = (fd: number, level: number, name: number, value: Uint8Array, length: number) => number;
let calls: { getsockopt: Getsockopt; setsockopt: Setsockopt } | undefined;

/** Binds libc's getsockopt and setsockopt on first use, so importing this module costs nothing. */
function bind(): NonNullable<typeof calls> {
  if (!calls) {
    const lib = koffi.load('libc.so.6');
    calls = {
      getsockopt: lib.func('getsockopt', 'int', ['int', 'int', 'int', 'void *', 'void *']) as unknown as Getsockopt,
      setsockopt: lib.func('setsockopt', 'int', ['int', 'int', 'int', 'void *', 'uint32_t']) as unknown as Setsockopt,
    };
  }
  return calls;
}

/** The descriptor under a connected net.Socket (libuv's handle keeps it). */
function socketFd(socket: Duplex): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** TCP_INFO of a kernel socket, or undefined when it has no descriptor (closed, not kernel). */
export function kernelTcpInfo(socket: Duplex): TcpInfoSample | undefined {
  const fd = socketFd(socket);
  if (fd === undefined) return undefined;
  const info = new Uint8Array(TCP_INFO_SIZE);
  const length = new Uint32Array([TCP_INFO_SIZE]);
  if (bind().getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, length) !== 0) return undefined;
  const v = new DataView(info.buffer);
  const u32 = (offset: number): number => (length[0]! >= offset + 4 ? v.getUint32(offset, true) : 0);
  return {
    totalRetransmits: u32(OFF_TOTAL_RETRANS),
    cwndBytes: u32(OFF_SND_CWND) * u32(OFF_SND_MSS),
    sendWindowBytes: u32(OFF_SND_WND),
    rttUs: u32(OFF_RTT),
    rttVarUs: u32(OFF_RTTVAR),
    pmtu: u32(OFF_PMTU),
  };
}

/** Sets TCP_CONGESTION (e.g. 'cubic'); false when the socket has no descriptor or the kernel refuses the name. */
export function setKernelCongestion(socket: Duplex, name: string): boolean {
  const fd = socketFd(socket);
  if (fd === undefined) return false;
  const value = Buffer.from(name, 'latin1');
  return bind().setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, value, value.length) === 0;
}

/** TCP_CONGESTION of a kernel socket: the name of its congestion control. */
export function kernelCongestion(socket: Duplex): string | undefined {
  const fd = socketFd(socket);
  if (fd === undefined) return undefined;
  const value = new Uint8Array(16);
  const length = new Uint32Array([value.length]);
  if (bind().getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, value, length) !== 0) return undefined;
  const end = value.indexOf(0);
  return Buffer.from(value.subarray(0, end < 0 ? length[0] : end)).toString('latin1');
}
