// IP addresses are raw bytes everywhere in the stack: 4 bytes for IPv4, 16 for IPv6.
// Text forms exist only at the edges (configuration, stats, logs).

export type IpFamily = 4 | 6;

/** An IPv4 (length 4) or IPv6 (length 16) address in network byte order. */
export type IpAddress = Uint8Array;

export function familyOf(addr: IpAddress): IpFamily {
  return addr.length === 4 ? 4 : 6;
}

export function addressEquals(a: IpAddress, b: IpAddress): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A compact string usable as a Map key (one character per byte); equal addresses give equal keys. */
export function addressKey(a: IpAddress): string {
  // Runs several times per packet (is it ours, path MTU, sockets): spelled-out arguments
  // cost a third of fromCharCode.apply over the array.
  if (a.length === 4) return String.fromCharCode(a[0]!, a[1]!, a[2]!, a[3]!);
  if (a.length === 16) {
    return String.fromCharCode(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10]!, a[11]!, a[12]!, a[13]!, a[14]!, a[15]!);
  }
  return String.fromCharCode.apply(null, a as unknown as number[]);
}

/** Parse a textual IPv4 or IPv6 address; undefined when malformed. */
export function parseAddress(text: string): IpAddress | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): IpAddress | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): IpAddress | undefined {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail4: IpAddress | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    // Embedded IPv4 (RFC 4291 section 2.2, form 3), e.g. ::ffff:192.0.2.1
    tail4 = parseIpv4(text.slice(lastColon + 1));
    if (!tail4) return undefined;
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  const groups = head.length + tail.length;
  if (halves.length === 1 ? groups !== 8 : groups > 7) return undefined;
  const words: number[] = [...head.map(hex16), ...new Array<number>(8 - groups).fill(0), ...tail.map(hex16)];
  if (words.some((w) => w < 0)) return undefined;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = words[i]! >> 8;
    out[i * 2 + 1] = words[i]! & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}

function hex16(group: string): number {
  return /^[0-9a-fA-F]{1,4}$/.test(group) ? parseInt(group, 16) : -1;
}

/** RFC 5952 text form for IPv6, dotted quad for IPv4. */
export function formatAddress(a: IpAddress): string {
  if (a.length === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((a[i]! << 8) | a[i + 1]!);
  // Longest run of two or more zero words becomes '::' (RFC 5952 section 4.2).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

/** True when `addr` lies inside `prefix`/`prefixLength` (same family). */
export function inPrefix(addr: IpAddress, prefix: IpAddress, prefixLength: number): boolean {
  if (addr.length !== prefix.length) return false;
  const full = prefixLength >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== prefix[i]) return false;
  const rest = prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (addr[full]! & mask) === (prefix[full]! & mask);
}
