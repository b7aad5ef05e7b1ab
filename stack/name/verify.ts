// Verification of a received name (thesis 2.4, DESIGN.md "Verification"): a name is
// *verified* when a forward lookup of it holds the address the packet came from. Both AAAA
// and A are asked (the other family's answer is wanted soon after, for MPTCP subflows of
// the same peer); the verdict rests on the answer of the source address's family.
//
//   verified:   the lookup holds the address
//   unverified: the lookup holds other addresses, or none (NXDOMAIN, NODATA), or the name
//               cannot exist: the claim is false as far as DNS can tell
//   failed:     no answer (timeout, server failure): nothing can be said; asking again may help
//   pending:    the lookup is under way
//
// Verdicts live as long as the DNS answers they rest on: they are read from the resolver's
// cache (its TTLs and negative caching), never kept longer here.

import type { DnsQueryHandle } from '../dns/resolver.js';
import type { QueryType } from '../dns/message.js';
import type { DnsResult } from '../dns/result.js';
import { addressEquals, addressKey, familyOf, formatAddress, type IpAddress } from '../wire/address.js';
import { normalizeName } from './domain-name.js';

export type VerificationState = 'verified' | 'unverified' | 'pending' | 'failed';

export interface Verification {
  state: VerificationState;
  /** The name as claimed, normalized when valid. */
  name: string;
  address: IpAddress;
  /** Why: the DNS code of a negative or failed lookup, or which addresses the name has instead. */
  reason?: string;
  /** Until when a verified/unverified verdict holds (the DNS TTL). */
  expiresAt?: number;
}

/** What verification needs from the resolver (DnsResolver has it). */
export interface ForwardLookup {
  resolve(name: string, type: QueryType, now: number, callback: (r: DnsResult, now: number) => void): DnsQueryHandle;
  peek(name: string, type: QueryType, now: number): DnsResult | undefined;
}

/** Checks decided by a lookup (verdicts read from the cache are not counted again). */
export interface VerifierCounters {
  verified: number;
  unverified: number;
  failed: number;
}

function typeFor(address: IpAddress): QueryType {
  return familyOf(address) === 6 ? 'AAAA' : 'A';
}

/** The verdict a lookup result gives for `address`. */
function verdict(name: string, address: IpAddress, r: DnsResult): Verification {
  if (r.ok) {
    if (r.addresses.some((a) => addressEquals(a, address))) return { state: 'verified', name, address, expiresAt: r.expiresAt };
    return { state: 'unverified', name, address, reason: `${name} has ${r.addresses.map(formatAddress).join(', ')}`, expiresAt: r.expiresAt };
  }
  if (r.code === 'ENOTFOUND' || r.code === 'ENODATA') {
    const v: Verification = { state: 'unverified', name, address, reason: r.code };
    if (r.expiresAt !== undefined) v.expiresAt = r.expiresAt;
    return v;
  }
  return { state: 'failed', name, address, reason: `${r.code}: ${r.message}` };
}

export class NameVerifier {
  readonly counters: VerifierCounters = { verified: 0, unverified: 0, failed: 0 };
  /** Checks under way, by name and address, with who waits for each. */
  private readonly pending = new Map<string, ((v: Verification) => void)[]>();

  constructor(private readonly lookup: ForwardLookup) {}

  /**
   * Checks that `name` resolves to `address`. Returns the verdict if the cache already has
   * it, else 'pending'; `onResult` is called once with the final verdict (at once when it
   * is already known).
   */
  verify(name: string, address: IpAddress, now: number, onResult?: (v: Verification) => void): Verification {
    const n = normalizeName(name);
    if (!n.ok) {
      const v: Verification = { state: 'unverified', name, address, reason: `EBADNAME: ${n.message}` };
      this.count(v);
      onResult?.(v);
      return v;
    }
    const known = this.status(n.value, address, now);
    if (known && known.state !== 'pending') {
      onResult?.(known);
      return known;
    }
    const key = `${n.value} ${addressKey(address)}`;
    const waiting = this.pending.get(key);
    if (waiting) {
      if (onResult) waiting.push(onResult);
      return { state: 'pending', name: n.value, address };
    }
    const waiters = onResult ? [onResult] : [];
    this.pending.set(key, waiters);
    const type = typeFor(address);
    // The other family first, so the address's own answer (which may come from the cache at
    // once) finishes the check last.
    this.lookup.resolve(n.value, type === 'AAAA' ? 'A' : 'AAAA', now, () => {});
    let result: Verification | undefined;
    this.lookup.resolve(n.value, type, now, (r) => {
      this.pending.delete(key);
      result = verdict(n.value, address, r);
      this.count(result);
      for (const w of waiters) w(result);
    });
    return result ?? { state: 'pending', name: n.value, address };
  }

  /** The verdict known now without asking anyone: undefined when never checked or expired. */
  status(name: string, address: IpAddress, now: number): Verification | undefined {
    const n = normalizeName(name);
    if (!n.ok) return { state: 'unverified', name, address, reason: `EBADNAME: ${n.message}` };
    if (this.pending.has(`${n.value} ${addressKey(address)}`)) return { state: 'pending', name: n.value, address };
    const r = this.lookup.peek(n.value, typeFor(address), now);
    if (!r) return undefined;
    const v = verdict(n.value, address, r);
    // A failure is not cached by the resolver; a cached result is a verdict.
    return v.state === 'failed' ? undefined : v;
  }

  private count(v: Verification): void {
    if (v.state === 'verified') this.counters.verified++;
    else if (v.state === 'unverified') this.counters.unverified++;
    else if (v.state === 'failed') this.counters.failed++;
  }
}
