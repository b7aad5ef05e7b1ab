// A keyed 32-bit hash of a connection's 4-tuple: the F() of RFC 6528 ISNs, the
// per-connection timestamp offset and SYN cookies. HMAC-SHA256 (node:crypto) truncated to
// 32 bits with a 128-bit or longer secret; `domain` separates the uses so one secret
// serves all of them without one value revealing another.

import { createHmac } from 'node:crypto';
import type { IpAddress } from '../wire/address.js';

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

/** HMAC(secret, domain | extras | ports | addresses), first 32 bits, unsigned. */
export function tupleHash(secret: Uint8Array, domain: HashDomain, t: FourTuple, extra = 0, extra2 = 0): number {
  const header = new Uint8Array(14);
  const view = new DataView(header.buffer);
  view.setUint8(0, DOMAIN_TAG[domain]);
  view.setUint8(1, t.localAddress.length);
  view.setUint32(2, extra >>> 0);
  view.setUint32(6, extra2 >>> 0);
  view.setUint16(10, t.localPort);
  view.setUint16(12, t.remotePort);
  const mac = createHmac('sha256', secret)
    .update(header)
    .update(t.localAddress)
    .update(t.remoteAddress)
    .digest();
  return ((mac[0]! << 24) | (mac[1]! << 16) | (mac[2]! << 8) | mac[3]!) >>> 0;
}
