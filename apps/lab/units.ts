// The lab's impairment values as a person types them, in netem's and tc's units (tc(8)):
// durations, percentages and rates. `namestack lab impair` and the daemon's --link flag
// (apps/host/config.ts) read them the same way.

const UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

/** '20ms', '1.5s', '500us'; a bare number is milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s)?$/.exec(text.trim());
  if (!m) throw new Error(`bad duration ${JSON.stringify(text)} (examples: 20ms, 1.5s, 500us)`);
  return Number(m[1]) * UNITS_MS[m[2] ?? 'ms']!;
}

/** '1%', '0.5%' or '1' (always a percentage, as in netem); returns a probability. */
export function parsePercent(text: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(text.trim());
  if (!m || Number(m[1]) > 100) throw new Error(`bad percentage ${JSON.stringify(text)} (examples: 1%, 0.5%)`);
  return Number(m[1]) / 100;
}

// tc's units (tc(8)): bit-based kbit/mbit/gbit, byte-based kbps/mbps/gbps.
const RATE_UNITS: Record<string, number> = {
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  bps: 8,
  kbps: 8e3,
  mbps: 8e6,
  gbps: 8e9,
};

/** '100mbit', '1gbit', '500kbit' (tc units; 'mbps' is megabytes per second); a bare number is bit/s. */
export function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([a-z]+)?$/i.exec(text.trim());
  const unit = RATE_UNITS[(m?.[2] ?? 'bit').toLowerCase()];
  if (!m || unit === undefined) throw new Error(`bad rate ${JSON.stringify(text)} (examples: 100mbit, 1gbit, 500kbit)`);
  return Number(m[1]) * unit;
}
