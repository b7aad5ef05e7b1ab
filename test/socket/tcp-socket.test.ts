// TcpSocket and TcpServer (stack/socket/) on two simulated hosts: the net.Socket behaviour a
// Node developer expects (events and their order, half-close, error codes, backpressure,
// addresses and counters), with the stack's TCP underneath on a virtual clock.

import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { createServer, type TcpServer } from '../../stack/socket/tcp-server.js';
import { createConnection, TcpSocket, type SocketDriver } from '../../stack/socket/tcp-socket.js';
import { A4, A6, B4, B6, randomBytes, sha256, simPair, type Pair } from '../tcp/sim-pair.js';

function drivers(p: Pair): { a: SocketDriver; b: SocketDriver } {
  const now = (): number => p.net.now;
  // The simulator runs every host's timers itself: a kick has nothing to do.
  return { a: { tcp: p.tcpA, now, kick: () => {} }, b: { tcp: p.tcpB, now, kick: () => {} } };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Runs the network and lets the streams react between events, until `done()` or the virtual
 * clock passes `limitMs`; a stall (no event left and nothing changing) fails.
 */
async function drive(p: Pair, done: () => boolean, limitMs = 300_000): Promise<void> {
  const end = p.net.now + limitMs;
  let idle = 0;
  while (!done()) {
    while (p.net.step(p.net.now));
    await tick();
    if (done()) return;
    if (p.net.step(end)) idle = 0;
    else if (++idle > 20) throw new Error(`stalled at ${p.net.now} ms`);
    if (p.net.now >= end) throw new Error(`not done within ${limitMs} ms of virtual time`);
  }
}

interface Collected {
  data: Buffer[];
  events: string[];
  error?: NodeJS.ErrnoException;
}

function collect(s: TcpSocket | Socket): Collected {
  const c: Collected = { data: [], events: [] };
  for (const ev of ['connect', 'ready', 'end', 'finish', 'close']) s.on(ev, () => c.events.push(ev));
  s.on('data', (d: Buffer) => c.data.push(d));
  s.on('error', (e: NodeJS.ErrnoException) => {
    c.events.push(`error:${e.code}`);
    c.error = e;
  });
  return c;
}

function echoServer(d: SocketDriver, port: number, opts: { allowHalfOpen?: boolean } = {}): { server: TcpServer; accepted: TcpSocket[] } {
  const accepted: TcpSocket[] = [];
  const server = createServer(d, opts, (s) => {
    accepted.push(s);
    s.pipe(s);
  });
  server.listen({ port });
  return { server, accepted };
}

describe('TcpSocket', () => {
  for (const family of [4, 6] as const) {
    it(`echoes 2 MiB over IPv${family}: events in net.Socket order, addresses, byte counts`, async () => {
      const p = simPair({ seed: `echo${family}` });
      const d = drivers(p);
      const { accepted } = echoServer(d.b, 7000, { allowHalfOpen: true });
      const data = Buffer.from(randomBytes(2 << 20, family));
      const client = createConnection(d.a, { host: family === 4 ? B4 : B6, port: 7000 });
      const c = collect(client);
      client.end(data);
      await drive(p, () => c.events.includes('close'));
      expect(c.error).toBeUndefined();
      expect(sha256(c.data)).toBe(sha256(data));
      expect(c.events).toEqual(['connect', 'ready', 'finish', 'end', 'close']);
      expect(client.bytesRead).toBe(data.length);
      expect(client.bytesWritten).toBe(data.length);
      expect(client.remoteAddress).toBe(family === 4 ? B4 : B6);
      expect(client.remotePort).toBe(7000);
      expect(client.remoteFamily).toBe(family === 4 ? 'IPv4' : 'IPv6');
      expect(client.localAddress).toBe(family === 4 ? A4 : A6);
      expect(client.localPort).toBeGreaterThanOrEqual(32768);
      expect(accepted[0]!.remotePort).toBe(client.localPort);
      expect(accepted[0]!.bytesRead).toBe(data.length);
      expect(client.readyState).toBe('closed');
    });
  }

  it('ECONNREFUSED when nobody listens, as an async error then close', async () => {
    const p = simPair({ seed: 'refused' });
    const client = createConnection(drivers(p).a, { host: B4, port: 9 });
    const c = collect(client);
    expect(client.connecting).toBe(true);
    await drive(p, () => c.events.includes('close'));
    expect(c.events).toEqual(['error:ECONNREFUSED', 'close']);
    expect(c.error).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect', address: B4, port: 9 });
    expect(client.connecting).toBe(false);
  });

  it('ETIMEDOUT when SYNs go unanswered', async () => {
    const p = simPair({ seed: 'timeout', config: { tcp: { synRetries: 2 } } });
    p.path.setUp(false);
    const client = createConnection(drivers(p).a, { host: B4, port: 80 });
    const c = collect(client);
    await drive(p, () => c.events.includes('close'));
    expect(c.error).toMatchObject({ code: 'ETIMEDOUT', syscall: 'connect' });
  });

  it('EADDRNOTAVAIL for a local address that is not ours, ENETUNREACH without a route', async () => {
    const p = simPair({ seed: 'addr' });
    const d = drivers(p);
    const bad = createConnection(d.a, { host: B4, port: 80, localAddress: '10.9.9.9' });
    const c1 = collect(bad);
    const far = createConnection(d.a, { host: '192.0.2.1', port: 80 });
    const c2 = collect(far);
    await drive(p, () => c1.events.includes('close') && c2.events.includes('close'));
    expect(c1.error).toMatchObject({ code: 'EADDRNOTAVAIL', syscall: 'connect' });
    expect(c2.error).toMatchObject({ code: 'ENETUNREACH' });
  });

  it('ECONNRESET when the peer resets; resetAndDestroy sends the RST', async () => {
    const p = simPair({ seed: 'reset' });
    const d = drivers(p);
    createServer(d.b, {}, (s) => s.once('data', () => s.resetAndDestroy())).listen(7001);
    const client = createConnection(d.a, { host: B4, port: 7001 });
    const c = collect(client);
    client.write('hello');
    await drive(p, () => c.events.includes('close'));
    expect(c.error).toMatchObject({ code: 'ECONNRESET', syscall: 'read' });
    expect(c.events).toEqual(['connect', 'ready', 'error:ECONNRESET', 'close']);
  });

  it('allowHalfOpen: the side that got the FIN keeps writing; without it the socket ends itself', async () => {
    const p = simPair({ seed: 'half' });
    const d = drivers(p);
    const late: string[] = [];
    createServer(d.b, { allowHalfOpen: true }, (s) => {
      s.resume();
      s.on('end', () => {
        // The client is done sending; we still have things to say.
        s.write('still ');
        setImmediate(() => s.end('here'));
        late.push('server saw end');
      });
    }).listen(7002);
    const client = createConnection(d.a, { host: B4, port: 7002, allowHalfOpen: true });
    const c = collect(client);
    client.end('bye');
    await drive(p, () => c.events.includes('close'));
    expect(late).toEqual(['server saw end']);
    expect(Buffer.concat(c.data).toString()).toBe('still here');

    // Without allowHalfOpen the server's socket ends when the client's FIN arrives.
    const p2 = simPair({ seed: 'nohalf' });
    const d2 = drivers(p2);
    const serverEvents: string[] = [];
    createServer(d2.b, {}, (s) => {
      s.resume();
      for (const ev of ['end', 'finish', 'close']) s.on(ev, () => serverEvents.push(ev));
    }).listen(7003);
    const c2 = collect(createConnection(d2.a, { host: B4, port: 7003 }).end('x'));
    await drive(p2, () => c2.events.includes('close') && serverEvents.includes('close'));
    expect(serverEvents).toEqual(['end', 'finish', 'close']);
  });

  it('backpressure: a reader that stops closes the window; write() returns false until it reads again', async () => {
    const p = simPair({ seed: 'bp' });
    const d = drivers(p);
    let serverSocket: TcpSocket | undefined;
    createServer(d.b, { pauseOnConnect: true }, (s) => (serverSocket = s)).listen(7004);
    const client = createConnection(d.a, { host: B4, port: 7004 });
    const chunk = Buffer.alloc(64 * 1024, 1);
    const total = 8 << 20;
    let written = 0;
    let waiting = false;
    const pump = (): void => {
      waiting = false;
      while (written < total) {
        written += chunk.length;
        if (!client.write(chunk)) {
          waiting = true;
          client.once('drain', pump);
          return;
        }
      }
      client.end();
    };
    client.once('connect', pump);
    // Runs until nothing moves any more.
    await drive(p, () => false, 10_000).catch(() => undefined);
    expect(waiting).toBe(true);
    const info = serverSocket!.tcpInfo()!;
    // Closed, as far as a sender may use it (less than a segment: RFC 1122 4.2.3.3 SWS avoidance).
    expect(info.receiveWindow).toBeLessThan(info.mss);
    // The writer got no further than the two buffers and the stream's high-water mark.
    expect(written).toBeLessThanOrEqual((1 << 20) + info.receiveBuffer + client.writableHighWaterMark + 2 * chunk.length);
    let got = 0;
    serverSocket!.on('data', (b: Buffer) => (got += b.length));
    serverSocket!.resume(); // pauseOnConnect: a 'data' listener alone does not start it (as net)
    await drive(p, () => got === total);
    expect(client.bytesWritten).toBe(total);
  });

  it('setNoDelay and setKeepAlive chain and reach the connection; keepalive notices a dead peer', async () => {
    const p = simPair({ seed: 'ka', config: { tcp: { keepAliveIntervalMs: 1000, keepAliveProbes: 3 } } });
    const d = drivers(p);
    createServer(d.b, {}, (s) => s.resume()).listen(7005);
    const client = new TcpSocket({ driver: d.a });
    expect(client.pending).toBe(true);
    expect(client.setNoDelay(true).setKeepAlive(true, 5000)).toBe(client);
    const c = collect(client.connect(7005, B4));
    await drive(p, () => c.events.includes('connect'));
    expect(client.pending).toBe(false);
    expect(client.readyState).toBe('open');
    client.write('x');
    await drive(p, () => client.tcpInfo()!.bytesAcked >= 1);
    p.path.setUp(false);
    await drive(p, () => c.events.includes('close'));
    expect(c.error).toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('writes and end() before the handshake completes are sent after it', async () => {
    const p = simPair({ seed: 'early' });
    const d = drivers(p);
    const got: Buffer[] = [];
    let serverEnded = false;
    createServer(d.b, {}, (s) => {
      s.on('data', (b: Buffer) => got.push(b));
      s.on('end', () => (serverEnded = true));
    }).listen(7006);
    const client = new TcpSocket({ driver: d.a });
    client.write('written ');
    client.end('before connect');
    client.connect({ host: B4, port: 7006 });
    await drive(p, () => serverEnded);
    expect(Buffer.concat(got).toString()).toBe('written before connect');
  });

  it('destroy() with unread data resets the peer (close(2) semantics)', async () => {
    const p = simPair({ seed: 'unread' });
    const d = drivers(p);
    let serverSocket: TcpSocket | undefined;
    createServer(d.b, {}, (s) => {
      serverSocket = s;
      s.write('you will not read this');
    }).listen(7007);
    const client = createConnection(d.a, { host: B4, port: 7007 });
    client.pause();
    const s = collect(client);
    await drive(p, () => serverSocket !== undefined && client.tcpInfo()!.bytesReceived > 0);
    const sc = collect(serverSocket!);
    serverSocket!.resume();
    client.destroy();
    await drive(p, () => sc.events.includes('close'));
    expect(sc.error).toMatchObject({ code: 'ECONNRESET' });
    expect(s.events).toEqual(['connect', 'ready', 'close']);
  });
});

describe('TcpServer', () => {
  it('listens on an ephemeral port, reports its address, EADDRINUSE for a second listener, close after its sockets', async () => {
    const p = simPair({ seed: 'server' });
    const d = drivers(p);
    const server = createServer(d.b);
    let listening = false;
    server.listen(0, undefined, () => (listening = true));
    await tick();
    expect(listening).toBe(true);
    const addr = server.address()!;
    expect(addr.port).toBeGreaterThanOrEqual(32768);
    expect(server.listening).toBe(true);

    const second = createServer(d.b);
    let error: NodeJS.ErrnoException | undefined;
    second.on('error', (e: NodeJS.ErrnoException) => (error = e));
    second.listen({ port: addr.port });
    await tick();
    expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'listen' });

    const third = createServer(d.b);
    third.on('error', (e: NodeJS.ErrnoException) => (error = e));
    third.listen({ port: 7100, host: '10.9.9.9' });
    await tick();
    expect(error).toMatchObject({ code: 'EADDRNOTAVAIL' });

    const sockets: TcpSocket[] = [];
    server.on('connection', (s: TcpSocket) => {
      sockets.push(s);
      s.resume();
    });
    const client = createConnection(d.a, { host: B6, port: addr.port });
    collect(client);
    await drive(p, () => sockets.length === 1);
    let closed = false;
    server.close(() => (closed = true));
    expect(server.address()).toBeNull();
    await tick();
    expect(closed).toBe(false); // one accepted socket is still open
    client.end();
    await drive(p, () => closed);
    // A new connection attempt is refused now.
    const late = collect(createConnection(d.a, { host: B6, port: addr.port }));
    await drive(p, () => late.events.includes('close'));
    expect(late.error?.code).toBe('ECONNREFUSED');
  });
});
