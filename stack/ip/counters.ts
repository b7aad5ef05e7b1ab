// The host's counters, in the spirit of the IP-MIB / `nstat` names: what came in, what was
// delivered, what was sent, and every packet dropped with the reason. A host never forwards
// (RFC 1122 3.3.1 lets it, we do not), so packets for other addresses are drops.

import type { WireError } from '../wire/result.js';

/** Why an incoming packet was discarded. */
export type RxDropReason =
  | 'linkDown' // arrived on a down (or unknown) interface
  | 'notForUs' // destination is none of our addresses (hosts do not forward)
  | 'badSource' // multicast, (directed) broadcast, unspecified, loopback, or (from a link) one of ours (RFC 1122 3.2.1.3, RFC 4291 2.5.2)
  | 'fragment' // IP fragments are not reassembled (see docs/architecture.md)
  | 'ipv6Option' // an unknown IPv6 option whose type says "discard" (RFC 8200 4.2; parameter problem sent for types 1x)
  | 'ipv6Routing' // a routing header with segments left: we know no routing type (parameter problem sent, RFC 8200 4.4)
  | 'noTransport' // no handler for the protocol (protocol unreachable sent)
  | 'icmpUnhandled' // an ICMP message we neither answer nor deliver
  | 'icmpForged' // an ICMP error quoting a packet we could not have sent
  | 'noSocket'; // a transport found no socket (port unreachable)

/** Why an outgoing packet was not queued. */
export type TxDropReason = 'noRoute' | 'noSource' | 'tooBig' | 'queueFull' | 'linkDown' | 'invalid';

export class HostCounters {
  /** Packets handed to input(). */
  received = 0;
  /** Packets handed to a transport handler (ICMP answered by the host counts too). */
  delivered = 0;
  /** Packets queued for transmission (after software segmentation, one per wire packet). */
  sent = 0;
  /** Packets looped back to ourselves. */
  loopback = 0;
  icmpIn = 0;
  icmpOut = 0;
  /** ICMP errors received and delivered to a transport. */
  icmpErrorsIn = 0;
  /** ICMP errors we generated (port/protocol unreachable, IPv6 parameter problem). */
  icmpErrorsOut = 0;
  /** ICMP errors not sent because of the rate limit. */
  icmpRateLimited = 0;
  echoRepliesOut = 0;
  /** Drops of incoming packets by reason. */
  readonly rxDropped: Record<RxDropReason, number> = {
    linkDown: 0,
    notForUs: 0,
    badSource: 0,
    fragment: 0,
    ipv6Option: 0,
    ipv6Routing: 0,
    noTransport: 0,
    icmpUnhandled: 0,
    icmpForged: 0,
    noSocket: 0,
  };
  /** Drops of incoming packets that failed to parse, keyed `layer.CODE` (e.g. `ipv4.BAD_CHECKSUM`). */
  readonly parseErrors: Record<string, number> = {};
  readonly txDropped: Record<TxDropReason, number> = {
    noRoute: 0,
    noSource: 0,
    tooBig: 0,
    queueFull: 0,
    linkDown: 0,
    invalid: 0,
  };

  /** Counts a packet dropped because a parser rejected it (transports call this too). */
  parseError(e: WireError): void {
    const key = `${e.layer}.${e.code}`;
    this.parseErrors[key] = (this.parseErrors[key] ?? 0) + 1;
  }

  /** Every incoming packet dropped, whatever the reason. */
  get rxDroppedTotal(): number {
    let n = 0;
    for (const v of Object.values(this.rxDropped)) n += v;
    for (const v of Object.values(this.parseErrors)) n += v;
    return n;
  }

  /** A flat copy for stats output: `received`, `rxDropped.notForUs`, `parseErrors.ipv4.TRUNCATED`, ... */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this)) {
      if (typeof v === 'number') out[k] = v;
      else for (const [k2, v2] of Object.entries(v as Record<string, number>)) out[`${k}.${k2}`] = v2;
    }
    return out;
  }
}
