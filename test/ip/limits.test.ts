// The IP layer's caches stay within their configured sizes, forgetting the oldest entry.

import { describe, expect, it } from 'vitest';
import { IcmpRateLimiter } from '../../stack/ip/icmp-ratelimit.js';
import { PmtuCache } from '../../stack/ip/pmtu.js';
import { ip } from './packets.js';

const v4 = (i: number) => ip(`192.0.2.${i}`);

describe('bounded caches', () => {
  it('PmtuCache holds at most `limit` destinations, forgetting the least recently lowered', () => {
    const cache = new PmtuCache({ expiryMs: 600_000, minIpv4: 552, limit: 3 });
    for (let i = 1; i <= 3; i++) expect(cache.lower(v4(i), 1400, 1500, 0)).toBe(1400);
    expect(cache.lower(v4(1), 1300, 1400, 1)).toBe(1300); // lowered again: now the newest
    expect(cache.lower(v4(4), 1400, 1500, 2)).toBe(1400);
    expect([1, 2, 3, 4].map((i) => cache.get(v4(i), 3))).toEqual([1300, undefined, 1400, 1400]);
    // IPv6 never below 1280 (RFC 8201 4); IPv4 never below minIpv4.
    expect(cache.lower(ip('2001:db8::9'), 500, 1500, 3)).toBe(1280);
    expect(cache.lower(v4(9), 100, 1500, 3)).toBe(552);
  });

  it('IcmpRateLimiter remembers at most `peers` destinations; a forgotten one starts with a full burst', () => {
    const limiter = new IcmpRateLimiter({ intervalMs: 1000, burst: 2, globalPerSecond: 0, globalBurst: 0, peers: 2 });
    expect([limiter.allow(v4(1), 0), limiter.allow(v4(1), 0), limiter.allow(v4(1), 0)]).toEqual([true, true, false]);
    limiter.allow(v4(2), 0);
    limiter.allow(v4(3), 0); // v4(1) is forgotten
    expect(limiter.allow(v4(1), 0)).toBe(true);
  });
});
