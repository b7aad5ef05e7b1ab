// Packet and byte rates through the TUN driver (tun/device.ts), read and write, with and
// without offloads, at 1500 B and at 64 KiB. Runs as root in a throwaway namespace
// (nst-bench-tun-<pid>) that it removes again. Run: scripts/bench-tun [seconds-per-case].
//
// Read: the kernel is the load. A Python UDP sender inside the namespace sends to an
// address routed into the TUN, with UDP_SEGMENT (UDP GSO): one send() becomes 44 packets
// of 1500 B (the kernel segments before the TUN, or hands the TUN one 64 KiB super-packet
// when USO is negotiated). The sender outruns the reader, so the rate measured is the
// driver's ceiling on this machine; the kernel's tx_dropped on the TUN is the excess.
// Mind that the sender takes one of the two cores.
//
// Write: this process writes ready-made packets that the kernel must route: the namespace
// forwards them into a veth whose peer, in a second namespace, drops them at once (they
// carry another host's MAC address). The veth's tx_packets confirms what the kernel
// forwarded. A TCP super-packet crosses a veth whole (veth has TSO, as in the lab); with
// TSO turned off on it the kernel segments it in software, which is the other GSO row.
// (A veth whose peer is down would be cheaper, but it drops GSO packets before segmenting.)

import { execFileSync, spawn } from 'node:child_process';
import { cpus, release } from 'node:os';
import { parseAddress, type IpAddress } from '../stack/wire/address.js';
import { writeU16 } from '../stack/wire/bytes.js';
import { pseudoHeaderSum } from '../stack/wire/checksum.js';
import { emitIpv4Header, ipv4HeaderLength, type Ipv4Repr } from '../stack/wire/ipv4.js';
import { emitTcp, TCP_ACK, TCP_PROTOCOL } from '../stack/wire/tcp.js';
import { emitUdp, IPPROTO_UDP } from '../stack/wire/udp.js';
import type { TxOffload } from '../stack/ip/offload.js';
import { openTun, type TunDevice, type TunOptions } from '../tun/device.js';

const SECONDS = Number(process.argv[2] ?? '3');
/** Only the cases whose name contains this text (all by default). */
const ONLY = process.argv[3] ?? '';
const NS = `nst-bench-tun-${process.pid}`;
const SINK_NS = `${NS}-sink`;
const TUN_ADDR = '10.203.0.1';
const PEER = '10.203.0.2'; // "behind" the TUN: the reader's side
const SINK_NET = '10.203.1.0/24';
const SINK = '10.203.1.2'; // routed to the sink veth

function sh(command: string): string {
  return execFileSync('sh', ['-c', command], { encoding: 'utf8' });
}

function addr(text: string): IpAddress {
  return parseAddress(text)!;
}

function linkCounter(dev: string, counter: string): number {
  return Number(sh(`ip netns exec ${NS} cat /sys/class/net/${dev}/statistics/${counter}`).trim());
}

interface Row {
  direction: 'read' | 'write';
  what: string;
  packetBytes: number;
  packets: number;
  bytes: number;
  seconds: number;
  cpuPercent: number;
  check: string;
}

const rows: Row[] = [];

function tun(opts: TunOptions): TunDevice {
  const dev = openTun({ name: 'nstbench%d', netns: NS, ...opts });
  dev.addAddress(`${TUN_ADDR}/24`);
  return dev;
}

// UDP_SEGMENT = 103 (linux/udp.h). segment 0 = plain datagrams of `size` bytes.
const SENDER = `
import socket, sys, time
dst, segment, size, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if segment: s.setsockopt(socket.SOL_UDP, 103, segment)
s.connect((dst, 9))
buf = b'x' * size
end = time.time() + seconds
while time.time() < end:
    for _ in range(100):
        try: s.send(buf)
        except OSError: pass
`;

async function benchRead(what: string, opts: TunOptions, segment: number, size: number): Promise<void> {
  if (!`read ${what}`.includes(ONLY)) return;
  const dev = tun(opts);
  let packets = 0;
  let bytes = 0;
  let largest = 0;
  dev.onReceive((batch) => {
    for (const { packet } of batch) {
      packets++;
      bytes += packet.length;
      if (packet.length > largest) largest = packet.length;
    }
  });
  const sender = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', SENDER, PEER, String(segment), String(size), String(SECONDS + 1.5)], {
    stdio: 'inherit',
  });
  // Let the sender reach full speed, then measure a window of SECONDS.
  await new Promise((r) => setTimeout(r, 500));
  const dropped0 = linkCounter(dev.name, 'tx_dropped');
  const p0 = packets;
  const b0 = bytes;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const dropped = linkCounter(dev.name, 'tx_dropped') - dropped0;
  const n = packets - p0;
  rows.push({
    direction: 'read',
    what,
    packetBytes: largest,
    packets: n,
    bytes: bytes - b0,
    seconds,
    cpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    check: `kernel dropped ${(dropped / seconds / 1000).toFixed(0)}k/s more`,
  });
  await new Promise((r) => sender.once('exit', r));
  await dev.close();
}

function ipv4(protocol: number, l4Length: number): { out: Uint8Array; at: number } {
  const repr: Ipv4Repr = {
    dscpEcn: 0,
    identification: 0,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol,
    src: addr(PEER),
    dst: addr(SINK),
    options: new Uint8Array(0),
  };
  const out = new Uint8Array(ipv4HeaderLength(repr) + l4Length);
  return { out, at: emitIpv4Header(repr, l4Length, out, 0) };
}

/** A UDP datagram of `size` IP bytes to the sink; with `partial`, its checksum is left to the kernel. */
function udpPacket(size: number, partial: boolean): { packet: Uint8Array; offload?: TxOffload } {
  const { out, at } = ipv4(IPPROTO_UDP, size - 20);
  emitUdp({ srcPort: 40000, dstPort: 9 }, new Uint8Array(size - 28).fill(0x78), out, at, addr(PEER), addr(SINK));
  if (!partial) return { packet: out };
  // NEEDS_CSUM: the field holds only the folded pseudo-header sum; the kernel adds the rest.
  writeU16(out, at + 6, pseudoHeaderSum(addr(PEER), addr(SINK), IPPROTO_UDP, size - 20));
  return { packet: out, offload: { checksumStart: at, checksumOffset: 6 } };
}

/** A TCP super-packet with `payload` bytes and MSS 1460 for the kernel to segment. */
function tcpSuperPacket(payload: number): { packet: Uint8Array; offload: TxOffload } {
  const { out, at } = ipv4(TCP_PROTOCOL, 20 + payload);
  out.fill(0x78, at + 20);
  const repr = { srcPort: 40000, dstPort: 9, seq: 1, ack: 1, flags: TCP_ACK, window: 65535, urgentPointer: 0, checksum: 0, options: [] };
  emitTcp(repr, undefined, payload, out, at, { mode: 'partial', src: addr(PEER), dst: addr(SINK) });
  return { packet: out, offload: { checksumStart: at, checksumOffset: 16, gsoSize: 1460, gsoType: 'tcpv4' } };
}

async function benchWrite(what: string, opts: TunOptions, make: () => { packet: Uint8Array; offload?: TxOffload }, segmentsPerPacket: number): Promise<void> {
  if (!`write ${what}`.includes(ONLY)) return;
  const dev = tun(opts);
  const { packet, offload } = make();
  for (let i = 0; i < 10_000; i++) dev.send(packet, offload); // warm-up
  const sink0 = linkCounter('nstsink0', 'tx_packets');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  let n = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) dev.send(packet, offload);
    n += 1000;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const forwarded = linkCounter('nstsink0', 'tx_packets') - sink0;
  rows.push({
    direction: 'write',
    what,
    packetBytes: packet.length,
    packets: n,
    bytes: n * packet.length,
    seconds,
    cpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    check: `kernel forwarded ${((forwarded / (n * segmentsPerPacket)) * 100).toFixed(1)}% (${dev.stats.txErrors} refused)`,
  });
  await dev.close();
}

function print(): void {
  const header = '| direction | case | packet (B) | packets/s | GB/s | Gbit/s | node CPU | packets per CPU-second | kernel side |';
  console.log(header);
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    const pps = r.packets / r.seconds;
    const gbs = r.bytes / r.seconds / 1e9;
    console.log(
      `| ${r.direction} | ${r.what} | ${r.packetBytes} | ${Math.round(pps).toLocaleString('en-US')} | ${gbs.toFixed(2)} | ${(gbs * 8).toFixed(1)} | ${r.cpuPercent.toFixed(0)}% | ${Math.round(pps / (r.cpuPercent / 100)).toLocaleString('en-US')} | ${r.check} |`,
    );
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench-tun needs root (network namespaces, /dev/net/tun)');
  console.log(`# bench-tun: ${new Date().toISOString()}, nproc ${cpus().length}, Linux ${release()}, node ${process.version}, ${SECONDS} s per case`);
  sh(`ip netns add ${NS}`);
  try {
    sh(`ip netns exec ${NS} sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1`);
    sh(`ip -n ${NS} link set lo up`);
    sh(`ip netns add ${SINK_NS}`);
    sh(`ip -n ${NS} link add nstsink0 mtu 65535 type veth peer name nstsink1 mtu 65535 netns ${SINK_NS}`);
    sh(`ip -n ${SINK_NS} link set nstsink1 up`);
    sh(`ip -n ${NS} link set nstsink0 up && ip -n ${NS} route add ${SINK_NET} dev nstsink0`);
    sh(`ip -n ${NS} neigh add ${SINK} lladdr 02:00:00:00:00:01 dev nstsink0 nud permanent`);

    await benchRead('1500 B, no virtio header', { vnetHeader: false }, 1472, 1472 * 44);
    await benchRead('1500 B, virtio header + csum offload', {}, 1472, 1472 * 44);
    await benchRead('64 KiB UDP GSO super-packets (USO)', { offloads: { uso: true } }, 1472, 1472 * 44);
    await benchRead('64 KiB datagrams, MTU 65535, no offload', { vnetHeader: false, mtu: 65535 }, 0, 65000);

    await benchWrite('1500 B, no virtio header', { vnetHeader: false }, () => udpPacket(1500, false), 1);
    await benchWrite('1500 B, virtio header, csum offload', {}, () => udpPacket(1500, true), 1);
    // Forwarded whole into a veth with TSO (as in the lab), then segmented in software.
    await benchWrite('64 KiB TCP super-packet, GSO, sink veth TSO on', {}, () => tcpSuperPacket(65000), 1);
    sh(`ip netns exec ${NS} ethtool -K nstsink0 tso off >/dev/null`);
    await benchWrite('64 KiB TCP super-packet, GSO, kernel segments (45)', {}, () => tcpSuperPacket(65000), 45);
    await benchWrite('64 KiB datagram, MTU 65535, no offload', { vnetHeader: false, mtu: 65535 }, () => udpPacket(65028, false), 1);
  } finally {
    sh(`ip netns del ${NS}; ip netns del ${SINK_NS} 2>/dev/null || true`);
  }
  print();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
