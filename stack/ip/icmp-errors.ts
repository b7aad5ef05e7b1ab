// ICMP errors as the errno a socket reports, the way Linux converts them (icmp_err_convert
// in net/ipv4/icmp.c, icmpv6_err_convert in net/ipv6/icmp.c), so UDP and TCP sockets fail
// with the codes a Node developer knows from net and dgram (ECONNREFUSED, EHOSTUNREACH...),
// and with Linux's verdict on which errors are fatal (RFC 1122 4.2.3.9 "hard" errors).

import type { IcmpErrorReport } from './host.js';

export type IcmpErrno =
  | 'ENETUNREACH'
  | 'EHOSTUNREACH'
  | 'ENOPROTOOPT'
  | 'ECONNREFUSED'
  | 'EMSGSIZE'
  | 'EOPNOTSUPP'
  | 'EHOSTDOWN'
  | 'ENONET'
  | 'EACCES'
  | 'EPROTO';

type Entry = readonly [IcmpErrno, boolean];

/** RFC 792 / RFC 1812 destination unreachable codes 0..15: [errno, fatal]. */
const V4_UNREACHABLE: readonly Entry[] = [
  ['ENETUNREACH', false], // 0 net unreachable
  ['EHOSTUNREACH', false], // 1 host unreachable
  ['ENOPROTOOPT', true], // 2 protocol unreachable
  ['ECONNREFUSED', true], // 3 port unreachable
  ['EMSGSIZE', false], // 4 fragmentation needed
  ['EOPNOTSUPP', false], // 5 source route failed
  ['ENETUNREACH', true], // 6 destination network unknown
  ['EHOSTDOWN', true], // 7 destination host unknown
  ['ENONET', true], // 8 source host isolated
  ['ENETUNREACH', true], // 9 network administratively prohibited
  ['EHOSTUNREACH', true], // 10 host administratively prohibited
  ['ENETUNREACH', false], // 11 network unreachable for TOS
  ['EHOSTUNREACH', false], // 12 host unreachable for TOS
  ['EHOSTUNREACH', true], // 13 communication administratively prohibited
  ['EHOSTUNREACH', true], // 14 host precedence violation
  ['EHOSTUNREACH', true], // 15 precedence cutoff
];

/** RFC 4443 3.1 destination unreachable codes 0..6: [errno, fatal]. */
const V6_UNREACHABLE: readonly Entry[] = [
  ['ENETUNREACH', false], // 0 no route
  ['EACCES', true], // 1 administratively prohibited
  ['EHOSTUNREACH', false], // 2 beyond scope of source address
  ['EHOSTUNREACH', false], // 3 address unreachable
  ['ECONNREFUSED', true], // 4 port unreachable
  ['EACCES', true], // 5 source address failed ingress/egress policy
  ['ECONNREFUSED', true], // 6 reject route to destination
];

function convert(e: IcmpErrorReport): Entry {
  switch (e.kind) {
    case 'unreachable':
      // Unknown codes: Linux keeps EHOSTUNREACH (v4, not fatal) or EPROTO (v6, fatal).
      return (e.family === 4 ? V4_UNREACHABLE : V6_UNREACHABLE)[e.code] ?? (e.family === 4 ? ['EHOSTUNREACH', false] : ['EPROTO', true]);
    case 'packetTooBig':
      return ['EMSGSIZE', false];
    case 'timeExceeded':
      return ['EHOSTUNREACH', false];
    case 'parameterProblem':
      return ['EPROTO', true];
  }
}

/** The errno a socket reports for this ICMP error. */
export function icmpErrno(e: IcmpErrorReport): IcmpErrno {
  return convert(e)[0];
}

/** Whether Linux treats the error as fatal (a "hard" error that may abort a connection attempt). */
export function icmpErrorIsFatal(e: IcmpErrorReport): boolean {
  return convert(e)[1];
}
