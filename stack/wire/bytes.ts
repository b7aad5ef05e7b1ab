// Big-endian (network byte order) field access on Uint8Array, shared by the codecs.
// Callers have bounds-checked the range already (a View's wrap, a parser's length checks).

export function readU16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

export function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

export function writeU16(b: Uint8Array, at: number, value: number): void {
  b[at] = value >>> 8;
  b[at + 1] = value;
}

export function writeU32(b: Uint8Array, at: number, value: number): void {
  b[at] = value >>> 24;
  b[at + 1] = value >>> 16;
  b[at + 2] = value >>> 8;
  b[at + 3] = value;
}

/** A shared zero-length array for absent options and empty payloads (no allocation per packet). */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/**
 * A fresh copy of bytes[at, at + length), for values that outlive the packet (addresses).
 * For a handful of bytes, a new array filled by a loop costs less than `slice`.
 */
export function copyBytes(b: Uint8Array, at: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = b[at + i]!;
  return out;
}

/** Total length of byte arrays taken together (a write or a packet in several views). */
export function totalLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (let i = 0; i < parts.length; i++) n += parts[i]!.length;
  return n;
}

/** Copies `parts` one after the other into `out` from `at`; returns the offset after them. */
export function copyParts(parts: readonly Uint8Array[], out: Uint8Array, at: number): number {
  for (let i = 0; i < parts.length; i++) {
    out.set(parts[i]!, at);
    at += parts[i]!.length;
  }
  return at;
}

/** `parts` joined into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(totalLength(parts));
  copyParts(parts, out, 0);
  return out;
}
