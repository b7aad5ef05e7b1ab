// namestack's TCP against the Linux kernel's, in real time: a Host on a TUN device (with
// checksum and TSO offloads) whose kernel side lives in a throwaway namespace
// (prefix nst-tcpk-<pid>-), the kernel peer a Python socket program (test/lab/tcp-peer.py).
// Random files of 256 KB to 8 MB go both ways at once, over IPv4 and IPv6, with namestack
// as client and as server; both sides compare SHA-256, and the kernel must never reset.

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
import { HostRuntime } from '../../tun/runtime.js';
import { Namespaces, sh, spawnIn } from './tun-lab.js';

const namespaces = new Namespaces(`nst-tcpk-${process.pid}-`);
const NAME = `nstk${process.pid % 100000}x`;
const PEER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'tcp-peer.py');
const tmp = mkdtempSync(join(tmpdir(), 'nst-tcpk-'));
const KERNEL = { 4: '10.202.0.1', 6: 'fd20:202::1' } as const;
const US = { 4: '10.202.0.2', 6: 'fd20:202::2' } as const;

let ns: string;
let dev: TunDevice;
let host: Host;
let tcp: TcpLayer;
let runtime: HostRuntime;

beforeAll(() => {
  ns = namespaces.create(true);
  dev = openTun({ name: `${NAME}%d`, netns: ns, mtu: 1500 });
  dev.addAddress(`${KERNEL[4]}/24`);
  sh(`ip -n ${ns} address add ${KERNEL[6]}/64 dev ${dev.name} nodad`);
  host = new Host({ name: 'namestack' });
  const ifIndex = host.addInterface({ name: dev.name, mtu: dev.mtu, offloads: { checksum: true, gso: true } });
  host.addAddress(ifIndex, US[4], 24);
  host.addAddress(ifIndex, US[6], 64);
  tcp = new TcpLayer(host);
  runtime = new HostRuntime(host);
  runtime.attach(ifIndex, dev);
});

afterAll(async () => {
  await runtime?.stop();
  namespaces.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The kernel's counter of resets it sent, in the namespace. */
function kernelResets(): number {
  const out = sh(`ip netns exec ${ns} nstat -asz TcpOutRsts`);
  const m = /TcpOutRsts\s+(\d+)/.exec(out);
  return m ? Number(m[1]) : 0;
}

/** Streams `data` into `conn` (then end()) and collects what arrives until the peer's FIN. */
function exchange(conn: TcpConnection, data: Uint8Array): Promise<{ received: Uint8Array; error?: Error }> {
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let offset = 0;
    let ended = false;
    const pump = (): void => {
      while (offset < data.length) {
        const n = conn.write(data.subarray(offset, Math.min(offset + (256 << 10), data.length)));
        if (n === 0) return;
        offset += n;
      }
      if (!ended) {
        ended = true;
        conn.end();
      }
      runtime.kick();
    };
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
    const resetsBefore = kernelResets();
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
    expect(kernelResets()).toBe(resetsBefore);
    const st = conn.stats();
    expect(st.sackEnabled && st.timestampsEnabled).toBe(true);
  });

  it('the kernel connects: files both ways at once, hashes equal, no reset', async () => {
    const port = 21000 + family;
    const sizeUp = SIZES[family === 4 ? 3 : 0]!;
    const sizeDown = SIZES[family === 4 ? 2 : 1]!;
    const up = randomFile(sizeUp, `up-s${family}`);
    const down = randomFile(sizeDown, `down-s${family}`);
    const resetsBefore = kernelResets();
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
    expect(kernelResets()).toBe(resetsBefore);
  });
});
