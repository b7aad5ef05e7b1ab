// The embedded network lab as a library: `namestack lab ...`, the tests, the demo and the
// benchmarks all drive it through these functions. docs/lab.md draws the topology.
//
// Everything a lab owns carries its prefix (namespaces `<prefix>-alice`, `<prefix>-r1`, ...;
// state in /run/namestack/<prefix>/), so labs with different prefixes coexist, and every
// process it starts lives inside one of its namespaces, which is how `down` finds them all,
// even after a crash.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import {
  DEFAULT_PATHS,
  DEFAULT_PREFIX,
  buildTopology,
  checkPrefix,
  findHost,
  findPath,
  type HostPathAddress,
  type HostRole,
  type LabTopology,
  type Nameserver,
  type Side,
} from './topology.js';
import { buildNetwork, destroyNetwork, existingNamespaces, hostPathLines, linkIsUp } from './network.js';
import { startDns, dnsFiles } from './dns.js';
import { applyImpairment, needsRelay, relayStats } from './impair.js';
import { attachTun, startNamestackDaemon, writeNamestackConfigs } from './namestack-host.js';
import type { RelayReply } from './relay-control.js';
import { inNamespace, ipBatch, isAlive, namespacePids, run, stopProcesses, type RunResult } from './run.js';
import {
  NO_IMPAIRMENT,
  controlSocket,
  daemonConfigFile,
  readState,
  relaySocket,
  removeStateDir,
  stateDir,
  writeState,
  type LabState,
  type PathImpairment,
} from './state.js';

export { DEFAULT_PREFIX, NO_IMPAIRMENT, type PathImpairment };

export interface LabUpOptions {
  /** Names the lab's namespaces and state directory. Default 'ns'. */
  prefix?: string;
  /** Number of dual-stack paths (1..8). Default 2. */
  paths?: number;
  /**
   * Command that runs the namestack daemon (`--config <file> --control <socket>` are
   * appended), started in alice's and carol's namespaces. Default: none started.
   */
  daemon?: readonly string[];
}

export interface HostStatus {
  name: string;
  namespace: string;
  role: HostRole;
  side: Side;
  fqdn: string;
  addresses: (HostPathAddress & { linkUp: boolean })[];
  /** namestack hosts: the daemon's control socket, configuration file and process. */
  controlSocket?: string;
  configFile?: string;
  daemon?: { pid: number; running: boolean };
}

export interface PathStatus {
  name: string;
  router: string;
  subnet4: Record<Side, string>;
  subnet6: Record<Side, string>;
  impairment: PathImpairment;
  /** Whether the path currently goes through the relay. */
  diverted: boolean;
  relay?: { pid: number; running: boolean; socket: string; stats?: RelayReply['stats'] };
}

export interface LabStatusUp {
  up: true;
  prefix: string;
  zone: string;
  stateDir: string;
  nameservers: Nameserver[];
  dns: { namespace: string; pid: number; running: boolean; log: string; hostsFile: string };
  hosts: Record<string, HostStatus>;
  paths: Record<string, PathStatus>;
  /** What is wrong with the running lab (empty when healthy). */
  problems: string[];
}

export interface LabStatusDown {
  up: false;
  prefix: string;
  /** Namespaces of this prefix still present (left over by a crash; `up` or `down` removes them). */
  leftovers: string[];
}

export type LabStatus = LabStatusUp | LabStatusDown;

function requireState(prefix: string): { state: LabState; topo: LabTopology } {
  checkPrefix(prefix);
  const state = readState(prefix);
  if (!state) throw new Error(`lab '${prefix}' is not up (namestack lab up --prefix ${prefix})`);
  return { state, topo: buildTopology(prefix, state.pathCount) };
}

/** Stops every process inside the lab's namespaces, deletes them and the state directory. */
async function teardown(prefix: string): Promise<void> {
  const namespaces = await existingNamespaces(prefix);
  // Only processes found inside our namespaces: a pid remembered from a crashed run may
  // belong to someone else by now.
  const pids = (await Promise.all(namespaces.map(namespacePids))).flat();
  await stopProcesses([...new Set(pids)]);
  await destroyNetwork(prefix);
  removeStateDir(prefix);
}

/**
 * Builds the lab (or returns the status of the healthy lab already there). Leftovers of a
 * crashed run with the same prefix are removed first.
 */
export async function labUp(opts: LabUpOptions = {}): Promise<LabStatusUp> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const pathCount = opts.paths ?? DEFAULT_PATHS;
  const topo = buildTopology(prefix, pathCount);
  const previous = readState(prefix);
  if (previous && previous.pathCount === pathCount) {
    const status = await labStatus(prefix);
    if (status.up && status.problems.length === 0) {
      if (opts.daemon && Object.keys(previous.daemonPids).length === 0) {
        await startDaemons(topo, previous, opts.daemon);
        return (await labStatus(prefix)) as LabStatusUp;
      }
      return status;
    }
  }
  await teardown(prefix);
  try {
    mkdirSync(stateDir(prefix), { recursive: true });
    await buildNetwork(topo);
    const state: LabState = {
      version: 1,
      prefix,
      pathCount,
      dnsmasqPid: await startDns(topo),
      relayPids: {},
      impairments: Object.fromEntries(topo.paths.map((p) => [p.name, { ...NO_IMPAIRMENT }])),
      daemonPids: {},
    };
    writeNamestackConfigs(topo);
    writeState(state);
    if (opts.daemon) await startDaemons(topo, state, opts.daemon);
  } catch (err) {
    await teardown(prefix);
    throw err;
  }
  return (await labStatus(prefix)) as LabStatusUp;
}

async function startDaemons(topo: LabTopology, state: LabState, command: readonly string[]): Promise<void> {
  for (const h of topo.hosts.filter((x) => x.role === 'namestack')) {
    state.daemonPids[h.name] = await startNamestackDaemon(topo, h.name, command);
    writeState(state);
  }
}

/** Removes everything the lab with this prefix made; does nothing when there is nothing. */
export async function labDown(prefix: string = DEFAULT_PREFIX): Promise<void> {
  checkPrefix(prefix);
  await teardown(prefix);
}

export async function labStatus(prefix: string = DEFAULT_PREFIX): Promise<LabStatus> {
  checkPrefix(prefix);
  const state = readState(prefix);
  const present = await existingNamespaces(prefix);
  if (!state) return { up: false, prefix, leftovers: present };
  const topo = buildTopology(prefix, state.pathCount);
  const problems: string[] = [];
  const expected = [...topo.hosts.map((h) => h.namespace), ...topo.paths.map((p) => p.router)];
  for (const ns of expected) if (!present.includes(ns)) problems.push(`namespace ${ns} is missing`);
  const dnsHost = topo.hosts.find((h) => h.role === 'dns')!;
  const files = dnsFiles(prefix);
  const dns = { namespace: dnsHost.namespace, pid: state.dnsmasqPid, running: isAlive(state.dnsmasqPid), log: files.log, hostsFile: files.hosts };
  if (!dns.running) problems.push(`dnsmasq (pid ${dns.pid}) is not running`);

  const hosts: Record<string, HostStatus> = {};
  for (const h of topo.hosts) {
    const exists = present.includes(h.namespace);
    const addresses = await Promise.all(
      h.addresses.map(async (a) => ({ ...a, linkUp: exists && (await linkIsUp(h.namespace, a.dev)) })),
    );
    const s: HostStatus = { name: h.name, namespace: h.namespace, role: h.role, side: h.side, fqdn: h.fqdn, addresses };
    if (h.role === 'namestack') {
      s.controlSocket = controlSocket(prefix, h.name);
      s.configFile = daemonConfigFile(prefix, h.name);
      const pid = state.daemonPids[h.name];
      if (pid) {
        s.daemon = { pid, running: isAlive(pid) };
        if (!s.daemon.running) problems.push(`namestack daemon of ${h.name} (pid ${pid}) is not running`);
      }
    }
    hosts[h.name] = s;
  }

  const paths: Record<string, PathStatus> = {};
  for (const p of topo.paths) {
    const impairment = state.impairments[p.name] ?? { ...NO_IMPAIRMENT };
    const s: PathStatus = {
      name: p.name,
      router: p.router,
      subnet4: p.subnet4,
      subnet6: p.subnet6,
      impairment,
      diverted: needsRelay(impairment),
    };
    const pid = state.relayPids[p.name];
    if (pid) {
      const reply = await relayStats(prefix, p.name, pid);
      s.relay = { pid, running: isAlive(pid), socket: relaySocket(prefix, p.name), ...(reply?.stats ? { stats: reply.stats } : {}) };
      if (s.diverted && !reply) problems.push(`relay of ${p.name} (pid ${pid}) does not answer: the path is not impaired`);
    }
    paths[p.name] = s;
  }
  return {
    up: true,
    prefix,
    zone: topo.zone,
    stateDir: stateDir(prefix),
    nameservers: topo.nameservers,
    dns,
    hosts,
    paths,
    problems,
  };
}

/** Namespace of a lab node: a host name (alice, dave, bob, carol, dns) or a router (r1, r2, ...). */
function nodeNamespace(topo: LabTopology, node: string): string {
  const router = topo.paths.find((p) => `r${p.index}` === node);
  return router ? router.router : findHost(topo, node).namespace;
}

export interface LabExecOptions {
  input?: string;
  timeoutMs?: number;
}

/** Runs a command to completion inside a lab node's namespace; never throws for a non-zero exit. */
export async function labExec(prefix: string, node: string, command: readonly string[], opts: LabExecOptions = {}): Promise<RunResult> {
  const { topo } = requireState(prefix);
  return run(inNamespace(nodeNamespace(topo, node), command), { ...opts, allowFail: true });
}

/** Starts a command inside a lab node's namespace and hands back the child (servers, long transfers). */
export function labSpawn(prefix: string, node: string, command: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const { topo } = requireState(prefix);
  const argv = inNamespace(nodeNamespace(topo, node), command);
  return spawn(argv[0]!, argv.slice(1), opts);
}

/**
 * Sets a path's impairment, replacing the previous one (fields left out are 0); `null`
 * clears it (plain kernel forwarding again). Takes effect without restarting the relay.
 */
export async function impairPath(prefix: string, path: string, impairment: Partial<PathImpairment> | null): Promise<PathImpairment> {
  const { state, topo } = requireState(prefix);
  const imp: PathImpairment = { ...NO_IMPAIRMENT, ...(impairment ?? {}) };
  await applyImpairment(state, findPath(topo, path), imp);
  writeState(state);
  return imp;
}

/** Takes a host's link on a path down or up (its veth; for a namestack host the veth behind its TUN). */
export async function setLink(prefix: string, host: string, path: string, up: boolean): Promise<void> {
  const { topo } = requireState(prefix);
  const h = findHost(topo, host);
  const p = findPath(topo, path);
  const dev = h.addresses.find((a) => a.path === p.name)!.dev;
  // Going down flushes the routes and proxy entries through the veth: coming back re-adds them.
  await ipBatch(h.namespace, up ? hostPathLines(h, p) : [`link set ${dev} down`]);
}

/** Plugs a namestack host's TUN (created in the host's namespace) into a path; see namestack-host.ts. */
export async function attachNamestackLink(prefix: string, host: string, path: string, tunName: string): Promise<void> {
  const { topo } = requireState(prefix);
  findPath(topo, path);
  await attachTun(topo, host, path, tunName);
}
