import { describe, expect, it } from 'vitest';
import { NAME_OPTION_DESTINATION, NAME_OPTION_SOURCE, nameOptionsHeader, readNameOptions } from '../../stack/name/name-option.js';
import { emitExtensionHeader, extensionHeaderLength, ipv6OptionAction, ipv6OptionMayChange, parseExtensionHeaders, IPPROTO_DSTOPTS, type Ipv6ExtensionHeader } from '../../stack/wire/ipv6-ext.js';
import { TCP_PROTOCOL } from '../../stack/wire/tcp.js';
import { hex, toHex, unwrap } from '../wire/helpers.js';

function emit(header: Ipv6ExtensionHeader): Uint8Array {
  const out = new Uint8Array(extensionHeaderLength(header));
  emitExtensionHeader(header, TCP_PROTOCOL, out, 0);
  return out;
}

function parse(bytes: Uint8Array): Ipv6ExtensionHeader[] {
  return unwrap(parseExtensionHeaders(bytes, IPPROTO_DSTOPTS, 0, bytes.length)).headers;
}

describe('name options (IPv6 destination options 0x11 and 0x12)', () => {
  it('are skipped by hosts that do not know them and do not change en route (RFC 8200 4.2)', () => {
    for (const type of [NAME_OPTION_SOURCE, NAME_OPTION_DESTINATION]) {
      expect(ipv6OptionAction(type)).toBe('skip');
      expect(ipv6OptionMayChange(type)).toBe(false);
    }
  });

  it('build one destination options header: source name, destination name, PadN to 8 bytes', () => {
    const bytes = emit(unwrap(nameOptionsHeader('alice.lab.test', 'Carol.Lab.Test.')));
    // next header 6 (TCP), length 4 (40 bytes), 0x11 len 16 "alice.lab.test", 0x12 len 16 "carol.lab.test", PadN 0.
    expect(toHex(bytes)).toBe(
      '0604' + '1110' + '05616c696365036c6162047465737400' + '1210' + '05636172 6f6c036c6162047465737400'.replace(' ', '') + '0100',
    );
    expect(readNameOptions(parse(bytes))).toEqual({ present: true, sourceName: 'alice.lab.test', destinationName: 'carol.lab.test' });
  });

  it('carry only the names given, and refuse invalid or absent names without throwing', () => {
    const onlyDestination = emit(unwrap(nameOptionsHeader(undefined, 'bob.lab.test')));
    expect(onlyDestination).toHaveLength(24); // 2 + 2 + 14, padded
    expect(readNameOptions(parse(onlyDestination))).toEqual({ present: true, destinationName: 'bob.lab.test' });
    expect(nameOptionsHeader('bad_name', 'bob.lab.test').ok).toBe(false);
    expect(nameOptionsHeader(undefined, undefined).ok).toBe(false);
  });

  it('report absence, and treat a malformed or repeated name as an error that voids both names', () => {
    expect(readNameOptions([])).toEqual({ present: false });
    expect(readNameOptions(parse(hex('06 00 01 04 00000000')))).toEqual({ present: false }); // only PadN
    const badLabel = readNameOptions(parse(hex('06 00 11 04 03 61 62 00')));
    expect(badLabel.present).toBe(true);
    expect(badLabel.sourceName).toBeUndefined();
    expect(badLabel.error?.code).toBe('TRUNCATED');
    // Two source names: which one would be the claim?
    const twice = readNameOptions(parse(hex('06 02 11 03 01 61 00 11 03 01 62 00 12 03 01 63 00 01 05 0000000000')));
    expect(twice).toMatchObject({ present: true, error: { code: 'BAD_OPTION' } });
    expect(twice.destinationName).toBeUndefined();
  });
});
