// `namestack host` as a user runs it (root; CI runs it): the daemon owns a TUN moved into a
// throwaway namespace (prefix nst-dmn-<pid>-) whose kernel is the peer. The kernel's ping and
// ping -6 get answers; the control socket is 0600 and survives bad requests; stats; the CLI
// `connect` to a kernel listener and a kernel client to `listen` (plain and --exec) move
// random data with equal SHA-256; a killed client leaves the daemon healthy; the Python
// example works against the real daemon; SIGTERM ends connections with FIN, removes the TUN
// and the socket, exit 0; startup errors carry their code.

import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Namespaces, sh } from './tun-lab.js';
import { KernelPeers, privateBuild, runCommand, startCommand, startDaemon, type Daemon } from './daemon-process.js';
import { nodeCommand } from '../../apps/node-command.js';

const namespaces = new Namespaces(`nst-dmn-${process.pid}-`);
const TUN = `nsd${process.pid % 100000}`;
const KERNEL4 = '10.77.0.1';
const STACK4 = '10.77.0.2';
const KERNEL6 = 'fd77::1';
const STACK6 = 'fd77::2';
const ROOT = new URL('../../', import.meta.url).pathname;

const tmp = mkdtempSync(join(tmpdir(), 'nst-dmn-'));
const control = join(tmp, 'host.sock');
const peers = new KernelPeers(tmp);
let build: ReturnType<typeof privateBuild>;
let ns: string;
let daemon: Daemon;
const children: ChildProcess[] = [];

const kernelServer = (address: string, port: number, mode: 'echo' | 'flood'): Promise<{ output: Promise<string> }> => peers.server(ns, address, port, mode);

function cli(...args: string[]): string[] {
  return nodeCommand(build.cli, ...args, '--control', control);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function stats(): Promise<Record<string, any>> {
  const r = await runCommand(cli('stats', '--json'));
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout.toString());
}

/** Sends raw bytes on a control connection; returns the daemon's first line. */
function rawRequest(bytes: string | Buffer): Promise<{ ok: boolean; error?: { code: string } }> {
  return new Promise((resolve, reject) => {
    const s = connect(control);
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    s.on('close', () => resolve(JSON.parse(text.split('\n')[0]!)));
    s.write(bytes);
  });
}

async function waitUntil(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  namespaces.cleanup();
  build = privateBuild();
  ns = namespaces.create(true);
  daemon = await startDaemon(build.cli, [
    '--link',
    `tun=${TUN},netns=${ns},addr=${STACK4}/24,addr=${STACK6}/64,kernel-addr=${KERNEL4}/24,kernel-addr=${KERNEL6}/64`,
    '--name',
    'dmn.test',
    '--host',
    `kernel.test=${KERNEL6},${KERNEL4}`,
    '-v',
  ], control);
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  peers.kill();
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGKILL');
    await daemon.exited;
  }
  namespaces.cleanup();
  build?.remove();
  rmSync(tmp, { recursive: true, force: true });
});

describe('namestack host on a TUN', () => {
  it('answers the kernel ping and ping -6 on its addresses', () => {
    expect(sh(`ip netns exec ${ns} ping -c 3 -i 0.2 -W 2 ${STACK4}`)).toMatch(/3 received/);
    expect(sh(`ip netns exec ${ns} ping -6 -c 3 -i 0.2 -W 2 ${STACK6}`)).toMatch(/3 received/);
  });

  it('serves the control socket with mode 0600 and keeps serving after bad requests', async () => {
    expect(statSync(control).mode & 0o777).toBe(0o600);
    expect((await rawRequest('{"op": nope}\n')).error?.code).toBe('EBADREQ');
    expect((await rawRequest(Buffer.alloc(100_000, 'a'))).error?.code).toBe('ETOOBIG');
    expect((await rawRequest('{"op":"reboot"}\n')).error?.code).toBe('EBADOP');
    const ping = await rawRequest('{"op":"ping"}\n');
    expect(ping).toMatchObject({ ok: true, protocol: 1, name: 'dmn.test' });
  });

  it('reports stats: the TUN with its addresses and counters, routes, TCP', async () => {
    const s = await stats();
    expect(s.name).toBe('dmn.test');
    const iface = s.interfaces.find((i: { name: string }) => i.name === TUN);
    expect(iface).toMatchObject({ mtu: 1500, up: true, netns: ns, addresses: [`${STACK4}/24`, `${STACK6}/64`] });
    expect(iface.tun.rxPackets).toBeGreaterThan(0);
    expect(s.counters.echoRepliesOut).toBeGreaterThanOrEqual(6);
    expect(s.tcp.counters).toBeDefined();
    const human = await runCommand(cli('stats'));
    expect(human.stdout.toString()).toMatch(new RegExp(`${TUN} mtu 1500 up`));
  });

  for (const [family, address] of [
    ['IPv4', KERNEL4],
    ['IPv6', KERNEL6],
  ] as const) {
    it(`namestack connect to a kernel listener over ${family}: 2 MiB each way, SHA-256 equal`, async () => {
      const port = family === 'IPv4' ? 5001 : 5002;
      const server = await kernelServer(address, port, 'echo');
      const data = randomBytes(2 << 20);
      const r = await runCommand(cli('connect', address, String(port)), data);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(sha(r.stdout)).toBe(sha(data));
      expect(await server.output).toBe('eof');
    });
  }

  it('connect by a static host name, and the error code of a refused connection', async () => {
    const server = await kernelServer(KERNEL6, 5003, 'echo');
    const named = await runCommand(cli('connect', 'kernel.test', '5003'), 'by name');
    expect(named.stdout.toString()).toBe('by name');
    await server.output;
    const refused = await runCommand(cli('connect', KERNEL4, '5999'), '');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^namestack connect: ECONNREFUSED: /);
  });

  it('a kernel client to namestack listen: different random data each way, SHA-256 equal', async () => {
    const toClient = randomBytes(1 << 20);
    const toServer = randomBytes(3 << 19);
    const listener = startCommand(cli('listen', '6001'));
    children.push(listener);
    listener.stdin!.end(toClient);
    // Wait for the listener to be registered in the daemon.
    await waitUntil(async () => (await stats()).control.listeners.length === 1, 'the listener');
    const client = await runCommand(peers.client(ns, STACK4, 6001), toServer);
    expect(client.status).toBe(0);
    expect(sha(client.stdout)).toBe(sha(toClient));
    const served = await listener.result;
    expect(served.stderr).toBe('');
    expect(served.status).toBe(0);
    expect(sha(served.stdout)).toBe(sha(toServer));
  });

  it('namestack listen --exec runs a command per connection with the stream on its stdio', async () => {
    const listener = startCommand(cli('listen', '6002', '--exec', 'sha256sum; echo "$NAMESTACK_REMOTE_ADDRESS"'));
    children.push(listener);
    await waitUntil(async () => (await stats()).control.listeners.length === 1, 'the listener');
    for (const family of [4, 6]) {
      const data = randomBytes(700_000);
      const r = await runCommand(peers.client(ns, family === 4 ? STACK4 : STACK6, 6002), data);
      const [sum, remote] = r.stdout.toString().trim().split('\n');
      expect(sum).toBe(`${sha(data)}  -`);
      expect(remote).toBe(family === 4 ? KERNEL4 : KERNEL6);
    }
    listener.kill('SIGTERM');
    expect((await listener.result).status).toBe(0);
    await waitUntil(async () => (await stats()).control.listeners.length === 0, 'the listener to close');
  });

  it('the Python example of docs/control-protocol.md works against the daemon', async () => {
    const file = join(tmp, 'client.py');
    writeFileSync(file, /```python\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, 'docs/control-protocol.md'), 'utf8'))![1]!);
    const server = await kernelServer(KERNEL4, 5004, 'echo');
    const data = randomBytes(300_000);
    const r = await runCommand(['python3', file, control, KERNEL4, '5004'], data);
    expect(r.stderr).toBe('');
    expect(sha(r.stdout)).toBe(sha(data));
    await server.output;
  });

  it('a client that stops reading closes the TCP window; the daemon holds a bounded amount', async () => {
    const server = await kernelServer(KERNEL4, 5007, 'flood');
    const client = connect(control);
    client.write(`{"op":"connect","host":"${KERNEL4}","port":5007}\n`);
    await new Promise((r) => client.once('data', r));
    client.pause();
    const received = async (): Promise<number> => {
      const c = (await stats()).tcp.connections.find((x: { remote: { port: number } }) => x.remote.port === 5007);
      return c.bytesReceived;
    };
    // Stalled: nothing more arrives between two looks half a second apart.
    let before = -1;
    await waitUntil(async () => {
      const now = await received();
      const stalled = now === before;
      before = now;
      if (!stalled) await new Promise((r) => setTimeout(r, 500));
      return stalled;
    }, 'the transfer to stall');
    const conn = (await stats()).tcp.connections.find((x: { remote: { port: number } }) => x.remote.port === 5007);
    expect(conn.receiveWindow).toBeLessThan(conn.mss);
    // The stack's receive buffer, the daemon's stream buffers and the Unix socket's, no more.
    expect(before).toBeLessThan(conn.receiveBuffer + (4 << 20));
    client.destroy();
    expect(['ECONNRESET', 'EPIPE']).toContain(await server.output);
  });

  it('a client killed mid-transfer: the peer gets a reset, the daemon stays healthy and holds nothing', async () => {
    const server = await kernelServer(KERNEL4, 5005, 'flood');
    const victim = startCommand(cli('connect', KERNEL4, '5005'));
    children.push(victim);
    let got = 0;
    await new Promise<void>((resolve) =>
      victim.stdout!.on('data', (d: Buffer) => {
        got += d.length;
        if (got > 1 << 20) resolve();
      }),
    );
    victim.kill('SIGKILL');
    // The kernel reports the reset on the next send as ECONNRESET or, once it is processed, EPIPE.
    expect(['ECONNRESET', 'EPIPE']).toContain(await server.output);
    await waitUntil(async () => {
      const s = await stats();
      // (Connections of earlier tests may still sit out TIME_WAIT.)
      return s.control.streams.length === 0 && !s.tcp.connections.some((c: { remote: { port: number } }) => c.remote.port === 5005);
    }, 'the daemon to let go');
    expect((await rawRequest('{"op":"ping"}\n')).ok).toBe(true);
  });
});

describe('link options', () => {
  it('a pcap capture and an impairment from --link: tshark reads the echoes, the delay shows in the RTT', async () => {
    const ns2 = namespaces.create(true);
    const pcap = join(tmp, 'link.pcap');
    const control2 = join(tmp, 'second.sock');
    const d2 = await startDaemon(build.cli, ['--link', `tun=${TUN}p,netns=${ns2},addr=${STACK4}/24,kernel-addr=${KERNEL4}/24,pcap=${pcap},delay=15ms`], control2);
    try {
      const out = sh(`ip netns exec ${ns2} ping -c 3 -i 0.2 -W 2 ${STACK4}`);
      expect(out).toMatch(/3 received/);
      // Each direction is held 15 ms: no round trip can be shorter than 30 ms.
      const min = Number(/= ([\d.]+)\//.exec(out)![1]);
      expect(min).toBeGreaterThanOrEqual(30);
      const r = await runCommand(nodeCommand(build.cli, 'stats', '--json', '--control', control2));
      const iface = JSON.parse(r.stdout.toString()).interfaces[0];
      expect(iface.capture).toMatchObject({ on: true, file: pcap });
      expect(iface.impairment.rx.offered).toBeGreaterThanOrEqual(3);
      expect(iface.impairment.tx.offered).toBeGreaterThanOrEqual(3);
    } finally {
      d2.child.kill('SIGTERM');
      expect(await d2.exited).toBe(0);
    }
    const echoes = sh(`tshark -r ${pcap} -Y icmp -T fields -e icmp.type 2>/dev/null`).trim().split('\n');
    expect(echoes.filter((t) => t === '8')).toHaveLength(3);
    expect(echoes.filter((t) => t === '0')).toHaveLength(3);
  });
});

describe('startup errors', () => {
  it('a bad configuration: EBADCONFIG, exit 2', async () => {
    const r = await runCommand(nodeCommand(build.cli, 'host', '--link', 'tun=x,addr=10.0.0.1', '--control', join(tmp, 'bad.sock')));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^namestack host: EBADCONFIG: .*needs a prefix length/);
  });

  it('without CAP_NET_ADMIN: ETUNPERM with what to do, exit 1', async () => {
    const r = await runCommand([
      'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all',
      ...nodeCommand(build.cli, 'host', '--link', `tun=${TUN}x,addr=10.78.0.2/24`, '--control', join(tmp, 'nobody', 'x.sock')),
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^namestack host: ETUNPERM: .*(root|CAP_NET_ADMIN)/);
  });

  it('a second daemon on the same control socket: EADDRINUSE', async () => {
    const r = await runCommand(nodeCommand(build.cli, 'host', '--link', `tun=${TUN}y,addr=10.79.0.2/24`, '--control', control));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/EADDRINUSE/);
    // Its TUN went away with it.
    expect(sh(`ip -j link show`)).not.toContain(`${TUN}y`);
  });
});

describe('SIGTERM', () => {
  it('ends open connections with FIN, removes the TUN and the control socket, exits 0', async () => {
    const server = await kernelServer(KERNEL4, 5006, 'echo');
    // A connection with stdin left open: only the daemon's shutdown can end it.
    const open = startCommand(cli('connect', KERNEL4, '5006'));
    children.push(open);
    open.stdin!.write('hello');
    await new Promise<void>((resolve) => open.stdout!.once('data', () => resolve()));
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    // The kernel peer saw a clean end of stream (FIN), not a reset.
    expect(await server.output).toBe('eof');
    expect(existsSync(control)).toBe(false);
    expect(() => sh(`ip -n ${ns} link show dev ${TUN} 2>/dev/null`)).toThrow();
    expect(daemon.log()).toMatch(/stopping signal=SIGTERM/);
    open.kill('SIGKILL');
  });
});
