// Helpers for the TUN lab tests: throwaway network namespaces, commands run inside them,
// waiting for packets on a Link, and the few IPv4 packets the tests write (echo requests,
// TCP segments), built with the host tests' packet helpers and parsed with the wire codecs.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { IPPROTO_ICMP, parseIcmpv4 } from '../../stack/wire/icmpv4.js';
import { parseIpv4 } from '../../stack/wire/ipv4.js';
import type { TcpOption } from '../../stack/wire/tcp-options.js';
import { emitTcp, parseTcp, TCP_PROTOCOL, tcpHeaderLength, type TcpRepr } from '../../stack/wire/tcp.js';
import type { Link, LinkPacket } from '../../tun/link.js';
import { icmpv4, ip, ipv4 } from '../ip/packets.js';

export function sh(command: string): string {
  return execFileSync('sh', ['-c', command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Runs tshark and returns its output lines; throws when it fails or complains on stderr
 * (other than its warning about running as root).
 */
export function tshark(args: string): string[] {
  const result = spawnSync('sh', ['-c', `tshark ${args}`], { encoding: 'utf8' });
  const complaints = result.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('Running as user "root"'));
  if (result.status !== 0 || complaints.length > 0) {
    throw new Error(`tshark ${args} failed (status ${result.status}): ${complaints.join(' / ')}`);
  }
  const out = result.stdout.trim();
  return out === '' ? [] : out.split('\n');
}

/** Namespaces made by one test file, all named `${prefix}<n>`, all deleted by cleanup(). */
export class Namespaces {
  private count = 0;
  private readonly made: string[] = [];

  constructor(readonly prefix: string) {}

  /** A fresh namespace with lo up; IPv6 off unless asked (the kernel's RS/MLD are noise here). */
  create(ipv6 = false): string {
    const ns = `${this.prefix}${this.count++}`;
    sh(`ip netns add ${ns}`);
    this.made.push(ns);
    sh(`ip -n ${ns} link set lo up`);
    if (!ipv6) {
      sh(`ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1`);
    }
    return ns;
  }

  cleanup(): void {
    // Also whatever a crashed earlier run with the same prefix left behind.
    const all = sh('ip netns list').split('\n').map((l) => l.split(' ')[0]!);
    for (const ns of all) if (ns.startsWith(this.prefix)) sh(`ip netns del ${ns} || true`);
  }
}

/** Starts `command` inside `ns`; the caller kills it (or it exits by itself). */
export function spawnIn(ns: string, command: string[]): ChildProcess & { output: Promise<string> } {
  const child = spawn('ip', ['netns', 'exec', ns, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const output = new Promise<string>((resolve) => child.on('close', () => resolve(out)));
  return Object.assign(child, { output });
}

/**
 * Collects received packets from `link` (setting its receive handler) and lets a test wait
 * for one that matches. A wait that times out rejects: that is a failure, not a threshold.
 */
export class PacketCollector {
  readonly packets: (LinkPacket & { at: number })[] = [];
  private waiters: { match: (p: LinkPacket) => boolean; resolve: (p: LinkPacket & { at: number }) => void }[] = [];

  constructor(link: Link) {
    link.onReceive((batch) => {
      const at = performance.now();
      for (const p of batch) {
        const entry = { ...p, at };
        this.packets.push(entry);
        this.waiters = this.waiters.filter((w) => {
          if (!w.match(p)) return true;
          w.resolve(entry);
          return false;
        });
      }
    });
  }

  next(match: (p: LinkPacket) => boolean, timeoutMs = 10_000): Promise<LinkPacket & { at: number }> {
    const seen = this.packets.find((p) => match(p));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching packet within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      });
    });
  }

  matching(match: (p: LinkPacket) => boolean): (LinkPacket & { at: number })[] {
    return this.packets.filter((p) => match(p));
  }
}

/** An IPv4 ICMP echo request (RFC 792) from `src` to `dst` with `payloadLength` bytes counting up. */
export function echoRequest(src: string, dst: string, identifier: number, sequence: number, payloadLength = 56): Uint8Array {
  const data = Uint8Array.from({ length: payloadLength }, (_, i) => i & 0xff);
  return ipv4(src, dst, IPPROTO_ICMP, icmpv4({ kind: 'echoRequest', identifier, sequence, data }));
}

/** Kind, identifier and sequence of an IPv4 ICMP echo packet, or undefined for anything else. */
export function echoFields(packet: Uint8Array): { kind: 'echoRequest' | 'echoReply'; identifier: number; sequence: number } | undefined {
  const ipv4 = parseIpv4(packet);
  if (!ipv4.ok || ipv4.value.repr.protocol !== IPPROTO_ICMP) return undefined;
  const icmp = parseIcmpv4(ipv4.value.payload);
  if (!icmp.ok || (icmp.value.kind !== 'echoRequest' && icmp.value.kind !== 'echoReply')) return undefined;
  return { kind: icmp.value.kind, identifier: icmp.value.identifier, sequence: icmp.value.sequence };
}

/** The TCP fields a test sets; the rest of TcpRepr is zero. */
export type TcpFields = Pick<TcpRepr, 'srcPort' | 'dstPort' | 'seq' | 'ack' | 'flags' | 'window'> & { options?: TcpOption[] };

/**
 * An IPv4 TCP segment (RFC 9293 3.1). With `partialChecksum` the checksum field holds only
 * the folded pseudo-header sum, as virtio NEEDS_CSUM wants (the kernel completes it).
 */
export function tcpSegment(src: string, dst: string, t: TcpFields, payload = new Uint8Array(0), partialChecksum = false): Uint8Array {
  const repr: TcpRepr = { urgentPointer: 0, checksum: 0, options: [], ...t };
  const segment = new Uint8Array(tcpHeaderLength(repr) + payload.length);
  emitTcp(repr, payload, payload.length, segment, 0, { mode: partialChecksum ? 'partial' : 'full', src: ip(src), dst: ip(dst) });
  return ipv4(src, dst, TCP_PROTOCOL, segment);
}

/** The TCP header of an IPv4 TCP packet and its payload length, or undefined. */
export function tcpFields(packet: Uint8Array): (TcpRepr & { payloadLength: number }) | undefined {
  const ipv4 = parseIpv4(packet);
  if (!ipv4.ok || ipv4.value.repr.protocol !== TCP_PROTOCOL) return undefined;
  const tcp = parseTcp(ipv4.value.payload);
  if (!tcp.ok) return undefined;
  return { ...tcp.value.repr, payloadLength: tcp.value.payload.length };
}

/** The number of descriptors this process has open. */
/**
 * Descriptors of this process open on a TUN clone device (or on `targets`). Counting only
 * those keeps the check exact while other work in the test worker opens and closes files.
 */
export function openFdCount(targets: readonly string[] = ['/dev/net/tun']): number {
  const dir = `/proc/${process.pid}/fd`;
  let n = 0;
  for (const fd of readdirSync(dir)) {
    try {
      if (targets.includes(readlinkSync(`${dir}/${fd}`))) n++;
    } catch {
      // closed between readdir and readlink
    }
  }
  return n;
}
