// The name options (DESIGN.md "Wire decisions", docs/wire-names.md): two TLV options of the
// IPv6 Destination Options header (RFC 8200 4.6), as the original namestack kernel module
// sent them. Option type 0x11 carries the sender's (source) name, 0x12 the name the sender
// wants to reach (destination name); the data is the name in DNS wire form (RFC 1035 3.1).
// Both types have the two high bits 00, "skip over this option and continue processing the
// header" (RFC 8200 4.2), so a host that does not know them handles the packet as if they
// were absent: that is the whole legacy fallback. Bit 0x20 is clear too: the data does not
// change en route. Nothing here throws.

import { buildOptionsHeader, type Ipv6ExtensionHeader, type Ipv6OptionsHeader } from '../wire/ipv6-ext.js';
import { ok, wireError, type ParseResult, type WireError } from '../wire/result.js';
import { decodeName, encodeName } from './domain-name.js';

/** Option type of the source name: the sender's own name. */
export const NAME_OPTION_SOURCE = 0x11;
/** Option type of the destination name: the name of the host the sender means to reach. */
export const NAME_OPTION_DESTINATION = 0x12;

/** What the name options of one packet said. */
export interface ReceivedNames {
  /** At least one name option was there (well-formed or not). */
  present: boolean;
  sourceName?: string;
  destinationName?: string;
  /** Set when a name option was malformed or repeated; the names are then ignored altogether. */
  error?: WireError;
}

const NONE: ReceivedNames = Object.freeze({ present: false });

/**
 * The destination options header carrying `sourceName` and/or `destinationName` (in that
 * order), padded to 8 bytes with PadN. The names need no alignment (RFC 8200 4.2: byte data).
 */
export function nameOptionsHeader(sourceName: string | undefined, destinationName: string | undefined): ParseResult<Ipv6OptionsHeader> {
  const options = [];
  for (const [type, name] of [[NAME_OPTION_SOURCE, sourceName], [NAME_OPTION_DESTINATION, destinationName]] as const) {
    if (name === undefined) continue;
    const data = encodeName(name);
    if (!data.ok) return data;
    options.push({ type, data: data.value });
  }
  if (options.length === 0) return wireError('name', 'BAD_FIELD', 'no name to send');
  return ok(buildOptionsHeader('destinationOptions', options));
}

/**
 * The names in a packet's destination options headers (all of them: the module looked in
 * every one). A repeated or undecodable name option makes the whole set unusable: which of
 * two source names would be the claim?
 */
export function readNameOptions(extensions: readonly Ipv6ExtensionHeader[]): ReceivedNames {
  let found: ReceivedNames | undefined;
  for (const header of extensions) {
    if (header.kind !== 'destinationOptions') continue;
    for (const option of header.options) {
      if (option.type !== NAME_OPTION_SOURCE && option.type !== NAME_OPTION_DESTINATION) continue;
      found ??= { present: true };
      if (found.error) continue;
      const field = option.type === NAME_OPTION_SOURCE ? 'sourceName' : 'destinationName';
      if (found[field] !== undefined) {
        found = { present: true, error: wireError('name', 'BAD_OPTION', `option 0x${option.type.toString(16)} appears twice`) };
        continue;
      }
      const name = decodeName(option.data);
      if (!name.ok) found = { present: true, error: name };
      else found[field] = name.value;
    }
  }
  return found ?? NONE;
}
