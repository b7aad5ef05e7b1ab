// One data connection of a test: a sender that writes the same block over and over (iperf3
// sends one buffer repeatedly), honouring the socket's backpressure, the test's byte limit
// and an optional rate; or a receiver that only counts the bytes it is given. Neither side
// copies or keeps payload: the sender holds one block, the receiver drops each chunk after
// adding its length.

import type { TokenBucket } from './pacer.js';
import type { PerfSocket } from './transport.js';

/**
 * Writes issued per event-loop turn before yielding: a socket that accepts every write at
 * once (a fast kernel socket) must not starve the control connection and the timers.
 */
const WRITES_PER_TURN = 16;

/** What the session lends each sender: the shared byte budget and progress callbacks. */
export interface SendControl {
  /** Reserves `size` bytes of the test's byte limit; false when the limit is reached. */
  reserve(size: number): boolean;
  /**
   * Bytes moved: a completed write (counted when the socket has taken it, like iperf3's
   * bytes_sent) or a received chunk while counting.
   */
  onProgress(bytes: number): void;
  /** A socket error while the stream is active. */
  onError(stream: PerfStream, err: Error): void;
  now(): number;
}

export class PerfStream {
  /** Bytes sent (completed writes) or received while counting. */
  bytes = 0;
  /** Bytes of the current statistics interval. */
  intervalBytes = 0;
  /** Whether received bytes count (iperf3 counts only in TEST_RUNNING). */
  counting = false;
  private sending = false;
  private waitingDrain = false;
  private scheduled = false;
  private closed = false;
  private readonly onWritten: (err?: Error | null) => void;

  constructor(
    /** Protocol stream id (1, 3, 4, ...), the key of the results exchange. */
    readonly id: number,
    /** The number reports show in the [ID] column (iperf3 shows its socket descriptor). */
    readonly reportId: number,
    readonly sender: boolean,
    readonly socket: PerfSocket,
    private readonly block: Buffer,
    private readonly control: SendControl,
    private readonly bucket?: TokenBucket,
  ) {
    this.onWritten = (err) => {
      if (err) return;
      this.bytes += this.block.length;
      this.intervalBytes += this.block.length;
      this.control.onProgress(this.block.length);
    };
    socket.on('error', (err: Error) => {
      if (!this.closed && (this.sending || this.counting)) control.onError(this, err);
    });
    if (!sender) {
      socket.on('data', (chunk: Buffer) => {
        if (!this.counting) return;
        this.bytes += chunk.length;
        this.intervalBytes += chunk.length;
        this.control.onProgress(chunk.length);
      });
      socket.resume();
    }
  }

  startSending(): void {
    if (!this.sender || this.closed) return;
    this.sending = true;
    this.pump();
  }

  stopSending(): void {
    this.sending = false;
  }

  /** Called on every pacing tick while a rate limit is set. */
  paceTick(): void {
    if (this.sending && !this.waitingDrain && !this.scheduled) this.pump();
  }

  /** Tears the connection down at the end of the test (iperf3 close()s its data sockets). */
  close(): void {
    this.closed = true;
    this.sending = false;
    this.counting = false;
    this.socket.destroy();
  }

  private readonly pump = (): void => {
    this.scheduled = false;
    if (!this.sending || this.waitingDrain) return;
    const size = this.block.length;
    for (let i = 0; i < WRITES_PER_TURN; i++) {
      // Out of tokens: the next pacing tick resumes the stream.
      if (this.bucket && !this.bucket.take(size, this.control.now())) return;
      if (!this.control.reserve(size)) {
        this.sending = false;
        return;
      }
      if (!this.socket.write(this.block, this.onWritten)) {
        this.waitingDrain = true;
        this.socket.once('drain', this.onDrain);
        return;
      }
      if (!this.sending) return;
    }
    this.scheduled = true;
    setImmediate(this.pump);
  };

  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    if (!this.scheduled) this.pump();
  };
}
