// The resolver's cache (RFC 1035 7.4): answers kept for their TTL, negative answers for
// their SOA-derived time (RFC 2308 5), at most `limit` entries, the least recently used
// dropped first. Keyed by type and normalized name; ANY answers are kept under ANY.

import type { QueryType } from './message.js';
import type { DnsResult } from './result.js';

export class DnsCache {
  // A Map keeps insertion order: re-inserting on use makes the first key the least recently used.
  private readonly entries = new Map<string, DnsResult & { expiresAt: number }>();

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached result, marked fromCache, if it has not expired. */
  get(name: string, type: QueryType, now: number): DnsResult | undefined {
    const key = `${type} ${name}`;
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (e.expiresAt <= now) return undefined;
    this.entries.set(key, e);
    return { ...e, fromCache: true };
  }

  /** Keeps `result` until its expiresAt (results without one, or already expired, are not kept). */
  put(result: DnsResult, now: number): void {
    if (this.limit <= 0 || result.expiresAt === undefined || result.expiresAt <= now) return;
    const key = `${result.type} ${result.name}`;
    this.entries.delete(key);
    this.entries.set(key, { ...result, expiresAt: result.expiresAt, fromCache: false });
    while (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
  }

  clear(): void {
    this.entries.clear();
  }
}
