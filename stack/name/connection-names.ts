// The name exchange on a TCP connection (or an MPTCP connection's initial subflow), through
// TCP's IPv6 header hook (stack/tcp/ipv6-hook.ts): the names ride in a destination options
// header on the packets the exchange asks for, the MSS shrinks by their size while they do,
// and every received packet goes through the exchange, which may refuse the first one.
// A listener gets a responder per SYN from respondWithNames(); a refused SYN is dropped
// before TCP keeps any state for it (the original module dropped such SYNs, so the client
// sees silence, never a RST that would tell it a host is there).

import type { NameConfig } from '../config.js';
import type { IncomingSyn } from '../tcp/connection-options.js';
import type { OutgoingKind } from '../tcp/extension.js';
import type { Ipv6HeaderHook, Ipv6HookVerdict } from '../tcp/ipv6-hook.js';
import { familyOf, type IpAddress } from '../wire/address.js';
import type { Ipv6ExtensionHeader } from '../wire/ipv6-ext.js';
import { ok, type ParseResult } from '../wire/result.js';
import { NameExchange, type InitiatorOptions, type RefuseReason, type ResponderOptions } from './exchange.js';
import { readNameOptions } from './name-option.js';

export class ConnectionNames implements Ipv6HeaderHook {
  constructor(readonly exchange: NameExchange) {}

  /** The exchange of a connection we open (family and names as NameExchange.initiator takes them). */
  static initiator(opts: Omit<InitiatorOptions, 'transport'>, config: NameConfig): ParseResult<ConnectionNames> {
    const x = NameExchange.initiator({ ...opts, transport: 'stream' }, config);
    return x.ok ? ok(new ConnectionNames(x.value)) : x;
  }

  get ipv6Overhead(): number {
    return this.exchange.state === 'sending' ? this.exchange.overhead : 0;
  }

  outgoingIpv6(kind: OutgoingKind): Ipv6ExtensionHeader[] | undefined {
    // A RST ends the connection: nothing left to tell the peer.
    return kind === 'reset' ? undefined : this.exchange.extensionsFor();
  }

  incomingIpv6(headers: readonly Ipv6ExtensionHeader[], src: IpAddress): 'accept' | 'drop' {
    return this.exchange.onPacket(headers, src).verdict === 'accept' ? 'accept' : 'drop';
  }
}

export interface NameListenerOptions {
  /** ResponderOptions.localNames: the listener's name, or all the host's names for a `*` listener. */
  localNames: readonly string[];
  /** ResponderOptions.peerFilter: `*` or the one peer name accepted. */
  peerFilter: string;
  /** SYNs that get no exchange at all (an MPTCP join: the initial subflow carried the names). */
  skip?: (syn: IncomingSyn) => boolean;
  /** A SYN refused (and dropped), with why and the names it carried. */
  onRefused?: (reason: RefuseReason, syn: IncomingSyn, peerName: string | undefined) => void;
}

/**
 * A listener's IPv6 hook factory (TCP ListenOptions.ipv6Hook): one responder exchange per
 * SYN, which reads the SYN's names at once; 'drop' when the exchange refuses it. Fails only
 * when a configured name is not a valid host name.
 */
export function respondWithNames(opts: NameListenerOptions, config: NameConfig): ParseResult<(syn: IncomingSyn) => Ipv6HookVerdict> {
  const responder = (family: 4 | 6): ParseResult<NameExchange> => {
    const r: ResponderOptions = { family, transport: 'stream', localNames: opts.localNames, peerFilter: opts.peerFilter };
    return NameExchange.responder(r, config);
  };
  // Names checked once here, so the factory below cannot fail.
  const check = responder(6);
  if (!check.ok) return check;
  return ok((syn: IncomingSyn): Ipv6HookVerdict => {
    if (opts.skip?.(syn)) return undefined;
    const x = responder(familyOf(syn.remoteAddress)) as { ok: true; value: NameExchange };
    const verdict = x.value.onPacket(syn.ipv6Extensions, syn.remoteAddress);
    if (verdict.verdict === 'refuse') {
      opts.onRefused?.(verdict.reason!, syn, readNameOptions(syn.ipv6Extensions).sourceName);
      return 'drop';
    }
    return new ConnectionNames(x.value);
  });
}
