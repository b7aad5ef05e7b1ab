// Thesis Table 1 and the Duplex form on the simulated network: listen/open/accept/write/
// read/close by names and services, stream and dgram, the argument errors, and the
// NameSocket's names and 'verified' event. The sockets' driver runs on the virtual clock;
// the test lets the network run between awaits.

import { describe, expect, it } from 'vitest';
import { NameSocketApi } from '../../stack/socket/api.js';
import { NameDatagram } from '../../stack/socket/name-datagram.js';
import { NameSocket } from '../../stack/socket/name-socket.js';
import type { SocketDriver } from '../../stack/socket/tcp-socket.js';
import { nameWorld, type NamedHost, type NameWorld } from './name-world.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));

function api(w: NameWorld, h: NamedHost): NameSocketApi {
  const driver: SocketDriver = { tcp: h.tcp, now: () => w.net.now, kick: () => {} };
  return new NameSocketApi(driver, h.names);
}

/** Awaits `p` while the simulated network runs (1 ms of virtual time per turn of the event loop). */
async function pump<T>(w: NameWorld, p: Promise<T>, limitMs = 10_000): Promise<T> {
  let settled = false;
  const watched = p.finally(() => (settled = true));
  watched.catch(() => {});
  const end = w.net.now + limitMs;
  while (!settled && w.net.now < end) {
    w.net.run(w.net.now + 1);
    await new Promise((r) => setImmediate(r));
  }
  if (!settled) throw new Error(`not settled within ${limitMs} ms of network time`);
  return watched;
}

/** The socket's verdict on its peer's name, waiting for it while the lookup runs. */
async function verdict(w: NameWorld, s: NameSocket): Promise<string | undefined> {
  if (s.verification?.state === 'pending') await pump(w, new Promise((r) => s.once('verified', r)));
  return s.verification?.state;
}

describe('thesis Table 1 on the simulated network', () => {
  it('stream: listen, open, accept, write, read, close by names and service', async () => {
    const w = nameWorld({ v4: { delayMs: 5 } });
    const carol = api(w, w.carol);
    const alice = api(w, w.alice);
    const fd = await pump(w, carol.listen('*', '*', 'echo', 'stream'));
    const session = await pump(w, alice.open('*', 'carol.lab.test', 'echo', 'stream'));
    expect(session).toBeInstanceOf(NameSocket);
    const { handle, peerName } = await pump(w, carol.accept('*', fd));
    expect(peerName).toBe('alice.lab.test');
    const a = session as NameSocket;
    const c = handle as NameSocket;
    expect([a.localName, a.peerName, a.peerNameVerified, a.multipath]).toEqual(['alice.lab.test', 'carol.lab.test', true, true]);
    expect(await verdict(w, c)).toBe('verified');
    expect([c.localName, c.peerName, c.peerNameVerified]).toEqual(['carol.lab.test', 'alice.lab.test', true]);
    expect(a.raceInfo()).toMatchObject({ destination: 'carol.lab.test', winner: { family: 6 } });

    await pump(w, alice.write(a, text('hello, carol')));
    expect(str(await pump(w, carol.read(c)))).toBe('hello, carol');
    alice.close(a);
    expect(await pump(w, carol.read(c))).toBeNull();
    carol.close(c);
    carol.close(fd);
  });

  it('accept(peer_name) waits for that peer; open() with a wildcard peer, SCTP or an unknown service fails with a code', async () => {
    const w = nameWorld({ v4: { delayMs: 5 } });
    const carol = api(w, w.carol);
    const alice = api(w, w.alice);
    const fd = await pump(w, carol.listen('carol.lab.test', '*', 7));
    const fromDave = carol.accept('dave.lab.test', fd);
    let daveSettled = false;
    void fromDave.then(() => (daveSettled = true), () => (daveSettled = true));
    const fromAlice = carol.accept('alice.lab.test', fd);
    await pump(w, alice.open('alice.lab.test', 'carol.lab.test', 7));
    expect((await pump(w, fromAlice)).peerName).toBe('alice.lab.test');
    expect(daveSettled).toBe(false);

    await expect(alice.open('*', '*', 7)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(alice.open('*', 'carol.lab.test', 7, 'SOCK_SCTP')).rejects.toMatchObject({ code: 'ESOCKTNOSUPPORT' });
    await expect(carol.listen('*', '*', 7, 'dccp')).rejects.toMatchObject({ code: 'ESOCKTNOSUPPORT' });
    await expect(alice.open('*', 'carol.lab.test', 'no-such-service')).rejects.toMatchObject({ code: 'ENOSERVICE' });
    await expect(pump(w, alice.open('*', 'nobody.lab.test', 7))).rejects.toMatchObject({ code: 'ENOTFOUND' });
    carol.close(fd);
    await pump(w, fromDave.catch((e: { code: string }) => e.code)).then((code) => expect(code).toBe('ECONNABORTED'));
  });

  it("the NameSocket reports the spoofer's name as unverified through 'verified'", async () => {
    const w = nameWorld();
    w.paths.v4.setUp(false);
    const alice = api(w, w.alice);
    const fd = await pump(w, alice.listen('*', '*', 7));
    const carol = api(w, w.carol);
    await pump(w, carol.open('alice.lab.test', 'alice.lab.test', 7));
    const { handle } = await pump(w, alice.accept('*', fd));
    const s = handle as NameSocket;
    expect(await verdict(w, s)).toBe('unverified');
    expect(s.verification).toMatchObject({ name: 'alice.lab.test', reason: expect.stringMatching(/has fd00:1:1::10/) });
    expect([s.peerName, s.peerNameVerified]).toEqual(['alice.lab.test', false]);
  });

  it("a NameSocket with a 'data' listener from before open() gets the peer's bytes (Node asks to read only once)", async () => {
    const w = nameWorld();
    const carol = api(w, w.carol);
    const fd = await pump(w, carol.listen('*', '*', 7));
    const driver: SocketDriver = { tcp: w.alice.tcp, now: () => w.net.now, kick: () => {} };
    const s = new NameSocket({ driver, names: w.alice.names });
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    await pump(w, new Promise<void>((resolve) => s.open({ peerName: 'carol.lab.test', service: 7 }, resolve)));
    const { handle } = await pump(w, carol.accept('*', fd));
    await pump(w, carol.write(handle, text('hello alice')));
    w.net.run(w.net.now + 100);
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(got).toString()).toBe('hello alice');
  });

  it('dgram: open, write, accept, read and answer', async () => {
    const w = nameWorld();
    w.paths.v4.setUp(false);
    const carol = api(w, w.carol);
    const alice = api(w, w.alice);
    const fd = await pump(w, carol.listen('*', '*', 'echo', 'dgram'));
    const a = await pump(w, alice.open('*', 'carol.lab.test', 'echo', 'dgram'));
    expect(a).toBeInstanceOf(NameDatagram);
    await alice.write(a, text('ping'));
    const { handle, peerName } = await pump(w, carol.accept('*', fd));
    expect(peerName).toBe('alice.lab.test');
    expect(str(await pump(w, carol.read(handle)))).toBe('ping');
    await carol.write(handle, text('pong'));
    expect(str(await pump(w, alice.read(a)))).toBe('pong');
    expect([a.peerName, a.peerNameVerified, handle.peerNameVerified]).toEqual(['carol.lab.test', true, true]);
    alice.close(a);
    carol.close(fd);
  });
});
