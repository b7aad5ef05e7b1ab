// The host's MPTCP token table (RFC 8684 2.2, 3.2): token -> connection, so an MP_JOIN
// SYN finds the connection it names. Tokens are unique per host; a new local key is drawn
// until its token is free (net/mptcp/token.c), and the table has a size limit so a flood
// of MP_CAPABLE SYNs cannot grow it without bound.

import type { RandomSource } from '../random.js';
import { generateKey } from './crypto.js';

export type TokenAllocation =
  | { ok: true; key: bigint; token: number; idsn: bigint }
  /** 'full': the table holds maxEntries; 'collision': every attempt hit a used token. */
  | { ok: false; reason: 'full' | 'collision' };

export class TokenTable<T> {
  private readonly map = new Map<number, T>();
  private readonly maxEntries: number;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.map.size;
  }

  has(token: number): boolean {
    return this.map.has(token);
  }

  /** The connection (or pending request) a received MP_JOIN token names. */
  lookup(token: number): T | undefined {
    return this.map.get(token);
  }

  /**
   * Draw a local key whose token is free and register `owner` under it: a connection we
   * open (MP_CAPABLE SYN) or a request we answer (MP_CAPABLE SYN/ACK).
   */
  allocate(random: RandomSource, owner: T): TokenAllocation {
    if (this.map.size >= this.maxEntries) return { ok: false, reason: 'full' };
    const g = generateKey(random, (t) => this.map.has(t));
    if (!g) return { ok: false, reason: 'collision' };
    this.map.set(g.token, owner);
    return { ok: true, ...g };
  }

  /** Hand a token over from a pending request to the connection it became (Linux mptcp_token_accept). */
  replace(token: number, owner: T): boolean {
    if (!this.map.has(token)) return false;
    this.map.set(token, owner);
    return true;
  }

  /** Forget a token; when `owner` is given, only if it is still the registered one. */
  remove(token: number, owner?: T): boolean {
    if (owner !== undefined && this.map.get(token) !== owner) return false;
    return this.map.delete(token);
  }
}
