// The control protocol end to end over a real Unix socket, with the kernel's TCP on loopback as
// the transport (kernel-transport.ts): framing and coded errors, streams with half-close in
// both directions, resets reported through wait, listen/accept, backpressure both ways,
// clients dying mid-stream, limits, graceful stop, and the Python example of the docs.

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { controlCall, ControlError, openControl } from '../../apps/control/client.js';
import type { ListenEvent, ListenReply, StreamOutcome, StreamReply } from '../../apps/control/protocol.js';
import { DEFAULT_LIMITS, type ControlLimits } from '../../apps/host/config.js';
import { ControlServer } from '../../apps/host/control-server.js';
import { createLogger } from '../../apps/host/log.js';
import { kernelTransport } from './kernel-transport.js';

const tmp = mkdtempSync(join(tmpdir(), 'nst-control-'));
const ROOT = new URL('../../', import.meta.url).pathname;
let counter = 0;
const running: { server: ControlServer }[] = [];
const peers: Server[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.server.stop(0)));
  for (const p of peers.splice(0)) p.close();
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function controlServer(path: string, limits: Partial<ControlLimits> = {}) {
  const transport = kernelTransport();
  const server = new ControlServer({
    path,
    transport,
    limits: { ...DEFAULT_LIMITS, ...limits },
    log: createLogger('error'),
    resolveHost: (name) => (name === 'loop.test' ? ['127.0.0.1'] : undefined),
    stats: () => ({ name: 'test-host' }),
    info: { version: 'test', name: 'test-host' },
  });
  return { path, server, transport };
}

async function startControl(limits: Partial<ControlLimits> = {}, path = join(tmp, `c${counter++}.sock`)) {
  const c = controlServer(path, limits);
  await c.server.start();
  running.push(c);
  return c;
}

/** A kernel TCP server on 127.0.0.1 whose connections `handle` serves. */
async function peer(handle: (s: Socket) => void): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, handle);
  peers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** Echo: every byte back, FIN after the client's FIN. */
const echo = (s: Socket): void => void s.pipe(s);

/** Sends raw bytes on a control connection and returns everything the daemon sends until it closes. */
function raw(path: string, bytes: Buffer | string, opts: { chunks?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? undefined : reject(e)));
    s.on('close', () => resolve(out));
    s.on('connect', () => {
      const b = Buffer.from(bytes);
      const n = opts.chunks ?? 1;
      const size = Math.ceil(b.length / n);
      for (let i = 0; i < b.length; i += size) s.write(b.subarray(i, i + size));
    });
  });
}

function replyOf(text: string): { ok: boolean; error?: { code: string; message: string } } {
  return JSON.parse(text.split('\n')[0]!);
}

/** Writes `data`, half-closes, and collects the stream until the daemon closes it. */
function exchange(s: Socket, rest: Buffer, data: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [rest];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => {});
    s.on('close', () => resolve(Buffer.concat(got)));
    s.end(data);
    s.resume();
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

/** Resolves once the daemon holds no stream and the transport no connection. */
function drained(server: ControlServer, transport: { sockets: Set<Socket> }): Promise<void> {
  return waitFor(() => transport.sockets.size === 0 && (server.snapshot().streams as unknown[]).length === 0, 'the daemon to let go of every stream');
}

describe('control socket', () => {
  it('is created with mode 0600, replaces a stale socket file, refuses to take a live one', async () => {
    const { path } = await startControl();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).isSocket()).toBe(true);

    await expect(controlServer(path).server.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });

    // A socket file nobody listens on (left by a crashed daemon) is replaced.
    const stalePath = join(tmp, 'stale.sock');
    spawnSync('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(stalePath)})`]);
    expect(existsSync(stalePath)).toBe(true);
    await startControl({}, stalePath);
    expect((await controlCall(stalePath, { op: 'ping' })).ok).toBe(true);
  });

  it('answers ping and version with the protocol version', async () => {
    const { path } = await startControl();
    const r = await controlCall<{ protocol: number; version: string; pid: number; name: string }>(path, { op: 'ping' });
    expect(r).toMatchObject({ ok: true, protocol: 1, version: 'test', pid: process.pid, name: 'test-host' });
    expect(replyOf(await raw(path, '{"op":"version"}\r\n'))).toMatchObject({ ok: true, protocol: 1 });
  });

  it('answers malformed, unknown, incomplete and oversized requests with coded errors and keeps serving', async () => {
    const { path } = await startControl();
    expect(replyOf(await raw(path, 'hello\n')).error!.code).toBe('EBADREQ');
    expect(replyOf(await raw(path, '[1,2]\n')).error!.code).toBe('EBADREQ');
    expect(replyOf(await raw(path, '{"op":42}\n')).error!.code).toBe('EBADREQ');
    expect(replyOf(await raw(path, '{"op":"fly"}\n')).error!.code).toBe('EBADOP');
    expect(replyOf(await raw(path, '{"op":"connect","port":80}\n')).error).toMatchObject({ code: 'EBADREQ', message: expect.stringContaining('"host"') });
    expect(replyOf(await raw(path, '{"op":"connect","host":"127.0.0.1","port":70000}\n')).error!.code).toBe('EBADREQ');
    expect(replyOf(await raw(path, '{"op":"accept","id":-1}\n')).error!.code).toBe('EBADREQ');
    // 70 KB without a newline, in one write and trickled in 700 writes.
    const big = Buffer.alloc(70_000, 'x');
    expect(replyOf(await raw(path, big)).error!.code).toBe('ETOOBIG');
    expect(replyOf(await raw(path, big, { chunks: 700 })).error!.code).toBe('ETOOBIG');
    // A complete but too long line.
    expect(replyOf(await raw(path, `{"op":"ping","pad":"${'y'.repeat(66_000)}"}\n`)).error!.code).toBe('ETOOBIG');
    expect((await controlCall(path, { op: 'ping' })).ok).toBe(true);
  });

  it('drops a client that sends no complete request in time (ETIMEDOUT)', async () => {
    const { path } = await startControl({ requestTimeoutMs: 150 });
    expect(replyOf(await raw(path, '{"op":')).error!.code).toBe('ETIMEDOUT');
    expect((await controlCall(path, { op: 'ping' })).ok).toBe(true);
  });

  it('refuses control connections beyond the limit (ELIMIT)', async () => {
    const { path } = await startControl({ maxControlConnections: 2 });
    const idle = [connect(path), connect(path)];
    await Promise.all(idle.map((s) => new Promise((r) => s.once('connect', r))));
    await waitFor(() => true, 'settle');
    await new Promise((r) => setTimeout(r, 50));
    expect(replyOf(await raw(path, '{"op":"ping"}\n')).error!.code).toBe('ELIMIT');
    for (const s of idle) s.destroy();
    await waitFor(() => true, 'close');
    await new Promise((r) => setTimeout(r, 50));
    expect((await controlCall(path, { op: 'ping' })).ok).toBe(true);
  });

  it('reports stats: the daemon part, the transport and the streams', async () => {
    const { path } = await startControl();
    const port = await peer(echo);
    const { socket } = await openControl<StreamReply>(path, { op: 'connect', host: '127.0.0.1', port });
    const s = await controlCall<{ name: string; tcp: { connections: number }; control: { streams: { kind: string; state: string; remote: { port: number } }[] } }>(path, { op: 'stats' });
    expect(s.name).toBe('test-host');
    expect(s.tcp.connections).toBe(1);
    expect(s.control.streams).toEqual([expect.objectContaining({ kind: 'connect', state: 'open', remote: { address: '127.0.0.1', port } })]);
    socket.destroy();
  });
});

describe('connect streams', () => {
  it('carries 1 MiB each way with half-close in both directions; wait reports a clean end', async () => {
    const { path, server } = await startControl();
    const port = await peer(echo);
    const data = randomBytes(1 << 20);
    const { socket, reply, rest } = await openControl<StreamReply>(path, { op: 'connect', host: '127.0.0.1', port });
    expect(reply).toMatchObject({ ok: true, remote: { address: '127.0.0.1', port }, local: { address: '127.0.0.1' } });
    const outcome = controlCall<StreamOutcome>(path, { op: 'wait', id: reply.id });
    const back = await exchange(socket, rest, data);
    expect(sha(back)).toBe(sha(data));
    expect(await outcome).toMatchObject({ id: reply.id, error: null, bytesRead: data.length, bytesWritten: data.length });
    // Remembered after the end, too.
    expect(await controlCall(path, { op: 'wait', id: reply.id })).toMatchObject({ error: null });
    expect(server.snapshot().streams).toEqual([]);
  });

  it('keeps the client sending after the peer closed first (peer FIN -> EOF, stream still writable)', async () => {
    const { path } = await startControl();
    let received = Buffer.alloc(0);
    const gotAll = new Promise<void>((resolve) => {
      void peer((s) => {
        s.end('bye\n'); // FIN first
        s.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
        s.on('end', () => resolve());
      }).then((port) => run(port));
    });
    let result: Buffer | undefined;
    async function run(port: number): Promise<void> {
      const { socket, rest } = await openControl<StreamReply>(path, { op: 'connect', host: '127.0.0.1', port });
      const got: Buffer[] = [rest];
      socket.on('data', (d: Buffer) => got.push(d));
      socket.once('end', () => {
        // EOF seen; we may still talk.
        socket.end('late words\n');
      });
      socket.on('close', () => (result = Buffer.concat(got)));
      socket.resume();
    }
    await gotAll;
    await waitFor(() => result !== undefined, 'stream close');
    expect(result!.toString()).toBe('bye\n');
    expect(received.toString()).toBe('late words\n');
  });

  it('sends bytes that followed the request line (and an early EOF) once connected', async () => {
    const { path } = await startControl();
    const port = await peer(echo);
    const out = await new Promise<string>((resolve) => {
      const c = connect(path);
      let text = '';
      c.on('data', (d: Buffer) => (text += d.toString()));
      c.on('close', () => resolve(text));
      c.end(`{"op":"connect","host":"127.0.0.1","port":${port}}\nearly bytes`);
    });
    const [line, ...stream] = out.split('\n');
    expect(JSON.parse(line!)).toMatchObject({ ok: true });
    expect(stream.join('\n')).toBe('early bytes');
  });

  it('fails with the stack code: ECONNREFUSED, ENOTFOUND, ENOSERVICE; names from the host map work', async () => {
    const { path } = await startControl();
    const closed = await peer(() => {});
    peers.pop()!.close();
    await expect(openControl(path, { op: 'connect', host: '127.0.0.1', port: closed })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(openControl(path, { op: 'connect', host: 'nowhere.test', port: 80 })).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(openControl(path, { op: 'connect', host: '127.0.0.1', port: 'no-such-service' })).rejects.toMatchObject({ code: 'ENOSERVICE' });
    const port = await peer(echo);
    const { socket, rest } = await openControl<StreamReply>(path, { op: 'connect', host: 'loop.test', port: String(port) });
    expect((await exchange(socket, rest, Buffer.from('named'))).toString()).toBe('named');
  });

  it('destroys the stream on a peer reset and reports ECONNRESET through wait', async () => {
    const { path } = await startControl();
    const port = await peer((s) => s.once('data', () => s.resetAndDestroy()));
    const { socket, reply } = await openControl<StreamReply>(path, { op: 'connect', host: '127.0.0.1', port });
    const outcome = controlCall<StreamOutcome>(path, { op: 'wait', id: reply.id });
    socket.on('error', () => {});
    // openControl sockets allow half-open: answer the daemon's EOF with ours.
    socket.once('end', () => socket.end());
    socket.write('trigger');
    socket.resume();
    await new Promise((r) => socket.once('close', r));
    expect((await outcome).error).toMatchObject({ code: 'ECONNRESET' });
  });

  it('limits streams per client process (ELIMIT) and frees the slot when one ends', async () => {
    const { path } = await startControl({ maxStreamsPerClient: 2 });
    const port = await peer(echo);
    const a = await openControl<StreamReply>(path, { op: 'connect', host: '127.0.0.1', port });
    const b = await openControl<StreamReply>(path, { op: 'connect', host: '127.0.0.1', port });
    await expect(openControl(path, { op: 'connect', host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'ELIMIT' });
    await exchange(a.socket, a.rest, Buffer.from('x'));
    await controlCall(path, { op: 'wait', id: a.reply.id });
    const c = await openControl<StreamReply>(path, { op: 'connect', host: '127.0.0.1', port });
    b.socket.destroy();
    c.socket.destroy();
  });
});

describe('listen and accept', () => {
  /** Reads event lines from a listen connection. */
  function events(s: Socket, rest: Buffer): { next: () => Promise<ListenEvent> } {
    let buf = rest.toString();
    const queue: ListenEvent[] = [];
    const waiters: ((e: ListenEvent) => void)[] = [];
    const pump = (): void => {
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const e = JSON.parse(buf.slice(0, nl)) as ListenEvent;
        buf = buf.slice(nl + 1);
        const w = waiters.shift();
        if (w) w(e);
        else queue.push(e);
      }
    };
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      pump();
    });
    s.resume();
    pump();
    return { next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))) };
  }

  it('announces a connection, hands it over on accept, and reports its end', async () => {
    const { path } = await startControl();
    const l = await openControl<ListenReply>(path, { op: 'listen', port: 0 });
    expect(l.reply.local.port).toBeGreaterThan(0);
    const ev = events(l.socket, l.rest);
    const client = connect(l.reply.local.port, '127.0.0.1');
    const e = await ev.next();
    expect(e).toMatchObject({ event: 'connection', remote: { address: '127.0.0.1' }, local: { port: l.reply.local.port } });
    const data = randomBytes(300_000);
    const fromClient: Buffer[] = [];
    client.on('data', (d: Buffer) => fromClient.push(d));
    client.end(data);
    const a = await openControl<StreamReply>(path, { op: 'accept', id: e.id });
    // Echo what the client sent, in this test's role as the accepting program.
    const got: Buffer[] = [a.rest];
    a.socket.on('data', (d: Buffer) => {
      got.push(d);
      a.socket.write(d);
    });
    a.socket.on('end', () => a.socket.end());
    a.socket.resume();
    await new Promise((r) => client.once('close', r));
    expect(sha(Buffer.concat(got))).toBe(sha(data));
    expect(sha(Buffer.concat(fromClient))).toBe(sha(data));
    expect(await ev.next()).toMatchObject({ event: 'closed', id: e.id, error: null, bytesRead: data.length, bytesWritten: data.length });
    // Accepting twice is an error.
    await expect(openControl(path, { op: 'accept', id: e.id })).rejects.toMatchObject({ code: 'ENOENT' });
    l.socket.destroy();
  });

  it('resets a connection not accepted in time, and those pending when the listener closes', async () => {
    const { path, server } = await startControl({ acceptTimeoutMs: 200 });
    const l = await openControl<ListenReply>(path, { op: 'listen', port: 0 });
    const ev = events(l.socket, l.rest);
    const c1 = connect(l.reply.local.port, '127.0.0.1');
    const c1err = new Promise<string | undefined>((r) => {
      c1.on('error', (e: NodeJS.ErrnoException) => r(e.code));
      c1.on('close', () => r(undefined));
    });
    const e1 = await ev.next();
    expect(await ev.next()).toMatchObject({ event: 'closed', id: e1.id, error: { code: 'ETIMEDOUT' } });
    expect(await c1err).toBe('ECONNRESET');

    const c2 = connect(l.reply.local.port, '127.0.0.1');
    const c2err = new Promise<string | undefined>((r) => {
      c2.on('error', (e: NodeJS.ErrnoException) => r(e.code));
      c2.on('close', () => r(undefined));
    });
    await ev.next();
    l.socket.destroy();
    expect(await c2err).toBe('ECONNRESET');
    await waitFor(() => (server.snapshot().streams as unknown[]).length === 0 && (server.snapshot().listeners as unknown[]).length === 0, 'cleanup');
  });

  it('refuses a port in use with EADDRINUSE', async () => {
    const { path } = await startControl();
    const port = await peer(() => {});
    await expect(openControl(path, { op: 'listen', port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

describe('backpressure', () => {
  it('a client that does not read stops the daemon reading TCP (bounded memory), then gets every byte', async () => {
    const { path, server, transport } = await startControl();
    const total = 64 << 20;
    const data = randomBytes(1 << 20);
    let offered = 0;
    let peerSocket: Socket | undefined;
    const port = await peer((s) => {
      peerSocket = s;
      const more = (): void => {
        while (offered < total) {
          offered += data.length;
          if (!s.write(data)) return void s.once('drain', more);
        }
        s.end();
      };
      more();
    });
    const { socket, rest } = await openControl<StreamReply>(path, { op: 'connect', host: '127.0.0.1', port });
    // Not reading: the peer must get stuck well before 64 MiB.
    let last = -1;
    await waitFor(() => {
      const stuck = peerSocket !== undefined && peerSocket.writableLength > 0 && offered === last;
      last = offered;
      return stuck;
    }, 'the peer to block');
    await new Promise((r) => setTimeout(r, 200));
    expect(offered).toBe(last);
    expect(offered).toBeLessThan(total);
    // What the daemon holds for this stream: its TCP socket's readable buffer and the Unix socket's writable buffer.
    const [tcp] = transport.sockets;
    const unixQueued = (server as unknown as { controls: Set<Socket> }).controls;
    const held = tcp!.readableLength + [...unixQueued].reduce((n, s) => n + s.writableLength, 0);
    expect(held).toBeLessThan(1 << 20);
    // Now read it all.
    const hash = createHash('sha256');
    let n = rest.length;
    hash.update(rest);
    socket.on('data', (d: Buffer) => {
      hash.update(d);
      n += d.length;
    });
    socket.resume();
    await new Promise((r) => socket.once('end', r));
    expect(n).toBe(total);
    const expected = createHash('sha256');
    for (let i = 0; i < total / data.length; i++) expected.update(data);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    socket.destroy();
  });

  it('a peer that does not read stops the daemon reading the client (bounded memory)', async () => {
    const { path, transport } = await startControl();
    let peerSocket: Socket | undefined;
    const port = await peer((s) => {
      peerSocket = s;
      s.pause();
    });
    const { socket } = await openControl<StreamReply>(path, { op: 'connect', host: '127.0.0.1', port });
    const chunk = Buffer.alloc(1 << 20, 7);
    let written = 0;
    let blocked = false;
    while (written < 256 << 20 && !blocked) {
      written += chunk.length;
      if (!socket.write(chunk)) {
        await Promise.race([new Promise((r) => socket.once('drain', r)), new Promise((r) => setTimeout(r, 500))]);
        blocked = socket.writableLength > 0;
      }
    }
    expect(blocked).toBe(true);
    const [tcp] = transport.sockets;
    // The daemon's own buffer for the stream: what its TCP socket has not handed to the kernel.
    expect(tcp!.writableLength).toBeLessThan(2 << 20);
    expect(peerSocket).toBeDefined();
    socket.destroy();
  });
});

describe('clients that die', () => {
  /** A node process that opens a stream, reads `readBytes`, then waits to be killed. */
  function victim(path: string, port: number, readBytes: number): Promise<{ kill: () => void; id: number }> {
    const script = `
      const net = require('node:net');
      const s = net.createConnection(${JSON.stringify(path)});
      s.write(JSON.stringify({ op: 'connect', host: '127.0.0.1', port: ${port} }) + '\\n');
      let buf = Buffer.alloc(0), id, n = 0;
      s.on('data', (d) => {
        if (id === undefined) {
          buf = Buffer.concat([buf, d]);
          const nl = buf.indexOf(10);
          if (nl < 0) return;
          id = JSON.parse(buf.subarray(0, nl)).id;
          n = buf.length - nl - 1;
          process.stdout.write(String(id) + '\\n');
        } else n += d.length;
        if (n >= ${readBytes}) s.pause();
      });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    return new Promise((resolve) => {
      child.stdout!.once('data', (d: Buffer) => resolve({ id: Number(d.toString().trim()), kill: () => child.kill('SIGKILL') }));
    });
  }

  /** Starts a victim that reads `readBytes`, kills it, and checks the stream's outcome code. */
  async function killVictim(path: string, port: number, readBytes: number, code: string): Promise<void> {
    const v = await victim(path, port, readBytes);
    const outcome = controlCall<StreamOutcome>(path, { op: 'wait', id: v.id });
    v.kill();
    expect((await outcome).error).toMatchObject({ code });
  }

  it('a client killed mid-transfer: the TCP connection is reset, the daemon carries on, nothing is left', async () => {
    const { path, server, transport } = await startControl();
    let peerError: string | undefined;
    const peerClosed = new Promise<void>((resolve) => {
      void peer((s) => {
        const block = Buffer.alloc(64 * 1024, 1);
        const more = (): void => {
          while (s.write(block));
          s.once('drain', more);
        };
        s.on('error', (e: NodeJS.ErrnoException) => (peerError = e.code));
        s.on('close', () => resolve());
        more();
      }).then((port) => killVictim(path, port, 200_000, 'ECONNABORTED'));
    });
    await peerClosed;
    // The kernel peer is writing when the reset arrives: Linux reports it as ECONNRESET, or as
    // EPIPE when the RST lands between two writes. Either is the reset; a clean close is not.
    expect(['ECONNRESET', 'EPIPE']).toContain(peerError);
    await drained(server, transport);
    expect((await controlCall(path, { op: 'ping' })).ok).toBe(true);
  });

  it('a client killed while the peer is silent: FIN, then the orphan is dropped when its time runs out', async () => {
    const { path, server, transport } = await startControl({ orphanTimeoutMs: 300 });
    let peerSocket: Socket | undefined;
    const peerEnded = new Promise<void>((resolve) => {
      void peer((s) => {
        peerSocket = s;
        s.on('end', () => resolve()); // silent: never ends its own side
        s.on('error', () => {});
        s.resume();
        // (The reset itself is not visible here: Node cannot reset a kernel socket it has shut
        // down, libuv's uv_tcp_close_reset refuses; the stack's TcpSocket can.)
      }).then((port) => killVictim(path, port, 0, 'ETIMEDOUT'));
    });
    await peerEnded;
    await drained(server, transport);
    peerSocket!.destroy();
  });
});

describe('stop', () => {
  it('ends streams with FIN, resets what does not finish in time, and removes the socket', async () => {
    const { path, server } = await startControl();
    let peerEnded = false;
    const port = await peer((s) => {
      s.on('end', () => {
        peerEnded = true;
        s.end();
      });
      s.resume();
    });
    const { socket } = await openControl<StreamReply>(path, { op: 'connect', host: '127.0.0.1', port });
    socket.on('error', () => {});
    const closed = new Promise((r) => socket.once('close', r));
    socket.once('end', () => socket.end());
    socket.resume();
    await server.stop(2000);
    running.splice(0);
    await closed;
    expect(peerEnded).toBe(true);
    expect(existsSync(path)).toBe(false);
  });
});

describe('the Python example in docs/control-protocol.md', () => {
  it('connects through the daemon and pipes bytes both ways', async () => {
    const doc = readFileSync(join(ROOT, 'docs/control-protocol.md'), 'utf8');
    const code = /```python\n([\s\S]*?)```/.exec(doc)![1]!;
    const file = join(tmp, 'client.py');
    writeFileSync(file, code);
    const { path } = await startControl();
    const port = await peer(echo);
    const input = randomBytes(256 * 1024);
    const child = spawn('python3', [file, path, '127.0.0.1', String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.end(input);
    const status = await new Promise((r) => child.on('close', r));
    expect(err).toBe('');
    expect(status).toBe(0);
    expect(sha(Buffer.concat(out))).toBe(sha(input));
  });

  it('exits with the error code when the connection is refused', async () => {
    const doc = readFileSync(join(ROOT, 'docs/control-protocol.md'), 'utf8');
    const file = join(tmp, 'client2.py');
    writeFileSync(file, /```python\n([\s\S]*?)```/.exec(doc)![1]!);
    const { path } = await startControl();
    const closed = await peer(() => {});
    peers.pop()!.close();
    // Not spawnSync: the daemon answering it runs in this process's event loop.
    const child = spawn('python3', [file, path, '127.0.0.1', String(closed)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await new Promise((r) => child.on('close', r))).toBe(1);
    expect(err).toMatch(/^ECONNREFUSED: /);
  });
});

describe('ControlError', () => {
  it('says how to start a daemon when none serves the path', async () => {
    const e = await openControl(join(tmp, 'nobody.sock'), { op: 'ping' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ControlError);
    expect(e).toMatchObject({ code: 'ENOENT', message: expect.stringContaining('namestack host') });
  });
});
