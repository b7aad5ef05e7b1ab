// The daemon's configuration: a JSON file (--config), flags, or both (flags add links and
// override the rest). Everything is checked here, before any device is opened, and every
// problem is a ConfigError with code EBADCONFIG naming the field, so a typo never becomes
// a half-configured TUN. The lab's per-host file (apps/lab/namestack-host.ts,
// NamestackHostConfig) is accepted as it is.

import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG, type PartialConfig, type StackConfig } from '../../stack/config.js';
import { familyOf, parseAddress, type IpFamily } from '../../stack/wire/address.js';
import type { TunOffloads } from '../../tun/device.js';
import type { ImpairmentParams } from '../../tun/impairment.js';
import type { ImpairedLinkParams } from '../../tun/impaired-link.js';
import { DEFAULT_CONTROL_PATH } from '../control/protocol.js';
import { parseDuration, parsePercent, parseRate } from '../lab/units.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export interface Cidr {
  address: string;
  prefixLength: number;
  family: IpFamily;
}

export interface RouteConfig {
  destination: Cidr;
  gateway?: string;
  /** Only for packets from this link's addresses (its own table, thesis 3.5). Default true. */
  bound: boolean;
  metric?: number;
}

export interface LinkConfig {
  /** TUN interface name (at most 15 characters, `%d` lets the kernel number it). */
  tun: string;
  mtu: number;
  /** `ip netns` name to move the TUN into (the stack keeps its descriptor). */
  netns?: string;
  /** Offloads to ask the kernel for; false = no virtio header at all. */
  offloads: Partial<TunOffloads> | false;
  /** The stack's addresses on this link. */
  addresses: Cidr[];
  /** Default routes of this link's own table (one per family), bound to its addresses. */
  gateways: string[];
  routes: RouteConfig[];
  /** Addresses the kernel gets on the TUN (so local processes reach the stack across it). */
  kernelAddresses: Cidr[];
  /** Prefixes the kernel routes into the TUN (the lab's /32 and /128 host routes). */
  kernelRoutes: Cidr[];
  /** Record the link's packets into this pcap file from the start. */
  pcap?: string;
  /** User-space impairment on this link (tun/impaired-link.ts), set at start. */
  impair?: ImpairedLinkParams;
  /** TunDevice.busyPollUs: after a write, read from the event loop this long (0 = off). */
  busyPollUs?: number;
}

export interface ControlLimits {
  /** Unix control connections open at once (streams, listeners, waits and requests in flight). */
  maxControlConnections: number;
  /** TCP streams (connected, accepted or waiting for accept) in total. */
  maxStreams: number;
  /** TCP streams owned by one client process (SO_PEERCRED pid). */
  maxStreamsPerClient: number;
  /** Listeners open at once. */
  maxListeners: number;
  /** Connections a listener holds for `accept` before it stops taking more (its default backlog). */
  defaultBacklog: number;
  /** A connection must send its request line within this, ms (slow clients cannot pin slots). */
  requestTimeoutMs: number;
  /** A connection announced to a listener and not accepted within this is reset, ms. */
  acceptTimeoutMs: number;
  /** Outcomes of finished streams remembered for `wait`. */
  outcomeMemory: number;
  /** How long a finished stream's outcome is remembered, ms. */
  outcomeTtlMs: number;
  /** A stream whose client closed its socket gets this long to finish before it is reset, ms (Linux tcp_fin_timeout = 60 s). */
  orphanTimeoutMs: number;
}

export const DEFAULT_LIMITS: ControlLimits = {
  maxControlConnections: 4096,
  maxStreams: 2048,
  maxStreamsPerClient: 512,
  maxListeners: 64,
  defaultBacklog: 128,
  requestTimeoutMs: 10_000,
  acceptTimeoutMs: 30_000,
  outcomeMemory: 1024,
  outcomeTtlMs: 60_000,
  orphanTimeoutMs: 60_000,
};

export interface DaemonConfig {
  /** The host's name (the lab's FQDN); reported by ping and stats. */
  name?: string;
  control: string;
  links: LinkConfig[];
  /** Static name -> addresses map used by connect until DNS lands (like /etc/hosts). */
  hosts: Record<string, string[]>;
  /** DNS servers of the stack's own resolver (the name layer: open by name, verification), in order. */
  nameservers: string[];
  stack: PartialConfig;
  limits: ControlLimits;
  logLevel: LogLevel;
  /** On SIGTERM/SIGINT, connections get this long to close with FIN before they are reset, ms. */
  shutdownGraceMs: number;
}

export class ConfigError extends Error {
  readonly code = 'EBADCONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function fail(message: string): never {
  throw new ConfigError(message);
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(o: Json, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${where}: unknown field "${k}" (known: ${allowed.join(', ')})`);
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(`${where} must be a non-empty string`);
  return v;
}

function int(v: unknown, where: string, min: number, max: number): number {
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) fail(`${where} must be an integer from ${min} to ${max}`);
  return v as number;
}

function array(v: unknown, where: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(`${where} must be an array`);
  return v;
}

function address(v: unknown, where: string): string {
  const s = str(v, where);
  if (!parseAddress(s)) fail(`${where}: ${JSON.stringify(s)} is not an IPv4 or IPv6 address`);
  return s;
}

/** '10.0.0.2/24'; a bare address is a host prefix (/32, /128) when `hostDefault`. */
export function parseCidr(text: string, where: string, hostDefault = false): Cidr {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const parsed = parseAddress(addr);
  if (!parsed) fail(`${where}: ${JSON.stringify(text)} is not an address with a prefix length (10.0.0.2/24, fd00::2/64)`);
  const family = familyOf(parsed);
  const bits = family === 4 ? 32 : 128;
  if (slash < 0) {
    if (!hostDefault) fail(`${where}: ${JSON.stringify(text)} needs a prefix length (/24, /64)`);
    return { address: addr, prefixLength: bits, family };
  }
  const len = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len) || Number(len) > bits) fail(`${where}: bad prefix length in ${JSON.stringify(text)}`);
  return { address: addr, prefixLength: Number(len), family };
}

export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefixLength}`;
}

function impairment(v: unknown, where: string): Partial<ImpairmentParams> {
  if (!isObject(v)) fail(`${where} must be an object`);
  const keys = Object.keys(DEFAULT_IMPAIRMENT_KEYS);
  checkKeys(v, keys, where);
  const out: Partial<ImpairmentParams> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'number' || !(x >= 0)) fail(`${where}.${k} must be a number >= 0`);
    if (k.endsWith('Rate') && k !== 'rateBitsPerSecond' && x > 1) fail(`${where}.${k} is a probability (0..1)`);
    out[k as keyof ImpairmentParams] = x;
  }
  return out;
}

const DEFAULT_IMPAIRMENT_KEYS: Record<keyof ImpairmentParams, true> = {
  delayMs: true,
  jitterMs: true,
  lossRate: true,
  reorderRate: true,
  duplicateRate: true,
  rateBitsPerSecond: true,
  queueLimitPackets: true,
  queueLimitBytes: true,
  ceMarkRate: true,
  ceMarkThresholdPackets: true,
};

const OFFLOAD_KEYS: readonly (keyof TunOffloads)[] = ['csum', 'tso4', 'tso6', 'uso'];

const LINK_KEYS = ['tun', 'mtu', 'netns', 'offloads', 'addresses', 'gateways', 'routes', 'kernelAddresses', 'kernelRoutes', 'pcap', 'impair', 'busyPollUs'];
/** A busy poll spins: at most 10 ms of it per write. */
const MAX_BUSY_POLL_US = 10_000;
// The lab's link shape (NamestackHostConfig.links).
const LAB_LINK_KEYS = ['path', 'tun', 'ipv4', 'ipv6', 'prefixLength4', 'prefixLength6', 'gateway4', 'gateway6', 'farSubnets'];

function parseLink(v: unknown, where: string): LinkConfig {
  if (!isObject(v)) fail(`${where} must be an object`);
  if ('ipv4' in v || 'path' in v) return labLink(v, where);
  checkKeys(v, LINK_KEYS, where);
  const link: LinkConfig = {
    tun: tunName(v.tun, `${where}.tun`),
    mtu: v.mtu === undefined ? 1500 : int(v.mtu, `${where}.mtu`, 68, 65535),
    offloads: parseOffloads(v.offloads, `${where}.offloads`),
    addresses: array(v.addresses, `${where}.addresses`).map((a, i) => parseCidr(str(a, `${where}.addresses[${i}]`), `${where}.addresses[${i}]`)),
    gateways: array(v.gateways, `${where}.gateways`).map((g, i) => address(g, `${where}.gateways[${i}]`)),
    routes: array(v.routes, `${where}.routes`).map((r, i) => parseRoute(r, `${where}.routes[${i}]`)),
    kernelAddresses: array(v.kernelAddresses, `${where}.kernelAddresses`).map((a, i) => parseCidr(str(a, `${where}.kernelAddresses[${i}]`), `${where}.kernelAddresses[${i}]`)),
    kernelRoutes: array(v.kernelRoutes, `${where}.kernelRoutes`).map((a, i) => parseCidr(str(a, `${where}.kernelRoutes[${i}]`), `${where}.kernelRoutes[${i}]`, true)),
  };
  if (v.netns !== undefined) link.netns = str(v.netns, `${where}.netns`);
  if (v.pcap !== undefined) link.pcap = str(v.pcap, `${where}.pcap`);
  if (v.busyPollUs !== undefined) link.busyPollUs = int(v.busyPollUs, `${where}.busyPollUs`, 0, MAX_BUSY_POLL_US);
  if (v.impair !== undefined) {
    if (!isObject(v.impair)) fail(`${where}.impair must be an object with "both", "tx" and/or "rx"`);
    checkKeys(v.impair, ['both', 'tx', 'rx'], `${where}.impair`);
    const imp: ImpairedLinkParams = {};
    for (const dir of ['both', 'tx', 'rx'] as const) if (v.impair[dir] !== undefined) imp[dir] = impairment(v.impair[dir], `${where}.impair.${dir}`);
    link.impair = imp;
  }
  return checkLink(link, where);
}

/** A lab link: one IPv4 and one IPv6 address, their gateways, and host routes into the TUN. */
function labLink(v: Json, where: string): LinkConfig {
  checkKeys(v, LAB_LINK_KEYS, where);
  const ipv4 = address(v.ipv4, `${where}.ipv4`);
  const ipv6 = address(v.ipv6, `${where}.ipv6`);
  const link: LinkConfig = {
    tun: tunName(v.tun, `${where}.tun`),
    mtu: 1500,
    offloads: {},
    addresses: [
      { address: ipv4, prefixLength: int(v.prefixLength4, `${where}.prefixLength4`, 0, 32), family: 4 },
      { address: ipv6, prefixLength: int(v.prefixLength6, `${where}.prefixLength6`, 0, 128), family: 6 },
    ],
    gateways: [address(v.gateway4, `${where}.gateway4`), address(v.gateway6, `${where}.gateway6`)],
    // The path's far side through this link, so a lookup without a source picks the path by
    // destination as a kernel host's main table does (docs/lab.md "Routing").
    routes: array(v.farSubnets ?? [], `${where}.farSubnets`).map((d, i) => {
      const destination = parseCidr(str(d, `${where}.farSubnets[${i}]`), `${where}.farSubnets[${i}]`);
      const gateway = address(destination.family === 4 ? v.gateway4 : v.gateway6, `${where}.gateway${destination.family}`);
      return { destination, gateway, bound: false };
    }),
    kernelAddresses: [],
    kernelRoutes: [
      { address: ipv4, prefixLength: 32, family: 4 },
      { address: ipv6, prefixLength: 128, family: 6 },
    ],
  };
  return checkLink(link, where);
}

function tunName(v: unknown, where: string): string {
  const s = str(v, where);
  if (!/^[A-Za-z0-9_.%-]{1,15}$/.test(s)) fail(`${where}: ${JSON.stringify(s)} is not an interface name (1-15 of A-Z a-z 0-9 _ . - and %d)`);
  return s;
}

function parseOffloads(v: unknown, where: string): Partial<TunOffloads> | false {
  if (v === undefined) return {};
  if (v === false) return false;
  if (!isObject(v)) fail(`${where} must be false or an object like {"tso4": false}`);
  checkKeys(v, OFFLOAD_KEYS, where);
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'boolean') fail(`${where}.${k} must be a boolean`);
  return v as Partial<TunOffloads>;
}

function parseRoute(v: unknown, where: string): RouteConfig {
  if (!isObject(v)) fail(`${where} must be an object`);
  checkKeys(v, ['destination', 'gateway', 'bound', 'metric'], where);
  const r: RouteConfig = { destination: parseCidr(str(v.destination, `${where}.destination`), `${where}.destination`), bound: true };
  if (v.gateway !== undefined) r.gateway = address(v.gateway, `${where}.gateway`);
  if (v.bound !== undefined) {
    if (typeof v.bound !== 'boolean') fail(`${where}.bound must be a boolean`);
    r.bound = v.bound;
  }
  if (v.metric !== undefined) r.metric = int(v.metric, `${where}.metric`, 0, 0xffffffff);
  return r;
}

function checkLink(link: LinkConfig, where: string): LinkConfig {
  const families = new Set(link.addresses.map((a) => a.family));
  if (link.addresses.some((a) => a.family === 6) && link.mtu < 1280) fail(`${where}.mtu: IPv6 needs an MTU of at least 1280 (RFC 8200 5)`);
  for (const g of link.gateways) {
    const f = familyOf(parseAddress(g)!);
    if (!families.has(f)) fail(`${where}: gateway ${g} has no IPv${f} address of the link to be reached from`);
  }
  if (link.gateways.filter((g) => familyOf(parseAddress(g)!) === 4).length > 1 || link.gateways.filter((g) => familyOf(parseAddress(g)!) === 6).length > 1) {
    fail(`${where}: at most one gateway per family (add more routes with "routes")`);
  }
  for (const r of link.routes) {
    if (r.gateway && familyOf(parseAddress(r.gateway)!) !== r.destination.family) fail(`${where}: route ${formatCidr(r.destination)} via ${r.gateway} mixes families`);
  }
  return link;
}

function parseLimits(v: unknown): ControlLimits {
  if (v === undefined) return { ...DEFAULT_LIMITS };
  if (!isObject(v)) fail('limits must be an object');
  checkKeys(v, Object.keys(DEFAULT_LIMITS), 'limits');
  const out = { ...DEFAULT_LIMITS };
  for (const [k, x] of Object.entries(v)) out[k as keyof ControlLimits] = int(x, `limits.${k}`, 1, 2 ** 31 - 1);
  return out;
}

/** Stack overrides, checked against DEFAULT_CONFIG: known sections and fields, same value types. */
function parseStack(v: unknown): PartialConfig {
  if (v === undefined) return {};
  if (!isObject(v)) fail('stack must be an object like {"tcp": {"nagle": false}}');
  const sections = Object.keys(DEFAULT_CONFIG) as (keyof StackConfig)[];
  checkKeys(v, sections, 'stack');
  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, fields] of Object.entries(v)) {
    if (!isObject(fields)) fail(`stack.${section} must be an object`);
    const defaults = DEFAULT_CONFIG[section as keyof StackConfig] as unknown as Record<string, unknown>;
    checkKeys(fields, Object.keys(defaults), `stack.${section}`);
    for (const [k, x] of Object.entries(fields)) {
      if (typeof x !== typeof defaults[k]) fail(`stack.${section}.${k} must be a ${typeof defaults[k]} like the default ${JSON.stringify(defaults[k])}`);
    }
    out[section] = fields;
  }
  return out as PartialConfig;
}

function parseHosts(v: unknown): Record<string, string[]> {
  if (v === undefined) return {};
  if (!isObject(v)) fail('hosts must be an object like {"bob": ["198.19.1.20", "fd00:1:2::20"]}');
  const out: Record<string, string[]> = {};
  for (const [name, addrs] of Object.entries(v)) {
    const list = typeof addrs === 'string' ? [addrs] : array(addrs, `hosts.${name}`);
    out[name.toLowerCase()] = list.map((a, i) => address(a, `hosts.${name}[${i}]`));
  }
  return out;
}

const TOP_KEYS = ['name', 'control', 'links', 'hosts', 'nameservers', 'stack', 'limits', 'logLevel', 'shutdownGraceMs'];
// Fields of the lab's file the daemon does not use.
const LAB_KEYS = ['lab', 'zone', 'controlSocket'];

/** Addresses, or the lab's `{ path, ipv4, ipv6 }` entries (IPv6 first, then IPv4, entry by entry). */
function parseNameservers(v: unknown): string[] {
  if (v === undefined) return [];
  return array(v, 'nameservers').flatMap((n, i) => {
    if (typeof n === 'string') return [address(n, `nameservers[${i}]`)];
    if (!isObject(n)) fail(`nameservers[${i}] must be an address or {"ipv4": ..., "ipv6": ...}`);
    return (['ipv6', 'ipv4'] as const).filter((f) => n[f] !== undefined).map((f) => address(n[f], `nameservers[${i}].${f}`));
  });
}

/** Checks a parsed JSON configuration (the file's content). */
export function parseDaemonConfig(v: unknown): DaemonConfig {
  if (!isObject(v)) fail('the configuration must be a JSON object');
  checkKeys(v, [...TOP_KEYS, ...LAB_KEYS], 'config');
  const config: DaemonConfig = {
    control: v.control !== undefined ? str(v.control, 'control') : v.controlSocket !== undefined ? str(v.controlSocket, 'controlSocket') : DEFAULT_CONTROL_PATH,
    links: array(v.links, 'links').map((l, i) => parseLink(l, `links[${i}]`)),
    hosts: parseHosts(v.hosts),
    nameservers: parseNameservers(v.nameservers),
    stack: parseStack(v.stack),
    limits: parseLimits(v.limits),
    logLevel: 'warn',
    shutdownGraceMs: v.shutdownGraceMs === undefined ? 3000 : int(v.shutdownGraceMs, 'shutdownGraceMs', 0, 600_000),
  };
  if (v.name !== undefined) config.name = str(v.name, 'name');
  if (v.logLevel !== undefined) {
    if (!LOG_LEVELS.includes(v.logLevel as LogLevel)) fail(`logLevel must be one of ${LOG_LEVELS.join(', ')}`);
    config.logLevel = v.logLevel as LogLevel;
  }
  return config;
}

export function readConfigFile(path: string): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail(`cannot read ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`${path} is not JSON: ${(e as Error).message}`);
  }
  try {
    return parseDaemonConfig(json);
  } catch (e) {
    if (e instanceof ConfigError) fail(`${path}: ${e.message}`);
    throw e;
  }
}

const IMPAIR_FLAGS: Record<string, (text: string) => [keyof ImpairmentParams, number]> = {
  delay: (t) => ['delayMs', parseDuration(t)],
  jitter: (t) => ['jitterMs', parseDuration(t)],
  loss: (t) => ['lossRate', parsePercent(t)],
  reorder: (t) => ['reorderRate', parsePercent(t)],
  duplicate: (t) => ['duplicateRate', parsePercent(t)],
  rate: (t) => ['rateBitsPerSecond', parseRate(t)],
};

/**
 * One `--link` flag: comma-separated key=value items, keys addr, gw, route (CIDR[@gateway]),
 * kernel-addr and kernel-route repeatable: `tun=ns0,mtu=1500,addr=10.0.0.2/24,gw=10.0.0.1,
 * netns=red,offloads=off,pcap=/tmp/ns0.pcap,delay=20ms,loss=1%`.
 */
export function parseLinkFlag(spec: string): LinkConfig {
  const where = `--link ${spec}`;
  const v: Json = { addresses: [], gateways: [], routes: [], kernelAddresses: [], kernelRoutes: [] };
  const impair: Partial<ImpairmentParams> = {};
  for (const item of spec.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) fail(`${where}: "${item}" is not key=value`);
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    const push = (field: string, x: unknown): void => void (v[field] as unknown[]).push(x);
    switch (key) {
      case 'tun':
      case 'netns':
      case 'pcap':
        v[key] = value;
        break;
      case 'mtu':
        v.mtu = /^\d+$/.test(value) ? Number(value) : value;
        break;
      case 'busy-poll':
        // A duration as the impairment keys take it (200us, 0.2ms), kept in whole microseconds.
        try {
          v.busyPollUs = Math.round(parseDuration(value) * 1000);
        } catch (e) {
          fail(`${where}: ${(e as Error).message}`);
        }
        break;
      case 'addr':
        push('addresses', value);
        break;
      case 'gw':
        push('gateways', value);
        break;
      case 'route': {
        const [destination, gateway] = value.split('@');
        push('routes', gateway === undefined ? { destination } : { destination, gateway });
        break;
      }
      case 'kernel-addr':
        push('kernelAddresses', value);
        break;
      case 'kernel-route':
        push('kernelRoutes', value);
        break;
      case 'offloads':
        v.offloads = value === 'off' ? false : Object.fromEntries(OFFLOAD_KEYS.map((k) => [k, value.split('+').includes(k)]));
        break;
      default: {
        const f = IMPAIR_FLAGS[key];
        if (!f) fail(`${where}: unknown key "${key}"`);
        try {
          const [field, n] = f(value);
          impair[field] = n;
        } catch (e) {
          fail(`${where}: ${(e as Error).message}`);
        }
      }
    }
  }
  if (Object.keys(impair).length > 0) v.impair = { both: impair };
  return parseLink(v, where);
}

/** `--set tcp.nagle=false`: the value is JSON when it parses as JSON, else a string. */
export function parseSetFlag(spec: string, into: PartialConfig): PartialConfig {
  const m = /^([a-z]+)\.([A-Za-z0-9]+)=(.*)$/.exec(spec);
  if (!m) fail(`--set ${spec}: expected section.field=value (tcp.nagle=false)`);
  let value: unknown = m[3];
  try {
    value = JSON.parse(m[3]!);
  } catch {
    // A plain word such as `newreno`.
  }
  const merged: Record<string, Record<string, unknown>> = { ...(into as Record<string, Record<string, unknown>>) };
  merged[m[1]!] = { ...merged[m[1]!], [m[2]!]: value };
  return parseStack(merged);
}

/** `--host bob=198.19.1.20,fd00:1:2::20` */
export function parseHostFlag(spec: string, into: Record<string, string[]>): Record<string, string[]> {
  const eq = spec.indexOf('=');
  if (eq <= 0) fail(`--host ${spec}: expected name=address[,address...]`);
  return { ...into, ...parseHosts({ [spec.slice(0, eq)]: spec.slice(eq + 1).split(',') }) };
}
