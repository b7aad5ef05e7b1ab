import { describe, expect, it } from 'vitest';
import { InterfaceTable } from '../../stack/ip/interfaces.js';
import { RouteTable, type Route } from '../../stack/ip/routes.js';
import { formatAddress, parseAddress } from '../../stack/wire/address.js';

const ip = (s: string) => parseAddress(s)!;
const route = (destination: string, prefixLength: number, ifIndex: number, extra: Partial<Route> = {}): Route => ({
  destination: ip(destination),
  prefixLength,
  ifIndex,
  metric: 0,
  connected: false,
  ...extra,
});

/** Two uplinks like the lab: wlan (10.1.0.2/24, 2001:db8:1::2/64) and lte (10.2.0.2/24, 2001:db8:2::2/64). */
function twoUplinks() {
  const ifs = new InterfaceTable();
  const wlan = ifs.add('wlan', 1500).index;
  const lte = ifs.add('lte', 1400).index;
  ifs.addAddress(wlan, ip('10.1.0.2'), 24);
  ifs.addAddress(wlan, ip('2001:db8:1::2'), 64);
  ifs.addAddress(wlan, ip('fe80::1'), 64);
  ifs.addAddress(lte, ip('10.2.0.2'), 24);
  ifs.addAddress(lte, ip('2001:db8:2::2'), 64);
  return { ifs, routes: new RouteTable(ifs), wlan, lte };
}

const lookup = (t: RouteTable, dst: string, src?: string) => {
  const r = t.lookup(ip(dst), src === undefined ? undefined : ip(src));
  return r && `${formatAddress(r.route.destination)}/${r.route.prefixLength}@${r.ifIndex}`;
};

describe('RouteTable', () => {
  it('picks the longest prefix, then the lowest metric, per family', () => {
    const { routes, wlan, lte } = twoUplinks();
    routes.add(route('0.0.0.0', 0, wlan, { metric: 100 }));
    routes.add(route('0.0.0.0', 0, lte, { metric: 50 }));
    routes.add(route('192.0.2.0', 24, wlan));
    routes.add(route('192.0.2.128', 25, lte));
    routes.add(route('::', 0, wlan, { metric: 1024 }));
    expect(lookup(routes, '198.51.100.1')).toBe(`0.0.0.0/0@${lte}`);
    expect(lookup(routes, '192.0.2.1')).toBe(`192.0.2.0/24@${wlan}`);
    expect(lookup(routes, '192.0.2.200')).toBe(`192.0.2.128/25@${lte}`);
    expect(lookup(routes, '2001:db8:9::1')).toBe(`::/0@${wlan}`);
  });

  it('skips routes through a down interface and reports no route', () => {
    const { ifs, routes, wlan, lte } = twoUplinks();
    routes.add(route('0.0.0.0', 0, wlan, { metric: 1 }));
    routes.add(route('0.0.0.0', 0, lte, { metric: 2 }));
    ifs.get(wlan)!.up = false;
    expect(lookup(routes, '198.51.100.1')).toBe(`0.0.0.0/0@${lte}`);
    ifs.get(lte)!.up = false;
    expect(lookup(routes, '198.51.100.1')).toBeUndefined();
    expect(lookup(routes, '2001:db8:9::1')).toBeUndefined();
  });

  it('policy routing: each uplink has its own default route, chosen by the source address', () => {
    const { routes, wlan, lte } = twoUplinks();
    // Main table: default via wlan. Per-uplink tables: default via lte only for lte's addresses.
    routes.add(route('0.0.0.0', 0, wlan, { metric: 10 }));
    routes.add(route('0.0.0.0', 0, lte, { sourceInterface: true }));
    routes.add(route('::', 0, lte, { source: { prefix: ip('2001:db8:2::'), prefixLength: 64 } }));
    routes.add(route('::', 0, wlan, { source: { prefix: ip('2001:db8:1::'), prefixLength: 64 } }));
    expect(lookup(routes, '198.51.100.1', '10.2.0.2')).toBe(`0.0.0.0/0@${lte}`);
    expect(lookup(routes, '198.51.100.1', '10.1.0.2')).toBe(`0.0.0.0/0@${wlan}`); // falls through to main
    expect(lookup(routes, '198.51.100.1')).toBe(`0.0.0.0/0@${wlan}`);
    expect(lookup(routes, '2001:db8:9::1', '2001:db8:2::2')).toBe(`::/0@${lte}`);
    expect(lookup(routes, '2001:db8:9::1', '2001:db8:1::2')).toBe(`::/0@${wlan}`);
    // No main IPv6 route: without a source any bound route serves, and the source follows it.
    const r = routes.lookup(ip('2001:db8:9::1'))!;
    expect(formatAddress(routes.selectSource(ip('2001:db8:9::1'), r.route)!)).toBe(r.ifIndex === lte ? '2001:db8:2::2' : '2001:db8:1::2');
    // A source no table accepts and no main route: unreachable.
    expect(lookup(routes, '2001:db8:9::1', '2001:db8:3::9')).toBeUndefined();
  });

  it('selects the source: same family, outgoing interface, longest match, scope, the destination itself', () => {
    const { ifs, routes, wlan, lte } = twoUplinks();
    ifs.addAddress(lte, ip('10.1.0.77'), 32); // an lte address that shares wlan's prefix
    routes.add(route('0.0.0.0', 0, lte));
    routes.add(route('::', 0, wlan));
    routes.add(route('fe80::', 64, wlan));
    routes.add(route('10.1.0.0', 24, wlan));
    const src = (dst: string) => {
      const r = routes.lookup(ip(dst))!;
      return formatAddress(routes.selectSource(ip(dst), r.route)!);
    };
    // Rule 5: out via lte, so an lte address, and rule 8 picks the one sharing more bits.
    expect(src('10.1.0.200')).toBe('10.1.0.2'); // via wlan (connected /24): wlan's address
    expect(src('10.2.0.9')).toBe('10.2.0.2');
    expect(src('10.1.5.5')).toBe('10.1.0.77'); // via lte default: on-interface wins over wlan's longer match
    expect(src('2001:db8:2::99')).toBe('2001:db8:1::2'); // rule 5 beats rule 8 (lte's address matches longer)
    expect(src('fe80::9')).toBe('fe80::1'); // rule 2: link-local for link-local
    expect(src('2001:db8:1::5')).toBe('2001:db8:1::2'); // rule 2: not fe80::1 for a global destination
    expect(src('10.2.0.2')).toBe('10.2.0.2'); // rule 1: the destination itself
    expect(ifs.owner(ip('10.1.0.77'))?.name).toBe('lte');
  });

  it('rejects malformed routes and duplicate addresses, and removes routes by predicate', () => {
    const { ifs, routes, wlan } = twoUplinks();
    expect(() => routes.add(route('10.0.0.0', 33, wlan))).toThrow(RangeError);
    expect(() => routes.add(route('10.0.0.0', 8, 99))).toThrow();
    expect(() => routes.add(route('10.0.0.0', 8, wlan, { gateway: ip('::1') }))).toThrow(RangeError);
    expect(() => ifs.addAddress(wlan, ip('10.1.0.2'), 24)).toThrow();
    expect(() => ifs.add('wlan', 1500)).toThrow();
    routes.add(route('10.0.0.0', 8, wlan));
    routes.add(route('10.9.0.0', 16, wlan));
    expect(routes.remove((r) => r.prefixLength === 8)).toBe(1);
    expect(lookup(routes, '10.0.0.1')).toBeUndefined();
    expect(ifs.removeAddress(wlan, ip('10.1.0.2'))?.prefixLength).toBe(24);
    expect(ifs.removeAddress(wlan, ip('10.1.0.2'))).toBeUndefined();
    expect(ifs.owner(ip('10.1.0.2'))).toBeUndefined();
  });
});
