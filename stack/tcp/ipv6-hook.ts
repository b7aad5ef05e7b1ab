// The second hook a connection may carry, beside its TcpExtension: one that rides on the IPv6
// header chain of the connection's packets instead of on its TCP options. The name exchange
// (thesis 2.4, docs/wire-names.md) uses it: the names travel in a destination options header
// on the first packets, the receiver reads them, and a listener bound to a name drops a SYN
// for another name before any state exists (as the original namestack module did). It is a
// separate hook so it composes with MPTCP, whose subflows are the TcpExtension.

import type { IpAddress } from '../wire/address.js';
import { extensionHeaderLength, type Ipv6ExtensionHeader } from '../wire/ipv6-ext.js';
import type { OutgoingKind } from './extension.js';

export interface Ipv6HeaderHook {
  /**
   * Bytes of IPv6 extension headers the next data segments will carry: the MSS is lowered by
   * it (so a full segment still fits the path MTU) for as long as it is not 0.
   */
  readonly ipv6Overhead: number;

  /**
   * Extension headers for the segment about to be sent (once per segment TCP emits; a GSO
   * super-segment's wire segments all carry them), or undefined. IPv4 connections carry no
   * hook (a listener's factory still sees their SYNs and may drop them).
   */
  outgoingIpv6(kind: OutgoingKind): Ipv6ExtensionHeader[] | undefined;

  /**
   * The extension headers of every packet that reaches the connection (empty for IPv4),
   * before TCP processes it; views valid during the call only. 'drop' discards the packet.
   */
  incomingIpv6(headers: readonly Ipv6ExtensionHeader[], src: IpAddress): 'accept' | 'drop';
}

/** What a listener's hook factory answers for a SYN: a hook for the new connection, none, or 'drop' (silently, no RST). */
export type Ipv6HookVerdict = Ipv6HeaderHook | 'drop' | undefined;

/** Bytes the headers add to a packet. */
export function ipv6HeadersLength(headers: readonly Ipv6ExtensionHeader[] | undefined): number {
  let n = 0;
  if (headers !== undefined) for (const h of headers) n += extensionHeaderLength(h);
  return n;
}
