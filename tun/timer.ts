// setTimeout for deadlines that may lie far ahead. Node's timers take at most 2^31-1 ms and
// turn a longer delay into 1 ms (TimeoutOverflowWarning), so a driver asked to wake in a
// month (a long DNS TTL, a keepalive set to days) would wake every millisecond instead. A
// longer delay is cut to the maximum: the timer fires early, its owner finds nothing due and
// arms again, as both owners (runtime.ts, release-queue.ts) already do after an early wake-up.

/** The largest delay setTimeout honours, ms. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** setTimeout(fn, delayMs) with the delay kept within what setTimeout honours. */
export function setTimer(fn: () => void, delayMs: number): NodeJS.Timeout {
  return setTimeout(fn, Math.min(MAX_TIMER_DELAY_MS, Math.max(0, delayMs)));
}
