import { describe, expect, it } from 'vitest';
import { decodeName, encodeName, normalizeName } from '../../stack/name/domain-name.js';
import { seededRandom } from '../../stack/random.js';
import { errorCode, hex, toHex, unwrap } from '../wire/helpers.js';

describe('host names in text form', () => {
  it('normalizes to lower case without the trailing dot', () => {
    expect(unwrap(normalizeName('Alice.Lab.TEST.'))).toBe('alice.lab.test');
    expect(unwrap(normalizeName('3com.example'))).toBe('3com.example'); // RFC 1123 2.1: digits may lead
    expect(unwrap(normalizeName('a-b.c'))).toBe('a-b.c');
  });

  it('refuses what RFC 1123 does not allow as a host name, and names over 255 wire bytes', () => {
    for (const bad of ['', '.', 'a..b', '.a', '-a.b', 'a-.b', 'a_b.c', 'a b', 'ä.example', 'a.b..']) {
      expect([bad, normalizeName(bad).ok]).toEqual([bad, false]);
    }
    expect(errorCode(normalizeName(`${'a'.repeat(64)}.b`))).toBe('BAD_FIELD');
    expect(unwrap(normalizeName(`${'a'.repeat(63)}.b`))).toHaveLength(65);
    // 4 x 63-byte labels = 4 * 64 + 1 = 257 wire bytes; 3 x 63 + one of 61 = 255 exactly.
    const label = 'a'.repeat(63);
    expect(errorCode(normalizeName([label, label, label, label].join('.')))).toBe('BAD_LENGTH');
    const longest = [label, label, label, 'b'.repeat(61)].join('.');
    expect(unwrap(encodeName(longest))).toHaveLength(255);
  });
});

describe('host names in DNS wire form (RFC 1035 3.1)', () => {
  it('encodes labels with their lengths and the root byte', () => {
    expect(toHex(unwrap(encodeName('alice.lab.test')))).toBe('05616c696365036c61620474657374' + '00');
    expect(toHex(unwrap(encodeName('x')))).toBe('017800');
  });

  it('decodes what it encodes, and lower-cases what it receives', () => {
    expect(unwrap(decodeName(unwrap(encodeName('carol.lab.test'))))).toBe('carol.lab.test');
    expect(unwrap(decodeName(hex('05 414c494345 03 6c6162 00')))).toBe('alice.lab');
  });

  it('accepts underscores and edge hyphens on receipt (liberal), never characters that break the text form', () => {
    expect(unwrap(decodeName(hex('04 5f736970 04 2d612d2d 00')))).toBe('_sip.-a--');
    expect(errorCode(decodeName(hex('03 612e62 00')))).toBe('BAD_FIELD'); // "a.b" as one label
    expect(errorCode(decodeName(hex('03 612062 00')))).toBe('BAD_FIELD'); // space
    expect(errorCode(decodeName(hex('02 c3a4 00')))).toBe('BAD_FIELD'); // UTF-8
    expect(errorCode(decodeName(hex('02 6100 00')))).toBe('BAD_FIELD'); // NUL
  });

  it('refuses malformed structure without throwing', () => {
    expect(errorCode(decodeName(hex('00')))).toBe('TRUNCATED'); // the root alone
    expect(errorCode(decodeName(hex('')))).toBe('TRUNCATED');
    expect(errorCode(decodeName(hex('0000')))).toBe('BAD_LENGTH'); // root name, then a stray byte
    expect(errorCode(decodeName(hex('05 616c696365')))).toBe('TRUNCATED'); // no root byte
    expect(errorCode(decodeName(hex('09 616c696365 00')))).toBe('TRUNCATED'); // label past the end
    expect(errorCode(decodeName(hex('01 61 00 00')))).toBe('BAD_LENGTH'); // bytes after the root
    expect(errorCode(decodeName(hex('c00c')))).toBe('UNSUPPORTED'); // compression pointer
    expect(errorCode(decodeName(hex('41 61 00')))).toBe('UNSUPPORTED'); // extended label type 01
    expect(errorCode(decodeName(new Uint8Array(256).fill(1)))).toBe('BAD_LENGTH');
  });

  it('never throws on random bytes, and every host name it accepts re-encodes to the same bytes (lower-cased)', () => {
    const random = seededRandom('domain-name');
    let accepted = 0;
    for (let n = 0; n < 20000; n++) {
      // Labels of letters, then one byte in four replaced by anything: some stay valid names.
      const labels = Array.from({ length: 1 + (random.uint32() % 3) }, () => [random.uint32() % 5, ...Array.from({ length: 4 }, () => 0x61 + (random.uint32() % 26))]);
      const bytes = Uint8Array.from([...labels.flatMap((l) => l.slice(0, 1 + l[0]!)), 0]);
      for (let i = 0; i < bytes.length; i++) if (random.uint32() % 4 === 0) bytes[i] = random.uint32() & 0xff;
      const r = decodeName(bytes);
      if (!r.ok) continue;
      // Received names may be upper case or use underscores and edge hyphens, which we never send.
      const again = encodeName(r.value);
      if (!again.ok) continue;
      accepted++;
      expect(toHex(again.value)).toBe(toHex(bytes.map((b) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b))));
    }
    expect(accepted).toBeGreaterThan(50);
  });
});
