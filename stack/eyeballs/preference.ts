// The thesis's learned family preference P (section 5.2.2, Table 2), kept per destination.
// P > 0 prefers IPv6 and starts IPv4 |P| x 10 ms later; P < 0 the reverse; P = 0 starts both
// at once (IPv6 first by an instant). After each race between the families:
//
//   IPv6 won:  P = P + 1 if P >= 0, else P / 2
//   IPv4 won:  P = P - 1 if P <= 0, else P / 2
//
// "/" is C's integer division, truncating toward zero, as in the module's happy_eyeballs.c
// (int p; p = p / 2): 1 / 2 = 0 and -1 / 2 = 0, so one loss takes a preference of 1 back
// to "both at once". The module kept one global P; here each destination name has its own,
// bounded by eyeballs.maxPreference.

import type { EyeballsConfig } from '../config.js';
import type { IpFamily } from '../wire/address.js';

/** Table 2: P after a race won by `winner`. */
export function updatePreference(p: number, winner: IpFamily): number {
  // `|| 0`: Math.trunc(-1 / 2) is -0, which C's int has not.
  if (winner === 6) return p >= 0 ? p + 1 : Math.trunc(p / 2) || 0;
  return p <= 0 ? p - 1 : Math.trunc(p / 2) || 0;
}

/** P per destination, the least recently raced forgotten beyond preferenceCacheSize. */
export class PreferenceTable {
  // Map order is use order: the first key is the least recently used.
  private readonly values = new Map<string, number>();

  constructor(private readonly config: EyeballsConfig) {}

  get size(): number {
    return this.values.size;
  }

  /** P for `destination` (initialPreference when never raced or forgotten). */
  get(destination: string): number {
    return this.values.get(destination) ?? this.clamp(this.config.initialPreference);
  }

  /** Applies Table 2 for a race to `destination` won by `winner`; returns the new P. */
  learn(destination: string, winner: IpFamily): number {
    return this.set(destination, updatePreference(this.get(destination), winner));
  }

  /** Sets P for `destination` (the thesis's scenarios start from a given P); returns it as kept. */
  set(destination: string, p: number): number {
    const kept = this.clamp(p);
    this.values.delete(destination);
    this.values.set(destination, kept);
    while (this.values.size > this.config.preferenceCacheSize) this.values.delete(this.values.keys().next().value!);
    return kept;
  }

  private clamp(p: number): number {
    const m = this.config.maxPreference;
    return Math.max(-m, Math.min(m, Math.trunc(p))) || 0;
  }
}
