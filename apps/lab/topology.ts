// The lab's shape as plain data: which namespaces exist, which addresses each host has on
// each path, which routing tables and device names are used. Pure (no I/O), so the builder,
// `status`, the tests and the docs all read the same numbers.
//
// Address plan (RFC 2544 benchmarking space for IPv4, ULA for IPv6, nothing else ever):
//   client side of path N: 198.18.N.0/24  and fd00:N:1::/64
//   server side of path N: 198.19.N.0/24  and fd00:N:2::/64
//   host part: router 1, alice 10, dave 11, bob 20, carol 21, dns 53 (same digits in IPv6)
// Each path is its own network: its router knows only its two subnets, so a packet whose
// source and destination belong to different paths is refused at the router (ICMP net
// unreachable), and "path N" always means "through router rN".

export type Side = 'client' | 'server';
/** namestack: runs the user-space stack on TUN devices; kernel: plain Linux with MPTCP; dns: dnsmasq. */
export type HostRole = 'namestack' | 'kernel' | 'dns';

export const LAB_ZONE = 'lab.test';
export const MAX_PATHS = 8;
export const DEFAULT_PATHS = 2;
export const DEFAULT_PREFIX = 'ns';

/** Device names inside the router namespaces (namespace-local, so they never collide between labs). */
export const ROUTER_BRIDGE: Record<Side, string> = { client: 'bc', server: 'bs' };
/** The relay's TUN devices: traffic that entered from the client side goes through `rc`, from the server side through `rs`. */
export const RELAY_TUN: Record<Side, string> = { client: 'rc', server: 'rs' };
/** Policy routing tables in a router that divert a side's ingress traffic into the relay. */
export const IMPAIR_TABLE: Record<Side, number> = { client: 211, server: 212 };
/** Priority of those diversion rules: after `local` (0), before `main` (32766). */
export const IMPAIR_RULE_PREF = 50;

interface HostSpec {
  name: string;
  role: HostRole;
  side: Side;
  hostId: number;
}

const HOSTS: readonly HostSpec[] = [
  { name: 'alice', role: 'namestack', side: 'client', hostId: 10 },
  { name: 'dave', role: 'kernel', side: 'client', hostId: 11 },
  { name: 'bob', role: 'kernel', side: 'server', hostId: 20 },
  { name: 'carol', role: 'namestack', side: 'server', hostId: 21 },
  { name: 'dns', role: 'dns', side: 'server', hostId: 53 },
];
const ROUTER_HOST_ID = 1;

export interface HostPathAddress {
  /** Path name, `p1`, `p2`, ... */
  path: string;
  ipv4: string;
  ipv6: string;
  prefixLength4: number;
  prefixLength6: number;
  /** The host's veth on this path (in the host's namespace). */
  dev: string;
  /** This path's router on the host's side. */
  gateway4: string;
  gateway6: string;
  /** Routing table used for packets from this address (thesis 3.5: one table per uplink). */
  table: number;
  /** Per-path DNS name, e.g. `alice-p1.lab.test`. */
  name: string;
}

export interface LabHost {
  name: string;
  namespace: string;
  role: HostRole;
  side: Side;
  /** DNS name carrying every address of the host, e.g. `alice.lab.test`. */
  fqdn: string;
  addresses: HostPathAddress[];
}

export interface LabPath {
  name: string;
  index: number;
  /** Namespace of this path's router. */
  router: string;
  subnet4: Record<Side, string>;
  subnet6: Record<Side, string>;
  gateway4: Record<Side, string>;
  gateway6: Record<Side, string>;
}

export interface Nameserver {
  path: string;
  ipv4: string;
  ipv6: string;
}

export interface LabTopology {
  prefix: string;
  zone: string;
  paths: LabPath[];
  hosts: LabHost[];
  nameservers: Nameserver[];
}

/** Prefixes become namespace names and file names: keep them short and plain. */
export function checkPrefix(prefix: string): void {
  if (!/^[a-z][a-z0-9-]{0,23}$/.test(prefix)) {
    throw new Error(`lab prefix must match [a-z][a-z0-9-]{0,23}, got ${JSON.stringify(prefix)}`);
  }
}

function v4(path: number, side: Side, hostId: number): string {
  return `198.${side === 'client' ? 18 : 19}.${path}.${hostId}`;
}

function v6(path: number, side: Side, hostId: number): string {
  // The host id's decimal digits are written as the last group, so ::10 is alice like .10.
  return `fd00:${path}:${side === 'client' ? 1 : 2}::${hostId}`;
}

export function pathName(index: number): string {
  return `p${index}`;
}

/** The lab for a prefix and a number of paths. */
export function buildTopology(prefix: string, pathCount = DEFAULT_PATHS): LabTopology {
  checkPrefix(prefix);
  if (!Number.isInteger(pathCount) || pathCount < 1 || pathCount > MAX_PATHS) {
    throw new Error(`lab paths must be an integer in 1..${MAX_PATHS}, got ${pathCount}`);
  }
  const paths: LabPath[] = [];
  for (let i = 1; i <= pathCount; i++) {
    paths.push({
      name: pathName(i),
      index: i,
      router: `${prefix}-r${i}`,
      subnet4: { client: `${v4(i, 'client', 0)}/24`, server: `${v4(i, 'server', 0)}/24` },
      subnet6: { client: `fd00:${i}:1::/64`, server: `fd00:${i}:2::/64` },
      gateway4: { client: v4(i, 'client', ROUTER_HOST_ID), server: v4(i, 'server', ROUTER_HOST_ID) },
      gateway6: { client: v6(i, 'client', ROUTER_HOST_ID), server: v6(i, 'server', ROUTER_HOST_ID) },
    });
  }
  const hosts: LabHost[] = HOSTS.map((h) => ({
    name: h.name,
    namespace: `${prefix}-${h.name}`,
    role: h.role,
    side: h.side,
    fqdn: `${h.name}.${LAB_ZONE}`,
    addresses: paths.map((p) => ({
      path: p.name,
      ipv4: v4(p.index, h.side, h.hostId),
      ipv6: v6(p.index, h.side, h.hostId),
      prefixLength4: 24,
      prefixLength6: 64,
      dev: p.name,
      gateway4: p.gateway4[h.side],
      gateway6: p.gateway6[h.side],
      table: 100 + p.index,
      name: `${h.name}-${p.name}.${LAB_ZONE}`,
    })),
  }));
  const dns = hosts.find((h) => h.role === 'dns')!;
  return {
    prefix,
    zone: LAB_ZONE,
    paths,
    hosts,
    nameservers: dns.addresses.map((a) => ({ path: a.path, ipv4: a.ipv4, ipv6: a.ipv6 })),
  };
}

export function otherSide(side: Side): Side {
  return side === 'client' ? 'server' : 'client';
}

/** Every namespace a lab with this prefix may own, whatever its path count (for cleaning up crashed runs). */
export function possibleNamespaces(prefix: string): string[] {
  const names = HOSTS.map((h) => `${prefix}-${h.name}`);
  for (let i = 1; i <= MAX_PATHS; i++) names.push(`${prefix}-r${i}`);
  return names;
}

export function findHost(topo: LabTopology, name: string): LabHost {
  const host = topo.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`no host ${JSON.stringify(name)} in the lab (hosts: ${topo.hosts.map((h) => h.name).join(', ')})`);
  return host;
}

export function findPath(topo: LabTopology, name: string): LabPath {
  const path = topo.paths.find((p) => p.name === name);
  if (!path) throw new Error(`no path ${JSON.stringify(name)} in the lab (paths: ${topo.paths.map((p) => p.name).join(', ')})`);
  return path;
}

export function hostAddress(host: LabHost, path: string): HostPathAddress {
  const a = host.addresses.find((x) => x.path === path);
  if (!a) throw new Error(`host ${host.name} has no address on path ${path}`);
  return a;
}
