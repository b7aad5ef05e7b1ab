// namestack's TCP against the Linux kernel's, in real time: a Host on a TUN device (with
// checksum and TSO offloads) whose kernel side lives in a throwaway namespace
// (prefix nst-tcpk-<pid>-), the kernel peer a Python socket program (test/lab/tcp-peer.py).
// Random files of 256 KB to 8 MB go both ways at once, over IPv4 and IPv6, with namestack
// as client and as server; both sides compare SHA-256, and neither side may reset the
// connection (no ECONNRESET here, no TCPAbortOn* in the kernel's namespace).
// Then the same through an ImpairedLink (loss, reordering, duplication, delay; TSO off so the
// impairment acts per wire packet), the kernel selftest mptcp_connect.sh pattern.

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Host } from '../../stack/ip/host.js';
import { seededRandom } from '../../stack/random.js';
import type { TcpConnection } from '../../stack/tcp/connection.js';
import { TcpLayer } from '../../stack/tcp/layer.js';
import { openTun, type TunDevice } from '../../tun/device.js';
import { ImpairedLink } from '../../tun/impaired-link.js';
import type { ImpairmentParams } from '../../tun/impairment.js';
import type { Link } from '../../tun/link.js';
import { HostRuntime } from '../../tun/runtime.js';
import { writePump } from './write-pump.js';
import { Namespaces, sh, spawnIn } from './tun-lab.js';

const namespaces = new Namespaces(`nst-tcpk-${process.pid}-`);
const NAME = `nstk${process.pid % 100000}x`;
const PEER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'tcp-peer.py');
const tmp = mkdtempSync(join(tmpdir(), 'nst-tcpk-'));
const KERNEL = { 4: '10.202.0.1', 6: 'fd20:202::1' } as const;
const US = { 4: '10.202.0.2', 6: 'fd20:202::2' } as const;

/** A Host on a TUN whose kernel side sits in a namespace of its own, driven in real time. */
interface Lab {
  ns: string;
  tcp: TcpLayer;
  runtime: HostRuntime;
  impaired: ImpairedLink | undefined;
}

const labs: Lab[] = [];

function makeLab(impairment?: Partial<ImpairmentParams>): Lab {
  const ns = namespaces.create(true);
  const tso = impairment === undefined;
  const dev: TunDevice = openTun({ name: `${NAME}%d`, netns: ns, mtu: 1500, offloads: { csum: true, tso4: tso, tso6: tso } });
  dev.addAddress(`${KERNEL[4]}/24`);
  sh(`ip -n ${ns} address add ${KERNEL[6]}/64 dev ${dev.name} nodad`);
  const host = new Host({ name: 'namestack' });
  const ifIndex = host.addInterface({ name: dev.name, mtu: dev.mtu, offloads: { checksum: true, gso: tso } });
  host.addAddress(ifIndex, US[4], 24);
  host.addAddress(ifIndex, US[6], 64);
  const tcp = new TcpLayer(host);
  const runtime = new HostRuntime(host);
  const impaired = impairment && new ImpairedLink(dev, { both: impairment, random: seededRandom(`lab-impairment/${JSON.stringify(impairment)}`) });
  const link: Link = impaired ?? dev;
  runtime.attach(ifIndex, link);
  const lab = { ns, tcp, runtime, impaired };
  labs.push(lab);
  return lab;
}

let ns: string;
let tcp: TcpLayer;
let runtime: HostRuntime;

beforeAll(() => {
  ({ ns, tcp, runtime } = makeLab());
});

afterAll(async () => {
  for (const lab of labs) await lab.runtime.stop();
  namespaces.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * Connections the kernel aborted with a reset (Linux TCPAbortOn*: data after close, close
 * with unread data, memory, timeout, linger) in the namespace. A RST answering a stray
 * segment after the kernel's socket is gone (TcpOutRsts alone: our ACK of its tail loss
 * probe arriving once it has closed) resets no connection and is not counted.
 */
function kernelAborts(inNs = ns): number {
  const out = sh(`ip netns exec ${inNs} nstat -asz TcpExtTCPAbortOnData TcpExtTCPAbortOnClose TcpExtTCPAbortOnMemory TcpExtTCPAbortOnTimeout TcpExtTCPAbortOnLinger TcpExtTCPAbortFailed`);
  let n = 0;
  for (const m of out.matchAll(/TcpExtTCPAbort\w+\s+(\d+)/g)) n += Number(m[1]);
  return n;
}

/** Streams `data` into `conn` (then end()) and collects what arrives until the peer's FIN. */
function exchange(conn: TcpConnection, data: Uint8Array, rt = runtime): Promise<{ received: Uint8Array; error?: Error }> {
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    const pump = writePump(conn, data, () => rt.kick(), () => conn.end());
    const finish = (error?: Error): void => {
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const received = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        received.set(c, at);
        at += c.length;
      }
      resolve({ received, ...(error && { error }) });
    };
    let done = false;
    const settle = (error?: Error): void => {
      if (done) return;
      done = true;
      clearInterval(poll);
      finish(error);
    };
    // Done at the close, or once both FINs are through and this side waits in TIME_WAIT.
    const poll = setInterval(() => {
      if (conn.state === 'TIME_WAIT') settle();
    }, 5);
    conn.handler = {
      onConnect: pump,
      onWritable: pump,
      onData: (_c, d) => chunks.push(d),
      onClose: (_c, e) => settle(e),
    };
    pump();
  });
}

function randomFile(size: number, label: string): { path: string; data: Uint8Array } {
  const data = seededRandom(`kernel/${label}`).bytes(size);
  const path = join(tmp, `${label}.bin`);
  writeFileSync(path, data);
  return { path, data };
}

interface PeerResult {
  received: number;
  sha256: string | null;
  sent: number;
  error: string | null;
}

async function waitFor(path: string): Promise<void> {
  for (let i = 0; i < 500 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 10));
}

const SIZES = [256 << 10, 8 << 20, 3 << 20, 1 << 20];

describe.each([4, 6] as const)('namestack and the kernel over IPv%i', (family) => {
  it('namestack connects: files both ways at once, hashes equal, no reset', async () => {
    const port = 20000 + family;
    const sizeUp = SIZES[family === 4 ? 1 : 2]!;
    const sizeDown = SIZES[family === 4 ? 0 : 3]!;
    const up = randomFile(sizeUp, `up-c${family}`);
    const down = randomFile(sizeDown, `down-c${family}`);
    const ready = join(tmp, `ready-c${family}`);
    const abortsBefore = kernelAborts();
    const peer = spawnIn(ns, ['python3', PEER_SCRIPT, 'listen', KERNEL[family], String(port), down.path, ready]);
    await waitFor(ready);
    const start = performance.now();
    const conn = tcp.connect({ remoteAddress: KERNEL[family], remotePort: port }, runtime.now());
    const done = exchange(conn, up.data);
    runtime.kick();
    const r = await done;
    const seconds = (performance.now() - start) / 1000;
    console.log(`IPv${family} client: ${(((up.data.length + down.data.length) * 8) / seconds / 1e6).toFixed(0)} Mbit/s both ways together`, conn.stats().retransmittedBytes, 'retransmitted');
    const peerOut: PeerResult = JSON.parse((await peer.output).trim().split('\n').at(-1)!);
    expect(r.error).toBeUndefined();
    expect(peerOut.error).toBeNull();
    expect(peerOut.received).toBe(up.data.length);
    expect(peerOut.sha256).toBe(sha(up.data));
    expect(r.received.length).toBe(down.data.length);
    expect(sha(r.received)).toBe(sha(down.data));
    expect(kernelAborts()).toBe(abortsBefore);
    const st = conn.stats();
    expect(st.sackEnabled && st.timestampsEnabled).toBe(true);
  });

  it('the kernel connects: files both ways at once, hashes equal, no reset', async () => {
    const port = 21000 + family;
    const sizeUp = SIZES[family === 4 ? 3 : 0]!;
    const sizeDown = SIZES[family === 4 ? 2 : 1]!;
    const up = randomFile(sizeUp, `up-s${family}`);
    const down = randomFile(sizeDown, `down-s${family}`);
    const abortsBefore = kernelAborts();
    let accepted: Promise<{ received: Uint8Array; error?: Error }> | undefined;
    const listener = tcp.listen({
      port,
      address: US[family],
      onConnection: (conn) => {
        accepted = exchange(conn, up.data);
      },
    });
    const peer = spawnIn(ns, ['python3', PEER_SCRIPT, 'connect', US[family], String(port), down.path]);
    const peerOut: PeerResult = JSON.parse((await peer.output).trim().split('\n').at(-1)!);
    expect(accepted).toBeDefined();
    const r = await accepted!;
    listener.close();
    expect(r.error).toBeUndefined();
    expect(peerOut.error).toBeNull();
    expect(peerOut.received).toBe(up.data.length);
    expect(peerOut.sha256).toBe(sha(up.data));
    expect(sha(r.received)).toBe(sha(down.data));
    expect(kernelAborts()).toBe(abortsBefore);
  });
});

const PROFILES: [string, Partial<ImpairmentParams>, 4 | 6][] = [
  ['1% loss', { delayMs: 1, lossRate: 0.01 }, 4],
  ['5% loss', { delayMs: 1, lossRate: 0.05 }, 6],
  ['reordering', { delayMs: 2, reorderRate: 0.05 }, 4],
  ['duplication', { delayMs: 1, duplicateRate: 0.05 }, 6],
  ['50 ms RTT', { delayMs: 25 }, 4],
];

describe('namestack and the kernel through an impaired link', () => {
  it.each(PROFILES)('%s: files both ways at once, hashes equal, no reset', async (name, impairment, family) => {
    const lab = makeLab(impairment);
    const port = 22000 + PROFILES.findIndex((p) => p[0] === name);
    const up = randomFile(SIZES[0]! * 3, `up-i${port}`);
    const down = randomFile(SIZES[3]!, `down-i${port}`);
    const ready = join(tmp, `ready-i${port}`);
    const abortsBefore = kernelAborts(lab.ns);
    const peer = spawnIn(lab.ns, ['python3', PEER_SCRIPT, 'listen', KERNEL[family], String(port), down.path, ready]);
    await waitFor(ready);
    const conn = lab.tcp.connect({ remoteAddress: KERNEL[family], remotePort: port }, lab.runtime.now());
    const done = exchange(conn, up.data, lab.runtime);
    lab.runtime.kick();
    const r = await done;
    const peerOut: PeerResult = JSON.parse((await peer.output).trim().split('\n').at(-1)!);
    expect(r.error).toBeUndefined();
    expect(peerOut.error).toBeNull();
    expect(peerOut.sha256).toBe(sha(up.data));
    expect(sha(r.received)).toBe(sha(down.data));
    expect(kernelAborts(lab.ns)).toBe(abortsBefore);
    if (impairment.lossRate) expect(lab.impaired!.tx.stats.lost + lab.impaired!.rx.stats.lost).toBeGreaterThan(0);
  });
});
