// Routing: longest-prefix match with metrics, plus source-based policy routing so that each
// uplink has its own table (thesis section 3.5; Linux does it with `ip rule from <addr>
// table N`). A route bound to a source (a prefix, or "any address of the route's own
// interface") is only used for packets whose source matches; such bound routes are looked
// at before the unbound "main" table, and a lookup falls back to main when no bound route
// matches, exactly as a Linux rule that finds nothing in its table falls through.
//
// Source address selection (RFC 6724 section 5, simplified to the rules that matter for a
// host with a few uplinks): same family; rule 1 prefer the destination itself; rule 2
// prefer matching scope (link-local for link-local destinations, not for others); rule 5
// prefer an address on the outgoing interface; rule 8 longest matching prefix.

import { familyOf, inPrefix, type IpAddress } from '../wire/address.js';
import type { InterfaceAddress, InterfaceTable } from './interfaces.js';

export interface Route {
  readonly destination: IpAddress;
  readonly prefixLength: number;
  readonly ifIndex: number;
  /** Next hop; informational on TUN (a layer-3 device has no neighbour resolution). */
  readonly gateway?: IpAddress;
  /** Only for packets whose source lies in this prefix. */
  readonly source?: { readonly prefix: IpAddress; readonly prefixLength: number };
  /** Only for packets whose source is an address of `ifIndex` (one table per uplink that follows address changes). */
  readonly sourceInterface?: boolean;
  /** Lower wins among equally long prefixes (Linux: IPv4 default 0, IPv6 1024). */
  readonly metric: number;
  /** Added by addAddress for the address's on-link prefix (Linux "proto kernel"). */
  readonly connected: boolean;
}

export interface RouteLookup {
  readonly route: Route;
  readonly ifIndex: number;
}

export class RouteTable {
  private routes: Route[] = [];

  constructor(private readonly interfaces: InterfaceTable) {}

  add(route: Route): void {
    if (route.destination.length !== 4 && route.destination.length !== 16) throw new RangeError('route destination must be an IPv4 or IPv6 address');
    const bits = route.destination.length * 8;
    if (!Number.isInteger(route.prefixLength) || route.prefixLength < 0 || route.prefixLength > bits) throw new RangeError(`route prefix length ${route.prefixLength} out of range`);
    if (route.gateway && route.gateway.length !== route.destination.length) throw new RangeError('gateway family differs from destination');
    if (route.source && route.source.prefix.length !== route.destination.length) throw new RangeError('source family differs from destination');
    if (!this.interfaces.get(route.ifIndex)) throw new Error(`no interface ${route.ifIndex}`);
    this.routes.push(route);
  }

  /** Drops the routes for which `match` holds; returns how many. */
  remove(match: (r: Route) => boolean): number {
    const before = this.routes.length;
    this.routes = this.routes.filter((r) => !match(r));
    return before - this.routes.length;
  }

  all(): readonly Route[] {
    return this.routes;
  }

  /**
   * The route for `dst`; with `src`, policy routes bound to that source come first. Without a
   * source the main table is used, and when it has nothing, any bound route (its binding then
   * constrains source selection), so a host whose every uplink has its own table still works.
   */
  lookup(dst: IpAddress, src?: IpAddress): RouteLookup | undefined {
    const best = (accept: (r: Route) => boolean): Route | undefined => {
      let found: Route | undefined;
      for (const r of this.routes) {
        if (r.destination.length !== dst.length || !accept(r)) continue;
        if (!inPrefix(dst, r.destination, r.prefixLength)) continue;
        if (!this.interfaces.get(r.ifIndex)?.up) continue;
        if (!found || r.prefixLength > found.prefixLength || (r.prefixLength === found.prefixLength && r.metric < found.metric)) found = r;
      }
      return found;
    };
    const route = src
      ? (best((r) => isBound(r) && this.sourceMatches(r, src)) ?? best((r) => !isBound(r)))
      : (best((r) => !isBound(r)) ?? best(isBound));
    return route && { route, ifIndex: route.ifIndex };
  }

  /** Whether a packet from `src` may use route `r`. */
  sourceMatches(r: Route, src: IpAddress): boolean {
    if (r.source && !inPrefix(src, r.source.prefix, r.source.prefixLength)) return false;
    if (r.sourceInterface && !this.interfaces.hasAddressOn(r.ifIndex, src)) return false;
    return true;
  }

  /** The source address for a packet to `dst` over `route` (RFC 6724 5, simplified), if any. */
  selectSource(dst: IpAddress, route: Route): IpAddress | undefined {
    const family = familyOf(dst);
    let best: InterfaceAddress | undefined;
    let bestScore = -1;
    for (const iface of this.interfaces.all()) {
      if (!iface.up) continue;
      for (const a of iface.addresses) {
        if (a.family !== family || !this.sourceMatches(route, a.address)) continue;
        const score = sourceScore(dst, a, iface.index === route.ifIndex);
        if (score > bestScore) {
          best = a;
          bestScore = score;
        }
      }
    }
    return best?.address;
  }
}

function isBound(r: Route): boolean {
  return r.source !== undefined || r.sourceInterface === true;
}

/** Packs RFC 6724 rules 1, 2, 5 and 8 into one number, higher = better, earlier rules dominate. */
function sourceScore(dst: IpAddress, a: InterfaceAddress, onOutgoingInterface: boolean): number {
  const common = commonPrefixLength(dst, a.address);
  const same = common === dst.length * 8 ? 1 : 0;
  const scopeMatches = isLinkLocal(dst) === isLinkLocal(a.address) ? 1 : 0;
  return same * 1e6 + scopeMatches * 1e5 + (onOutgoingInterface ? 1e4 : 0) + Math.min(common, a.prefixLength);
}

/** fe80::/10 and 169.254/16 (RFC 4291 2.5.6, RFC 3927). */
function isLinkLocal(a: IpAddress): boolean {
  return a.length === 16 ? a[0] === 0xfe && (a[1]! & 0xc0) === 0x80 : a[0] === 169 && a[1] === 254;
}

function commonPrefixLength(a: IpAddress, b: IpAddress): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!;
    if (x === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(x) - 24;
  }
  return n;
}
