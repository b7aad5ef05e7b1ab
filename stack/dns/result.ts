// What a lookup hands back: the addresses, or why there are none, in the codes Node's dns
// module uses (ENOTFOUND for NXDOMAIN, ENODATA, ETIMEOUT, ESERVFAIL, ...), so the runtime
// can turn a failure into the Error a Node developer expects.

import type { SendErrorCode } from '../ip/host.js';
import type { IcmpErrno } from '../ip/icmp-errors.js';
import type { IpAddress } from '../wire/address.js';
import type { QueryType } from './message.js';

export type DnsErrorCode =
  /** NXDOMAIN (RFC 1035 4.1.1 RCODE 3): the name does not exist. */
  | 'ENOTFOUND'
  /** NOERROR without records of the type (RFC 2308 2.2 NODATA). */
  | 'ENODATA'
  /** No usable answer from any server in every round. */
  | 'ETIMEOUT'
  | 'ESERVFAIL'
  | 'EREFUSED'
  | 'ENOTIMP'
  | 'EFORMERR'
  /** The name is not a valid host name (checked before any query). */
  | 'EBADNAME'
  /** An answer that makes no sense: a CNAME loop or an overlong chain. */
  | 'EBADRESP'
  /** Every answer had the TC bit and we do not fall back to TCP. */
  | 'ETRUNCATED'
  /** More queries in flight than dns.maxOutstanding. */
  | 'ENOBUFS'
  /** Every transmission failed locally or with an ICMP error (no route, port unreachable, ...). */
  | IcmpErrno
  | SendErrorCode;

export interface DnsAnswer {
  ok: true;
  /** The name asked for, normalized (lower case, no trailing dot). */
  name: string;
  type: QueryType;
  /** The name at the end of the CNAME chain (the name itself without one). */
  canonicalName: string;
  /** A records, AAAA records, or both for ANY; in the order of the answer. */
  addresses: IpAddress[];
  /** Until when this may be used (ms, the resolver's clock): now + the smallest TTL in the chain. */
  expiresAt: number;
  fromCache: boolean;
}

export interface DnsFailure {
  ok: false;
  name: string;
  type: QueryType;
  code: DnsErrorCode;
  message: string;
  /** Negative answers (ENOTFOUND, ENODATA) that are cached: until when. */
  expiresAt?: number;
  fromCache: boolean;
}

export type DnsResult = DnsAnswer | DnsFailure;
