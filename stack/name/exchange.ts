// The initial name exchange of one connection (thesis 2.4), as a small state machine any
// transport can drive: TCP and MPTCP (per connection, on the IPv6 subflow that opens it) and
// UDP (per peer). The transport asks extensionsFor() before every packet it sends and
// hands every packet it receives to onPacket(), which may refuse it.
//
//   initiator: puts both names on every packet until a packet with names comes back
//              (its acknowledgement), or until N packets carried them.
//   responder: on a first packet with names, checks the destination name against its own
//              names and the listener's peer filter (refused packets are dropped, as the
//              original module dropped such SYNs); then answers with both names until a
//              packet without names arrives, or until N packets carried them.
//   dgram:     as above, but the initiator has no N: names ride on every datagram until
//              acknowledged (config name.dgramUntilAcknowledged).
//
// Names are carried only over IPv6 (DESIGN.md); a connection over IPv4 is legacy from the
// start. Malformed or repeated name options count as "no names" (the packet is still
// processed: it would be without the options), so they can neither refuse a connection
// nor stand as an acknowledgement by mistake.

import type { NameConfig } from '../config.js';
import { familyOf, type IpAddress, type IpFamily } from '../wire/address.js';
import { extensionHeaderLength, type Ipv6ExtensionHeader } from '../wire/ipv6-ext.js';
import { ok, type ParseResult } from '../wire/result.js';
import { normalizeName } from './domain-name.js';
import { nameOptionsHeader, readNameOptions } from './name-option.js';

export type NameTransport = 'stream' | 'dgram';

/** The wildcard of thesis Table 1: any name. */
export const ANY_NAME = '*';

export interface InitiatorOptions {
  family: IpFamily;
  transport: NameTransport;
  /** Our name, sent as the source name; absent when this host has none (only the destination name is sent). */
  localName?: string;
  /** The name we connect to, sent as the destination name. */
  peerName: string;
}

export interface ResponderOptions {
  family: IpFamily;
  transport: NameTransport;
  /**
   * Destination names we answer to: the listener's name, or all of this host's names for a
   * `*` listener. Empty: a host without names accepts any destination name.
   */
  localNames: readonly string[];
  /** The listener's peer filter: `*`, or the one source name it accepts (then unnamed peers are refused too). */
  peerFilter: string;
}

export type RefuseReason = 'destinationName' | 'peerFilter';

export interface NameVerdict {
  verdict: 'accept' | 'refuse';
  /** Why the packet was refused. */
  reason?: RefuseReason;
  /** The name the peer claims (its source name), once received; not yet verified. */
  peerName?: string;
  /** The name of ours this connection is for (the destination name the peer used, or our source name). */
  localName?: string;
}

/**
 * sending: names go on outgoing packets; waiting: the responder has not seen a packet yet;
 * done: the exchange finished (names were seen both ways, or N ran out); legacy: the peer
 * sent none (or the family is IPv4); refused: the first packet was refused.
 */
export type ExchangeState = 'waiting' | 'sending' | 'done' | 'legacy' | 'refused';

export interface ExchangeStats {
  namedPacketsSent: number;
  namedPacketsReceived: number;
  /** Packets whose name options were malformed or repeated (treated as carrying none). */
  malformed: number;
  /** Named packets after the names were settled whose names differ (ignored). */
  mismatched: number;
}

export class NameExchange {
  readonly stats: ExchangeStats = { namedPacketsSent: 0, namedPacketsReceived: 0, malformed: 0, mismatched: 0 };
  private current: ExchangeState;
  private header: Ipv6ExtensionHeader[] | undefined;
  private receivedPeerName: string | undefined;
  private ownName: string | undefined;
  private seenFirstPacket = false;

  private constructor(
    readonly role: 'initiator' | 'responder',
    private readonly transport: NameTransport,
    private readonly family: IpFamily,
    private readonly config: NameConfig,
    private readonly responder?: ResponderOptions,
  ) {
    this.current = family === 6 ? (role === 'initiator' ? 'sending' : 'waiting') : 'legacy';
  }

  /** The exchange of a connection we open. Fails only when a name is not a valid host name. */
  static initiator(opts: InitiatorOptions, config: NameConfig): ParseResult<NameExchange> {
    const x = new NameExchange('initiator', opts.transport, opts.family, config);
    const peer = normalizeName(opts.peerName);
    if (!peer.ok) return peer;
    if (opts.localName !== undefined) {
      const local = normalizeName(opts.localName);
      if (!local.ok) return local;
      x.ownName = local.value;
    }
    if (opts.family === 6) {
      const header = nameOptionsHeader(x.ownName, peer.value);
      if (!header.ok) return header;
      x.header = [header.value];
    }
    return ok(x);
  }

  /** The exchange of a connection a listener receives; created before its first packet is handed in. */
  static responder(opts: ResponderOptions, config: NameConfig): ParseResult<NameExchange> {
    const localNames: string[] = [];
    for (const n of opts.localNames) {
      const r = normalizeName(n);
      if (!r.ok) return r;
      localNames.push(r.value);
    }
    let peerFilter = ANY_NAME;
    if (opts.peerFilter !== ANY_NAME) {
      const r = normalizeName(opts.peerFilter);
      if (!r.ok) return r;
      peerFilter = r.value;
    }
    const x = new NameExchange('responder', opts.transport, opts.family, config, { ...opts, localNames, peerFilter });
    x.ownName = localNames[0];
    return ok(x);
  }

  get state(): ExchangeState {
    return this.current;
  }

  /** The name the peer claims, once a packet carried it. */
  get peerName(): string | undefined {
    return this.receivedPeerName;
  }

  /** Our name for this connection (see NameVerdict.localName). */
  get localName(): string | undefined {
    return this.ownName;
  }

  /** Bytes the names add to a packet while they are sent (for the transport's MSS). */
  get overhead(): number {
    return this.header ? extensionHeaderLength(this.header[0]!) : 0;
  }

  /**
   * The extension headers for the next outgoing packet: the names while the exchange runs,
   * else undefined. Every call counts as one packet sent. The array is shared between
   * calls (no allocation per packet): do not change it.
   */
  extensionsFor(): Ipv6ExtensionHeader[] | undefined {
    if (this.current !== 'sending' || !this.header) return undefined;
    const limited = this.role === 'responder' || this.transport === 'stream' || !this.config.dgramUntilAcknowledged;
    if (limited && this.stats.namedPacketsSent >= this.config.exchangePackets) {
      // N ran out: a peer that never sent names is a legacy host (the kernel, say).
      this.current = this.stats.namedPacketsReceived > 0 ? 'done' : 'legacy';
      return undefined;
    }
    this.stats.namedPacketsSent++;
    return this.header;
  }

  /** Reads the names of a received packet from `src`; 'refuse' means drop it (only ever for the first packet). */
  onPacket(extensions: readonly Ipv6ExtensionHeader[], src: IpAddress): NameVerdict {
    const first = !this.seenFirstPacket;
    this.seenFirstPacket = true;
    let names = familyOf(src) === 6 && this.family === 6 ? readNameOptions(extensions) : undefined;
    if (names?.error) {
      this.stats.malformed++;
      names = undefined;
    } else if (names && !names.present) {
      names = undefined;
    }
    if (names) this.stats.namedPacketsReceived++;

    if (this.role === 'responder' && first) return this.firstPacket(names?.sourceName, names?.destinationName, names !== undefined);
    if (this.current === 'refused') return this.verdict('refuse');
    if (names) this.learnPeer(names.sourceName);
    if (this.role === 'initiator') {
      // A packet with names is the acknowledgement; none while we send means nothing yet.
      if (names && this.current === 'sending') this.current = 'done';
    } else if (!names && this.current === 'sending') {
      this.current = 'done';
    }
    return this.verdict('accept');
  }

  private firstPacket(sourceName: string | undefined, destinationName: string | undefined, named: boolean): NameVerdict {
    const r = this.responder!;
    if (destinationName !== undefined && r.localNames.length > 0 && !r.localNames.includes(destinationName)) {
      return this.refuse('destinationName');
    }
    if (r.peerFilter !== ANY_NAME && sourceName !== r.peerFilter) {
      return this.refuse('peerFilter');
    }
    if (!named) {
      this.current = 'legacy';
      return this.verdict('accept');
    }
    this.receivedPeerName = sourceName;
    if (destinationName !== undefined) this.ownName = destinationName;
    // Answer with our name and theirs (thesis 2.4 figure 4): source = the name they asked for.
    const header = nameOptionsHeader(this.ownName, sourceName);
    if (header.ok) {
      this.header = [header.value];
      this.current = 'sending';
    } else {
      // Neither name to answer with (a host without names, a peer sending only a destination name we do not have).
      this.current = 'done';
    }
    return this.verdict('accept');
  }

  private learnPeer(sourceName: string | undefined): void {
    if (sourceName === undefined) return;
    if (this.receivedPeerName === undefined) this.receivedPeerName = sourceName;
    else if (this.receivedPeerName !== sourceName) this.stats.mismatched++;
  }

  private refuse(reason: RefuseReason): NameVerdict {
    this.current = 'refused';
    return { verdict: 'refuse', reason };
  }

  private verdict(verdict: 'accept' | 'refuse'): NameVerdict {
    const v: NameVerdict = { verdict };
    if (this.receivedPeerName !== undefined) v.peerName = this.receivedPeerName;
    if (this.ownName !== undefined) v.localName = this.ownName;
    return v;
  }
}
