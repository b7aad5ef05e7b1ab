// Rate limit for the ICMP errors we generate (RFC 1812 4.3.2.8, RFC 4443 2.4(f)), shaped
// like Linux: a token bucket per destination (icmp_ratelimit, burst XRLIM_BURST_FACTOR) and
// a host-wide bucket (icmp_msgs_per_sec / icmp_msgs_burst). Echo replies are not limited.

import { addressKey, type IpAddress } from '../wire/address.js';

interface Bucket {
  tokens: number;
  last: number;
}

export interface IcmpRateLimitOptions {
  intervalMs: number;
  burst: number;
  globalPerSecond: number;
  globalBurst: number;
  peers: number;
}

export class IcmpRateLimiter {
  private readonly peers = new Map<string, Bucket>();
  private readonly global: Bucket;

  constructor(private readonly o: IcmpRateLimitOptions) {
    this.global = { tokens: o.globalBurst, last: -Infinity };
  }

  /** Takes a token for an error to `dst` at `now`; false means "do not send". A rate of 0 disables that bucket. */
  allow(dst: IpAddress, now: number): boolean {
    const o = this.o;
    const limitGlobal = o.globalPerSecond > 0;
    if (limitGlobal) {
      refill(this.global, now, o.globalPerSecond / 1000, o.globalBurst);
      if (this.global.tokens < 1) return false;
    }
    if (o.intervalMs > 0) {
      const peer = this.peer(dst, now);
      refill(peer, now, 1 / o.intervalMs, o.burst);
      if (peer.tokens < 1) return false;
      peer.tokens--;
    }
    if (limitGlobal) this.global.tokens--;
    return true;
  }

  private peer(dst: IpAddress, now: number): Bucket {
    const key = addressKey(dst);
    let peer = this.peers.get(key);
    if (!peer) {
      if (this.peers.size >= this.o.peers) {
        const oldest = this.peers.keys().next();
        if (!oldest.done) this.peers.delete(oldest.value);
      }
      peer = { tokens: this.o.burst, last: now };
      this.peers.set(key, peer);
    }
    return peer;
  }
}

function refill(b: Bucket, now: number, perMs: number, cap: number): void {
  if (now > b.last) {
    const gained = b.last === -Infinity ? cap : (now - b.last) * perMs;
    b.tokens = Math.min(cap, b.tokens + gained);
  }
  b.last = Math.max(b.last, now);
}
