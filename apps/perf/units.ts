// iperf3's units (src/units.c): sizes with K/M/G/T suffixes in powers of 1024, rates in
// powers of 1000, and the adaptive four-character rendering of the report lines.

const BYTE_LABELS = ['Byte', 'KByte', 'MByte', 'GByte', 'TByte'];
const BIT_LABELS = ['bit', 'Kbit', 'Mbit', 'Gbit', 'Tbit'];

/**
 * printf's "%.Nf": like toFixed, except that an exact tie rounds to even (glibc rounds the
 * exact binary value in the default rounding mode; toFixed rounds ties up). Ties are common
 * here: byte counts are multiples of the 128 KiB block, so 432.5 MBytes happens.
 */
export function printfFixed(value: number, digits: number): string {
  const rounded = value.toFixed(digits);
  // The exact decimal expansion of a double above 2^-8 ends within 60 fractional digits.
  const exact = value.toFixed(digits + 60);
  const cut = exact.indexOf('.') + (digits > 0 ? digits + 1 : 0);
  if (!/^50*$/.test(exact.slice(cut + (digits > 0 ? 0 : 1)))) return rounded;
  const kept = exact.slice(0, cut);
  const lastDigit = Number(kept[kept.length - 1]);
  return lastDigit % 2 === 0 ? kept : rounded;
}

/**
 * unit_snprintf with format 'A' (bytes, steps of 1024) or 'a' (bits, steps of 1000): the
 * number fits four places. The report lines append "s" ("1.10 GBytes", "9.42 Gbits/sec").
 */
export function formatAdaptive(value: number, unit: 'bytes' | 'bits'): string {
  const step = unit === 'bytes' ? 1024 : 1000;
  let n = unit === 'bytes' ? value : value * 8;
  let level = 0;
  while (n >= step && level < 4) {
    n /= step;
    level++;
  }
  const label = (unit === 'bytes' ? BYTE_LABELS : BIT_LABELS)[level]!;
  // 9.995 would round to 10.00 and 99.95 to 100.0: switch precision before that happens.
  const digits = n < 9.995 ? 2 : n < 99.95 ? 1 : 0;
  return `${printfFixed(n, digits).padStart(4)} ${label}`;
}

const SIZE_SUFFIX: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const RATE_SUFFIX: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

function parseScaled(text: string, suffixes: Record<string, number>, what: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmgt])?$/i.exec(text.trim());
  if (!m) throw new Error(`bad ${what} ${JSON.stringify(text)} (examples: 100M, 1.5G, 128K)`);
  return Number(m[1]) * (m[2] ? suffixes[m[2].toLowerCase()]! : 1);
}

/** -n and -l (unit_atoi): '10M' = 10 MiB; a whole number of bytes. */
export function parseSize(text: string): number {
  return Math.floor(parseScaled(text, SIZE_SUFFIX, 'size'));
}

/** -b (unit_atof_rate): '100M' = 100,000,000 bit/s. */
export function parseRate(text: string): number {
  return Math.floor(parseScaled(text, RATE_SUFFIX, 'rate'));
}
