// Domain names as namestack handles them: the text form sockets and the resolver take, and
// the DNS wire (label) form of RFC 1035 3.1 that the name options carry. A name is kept
// normalized: lower case (RFC 4343: comparisons ignore ASCII case), no trailing dot.
//
// What we send is strict: RFC 1123 2.1 host names (letters, digits, hyphen; a label neither
// starts nor ends with a hyphen, may start with a digit), labels of 1..63 bytes, at most
// 255 bytes on the wire (RFC 1035 2.3.4). What we receive is a little more liberal, because
// a peer's name is only ever compared and displayed: any label of letters, digits, hyphens
// and underscores in any position (RFC 2181 11 allows any byte in DNS labels; underscore and
// edge hyphens are the variants seen in practice, e.g. service labels). Bytes that would make
// the text form ambiguous or unsafe to print (dots inside a label, spaces, control or
// non-ASCII bytes) are refused, as are compression pointers and extended label types: an
// option has no message to point into. Nothing here throws.

import { ok, wireError, type ParseResult } from '../wire/result.js';

/** RFC 1035 2.3.4: a name is at most 255 bytes in wire form. */
export const MAX_NAME_WIRE_LENGTH = 255;
/** RFC 1035 2.3.4: a label is at most 63 bytes. */
export const MAX_LABEL_LENGTH = 63;

const HYPHEN = 0x2d;
const UNDERSCORE = 0x5f;

function isLetterOrDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

/**
 * Checks one label (character codes `codes[start, end)`) and appends it, lower-cased, to
 * `out`. Strict = RFC 1123 host name label; otherwise also underscores and edge hyphens.
 */
function checkLabel(codes: ArrayLike<number>, start: number, end: number, strict: boolean): string | undefined {
  const length = end - start;
  if (length === 0) return 'empty label';
  if (length > MAX_LABEL_LENGTH) return `label of ${length} bytes (at most ${MAX_LABEL_LENGTH})`;
  for (let i = start; i < end; i++) {
    const c = codes[i]!;
    if (isLetterOrDigit(c)) continue;
    if (c === HYPHEN) {
      if (strict && (i === start || i === end - 1)) return 'label starts or ends with a hyphen';
      continue;
    }
    if (c === UNDERSCORE && !strict) continue;
    return `character 0x${c.toString(16).padStart(2, '0')} in a label`;
  }
  return undefined;
}

/**
 * The normalized form of a host name given as text (a trailing dot is accepted and dropped),
 * or an error when it is not a valid RFC 1123 host name that fits in 255 wire bytes.
 */
export function normalizeName(text: string): ParseResult<string> {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0) return wireError('name', 'BAD_FIELD', 'empty name');
  // Wire form: one length byte per label plus the root byte, i.e. text length + 2.
  if (name.length + 2 > MAX_NAME_WIRE_LENGTH) return wireError('name', 'BAD_LENGTH', `name of ${name.length + 2} wire bytes (at most 255)`);
  const codes: number[] = new Array<number>(name.length);
  for (let i = 0; i < name.length; i++) codes[i] = name.charCodeAt(i);
  let start = 0;
  for (let i = 0; i <= codes.length; i++) {
    if (i < codes.length && codes[i] !== 0x2e) continue;
    const problem = checkLabel(codes, start, i, true);
    if (problem) return wireError('name', 'BAD_FIELD', `${problem} in ${JSON.stringify(text)}`);
    start = i + 1;
  }
  return ok(name.toLowerCase());
}

/** Bytes of the wire form of a normalized name. */
export function nameWireLength(normalized: string): number {
  return normalized.length + 2;
}

/** The wire form of a host name (validated and normalized first). */
export function encodeName(text: string): ParseResult<Uint8Array> {
  const n = normalizeName(text);
  if (!n.ok) return n;
  const name = n.value;
  const out = new Uint8Array(nameWireLength(name));
  let lengthAt = 0;
  let at = 1;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      out[lengthAt] = at - lengthAt - 1;
      lengthAt = at++;
    } else {
      out[at++] = c;
    }
  }
  out[lengthAt] = at - lengthAt - 1;
  out[at] = 0;
  return ok(out);
}

/**
 * The normalized text of a name in wire form. The bytes must hold exactly one name (its
 * root byte last), with at least one label; see the file comment for what is accepted.
 */
export function decodeName(bytes: Uint8Array): ParseResult<string> {
  if (bytes.length > MAX_NAME_WIRE_LENGTH) return wireError('name', 'BAD_LENGTH', `${bytes.length} bytes (at most 255)`);
  if (bytes.length < 2) return wireError('name', 'TRUNCATED', 'no label');
  let text = '';
  let at = 0;
  for (;;) {
    if (at >= bytes.length) return wireError('name', 'TRUNCATED', 'no root label at the end');
    const length = bytes[at]!;
    if (length === 0) break;
    // RFC 1035 4.1.4 pointers (11) and RFC 6891 extended label types (01, 10).
    if (length > MAX_LABEL_LENGTH) return wireError('name', 'UNSUPPORTED', `label type 0x${length.toString(16)} at ${at}`);
    const end = at + 1 + length;
    if (end >= bytes.length) return wireError('name', 'TRUNCATED', `label at ${at} runs past the end`);
    const problem = checkLabel(bytes, at + 1, end, false);
    if (problem) return wireError('name', 'BAD_FIELD', `${problem} at ${at}`);
    if (text.length > 0) text += '.';
    for (let i = at + 1; i < end; i++) text += String.fromCharCode(lower(bytes[i]!));
    at = end;
  }
  if (at !== bytes.length - 1) return wireError('name', 'BAD_LENGTH', `${bytes.length - at - 1} bytes after the root label`);
  if (text.length === 0) return wireError('name', 'BAD_FIELD', 'the root name names no host');
  return ok(text);
}
