// Building and removing the lab's namespaces, links, addresses and routes (no processes:
// dnsmasq, relays and daemons are started by their own modules).
//
// Per path N, router rN has two bridges, `bc` (client side) and `bs` (server side); every
// host has one veth `pN` plugged into the bridge of its side of rN. Kernel hosts own their
// per-path addresses; namestack hosts do not (their user-space stack does, behind a TUN),
// see attachNamestackLink.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROUTER_BRIDGE,
  hostAddress,
  otherSide,
  possibleNamespaces,
  type LabHost,
  type LabPath,
  type LabTopology,
  type Side,
} from './topology.js';
import { ipBatch, listNamespaces, run, sysctls } from './run.js';
import { removeIfEmpty } from './state.js';

/** `ip netns exec` bind-mounts files from here over /etc, so lab hosts resolve with the lab's DNS. */
const NETNS_ETC = '/etc/netns';

/**
 * Everything a host needs on one path, all idempotent (`replace`): run at `up` and again
 * when `lab link ... up` brings the veth back, because a link going down flushes the routes
 * through it and the proxy ARP/NDP entries on it.
 */
export function hostPathLines(host: LabHost, path: LabPath): string[] {
  const a = hostAddress(host, path.name);
  const far = otherSide(host.side);
  const lines = [`link set ${a.dev} up`];
  if (host.role === 'namestack') {
    // The addresses belong to the user-space stack: this kernel only forwards between the
    // TUN and the veth, answering ARP/NDP for them on the veth (proxy entries).
    lines.push(`route replace ${path.subnet4[host.side]} dev ${a.dev}`);
    lines.push(`-6 route replace ${path.subnet6[host.side]} dev ${a.dev}`);
    lines.push(`neigh replace proxy ${a.ipv4} dev ${a.dev}`);
    lines.push(`-6 neigh replace proxy ${a.ipv6} dev ${a.dev}`);
  } else {
    lines.push(`addr replace ${a.ipv4}/${a.prefixLength4} dev ${a.dev}`);
    lines.push(`-6 addr replace ${a.ipv6}/${a.prefixLength6} dev ${a.dev} nodad`);
  }
  // Main table: the far side of each path is reached through that path's router, so an
  // unbound socket picks the path by destination (and the matching source address).
  lines.push(`route replace ${path.subnet4[far]} via ${a.gateway4} dev ${a.dev}`);
  lines.push(`-6 route replace ${path.subnet6[far]} via ${a.gateway6} dev ${a.dev}`);
  // The uplink's own table (thesis 3.5): its subnet on-link, everything else via its router.
  const src4 = host.role === 'namestack' ? '' : ` src ${a.ipv4}`;
  const src6 = host.role === 'namestack' ? '' : ` src ${a.ipv6}`;
  lines.push(`route replace ${path.subnet4[host.side]} dev ${a.dev}${src4} table ${a.table}`);
  lines.push(`route replace default via ${a.gateway4} dev ${a.dev} table ${a.table}`);
  lines.push(`-6 route replace ${path.subnet6[host.side]} dev ${a.dev}${src6} table ${a.table}`);
  lines.push(`-6 route replace default via ${a.gateway6} dev ${a.dev} table ${a.table}`);
  return lines;
}

/** Thesis 3.5: the source address picks the uplink's table. Rules survive link changes. */
function hostRuleLines(host: LabHost, path: LabPath): string[] {
  const a = hostAddress(host, path.name);
  return [`rule add from ${a.ipv4} lookup ${a.table} pref ${a.table}`, `-6 rule add from ${a.ipv6} lookup ${a.table} pref ${a.table}`];
}

function hostLines(host: LabHost, topo: LabTopology): string[] {
  return [
    'link set lo up',
    ...topo.paths.flatMap((p) => hostPathLines(host, p)),
    ...topo.paths.flatMap((p) => hostRuleLines(host, p)),
  ];
}

function routerLines(path: LabPath): string[] {
  const lines = ['link set lo up'];
  for (const side of ['client', 'server'] as Side[]) {
    const br = ROUTER_BRIDGE[side];
    // Snooping off: the bridge floods multicast, so NDP for proxied addresses always arrives.
    lines.push(`link add ${br} type bridge mcast_snooping 0`);
    lines.push(`link set ${br} up`);
    lines.push(`addr add ${path.gateway4[side]}/24 dev ${br}`);
    lines.push(`addr add ${path.gateway6[side]}/64 dev ${br} nodad`);
  }
  return lines;
}

/** Sysctls every lab namespace gets before its devices exist (so `default` applies to them). */
const COMMON_SYSCTLS = {
  'net.ipv4.conf.all.rp_filter': 0,
  'net.ipv4.conf.default.rp_filter': 0,
  'net.ipv6.conf.all.accept_dad': 0,
  'net.ipv6.conf.default.accept_dad': 0,
  'net.ipv6.conf.all.accept_ra': 0,
  'net.ipv6.conf.default.accept_ra': 0,
  'net.mptcp.enabled': 1,
} as const;

const FORWARDING_SYSCTLS = {
  'net.ipv4.ip_forward': 1,
  'net.ipv6.conf.all.forwarding': 1,
  'net.ipv4.conf.all.send_redirects': 0,
  'net.ipv4.conf.default.send_redirects': 0,
} as const;

/**
 * A namestack host's kernel proxies ARP/NDP for the stack's addresses: answer at once, not
 * after a random wait of up to 0.8 s. Per device: `neigh.default` exists only in the root namespace.
 */
function proxySysctls(host: LabHost): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of host.addresses) {
    out[`net.ipv4.neigh.${a.dev}.proxy_delay`] = 0;
    out[`net.ipv6.neigh.${a.dev}.proxy_delay`] = 0;
    // IPv4 proxies through the `neigh proxy` entries alone; IPv6 also needs this switch.
    out[`net.ipv6.conf.${a.dev}.proxy_ndp`] = 1;
  }
  return out;
}

/** MPTCP for the kernel hosts: every address is an endpoint, so kernel<->kernel uses every path. */
function mptcpLines(host: LabHost): string[] {
  const lines = ['mptcp limits set subflows 8 add_addr_accepted 8'];
  let id = 1;
  for (const a of host.addresses) {
    for (const addr of [a.ipv4, a.ipv6]) lines.push(`mptcp endpoint add ${addr} dev ${a.dev} id ${id++} signal`);
  }
  return lines;
}

function resolvConf(topo: LabTopology): string {
  const servers = topo.nameservers.flatMap((n) => [n.ipv4, n.ipv6]);
  // glibc reads at most three nameservers; the first of each family on different paths is enough.
  return `# written by namestack lab (${topo.prefix})\nsearch ${topo.zone}\n${servers
    .slice(0, 3)
    .map((s) => `nameserver ${s}`)
    .join('\n')}\noptions timeout:1 attempts:2\n`;
}

export async function buildNetwork(topo: LabTopology): Promise<void> {
  const namespaces = [...topo.hosts.map((h) => h.namespace), ...topo.paths.map((p) => p.router)];
  await ipBatch(undefined, namespaces.map((ns) => `netns add ${ns}`));
  await Promise.all(
    topo.hosts.map((h) =>
      sysctls(h.namespace, {
        ...COMMON_SYSCTLS,
        ...(h.role === 'namestack' ? FORWARDING_SYSCTLS : {}),
      }),
    ),
  );
  await Promise.all(topo.paths.map((p) => sysctls(p.router, { ...COMMON_SYSCTLS, ...FORWARDING_SYSCTLS })));
  await Promise.all(
    topo.paths.map((path) => {
      // Each veth is created in the router with its peer placed straight into the host's
      // namespace: device names are namespace-local and never exist in the root namespace.
      const links = topo.hosts.flatMap((h) => [
        `link add ${h.name} type veth peer name ${hostAddress(h, path.name).dev} netns ${h.namespace}`,
        `link set ${h.name} master ${ROUTER_BRIDGE[h.side]} up`,
      ]);
      return ipBatch(path.router, [...routerLines(path), ...links]);
    }),
  );
  const namestackHosts = topo.hosts.filter((h) => h.role === 'namestack');
  await Promise.all(namestackHosts.map((h) => sysctls(h.namespace, proxySysctls(h))));
  await Promise.all(topo.hosts.map((h) => ipBatch(h.namespace, hostLines(h, topo))));
  await Promise.all(topo.hosts.filter((h) => h.role === 'kernel').map((h) => ipBatch(h.namespace, mptcpLines(h))));
  const conf = resolvConf(topo);
  for (const h of topo.hosts) {
    mkdirSync(join(NETNS_ETC, h.namespace), { recursive: true });
    writeFileSync(join(NETNS_ETC, h.namespace, 'resolv.conf'), conf);
  }
}

/** Deletes every namespace this prefix may own (processes inside must be stopped first). */
export async function destroyNetwork(prefix: string): Promise<void> {
  const existing = await listNamespaces();
  const mine = possibleNamespaces(prefix).filter((ns) => existing.has(ns));
  await ipBatch(undefined, mine.map((ns) => `netns del ${ns}`));
  for (const ns of possibleNamespaces(prefix)) rmSync(join(NETNS_ETC, ns), { recursive: true, force: true });
  removeIfEmpty(NETNS_ETC);
}

/** Which lab namespaces exist now. */
export async function existingNamespaces(prefix: string): Promise<string[]> {
  const existing = await listNamespaces();
  return possibleNamespaces(prefix).filter((ns) => existing.has(ns));
}

export async function linkIsUp(namespace: string, dev: string): Promise<boolean> {
  const { stdout, code } = await run(['ip', '-n', namespace, '-j', 'link', 'show', 'dev', dev], { allowFail: true });
  if (code !== 0) return false;
  const info = JSON.parse(stdout) as { flags?: string[] }[];
  return info[0]?.flags?.includes('UP') ?? false;
}
