// TCP options (RFC 9293 3.1 and 3.2): the list between the fixed header and the data,
// decoded in wire order with every NOP and the EOL padding kept, so that emitting a parsed
// list gives the same bytes. Options this stack does not use are kept raw.

import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { emitMptcpOption, mptcpOptionLength, parseMptcpOption, TCP_OPTION_MPTCP, type MptcpOption } from './mptcp-options.js';
import { ok, wireError, type ParseResult, type WireError } from './result.js';

// Option kinds (IANA "TCP Option Kind Numbers").
export const TCP_OPTION_EOL = 0;
export const TCP_OPTION_NOP = 1;
export const TCP_OPTION_MSS = 2;
export const TCP_OPTION_WINDOW_SCALE = 3;
export const TCP_OPTION_SACK_PERMITTED = 4;
export const TCP_OPTION_SACK = 5;
export const TCP_OPTION_TIMESTAMPS = 8;
export { TCP_OPTION_MPTCP };

/** RFC 9293 3.1: the data offset is 4 bits of 32-bit words, so at most 40 option bytes. */
export const TCP_MAX_OPTIONS_LENGTH = 40;

/** A SACK block (RFC 2018 3): sequence numbers [left, right), unsigned 32-bit. */
export interface SackBlock {
  left: number;
  right: number;
}

export type TcpOption =
  /**
   * End of option list (RFC 9293 3.2). Everything after it up to the data offset is
   * padding: `padding` bytes, zero unless `trailing` (a copy) holds what a sender put
   * there instead; Linux ignores those bytes, so they are kept rather than rejected.
   */
  | { readonly kind: 'eol'; padding: number; trailing?: Uint8Array }
  | { readonly kind: 'nop' }
  /** RFC 9293 3.7.1, length 4. */
  | { readonly kind: 'mss'; mss: number }
  /** RFC 7323 2.2, length 3. */
  | { readonly kind: 'windowScale'; shift: number }
  /** RFC 2018 2, length 2. */
  | { readonly kind: 'sackPermitted' }
  /** RFC 2018 3, 1 to 4 blocks. */
  | { readonly kind: 'sack'; blocks: SackBlock[] }
  /** RFC 7323 3.2, length 10. */
  | { readonly kind: 'timestamps'; tsVal: number; tsEcr: number }
  /** RFC 8684, kind 30. */
  | { readonly kind: 'mptcp'; option: MptcpOption }
  /**
   * Any other kind, and a known kind whose length its RFC does not allow (Linux's
   * tcp_parse_options skips those too), kept as received: `data` is a copy of the bytes
   * after kind and length.
   */
  | { readonly kind: 'unknown'; type: number; data: Uint8Array };

/** The NOP option; parsing returns this one object for every NOP (no allocation). */
export const NOP_OPTION: TcpOption = Object.freeze({ kind: 'nop' });
/** The SACK-permitted option, shared likewise. */
export const SACK_PERMITTED_OPTION: TcpOption = Object.freeze({ kind: 'sackPermitted' });

/**
 * Decodes the options in bytes[offset, offset + length) (the header bytes after the 20
 * fixed ones). BAD_OPTION when an option lacks its length byte, has a length below 2, or
 * runs past the end; a malformed MPTCP option is not an error (see mptcp-options.ts).
 */
export function parseTcpOptions(bytes: Uint8Array, offset = 0, length = bytes.length - offset): ParseResult<TcpOption[]> {
  if (offset < 0 || length < 0 || offset + length > bytes.length) {
    return wireError('tcp', 'TRUNCATED', `options [${offset}, ${offset + length}) outside ${bytes.length} bytes`);
  }
  const options = readTcpOptions(bytes, offset, offset + length);
  return Array.isArray(options) ? ok(options) : options;
}

/** parseTcpOptions without the result wrapper, for parseTcp; bounds are the caller's. */
export function readTcpOptions(bytes: Uint8Array, start: number, end: number): TcpOption[] | WireError {
  const options: TcpOption[] = [];
  let i = start;
  while (i < end) {
    const kind = bytes[i]!;
    if (kind === TCP_OPTION_NOP) {
      options.push(NOP_OPTION);
      i++;
      continue;
    }
    if (kind === TCP_OPTION_EOL) {
      options.push(endOfList(bytes, i + 1, end));
      break;
    }
    if (i + 1 === end) return badOption(`option kind ${kind} at byte ${i - start} has no length byte`);
    const len = bytes[i + 1]!;
    // RFC 9293 3.1: the length counts kind and length; anything shorter cannot be skipped.
    if (len < 2) return badOption(`option kind ${kind} at byte ${i - start} has length ${len}`);
    if (i + len > end) return badOption(`option kind ${kind} at byte ${i - start} of length ${len} runs past the header`);
    options.push(decodeOption(bytes, kind, i, len));
    i += len;
  }
  return options;
}

function badOption(message: string): WireError {
  return wireError('tcp', 'BAD_OPTION', message);
}

function endOfList(bytes: Uint8Array, from: number, end: number): TcpOption {
  for (let i = from; i < end; i++) {
    if (bytes[i] !== 0) return { kind: 'eol', padding: end - from, trailing: bytes.slice(from, end) };
  }
  return { kind: 'eol', padding: end - from };
}

/** One well-framed option of `len` bytes at `at`. */
function decodeOption(bytes: Uint8Array, kind: number, at: number, len: number): TcpOption {
  switch (kind) {
    case TCP_OPTION_TIMESTAMPS:
      if (len === 10) return { kind: 'timestamps', tsVal: readU32(bytes, at + 2), tsEcr: readU32(bytes, at + 6) };
      break;
    case TCP_OPTION_MPTCP:
      return { kind: 'mptcp', option: parseMptcpOption(bytes, at + 2, len - 2) };
    case TCP_OPTION_SACK:
      if (len >= 10 && (len - 2) % 8 === 0) {
        const blocks: SackBlock[] = [];
        for (let b = at + 2; b < at + len; b += 8) blocks.push({ left: readU32(bytes, b), right: readU32(bytes, b + 4) });
        return { kind: 'sack', blocks };
      }
      break;
    case TCP_OPTION_MSS:
      if (len === 4) return { kind: 'mss', mss: readU16(bytes, at + 2) };
      break;
    case TCP_OPTION_WINDOW_SCALE:
      if (len === 3) return { kind: 'windowScale', shift: bytes[at + 2]! };
      break;
    case TCP_OPTION_SACK_PERMITTED:
      if (len === 2) return SACK_PERMITTED_OPTION;
      break;
  }
  return { kind: 'unknown', type: kind, data: bytes.slice(at + 2, at + len) };
}

/** Bytes emitTcpOptions writes for `options`, before padding to a 4-byte boundary. */
export function tcpOptionsLength(options: readonly TcpOption[]): number {
  let n = 0;
  for (const opt of options) n += optionLength(opt);
  return n;
}

function optionLength(opt: TcpOption): number {
  switch (opt.kind) {
    case 'eol':
      return 1 + opt.padding;
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'windowScale':
      return 3;
    case 'sackPermitted':
      return 2;
    case 'sack':
      return 2 + 8 * opt.blocks.length;
    case 'timestamps':
      return 10;
    case 'mptcp':
      return mptcpOptionLength(opt.option);
    case 'unknown':
      return 2 + opt.data.length;
  }
}

/**
 * Writes `options` in order at `out[offset]`, without padding; returns the bytes written
 * (tcpOptionsLength). Throws RangeError when they do not fit in `out` or exceed 40 bytes
 * (a bug in the caller: received options always fit).
 */
export function emitTcpOptions(options: readonly TcpOption[], out: Uint8Array, offset: number): number {
  const total = tcpOptionsLength(options);
  if (total > TCP_MAX_OPTIONS_LENGTH) throw new RangeError(`TCP options of ${total} bytes exceed ${TCP_MAX_OPTIONS_LENGTH}`);
  if (offset < 0 || offset + total > out.length) throw new RangeError(`TCP options of ${total} bytes do not fit at ${offset}`);
  return writeTcpOptions(options, out, offset);
}

/** emitTcpOptions without the checks, for emitTcp, which has made them already. */
export function writeTcpOptions(options: readonly TcpOption[], out: Uint8Array, offset: number): number {
  let at = offset;
  for (const opt of options) {
    switch (opt.kind) {
      case 'eol':
        out[at] = TCP_OPTION_EOL;
        if (opt.padding > 0) out.fill(0, at + 1, at + 1 + opt.padding);
        if (opt.trailing !== undefined) out.set(opt.trailing.subarray(0, opt.padding), at + 1);
        at += 1 + opt.padding;
        break;
      case 'nop':
        out[at++] = TCP_OPTION_NOP;
        break;
      case 'mss':
        out[at] = TCP_OPTION_MSS;
        out[at + 1] = 4;
        writeU16(out, at + 2, opt.mss);
        at += 4;
        break;
      case 'windowScale':
        out[at] = TCP_OPTION_WINDOW_SCALE;
        out[at + 1] = 3;
        out[at + 2] = opt.shift;
        at += 3;
        break;
      case 'sackPermitted':
        out[at] = TCP_OPTION_SACK_PERMITTED;
        out[at + 1] = 2;
        at += 2;
        break;
      case 'sack':
        out[at] = TCP_OPTION_SACK;
        out[at + 1] = 2 + 8 * opt.blocks.length;
        at += 2;
        for (const block of opt.blocks) {
          writeU32(out, at, block.left);
          writeU32(out, at + 4, block.right);
          at += 8;
        }
        break;
      case 'timestamps':
        out[at] = TCP_OPTION_TIMESTAMPS;
        out[at + 1] = 10;
        writeU32(out, at + 2, opt.tsVal);
        writeU32(out, at + 6, opt.tsEcr);
        at += 10;
        break;
      case 'mptcp':
        at += emitMptcpOption(opt.option, out, at);
        break;
      case 'unknown':
        out[at] = opt.type;
        out[at + 1] = 2 + opt.data.length;
        out.set(opt.data, at + 2);
        at += 2 + opt.data.length;
        break;
    }
  }
  return at - offset;
}
