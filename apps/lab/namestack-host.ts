// How a namestack host (alice, carol) joins the lab. Its per-path addresses belong to the
// user-space stack, which owns one TUN device per path inside the host's namespace. The
// host's kernel owns no address: it forwards between each TUN and the path's veth (host
// routes /32 and /128 into the TUN; the stack's packets leave by the per-path table their
// source address selects) and answers ARP/NDP for the stack's addresses on the veth (proxy
// entries made at `lab up`, see network.ts). So the daemon, started in the host's namespace,
// only has to create its TUNs; attachNamestackLink plugs each one into its path.

import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findHost, hostAddress, otherSide, type LabHost, type LabTopology } from './topology.js';
import { inNamespace, ipBatch, isAlive, sleep, spawnDetached } from './run.js';
import { controlSocket, daemonConfigFile, stateDir } from './state.js';

/** Name of the TUN the lab expects the daemon to create for a path: `nsp1`, `nsp2`, ... */
export function namestackTunName(path: string): string {
  return `ns${path}`;
}

/** Plugs a namestack host's TUN (already created in the host's namespace) into one path. */
export async function attachTun(topo: LabTopology, hostName: string, path: string, tunName: string): Promise<void> {
  const host = findHost(topo, hostName);
  if (host.role !== 'namestack') throw new Error(`${hostName} is not a namestack host`);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tunName)) throw new Error(`bad TUN name ${JSON.stringify(tunName)}`);
  const a = hostAddress(host, path);
  await ipBatch(host.namespace, [
    `link set ${tunName} up`,
    `route replace ${a.ipv4}/32 dev ${tunName}`,
    `-6 route replace ${a.ipv6}/128 dev ${tunName}`,
  ]);
}

/** What the daemon is told about its place in the lab (the file behind `--config`). */
export interface NamestackHostConfig {
  lab: string;
  name: string;
  zone: string;
  controlSocket: string;
  nameservers: LabTopology['nameservers'];
  links: {
    path: string;
    tun: string;
    ipv4: string;
    ipv6: string;
    prefixLength4: number;
    prefixLength6: number;
    gateway4: string;
    gateway6: string;
    /** The path's far-side subnets, reached through this link's gateways (like a kernel host's main table). */
    farSubnets: string[];
  }[];
}

function farSubnets(topo: LabTopology, pathName: string, side: LabHost['side']): string[] {
  const path = topo.paths.find((p) => p.name === pathName);
  if (!path) throw new Error(`the lab has no path ${pathName}`);
  const far = otherSide(side);
  return [path.subnet4[far], path.subnet6[far]];
}

export function namestackHostConfig(topo: LabTopology, host: LabHost): NamestackHostConfig {
  return {
    lab: topo.prefix,
    name: host.fqdn,
    zone: topo.zone,
    controlSocket: controlSocket(topo.prefix, host.name),
    nameservers: topo.nameservers,
    links: host.addresses.map((a) => ({
      path: a.path,
      tun: namestackTunName(a.path),
      ipv4: a.ipv4,
      ipv6: a.ipv6,
      prefixLength4: a.prefixLength4,
      prefixLength6: a.prefixLength6,
      gateway4: a.gateway4,
      gateway6: a.gateway6,
      farSubnets: farSubnets(topo, a.path, host.side),
    })),
  };
}

/** Writes the daemon configuration of every namestack host (done at `up`, daemon or not). */
export function writeNamestackConfigs(topo: LabTopology): void {
  for (const h of topo.hosts.filter((x) => x.role === 'namestack')) {
    writeFileSync(daemonConfigFile(topo.prefix, h.name), JSON.stringify(namestackHostConfig(topo, h), null, 2) + '\n');
  }
}

/**
 * THE DAEMON HOOK. Starts `<command> --config <file> --control <socket>` (normally
 * `namestack host`) in the host's namespace, waits for its control socket and for the TUN of
 * every path (named in the config), and attaches them. Returns the daemon's pid.
 */
export async function startNamestackDaemon(topo: LabTopology, hostName: string, command: readonly string[]): Promise<number> {
  const host = findHost(topo, hostName);
  const config = namestackHostConfig(topo, host);
  const log = join(stateDir(topo.prefix), `${host.name}.log`);
  const fd = openSync(log, 'a');
  let pid: number;
  try {
    const argv = [...command, '--config', daemonConfigFile(topo.prefix, host.name), '--control', config.controlSocket];
    pid = spawnDetached(inNamespace(host.namespace, argv), fd);
  } finally {
    closeSync(fd);
  }
  const deadline = Date.now() + 15_000;
  while (!existsSync(config.controlSocket)) {
    if (!isAlive(pid)) throw new Error(`namestack daemon for ${host.name} exited; see ${log}`);
    if (Date.now() > deadline) throw new Error(`namestack daemon for ${host.name} made no control socket in 15 s; see ${log}`);
    await sleep(50);
  }
  for (const link of config.links) await attachTun(topo, host.name, link.path, link.tun);
  return pid;
}
