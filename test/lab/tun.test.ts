// The TUN driver and its link wrappers against the real kernel. Runs as root (CI does):
// every test creates its TUN in the root namespace and moves it into a namespace of its own
// (prefix nst-tun-<pid>-), where the kernel is the peer.

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../stack/random.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../stack/wire/tcp.js';
import { CaptureLink } from '../../tun/capture-link.js';
import { openTun, type TunDevice, type TunOptions } from '../../tun/device.js';
import { ImpairedLink } from '../../tun/impaired-link.js';
import type { LinkPacket } from '../../tun/link.js';
import {
  echoFields,
  echoRequest,
  Namespaces,
  openFdCount,
  PacketCollector,
  sh,
  spawnIn,
  tshark,
  tcpFields,
  tcpSegment,
} from './tun-lab.js';

const namespaces = new Namespaces(`nst-tun-${process.pid}-`);
const NAME = `nstt${process.pid % 100000}x`;
// The kernel's side of every TUN and the address the test plays.
const KERNEL = '10.201.0.1';
const US = '10.201.0.2';

const open: TunDevice[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'nst-tun-'));

/** A TUN moved into a fresh namespace, addressed KERNEL/24, tracked for cleanup. */
function labTun(opts: TunOptions = {}): { dev: TunDevice; ns: string } {
  const ns = namespaces.create();
  const dev = openTun({ name: `${NAME}%d`, netns: ns, ...opts });
  open.push(dev);
  dev.addAddress(`${KERNEL}/24`);
  return { dev, ns };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

afterAll(() => {
  namespaces.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe('openTun', () => {
  it('gets the real name back from TUNSETIFF for a %d name, and the device lives in the namespace', () => {
    const { dev, ns } = labTun();
    expect(dev.name).toMatch(new RegExp(`^${NAME}\\d+$`));
    expect(dev.netns).toBe(ns);
    const link = JSON.parse(sh(`ip -n ${ns} -j -d link show dev ${dev.name}`))[0];
    expect(link.ifname).toBe(dev.name);
    expect(link.linkinfo.info_kind).toBe('tun');
    expect(link.linkinfo.info_data).toMatchObject({ type: 'tun', pi: false, vnet_hdr: true, multi_queue: false });
    expect(link.flags).toContain('UP');
  });

  it('reports the offloads the kernel accepted, and the kernel agrees', () => {
    const features = (ns: string, name: string): string => sh(`ip netns exec ${ns} ethtool -k ${name}`);

    const plain = labTun();
    expect(plain.dev.offloads).toEqual({ csum: true, tso4: true, tso6: true, uso: false });
    expect(features(plain.ns, plain.dev.name)).toMatch(/tx-tcp-segmentation: on/);
    expect(features(plain.ns, plain.dev.name)).toMatch(/tx-udp-segmentation: off/);

    // Linux >= 6.2 takes USO (TUN_F_USO4 | TUN_F_USO6); this machine runs 6.18.
    const uso = labTun({ offloads: { uso: true } });
    expect(uso.dev.offloads.uso).toBe(true);
    expect(features(uso.ns, uso.dev.name)).toMatch(/tx-udp-segmentation: on/);

    const none = labTun({ vnetHeader: false });
    expect(none.dev.offloads).toEqual({ csum: false, tso4: false, tso6: false, uso: false });
    expect(features(none.ns, none.dev.name)).toMatch(/tx-tcp-segmentation: off/);

    // TSO without CSUM is refused by the kernel, so it is not asked for.
    const noCsum = labTun({ offloads: { csum: false } });
    expect(noCsum.dev.offloads).toEqual({ csum: false, tso4: false, tso6: false, uso: false });
  });

  it('sets the MTU at open and later', () => {
    const { dev, ns } = labTun({ mtu: 9000 });
    const mtu = (): number => JSON.parse(sh(`ip -n ${ns} -j link show dev ${dev.name}`))[0].mtu;
    expect(dev.mtu).toBe(9000);
    expect(mtu()).toBe(9000);
    dev.setMtu(1400);
    expect(dev.mtu).toBe(1400);
    expect(mtu()).toBe(1400);
    // Changed behind the device's back, then read back from the kernel.
    sh(`ip -n ${ns} link set dev ${dev.name} mtu 1280`);
    expect(dev.readMtu()).toBe(1280);
    expect(dev.mtu).toBe(1280);
    expect(labTun().dev.mtu).toBe(1500); // the kernel's default, read back
  });

  it('opens several queues of one multi-queue device and reads from them', async () => {
    const { dev, ns } = labTun({ queues: 2 });
    expect(dev.fds).toHaveLength(2);
    expect(JSON.parse(sh(`ip -n ${ns} -j -d link show dev ${dev.name}`))[0].linkinfo.info_data.multi_queue).toBe(true);
    const rx = new PacketCollector(dev);
    // Many flows (source ports), so the kernel's flow hash spreads them over both queues.
    sh(`ip netns exec ${ns} python3 -c "
import socket
for port in range(40000, 40064):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('${KERNEL}', port)); s.sendto(b'q', ('${US}', 9))"`);
    await rx.next(() => rx.packets.length >= 64);
    expect(rx.packets.filter((p) => p.packet[9] === 17)).toHaveLength(64);
  });

  it('fails with ETUNMISSING when the clone device is missing, with a coded errno otherwise, leaking nothing', () => {
    const fds = openFdCount(['/dev/net/tun', '/dev/null']);
    const missing = (): TunDevice => openTun({ devicePath: '/nonexistent/net/tun' });
    expect(missing).toThrow(expect.objectContaining({ code: 'ETUNMISSING', message: expect.stringMatching(/modprobe tun/) }));
    // Not a TUN: the open succeeds, TUNSETIFF does not.
    expect(() => openTun({ devicePath: '/dev/null' })).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
    expect(() => openTun({ name: 'a-name-far-too-long' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(openFdCount(['/dev/net/tun', '/dev/null'])).toBe(fds);
  });

  it('close() stops the reader worker, closes the descriptors and removes the interface', async () => {
    // The reader worker shows up as a MessagePort handle; vitest's own timers come and go.
    const handles = (): string[] => process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').sort();
    const fds = openFdCount();
    const before = handles();
    const { dev, ns } = labTun();
    dev.onReceive(() => {});
    expect(openFdCount()).toBeGreaterThan(fds);
    expect(handles()).toEqual([...before, 'MessagePort'].sort());
    await dev.close();
    expect(openFdCount()).toBe(fds);
    expect(handles()).toEqual(before);
    expect(sh(`ip -n ${ns} -j link show`)).not.toContain(dev.name);
    expect(dev.send(new Uint8Array(20))).toBe(false);
  });
});

describe('TunDevice failure', () => {
  it('reports a deleted interface through onError and shuts its reader down', async () => {
    const handles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
    const before = handles();
    const { dev, ns } = labTun();
    const failed = new Promise<Error & { code?: string }>((resolve) => (dev.onError = resolve));
    dev.onReceive(() => {});
    expect(handles()).toBe(before + 1);
    sh(`ip -n ${ns} link del ${dev.name}`);
    const err = await failed;
    expect(err.code).toBe('EBADFD');
    expect(err.message).toMatch(/deleted/);
    await dev.close();
    expect(handles()).toBe(before);
    expect(dev.send(new Uint8Array(20))).toBe(false);
  });
});

describe('TunDevice traffic', () => {
  it('writes an echo request the kernel answers, and reads the reply', async () => {
    const { dev } = labTun();
    const rx = new PacketCollector(dev);
    expect(dev.send(echoRequest(US, KERNEL, 0x4242, 1))).toBe(true);
    const reply = await rx.next((p) => echoFields(p.packet)?.identifier === 0x4242);
    expect(echoFields(reply.packet)).toEqual({ kind: 'echoReply', identifier: 0x4242, sequence: 1 });
    expect(reply.packet.subarray(12, 20)).toEqual(Uint8Array.from([10, 201, 0, 1, 10, 201, 0, 2]));
    expect(dev.stats).toMatchObject({ txPackets: 1, txErrors: 0 });
    expect(dev.stats.rxPackets).toBeGreaterThanOrEqual(1);
  });

  it('with busyPollUs reads the answer to a write from the event loop, without the poller thread; without, through it', async () => {
    // The kernel answers an echo request inside the write, so the reply waits when it returns.
    // The pause lets the reader's own polls after a batch end first (they would catch it too).
    for (const busyPollUs of [0, 50_000]) {
      const { dev } = labTun({ busyPollUs });
      const rx = new PacketCollector(dev);
      for (let seq = 1; seq <= 3; seq++) {
        await new Promise((r) => setTimeout(r, 5));
        dev.send(echoRequest(US, KERNEL, 0x4343, seq));
        await rx.next((p) => echoFields(p.packet)?.sequence === seq);
      }
      expect(dev.stats.rxBusyPolled).toBe(busyPollUs === 0 ? 0 : 3);
    }
  });

  it('receives a kernel TCP flow as GSO super-packets larger than the MTU (and captures them)', async () => {
    const { dev, ns } = labTun();
    const capture = new CaptureLink(dev);
    const file = join(tmp, 'tso.pcap');
    capture.start(file);
    const rx = new PacketCollector(capture);
    const sender = spawnIn(ns, [
      'python3',
      '-c',
      `import socket; s = socket.create_connection(('${US}', 5001), timeout=20); s.sendall(b'x' * 400000)`,
    ]);
    try {
      const syn = tcpFields((await rx.next((p) => (tcpFields(p.packet)?.flags ?? 0) === TCP_SYN)).packet)!;
      // SYN-ACK with MSS 1460 and a 64 KiB window (no scaling): the kernel may then send its
      // whole initial window (10 segments) at once, which TSO hands over as one packet.
      const synAck = tcpSegment(US, KERNEL, {
        srcPort: 5001,
        dstPort: syn.srcPort,
        seq: 1000,
        ack: (syn.seq + 1) >>> 0,
        flags: TCP_SYN | TCP_ACK,
        window: 65535,
        options: [{ kind: 'mss', mss: 1460 }],
      });
      expect(capture.send(synAck)).toBe(true);
      const big = await rx.next((p) => p.packet.length > dev.mtu);
      const fields = tcpFields(big.packet)!;
      expect(fields.srcPort).toBe(syn.srcPort);
      expect(big.meta).toEqual({ checksumVerified: true, gsoType: 'tcpv4', gsoSize: 1460 });
      expect(fields.payloadLength).toBeGreaterThan(1460);
      expect((big.packet[2]! << 8) | big.packet[3]!).toBe(big.packet.length); // IPv4 total length
    } finally {
      sender.kill();
      capture.stop();
    }
    // tshark reads the capture without complaint and sees the large segment whole.
    const lengths = tshark(`-r ${file} -T fields -e frame.len`);
    expect(lengths).toHaveLength(capture.captured);
    expect(lengths.some((l) => Number(l) > 1500)).toBe(true);
    expect(tshark(`-r ${file} -Y _ws.malformed`)).toEqual([]);
  });

  it.each(['whole', 'gathered'] as const)('writes a TCP super-packet (%s) that the kernel segments and delivers to a socket', async (form) => {
    const { dev, ns } = labTun();
    const rx = new PacketCollector(dev);
    const server = spawnIn(ns, [
      'python3',
      '-c',
      `import socket, hashlib
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(('${KERNEL}', 5002)); l.listen(1)
print('listening', flush=True)
c, _ = l.accept(); c.settimeout(20); data = b''
while len(data) < 30000:
    chunk = c.recv(65536)
    if not chunk: break
    data += chunk
print(len(data), hashlib.sha256(data).hexdigest(), flush=True)`,
    ]);
    try {
      await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
      const tuple = { srcPort: 40001, dstPort: 5002 };
      dev.send(tcpSegment(US, KERNEL, { ...tuple, seq: 5000, ack: 0, flags: TCP_SYN, window: 65535 }));
      const synAck = tcpFields((await rx.next((p) => tcpFields(p.packet)?.flags === (TCP_SYN | TCP_ACK))).packet)!;
      const payload = Uint8Array.from({ length: 30000 }, (_, i) => (i * 7) & 0xff);
      const ack = (synAck.seq + 1) >>> 0;
      dev.send(tcpSegment(US, KERNEL, { ...tuple, seq: 5001, ack, flags: TCP_ACK, window: 65535 }));
      const superPacket = tcpSegment(US, KERNEL, { ...tuple, seq: 5001, ack, flags: TCP_ACK | TCP_PSH, window: 65535 }, payload, true);
      expect(superPacket.length).toBeGreaterThan(dev.mtu);
      const offload = { checksumStart: 20, checksumOffset: 16, gsoSize: 1400, gsoType: 'tcpv4' } as const;
      if (form === 'whole') {
        expect(dev.send(superPacket, offload)).toBe(true);
      } else {
        // Gathered: the headers (IPv4 + TCP, 40 bytes), then the payload in three uneven views, one writev.
        const views = [superPacket.subarray(40, 1040), superPacket.subarray(1040, 21040), superPacket.subarray(21040)];
        expect(dev.send(superPacket.subarray(0, 40), offload, views)).toBe(true);
      }
      // SYN and ACK (40 bytes each), then the super-packet, counted whole either way.
      expect(dev.stats.txBytes).toBe(2 * 40 + superPacket.length);
      const [count, digest] = (await server.output).trim().split('\n').pop()!.split(' ');
      expect(Number(count)).toBe(30000);
      expect(digest).toBe(createHash('sha256').update(payload).digest('hex'));
    } finally {
      server.kill();
    }
  });
});

describe('CaptureLink', () => {
  it('records only while switched on, into a pcap tshark reads', async () => {
    const { dev } = labTun();
    const capture = new CaptureLink(dev);
    const rx = new PacketCollector(capture);
    const file = join(tmp, 'onoff.pcap');
    const ping = async (seq: number): Promise<void> => {
      capture.send(echoRequest(US, KERNEL, 7, seq));
      await rx.next((p) => echoFields(p.packet)?.sequence === seq);
    };
    await ping(1); // not recorded
    capture.start(file);
    expect(capture.capturing).toBe(true);
    await ping(2);
    await ping(3);
    capture.stop();
    await ping(4); // not recorded
    expect(capture.captured).toBe(4);
    expect(tshark(`-r ${file} -T fields -e icmp.type -e icmp.seq`)).toEqual(['8\t2', '0\t2', '8\t3', '0\t3']);
    expect(existsSync(file)).toBe(true);
  });
});

describe('ImpairedLink', () => {
  it('adds the configured delay in each direction and loses packets as its model decides', async () => {
    const { dev } = labTun();
    const delayTx = 30;
    const delayRx = 20;
    const link = new ImpairedLink(dev, {
      tx: { delayMs: delayTx, lossRate: 0.25 },
      rx: { delayMs: delayRx },
      random: seededRandom('tun-impaired'),
    });
    const rx = new PacketCollector(link);
    const sentAt = new Map<number, number>();
    for (let seq = 0; seq < 200; seq++) {
      sentAt.set(seq, performance.now());
      link.send(echoRequest(US, KERNEL, 9, seq));
    }
    const expected = link.tx.stats.scheduled;
    expect(link.tx.stats.lost).toBe(200 - expected);
    // 25% loss of 200: the model's binomial draw, far from both 0 and 200.
    expect(link.tx.stats.lost).toBeGreaterThan(20);
    expect(link.tx.stats.lost).toBeLessThan(80);
    const replies = (): number => rx.matching((p) => echoFields(p.packet)?.kind === 'echoReply').length;
    await rx.next(() => replies() === expected);
    // Nothing arrives that the model lost, nothing is left held.
    await new Promise((r) => setTimeout(r, delayTx + delayRx + 50));
    expect(replies()).toBe(expected);
    expect(link.pending).toEqual({ tx: 0, rx: 0 });
    // No reply comes back sooner than both delays: the queue never releases early.
    for (const p of rx.matching((q) => echoFields(q.packet)?.kind === 'echoReply')) {
      expect(p.at - sentAt.get(echoFields(p.packet)!.sequence)!).toBeGreaterThanOrEqual(delayTx + delayRx);
    }
  });

  it('changes its parameters while running, and serializes at the configured rate', async () => {
    const { dev } = labTun();
    const link = new ImpairedLink(dev, { random: seededRandom(3) });
    const rx = new PacketCollector(link);
    link.send(echoRequest(US, KERNEL, 11, 0));
    await rx.next((p) => echoFields(p.packet)?.sequence === 0);

    link.setParams({ tx: { lossRate: 1 } });
    for (let seq = 1; seq <= 10; seq++) link.send(echoRequest(US, KERNEL, 11, seq));
    expect(link.tx.stats.lost).toBe(10);

    // 40 packets of 1028 bytes at 4 Mbit/s: 2.056 ms each, so the last reply needs >= 80 ms.
    link.setParams({ tx: { lossRate: 0, rateBitsPerSecond: 4_000_000 } });
    const start = performance.now();
    for (let seq = 100; seq < 140; seq++) link.send(echoRequest(US, KERNEL, 11, seq, 1000));
    const last = await rx.next((p) => echoFields(p.packet)?.sequence === 139);
    expect(last.at - start).toBeGreaterThanOrEqual((39 * 1028 * 8) / 4000);
    const sequence = (p: LinkPacket): number => echoFields(p.packet)?.sequence ?? -1;
    expect(rx.matching((p) => sequence(p) >= 1 && sequence(p) <= 10)).toHaveLength(0);
    expect(rx.matching((p) => sequence(p) >= 100)).toHaveLength(40);
  });
});
