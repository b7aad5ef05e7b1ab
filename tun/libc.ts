// The few libc calls the TUN driver needs, bound with koffi (no native addon to build).
// Hot-path calls (read, write, writev, poll) return a byte count or a negative errno and
// never throw: an EAGAIN per drained queue is normal and an exception there would cost
// more than the syscall. Set-up calls (open, ioctl, eventfd) throw a SyscallError
// whose `code` is the errno name and whose message says what to do about it.
//
// koffi reads errno per thread (koffi.errno()), so these bindings work unchanged inside the
// reader worker thread, which loads this module again.

import koffi from 'koffi';

// <fcntl.h>, <poll.h>, <sys/eventfd.h> on Linux (x86-64 and arm64 agree on these values).
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const POLLIN = 0x001;
export const POLLHUP = 0x010;
/** struct pollfd { int fd; short events; short revents; } */
export const POLLFD_SIZE = 8;
export const EFD_CLOEXEC = 0o2000000;

const lib = koffi.load('libc.so.6');
const cOpen = lib.func('int open(const char *path, int flags)');
const cClose = lib.func('int close(int fd)');
const cRead = lib.func('intptr_t read(int fd, void *buf, size_t count)');
const cWrite = lib.func('intptr_t write(int fd, const void *buf, size_t count)');
// The iovec array is built by hand (see writev): koffi's struct marshalling costs ~1 us a call.
const cWritev = lib.func('writev', 'intptr_t', ['int', 'void *', 'int']);
// ioctl is variadic; the third argument is a pointer for TUNSETIFF and a plain integer for
// TUNSETOFFLOAD, so it gets two fixed prototypes (REFERENCE.md "TUN on Linux").
const cIoctlPointer = lib.func('ioctl', 'int', ['int', 'unsigned long', 'void *']);
const cIoctlValue = lib.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']);
const cPoll = lib.func('int poll(void *fds, unsigned long nfds, int timeout)');
const cEventfd = lib.func('int eventfd(unsigned int initval, int flags)');

const ERRNO_NAMES = new Map<number, string>(Object.entries(koffi.os.errno).map(([name, value]) => [value, name]));
export const EAGAIN = koffi.os.errno.EAGAIN!;
export const EINTR = koffi.os.errno.EINTR!;

/** 'EACCES' for 13, 'ERRNO_<n>' for numbers libc has no name for. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `ERRNO_${errno}`;
}

const ADVICE: Record<string, string> = {
  EACCES: 'run as root or grant CAP_NET_ADMIN (setcap cap_net_admin+ep on the node binary)',
  EPERM: 'run as root or grant CAP_NET_ADMIN (setcap cap_net_admin+ep on the node binary)',
  ENOENT: 'the path does not exist; for /dev/net/tun load the module (modprobe tun)',
  ENODEV: 'the kernel has no such device; load the module (modprobe tun)',
  EBUSY: 'the interface name is in use by a device of another kind or by another process: pick another name or use a %d pattern',
  EINVAL: 'the kernel rejected the arguments; check the flags and the interface name (at most 15 characters)',
  EMFILE: 'this process has too many open files: close some or raise the limit (ulimit -n)',
  ENFILE: 'the system has too many open files: close some or raise fs.file-max',
  EBADF: 'the file descriptor is not open (already closed?)',
};

/**
 * A failed system call: `code` is the errno name unless the caller gives a more specific one
 * (the TUN driver's 'ETUNPERM', 'ETUNMISSING'); `errno` is the number.
 */
export class SyscallError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;

  constructor(syscall: string, errno: number, what: string, advice?: string, code?: string) {
    const errnoCode = errnoName(errno);
    const hint = advice ?? ADVICE[errnoCode];
    super(`${what}: ${syscall} failed with ${errnoCode}${hint ? `; ${hint}` : ''}`);
    this.name = 'SyscallError';
    this.code = code ?? errnoCode;
    this.errno = errno;
    this.syscall = syscall;
  }
}

function lastErrno(): number {
  return koffi.errno();
}

/** open(2); throws SyscallError. `what` names the thing for the message ("open /dev/net/tun"). */
export function openFile(path: string, flags: number, what = `open ${path}`): number {
  const fd = cOpen(path, flags) as number;
  if (fd < 0) throw new SyscallError('open', lastErrno(), what);
  return fd;
}

/** close(2); throws SyscallError (EBADF on a double close). */
export function closeFile(fd: number): void {
  if ((cClose(fd) as number) < 0) throw new SyscallError('close', lastErrno(), `close fd ${fd}`);
}

/** read(2) into `buf`: bytes read, or -errno (-EAGAIN when a non-blocking fd is empty). */
export function readInto(fd: number, buf: Uint8Array): number {
  const n = Number(cRead(fd, buf, buf.length));
  return n >= 0 ? n : -lastErrno();
}

/** write(2) of `buf[0, length)`: bytes written, or -errno. */
export function writeFrom(fd: number, buf: Uint8Array, length = buf.length): number {
  const n = Number(cWrite(fd, buf, length));
  return n >= 0 ? n : -lastErrno();
}

// The iovec array, reused and grown on demand: { void *base; size_t len } per entry on LP64.
let iov = new BigUint64Array(2 * 16);

/**
 * writev(2) of `header`, `packet` and then each of `rest`, in one call, without copying them
 * together: bytes written, or -errno. Every buffer must be backed by off-heap memory that V8
 * never moves, which holds for every ArrayBuffer larger than 64 bytes and every Buffer; the
 * header is a long-lived buffer of the caller.
 */
export function writev(fd: number, header: Uint8Array, packet: Uint8Array, rest?: readonly Uint8Array[]): number {
  const count = 2 + (rest?.length ?? 0);
  if (iov.length < 2 * count) iov = new BigUint64Array(2 * count);
  iov[0] = koffi.address(header);
  iov[1] = BigInt(header.length);
  iov[2] = koffi.address(packet);
  iov[3] = BigInt(packet.length);
  for (let i = 2; i < count; i++) {
    const b = rest![i - 2]!;
    iov[2 * i] = koffi.address(b);
    iov[2 * i + 1] = BigInt(b.length);
  }
  const n = Number(cWritev(fd, iov, count));
  return n >= 0 ? n : -lastErrno();
}

/** ioctl(2) whose argument points at `arg` (the kernel may write into it); throws SyscallError. */
export function ioctlPointer(fd: number, request: number, arg: Uint8Array, what: string, advice?: string): void {
  if ((cIoctlPointer(fd, request, arg) as number) < 0) throw new SyscallError('ioctl', lastErrno(), what, advice);
}

/** ioctl(2) with an integer passed by value; throws SyscallError. */
export function ioctlValue(fd: number, request: number, value: number, what: string, advice?: string): void {
  if ((cIoctlValue(fd, request, value) as number) < 0) throw new SyscallError('ioctl', lastErrno(), what, advice);
}

/**
 * poll(2) over `fds`, an array of struct pollfd (POLLFD_SIZE bytes each, see pollfdSet):
 * number of ready descriptors, 0 on timeout, or -errno (-EINTR is worth retrying).
 */
export function poll(fds: Uint8Array, count: number, timeoutMs: number): number {
  const n = cPoll(fds, count, timeoutMs) as number;
  return n >= 0 ? n : -lastErrno();
}

/** Fills entry `index` of a pollfd array and clears its revents. */
export function pollfdSet(fds: Uint8Array, index: number, fd: number, events: number): void {
  const view = new DataView(fds.buffer, fds.byteOffset + index * POLLFD_SIZE, POLLFD_SIZE);
  view.setInt32(0, fd, true);
  view.setInt16(4, events, true);
  view.setInt16(6, 0, true);
}

/** revents of entry `index` after poll. */
export function pollfdRevents(fds: Uint8Array, index: number): number {
  const at = index * POLLFD_SIZE + 6;
  return fds[at]! | (fds[at + 1]! << 8);
}

/** eventfd(2): a counter descriptor, used to wake a thread blocked in poll; throws SyscallError. */
export function eventfd(flags = EFD_CLOEXEC): number {
  const fd = cEventfd(0, flags) as number;
  if (fd < 0) throw new SyscallError('eventfd', lastErrno(), 'create an eventfd');
  return fd;
}

const ONE = new BigUint64Array([1n]);
const eventfdValue = new Uint8Array(ONE.buffer);

/** Adds 1 to an eventfd, making it readable (wakes a poller). */
export function eventfdSignal(fd: number): void {
  writeFrom(fd, eventfdValue);
}
