import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../stack/wire/address.js';
import { seqAdd } from '../../stack/tcp/seq.js';
import {
  COOKIE_MSS_IPV4,
  COOKIE_MSS_IPV6,
  COOKIE_PERIOD_MS,
  SynCookies,
  cookieOptionsFromEcho,
  cookieTimestamp,
} from '../../stack/tcp/syn-cookies.js';
import type { FourTuple } from '../../stack/tcp/tuple-hash.js';

const secret = new Uint8Array(32).map((_, i) => (i * 29 + 11) & 0xff);
const tuple: FourTuple = {
  localAddress: parseAddress('2001:db8::1')!,
  localPort: 443,
  remoteAddress: parseAddress('2001:db8::99')!,
  remotePort: 51_000,
};

describe('SynCookies', () => {
  const cookies = new SynCookies(secret, 128_000);

  it('round-trips the MSS through the ISN, rounding the client MSS down to the table', () => {
    for (const [clientMss, expected] of [
      [1460, 1460],
      [1450, 1440],
      [1300, 1300],
      [1000, 536],
      [100, 536],
      [9000, 1460],
    ]) {
      const clientIsn = 0xffff_fff0; // the ACK's seq wraps
      const { isn, mss } = cookies.encode(5000, tuple, clientIsn, clientMss!, COOKIE_MSS_IPV4);
      expect(mss).toBe(expected);
      expect(cookies.check(5100, tuple, seqAdd(clientIsn, 1), seqAdd(isn, 1), COOKIE_MSS_IPV4)).toBe(expected);
    }
    const v6 = cookies.encode(0, tuple, 1, 8940, COOKIE_MSS_IPV6);
    expect(cookies.check(0, tuple, 2, seqAdd(v6.isn, 1), COOKIE_MSS_IPV6)).toBe(8940);
  });

  it('accepts a cookie for up to two counter periods and rejects it after', () => {
    const t0 = 10 * COOKIE_PERIOD_MS + 63_000; // near the end of a period
    const { isn } = cookies.encode(t0, tuple, 1000, 1460, COOKIE_MSS_IPV4);
    const check = (now: number): number | undefined => cookies.check(now, tuple, 1001, seqAdd(isn, 1), COOKIE_MSS_IPV4);
    expect(check(t0 + 1_000)).toBe(1460); // next period
    expect(check(t0 + 64_000)).toBe(1460); // still the next period
    expect(check(t0 + 66_000)).toBeUndefined(); // two periods later: expired
  });

  it('rejects forgeries: wrong ACK, wrong client ISN, another 4-tuple, another secret', () => {
    const { isn } = cookies.encode(0, tuple, 1000, 1460, COOKIE_MSS_IPV4);
    expect(cookies.check(0, tuple, 1001, seqAdd(isn, 2), COOKIE_MSS_IPV4)).toBeUndefined();
    expect(cookies.check(0, tuple, 1002, seqAdd(isn, 1), COOKIE_MSS_IPV4)).toBeUndefined();
    expect(cookies.check(0, { ...tuple, remotePort: 51_001 }, 1001, seqAdd(isn, 1), COOKIE_MSS_IPV4)).toBeUndefined();
    const other = new SynCookies(secret.map((b) => b ^ 0x80), 128_000);
    expect(other.check(0, tuple, 1001, seqAdd(isn, 1), COOKIE_MSS_IPV4)).toBeUndefined();
    // Random ACK numbers essentially never pass.
    let passed = 0;
    let seed = 3;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      if (cookies.check(0, tuple, 1001, seed, COOKIE_MSS_IPV4) !== undefined) passed++;
    }
    expect(passed).toBe(0);
  });

  it('carries window scale, SACK and ECN in the TSval low bits without moving the clock ahead', () => {
    const tsval = 0x1234_5678;
    const ts = cookieTimestamp(tsval, { windowScale: 7, sackPermitted: true, ecn: false });
    expect(ts).toBeLessThanOrEqual(tsval);
    expect(tsval - ts).toBeLessThan(64);
    expect(cookieOptionsFromEcho(ts)).toEqual({ windowScale: 7, sackPermitted: true, ecn: false });
    const none = cookieTimestamp(0x40, { windowScale: undefined, sackPermitted: false, ecn: true });
    expect(cookieOptionsFromEcho(none)).toEqual({ windowScale: undefined, sackPermitted: false, ecn: true });
    // Low bits above the current TSval: stepped back one 64-tick unit (with wrap).
    const back = cookieTimestamp(0x0000_0003, { windowScale: 14, sackPermitted: true, ecn: true });
    expect(back).toBe((0 - 64 + (14 | 16 | 32)) >>> 0);
    // Scales above 14 (RFC 7323 2.3) are clamped on the way in.
    expect(cookieOptionsFromEcho(cookieTimestamp(1000, { windowScale: 20, sackPermitted: false, ecn: false })).windowScale).toBe(14);
  });
});
