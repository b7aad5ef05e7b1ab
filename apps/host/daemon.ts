// The host daemon as a library: opens the configured TUN devices (with capture and
// impairment wrappers when asked), builds one sans-I/O Host over them with one routing table
// per uplink (thesis 3.5: each link's default routes only serve its own addresses), drives it
// with a HostRuntime, and serves the control socket. `namestack host` (command.ts) is a thin
// shell around startHostDaemon(); tests call it in-process.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../stack/ip/host.js';
import type { Route } from '../../stack/ip/routes.js';
import { formatAddress } from '../../stack/wire/address.js';
import { CaptureLink } from '../../tun/capture-link.js';
import { openTun, type TunDevice, type TunOffloads } from '../../tun/device.js';
import { ImpairedLink } from '../../tun/impaired-link.js';
import { runIp } from '../../tun/ip-command.js';
import type { Link } from '../../tun/link.js';
import { HostRuntime } from '../../tun/runtime.js';
import { formatCidr, type Cidr, type DaemonConfig, type LinkConfig } from './config.js';
import { ControlServer } from './control-server.js';
import type { Logger } from './log.js';
import { NO_TRANSPORT, type StreamTransport } from './transport.js';

export interface DaemonLink {
  config: LinkConfig;
  ifIndex: number;
  tun: TunDevice;
  capture: CaptureLink;
  impaired?: ImpairedLink;
}

export interface HostDaemon {
  readonly host: Host;
  readonly runtime: HostRuntime;
  readonly control: ControlServer;
  readonly links: readonly DaemonLink[];
  /** Graceful stop: connections closed (FIN, then reset after the grace time), control socket removed, TUNs deleted. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log: Logger;
  /** The stream transport over the host (the stack's TCP); default: none (connect/listen answer ENOTSUP). */
  transport?: (host: Host, runtime: HostRuntime, config: DaemonConfig) => StreamTransport;
}

/** The namestack package version (package.json next to apps/ in the source tree, or above build/). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'namestack' && pkg.version) return pkg.version;
    } catch {
      // Not ours; keep looking upward.
    }
  }
  return 'unknown';
}

/** `ip [-n netns] route replace <prefix> dev <tun>`: the kernel sends traffic for the prefix into the TUN. */
function kernelRoute(tun: TunDevice, c: Cidr): void {
  runIp([...(c.family === 6 ? ['-6'] : []), 'route', 'replace', formatCidr(c), 'dev', tun.name], tun.netns);
}

/**
 * What the stack may leave to the device, from what the TUN negotiated (all false without
 * the virtio header): partial checksums with CSUM, TCP super-packets only when TSO4 and TSO6
 * were both accepted, since the stack's GSO switch covers both families at once (a device
 * that took only one still gets software-cut segments for both), and gathered packets
 * (headers plus payload views, one writev) wherever the checksum is left to the kernel.
 */
export function stackOffloads(tun: Readonly<TunOffloads>): { checksum: boolean; gso: boolean; gather: boolean } {
  return { checksum: tun.csum, gso: tun.csum && tun.tso4 && tun.tso6, gather: tun.csum };
}

function openLink(config: LinkConfig, host: Host, index: number): DaemonLink {
  const tun = openTun({
    name: config.tun,
    mtu: config.mtu,
    ...(config.netns !== undefined && { netns: config.netns }),
    ...(config.busyPollUs !== undefined && { busyPollUs: config.busyPollUs }),
    // The impaired link cuts TCP super-packets into wire segments but not UDP ones (USO).
    ...(config.offloads === false ? { vnetHeader: false } : { offloads: config.impair ? { ...config.offloads, uso: false } : config.offloads }),
  });
  try {
    for (const a of config.kernelAddresses) tun.addAddress(formatCidr(a));
    for (const r of config.kernelRoutes) kernelRoute(tun, r);
    // Wire-side capture (what tcpdump on the TUN would show), impairment between it and the stack.
    const capture = new CaptureLink(tun);
    if (config.pcap) capture.start(config.pcap);
    const impaired = config.impair ? new ImpairedLink(capture, config.impair) : undefined;
    const ifIndex = host.addInterface({ name: tun.name, mtu: tun.mtu, offloads: stackOffloads(tun.offloads) });
    for (const a of config.addresses) host.addAddress(ifIndex, a.address, a.prefixLength);
    for (const g of config.gateways) {
      const v6 = g.includes(':');
      // One table per uplink: bound to this link's addresses. The metric orders the links for
      // a lookup without a source (the first link is the default uplink).
      host.addRoute({ destination: v6 ? '::' : '0.0.0.0', prefixLength: 0, ifIndex, gateway: g, sourceInterface: true, metric: (v6 ? 1024 : 0) + index });
    }
    for (const r of config.routes) {
      host.addRoute({
        destination: r.destination.address,
        prefixLength: r.destination.prefixLength,
        ifIndex,
        ...(r.gateway !== undefined && { gateway: r.gateway }),
        ...(r.bound && { sourceInterface: true }),
        ...(r.metric !== undefined && { metric: r.metric }),
      });
    }
    return { config, ifIndex, tun, capture, ...(impaired && { impaired }) };
  } catch (err) {
    void tun.close();
    throw err;
  }
}

export async function startHostDaemon(config: DaemonConfig, opts: StartOptions): Promise<HostDaemon> {
  const { log } = opts;
  const host = new Host({ config: config.stack, ...(config.name !== undefined && { name: config.name }) });
  const links: DaemonLink[] = [];
  const runtime = new HostRuntime(host);
  try {
    for (const [i, lc] of config.links.entries()) {
      const link = openLink(lc, host, i);
      links.push(link);
      link.tun.onError = (err) => log.error('link failed', { link: link.tun.name, error: err.message });
      const outer: Link = link.impaired ?? link.capture;
      runtime.attach(link.ifIndex, outer);
      log.info('link up', {
        link: link.tun.name,
        netns: link.tun.netns,
        mtu: link.tun.mtu,
        addresses: lc.addresses.map(formatCidr).join(' '),
        offloads: Object.entries(link.tun.offloads).filter(([, on]) => on).map(([k]) => k).join('+') || 'none',
      });
    }
  } catch (err) {
    await Promise.all(links.map((l) => l.capture.close()));
    throw err;
  }
  const transport = opts.transport?.(host, runtime, config) ?? NO_TRANSPORT;
  const control = new ControlServer({
    path: config.control,
    transport,
    limits: config.limits,
    log,
    resolveHost: (name) => config.hosts[name],
    stats: () => hostStats(host, runtime, links),
    info: { version: packageVersion(), ...(config.name !== undefined && { name: config.name }) },
  });
  try {
    await control.start();
  } catch (err) {
    await runtime.stop();
    throw err;
  }
  log.info('serving', { control: config.control, links: links.length });
  let stopping: Promise<void> | undefined;
  return {
    host,
    runtime,
    control,
    links,
    stop: () =>
      (stopping ??= (async () => {
        await control.stop(config.shutdownGraceMs);
        await runtime.stop();
        log.info('stopped');
      })()),
  };
}

/** The host's part of a stats reply: counters, interfaces with their links, routes, runtime. */
function hostStats(host: Host, runtime: HostRuntime, links: readonly DaemonLink[]): Record<string, unknown> {
  const byIndex = new Map(links.map((l) => [l.ifIndex, l]));
  return {
    name: host.name,
    counters: host.counters.snapshot(),
    runtime: { ...runtime.stats },
    interfaces: [...host.interfaces.all()].map((i) => {
      const l = byIndex.get(i.index);
      return {
        index: i.index,
        name: i.name,
        mtu: i.mtu,
        up: i.up,
        addresses: i.addresses.map((a) => `${formatAddress(a.address)}/${a.prefixLength}`),
        ...(l && {
          netns: l.tun.netns ?? null,
          offloads: l.tun.offloads,
          tun: { ...l.tun.stats },
          capture: { on: l.capture.capturing, packets: l.capture.captured, ...(l.config.pcap && { file: l.config.pcap }) },
          ...(l.impaired && { impairment: { tx: { ...l.impaired.tx.stats }, rx: { ...l.impaired.rx.stats } } }),
        }),
      };
    }),
    routes: host.routes.all().map(routeJson),
  };
}

function routeJson(r: Route): Record<string, unknown> {
  return {
    destination: `${formatAddress(r.destination)}/${r.prefixLength}`,
    ifIndex: r.ifIndex,
    metric: r.metric,
    ...(r.gateway && { gateway: formatAddress(r.gateway) }),
    ...(r.source && { source: `${formatAddress(r.source.prefix)}/${r.source.prefixLength}` }),
    ...(r.sourceInterface && { source: 'interface' }),
    ...(r.connected && { connected: true }),
  };
}
