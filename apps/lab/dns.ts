// The lab's DNS: dnsmasq (Debian's, run by us: its service does not auto-start) in the
// `dns` namespace, authoritative for the lab zone from a hosts file we write, never asking
// anyone else (--no-resolv, no servers). It listens on the dns host's address on every path,
// so every host reaches it through any path that is up.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabTopology } from './topology.js';
import { inNamespace, run } from './run.js';
import { stateDir } from './state.js';

/** Seconds resolvers may cache lab answers: short, so tests that change records see them soon. */
const LOCAL_TTL = 5;

/**
 * hosts(5) lines: every address under the host's name and under its per-path name; with two
 * paths or more also `<host>-split.<zone>`, the thesis's chapter 6 server whose IPv6 address
 * (AAAA: path 1's) and IPv4 address (A: path 2's) sit on different paths.
 */
export function hostsFile(topo: LabTopology): string {
  const lines = [`# namestack lab ${topo.prefix}: zone ${topo.zone}`];
  for (const h of topo.hosts) {
    for (const a of h.addresses) {
      lines.push(`${a.ipv4} ${h.fqdn} ${a.name}`);
      lines.push(`${a.ipv6} ${h.fqdn} ${a.name}`);
    }
    const [p1, p2] = h.addresses;
    if (p1 && p2) lines.push(`${p1.ipv6} ${h.name}-split.${topo.zone}`, `${p2.ipv4} ${h.name}-split.${topo.zone}`);
  }
  return lines.join('\n') + '\n';
}

export function dnsFiles(prefix: string): { conf: string; hosts: string; pid: string; log: string } {
  const dir = stateDir(prefix);
  return {
    conf: join(dir, 'dnsmasq.conf'),
    hosts: join(dir, 'dnsmasq.hosts'),
    pid: join(dir, 'dnsmasq.pid'),
    log: join(dir, 'dnsmasq.log'),
  };
}

function dnsmasqConf(topo: LabTopology): string {
  const f = dnsFiles(topo.prefix);
  const listen = topo.nameservers.flatMap((n) => [n.ipv4, n.ipv6]);
  return [
    'no-resolv',
    'no-hosts',
    `addn-hosts=${f.hosts}`,
    // Names under the zone come from the hosts file only; anything else is not ours to answer.
    `local=/${topo.zone}/`,
    'domain-needed',
    `local-ttl=${LOCAL_TTL}`,
    'bind-interfaces',
    ...listen.map((a) => `listen-address=${a}`),
    'port=53',
    `pid-file=${f.pid}`,
    `log-facility=${f.log}`,
    'log-queries',
    // Stay root inside the lab namespace: the pid and log files live in root's /run directory.
    'user=root',
    '',
  ].join('\n');
}

/** Writes the zone and configuration and starts dnsmasq; returns its pid once it listens. */
export async function startDns(topo: LabTopology): Promise<number> {
  const f = dnsFiles(topo.prefix);
  writeFileSync(f.hosts, hostsFile(topo));
  writeFileSync(f.conf, dnsmasqConf(topo));
  const dns = topo.hosts.find((h) => h.role === 'dns')!;
  // dnsmasq forks and its parent exits only after the child has bound its sockets (or with
  // the reason it could not), so when this returns the server answers.
  await run(inNamespace(dns.namespace, ['dnsmasq', `--conf-file=${f.conf}`]));
  const pid = Number(readFileSync(f.pid, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`dnsmasq wrote no usable pid to ${f.pid}`);
  return pid;
}
