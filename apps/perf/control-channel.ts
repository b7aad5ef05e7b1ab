// The control connection of an iperf3 test, as a reader of exact byte counts: state bytes,
// length-framed JSON, and the SERVER_ERROR numbers. Both roles use it. Reads are sequential
// (one outstanding read at a time), which is how the protocol works: each side waits for
// the next message it expects.

import type { Duplex } from 'node:stream';
import { MAX_JSON_LENGTH, decodeState, encodeJson, encodeState } from './protocol.js';

/** A coded error like Node's socket errors; `code` is a Node code or a perf-specific one. */
export class PerfError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface PendingRead {
  length: number;
  resolve: (bytes: Buffer) => void;
  reject: (err: Error) => void;
}

export class ControlChannel {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private pending: PendingRead | undefined;
  private failure: Error | undefined;
  private paused = false;
  private failed: ((err: Error) => void) | undefined;
  /** Rejects when the connection ends or fails (never resolves). */
  readonly lost: Promise<never>;

  constructor(readonly socket: Duplex) {
    this.lost = new Promise<never>((_, reject) => (this.failed = reject));
    // Nobody may be waiting on it; that is not an unhandled rejection.
    this.lost.catch(() => {});
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      // A peer may not push more than one maximal message ahead of what we read.
      if (this.buffered > MAX_JSON_LENGTH + 8 && !this.paused) {
        this.paused = true;
        socket.pause();
      }
      this.deliver();
    });
    socket.on('end', () => this.fail(new PerfError('ECTRLCLOSE', 'the control connection closed')));
    socket.on('close', () => this.fail(new PerfError('ECTRLCLOSE', 'the control connection closed')));
    socket.on('error', (err: Error) => this.fail(err));
    // A socket handed over by readPrefix is paused; adding a listener does not undo that.
    socket.resume();
  }

  /** Exactly `length` bytes; rejects when the connection ends first. */
  read(length: number): Promise<Buffer> {
    if (this.pending) return Promise.reject(new Error('ControlChannel: one read at a time'));
    return new Promise((resolve, reject) => {
      this.pending = { length, resolve, reject };
      this.deliver();
    });
  }

  /** The next state byte, signed. */
  async readState(): Promise<number> {
    return decodeState((await this.read(1))[0]!);
  }

  /** The next length-framed JSON message, parsed (or undefined when it is not JSON). */
  async readJson(): Promise<unknown> {
    const length = (await this.read(4)).readUInt32BE(0);
    if (length > MAX_JSON_LENGTH) throw new PerfError('EPROTO', `JSON message of ${length} bytes exceeds ${MAX_JSON_LENGTH}`);
    const text = (await this.read(length)).toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  /** A SERVER_ERROR's two numbers: iperf3's error number and the errno (network order). */
  async readErrorNumbers(): Promise<{ iperfError: number; errno: number }> {
    const b = await this.read(8);
    return { iperfError: b.readInt32BE(0), errno: b.readInt32BE(4) };
  }

  writeState(state: number): void {
    this.socket.write(encodeState(state));
  }

  writeJson(message: object): void {
    this.socket.write(encodeJson(message));
  }

  writeErrorNumbers(iperfError: number, errno: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeInt32BE(iperfError, 0);
    b.writeInt32BE(errno, 4);
    this.socket.write(b);
  }

  close(): void {
    this.socket.end();
  }

  private deliver(): void {
    const p = this.pending;
    if (!p) return;
    if (this.buffered >= p.length) {
      this.pending = undefined;
      p.resolve(this.take(p.length));
      if (this.paused && this.buffered <= MAX_JSON_LENGTH) {
        this.paused = false;
        this.socket.resume();
      }
    } else if (this.failure) {
      this.pending = undefined;
      p.reject(this.failure);
    }
  }

  private take(length: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first && first.length >= length) {
      out = first.subarray(0, length);
      if (first.length === length) this.chunks.shift();
      else this.chunks[0] = first.subarray(length);
    } else {
      out = Buffer.allocUnsafe(length);
      let at = 0;
      while (at < length) {
        const c = this.chunks[0]!;
        const n = Math.min(c.length, length - at);
        c.copy(out, at, 0, n);
        at += n;
        if (n === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(n);
      }
    }
    this.buffered -= length;
    return out;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.failed?.(this.failure);
    this.deliver();
  }
}

/**
 * Reads the first `length` bytes of a fresh connection (the cookie) and leaves the stream
 * paused with anything after them pushed back, so the next owner loses nothing.
 */
export function readPrefix(socket: Duplex, length: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
      if (err) return reject(err);
      socket.pause();
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (all.length > length) socket.unshift(all.subarray(length));
      resolve(all.subarray(0, length));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      have += chunk.length;
      if (have >= length) finish();
    };
    const onEnd = (): void => finish(new PerfError('ECTRLCLOSE', `connection closed before ${length} bytes`));
    const onError = (err: Error): void => finish(err);
    const timer = setTimeout(() => finish(new PerfError('ETIMEDOUT', `no ${length}-byte cookie within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    socket.resume();
  });
}
