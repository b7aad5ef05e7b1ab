// Rate limit for `-b`: a token bucket per stream, refilled by the elapsed time and checked on
// a 1 ms tick (iperf3's pacing_timer default), so a stream sends whole blocks at the target
// average rate. iperf3 itself compares the stream's average since the start with the target
// (iperf_check_throttle); the bucket gives the same average without the catch-up burst
// after a stall, because its depth is bounded.

/**
 * How much a stalled sender may catch up, in milliseconds of the rate: enough for an event
 * loop held up by a busy machine (tens of ms) to keep the average, small against a test.
 */
const DEPTH_MS = 50;

export class TokenBucket {
  private tokens = 0;
  private readonly bytesPerMs: number;
  private readonly depth: number;

  constructor(
    bitsPerSecond: number,
    blockSize: number,
    private last: number,
  ) {
    this.bytesPerMs = bitsPerSecond / 8 / 1000;
    this.depth = Math.max(blockSize, this.bytesPerMs * DEPTH_MS);
  }

  /**
   * Whether a block of `size` bytes may be sent at `now` (ms). The bucket may go negative by
   * less than one block, so blocks larger than a tick's worth still average out exactly.
   */
  take(size: number, now: number): boolean {
    this.tokens = Math.min(this.depth, this.tokens + (now - this.last) * this.bytesPerMs);
    this.last = now;
    if (this.tokens < 0) return false;
    this.tokens -= size;
    return true;
  }
}
