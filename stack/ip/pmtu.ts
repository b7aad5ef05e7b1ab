// Path MTU cache (RFC 1191 for IPv4, RFC 8201 for IPv6): Packet Too Big / Fragmentation
// Needed messages lower the MTU toward one destination; an entry expires so a path that got
// better is found again (RFC 8201 5.3: no sooner than 5 minutes, 10 recommended).

import { addressKey, type IpAddress } from '../wire/address.js';
import { IPV6_MIN_MTU } from './interfaces.js';

interface Entry {
  mtu: number;
  expires: number;
}

export class PmtuCache {
  // Map iteration order is insertion order, which makes "forget the oldest" O(1).
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly opts: { expiryMs: number; minIpv4: number; limit: number }) {}

  /**
   * Learns `reportedMtu` toward `dst`. Returns the new path MTU when it went down, else
   * undefined (an increase by ICMP is never believed, RFC 8201 4).
   */
  lower(dst: IpAddress, reportedMtu: number, currentMtu: number, now: number): number | undefined {
    // RFC 8201 4: never below 1280 on IPv6; IPv4 clamps to a floor against forged tiny values.
    const floor = dst.length === 16 ? IPV6_MIN_MTU : this.opts.minIpv4;
    const mtu = Math.max(floor, reportedMtu);
    if (mtu >= currentMtu) return undefined;
    const key = addressKey(dst);
    this.entries.delete(key);
    if (this.entries.size >= this.opts.limit) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { mtu, expires: now + this.opts.expiryMs });
    return mtu;
  }

  /** The learned MTU toward `dst`, if one is still valid at `now`. */
  get(dst: IpAddress, now: number): number | undefined {
    const key = addressKey(dst);
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (now >= e.expires) {
      this.entries.delete(key);
      return undefined;
    }
    return e.mtu;
  }
}
