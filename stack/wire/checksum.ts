// The Internet checksum (RFC 1071) and its incremental update (RFC 1624), shared by
// IPv4, UDP, TCP and ICMP/ICMPv6. Sums are "folded, not inverted" 16-bit values so that
// callers can add pieces (pseudo-header, header, payload) before finishing once.

import type { IpAddress } from './address.js';

// RFC 1071 2(B): the sum is byte-order independent up to a final byte swap, so the bulk
// of a buffer is summed as native 32-bit words and the folded result swapped back.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// Below this many bytes creating the Uint32Array view costs more than it saves
// (scripts/bench-checksum: the byte loop wins at 64 bytes, the two are at par near 128).
const WORD_PATH_MIN = 128;

// A double is exact up to 2^53; each accumulator adds at most 2^32 per word, so fold
// after at most 2^20 words (4 MiB) per accumulator to keep every partial sum exact.
const WORDS_PER_CHUNK = 1 << 20;

/** Folds a non-negative integer (exact double, < 2^53) to 16 bits with end-around carry. */
function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/** Big-endian 16-bit words of bytes[start, end); `odd` = start is at an odd position of the checksummed stream. */
function sumBytes(bytes: Uint8Array, start: number, end: number, odd: boolean): number {
  let sum = 0;
  let i = start;
  if (odd && i < end) sum += bytes[i++]!;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  // RFC 1071 4.1: an odd trailing byte is padded with a zero byte.
  if (i < end) sum += bytes[i]! << 8;
  return sum;
}

/** Native-order sum of Uint32 words[from, to) folded to 16 bits. */
function sumWords(words: Uint32Array, from: number, to: number): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = from;
  const unrolledEnd = to - ((to - from) & 7);
  for (; i < unrolledEnd; i += 8) {
    a += words[i]! + words[i + 4]!;
    b += words[i + 1]! + words[i + 5]!;
    c += words[i + 2]! + words[i + 6]!;
    d += words[i + 3]! + words[i + 7]!;
  }
  for (; i < to; i++) a += words[i]!;
  return fold(a + b + c + d);
}

/**
 * One's-complement sum (RFC 1071) of `length` bytes from `offset`, as 16-bit big-endian
 * words, added to `initial` (a previous folded sum). Returns the folded, non-inverted
 * sum in 0..0xffff. An odd length is padded with one zero byte. Throws RangeError when
 * the range lies outside `bytes` (callers pass lengths they have validated).
 */
export function onesComplementSum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  const end = offset + length;
  if (offset < 0 || length < 0 || end > bytes.length) {
    throw new RangeError(`checksum range ${offset}+${length} outside ${bytes.length} bytes`);
  }
  if (length < WORD_PATH_MIN) return fold(initial + sumBytes(bytes, offset, end, false));
  const absStart = bytes.byteOffset + offset;
  const head = (4 - (absStart & 3)) & 3;
  const wordCount = (length - head) >>> 2;
  const wordsStart = offset + head;
  const wordsEnd = wordsStart + wordCount * 4;
  let sum = initial + sumBytes(bytes, offset, wordsStart, false) + sumBytes(bytes, wordsEnd, end, (wordsEnd - offset) % 2 === 1);
  const words = new Uint32Array(bytes.buffer, absStart + head, wordCount);
  let native = 0;
  for (let from = 0; from < wordCount; from += WORDS_PER_CHUNK) {
    native += sumWords(words, from, Math.min(wordCount, from + WORDS_PER_CHUNK));
  }
  native = fold(native);
  // The word region starts `head` bytes into the stream: with an even head its 16-bit
  // words line up with the stream's, so a little-endian sum needs swapping; with an odd
  // head the bytes sit in the opposite halves already.
  if (LITTLE_ENDIAN === (head % 2 === 0)) native = swap16(native);
  sum += native;
  return fold(sum);
}

/**
 * Folded sum of the TCP/UDP/ICMPv6 pseudo-header: RFC 9293 3.1 (IPv4: src, dst, zero,
 * protocol, TCP length) and RFC 8200 8.1 (IPv6: src, dst, 32-bit upper-layer length,
 * three zero bytes, next header). Both reduce to the same word sum.
 */
export function pseudoHeaderSum(src: IpAddress, dst: IpAddress, protocol: number, upperLength: number): number {
  let sum = protocol + (upperLength >>> 16) + (upperLength & 0xffff);
  for (let i = 0; i < src.length; i += 2) sum += (src[i]! << 8) | src[i + 1]!;
  for (let i = 0; i < dst.length; i += 2) sum += (dst[i]! << 8) | dst[i + 1]!;
  return fold(sum);
}

/** Folds and complements a sum: the 16-bit value to store in a checksum field. */
export function finishChecksum(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** The Internet checksum of a byte range, ready to store (RFC 1071). */
export function internetChecksum(bytes: Uint8Array, offset: number, length: number): number {
  return finishChecksum(onesComplementSum(bytes, offset, length));
}

/**
 * RFC 1624 eqn. 3: the checksum after one 16-bit word of the covered data changed from
 * `oldWord` to `newWord`, HC' = ~(~HC + ~m + m'), without re-summing the data.
 */
export function updateChecksum(oldChecksum: number, oldWord: number, newWord: number): number {
  return finishChecksum((~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff));
}

/** updateChecksum for a 32-bit field (e.g. an IPv4 address or a sequence number): two 16-bit words. */
export function updateChecksum32(oldChecksum: number, oldValue32: number, newValue32: number): number {
  return finishChecksum(
    (~oldChecksum & 0xffff) +
      (~(oldValue32 >>> 16) & 0xffff) +
      (~oldValue32 & 0xffff) +
      ((newValue32 >>> 16) & 0xffff) +
      (newValue32 & 0xffff),
  );
}
