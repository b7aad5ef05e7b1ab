// A keyed 32-bit hash of a connection's 4-tuple: the F() of RFC 6528 ISNs, the
// per-connection timestamp offset and SYN cookies. SipHash-2-4 keyed with the first 128
// bits of the stack's secret, as Linux does for the same purposes; `domain` separates the
// uses so one secret serves all of them without one value revealing another.

import type { IpAddress } from '../wire/address.js';
import { siphash24 } from './siphash.js';

export interface FourTuple {
  localAddress: IpAddress;
  localPort: number;
  remoteAddress: IpAddress;
  remotePort: number;
}

/** What the hash is for; each use gets its own tag. */
export type HashDomain = 'isn' | 'timestamp-offset' | 'cookie-base' | 'cookie-counter';

const DOMAIN_TAG: Record<HashDomain, number> = {
  isn: 1,
  'timestamp-offset': 2,
  'cookie-base': 3,
  'cookie-counter': 4,
};

// domain, family, extra, extra2, ports, two IPv6 addresses.
const scratch = new Uint8Array(1 + 1 + 4 + 4 + 4 + 32);
const view = new DataView(scratch.buffer);

/** SipHash(secret[0..16), domain | extras | ports | addresses), low 32 bits. */
export function tupleHash(secret: Uint8Array, domain: HashDomain, t: FourTuple, extra = 0, extra2 = 0): number {
  view.setUint8(0, DOMAIN_TAG[domain]);
  view.setUint8(1, t.localAddress.length);
  view.setUint32(2, extra >>> 0);
  view.setUint32(6, extra2 >>> 0);
  view.setUint16(10, t.localPort);
  view.setUint16(12, t.remotePort);
  scratch.set(t.localAddress, 14);
  scratch.set(t.remoteAddress, 14 + t.localAddress.length);
  const length = 14 + t.localAddress.length + t.remoteAddress.length;
  return siphash24(secret, scratch.subarray(0, length)).lo;
}
