// HostRuntime with a stand-in host: how it arms its one timer.

import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Host } from '../../stack/ip/host.js';
import { HostRuntime } from '../../tun/runtime.js';
import { ReleaseQueue } from '../../tun/release-queue.js';

/** setTimeout's largest delay: Node turns anything longer into 1 ms (TimeoutOverflowWarning). */
const MAX_TIMER_DELAY = 2 ** 31 - 1;
const THIRTY_DAYS = 30 * 86_400_000;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('timers far in the future', () => {
  it('HostRuntime arms at most 2^31-1 ms ahead (a longer delay would fire every millisecond)', async () => {
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      return real(fn, 1e9); // never fires within the test; stop() clears it
    }) as typeof setTimeout);
    let onTimeouts = 0;
    const host = {
      nextTimeout: () => THIRTY_DAYS,
      onTimeout: () => onTimeouts++,
      pollTransmit: () => undefined,
    } as unknown as Host;
    const runtime = new HostRuntime(host, () => 0);
    runtime.kick();
    await Promise.resolve();
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeLessThanOrEqual(MAX_TIMER_DELAY);
    expect(delays[0]).toBeGreaterThan(MAX_TIMER_DELAY - 1000);
    expect(onTimeouts).toBe(0);
    await runtime.stop();
  });

  it('ReleaseQueue arms at most 2^31-1 ms ahead', () => {
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      return real(fn, 1e9);
    }) as typeof setTimeout);
    const q = new ReleaseQueue<string>(() => {}, () => 0);
    q.push(THIRTY_DAYS, 'late');
    expect(delays).toEqual([MAX_TIMER_DELAY]);
    q.clear();
  });
});
