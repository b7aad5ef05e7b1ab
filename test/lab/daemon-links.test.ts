// The daemon's link set-up, in-process (startHostDaemon) on a real TUN in a throwaway
// namespace: the kernel routes it points into the TUN (through tun/ip-command's runIp), the
// offloads it asks for on an impaired link, and that link impairing wire-sized segments
// while the kernel and the stack trade TCP super-packets through it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDaemonConfig } from '../../apps/host/config.js';
import { startHostDaemon, type HostDaemon } from '../../apps/host/daemon.js';
import { createLogger } from '../../apps/host/log.js';
import { NO_TRANSPORT } from '../../apps/host/transport.js';
import { TcpServer } from '../../stack/socket/tcp-server.js';
import type { SocketDriver } from '../../stack/socket/tcp-socket.js';
import { TcpLayer } from '../../stack/tcp/layer.js';
import { Namespaces, sh, spawnIn } from './tun-lab.js';

const namespaces = new Namespaces(`nst-dln-${process.pid}-`);
const TUN = `ndl${process.pid % 100000}`;
const tmp = mkdtempSync(join(tmpdir(), 'nst-dln-'));
let ns: string;
let daemon: HostDaemon | undefined;
let driver: SocketDriver | undefined;
let server: TcpServer | undefined;

beforeAll(async () => {
  namespaces.cleanup();
  ns = namespaces.create(true);
  const config = parseDaemonConfig({
    control: join(tmp, 'control.sock'),
    links: [
      {
        tun: TUN,
        netns: ns,
        addresses: ['10.77.0.2/24', 'fd77::2/64'],
        kernelAddresses: ['10.77.0.1/24', 'fd77::1/64'],
        kernelRoutes: ['10.77.9.0/24', 'fd77:9::/64'],
        offloads: { uso: true },
      },
      {
        tun: `${TUN}i`,
        netns: ns,
        offloads: { uso: true },
        addresses: ['10.78.0.2/24'],
        kernelAddresses: ['10.78.0.1/24'],
        impair: { both: { lossRate: 0.01 } },
      },
    ],
  });
  daemon = await startHostDaemon(config, {
    log: createLogger('warn'),
    transport: (host, runtime) => {
      driver = { tcp: new TcpLayer(host), now: () => runtime.now(), kick: () => runtime.kick() };
      return NO_TRANSPORT;
    },
  });
});

afterAll(async () => {
  server?.close();
  await daemon?.stop();
  namespaces.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe('daemon links', () => {
  it('points its kernel routes of both families into the TUN', () => {
    expect(sh(`ip -n ${ns} route show 10.77.9.0/24`)).toContain(`dev ${TUN}`);
    expect(sh(`ip -n ${ns} -6 route show fd77:9::/64`)).toContain(`dev ${TUN}`);
  });

  it('asks for no UDP super-packets on an impaired link (it can only cut TCP ones)', () => {
    expect(daemon!.links.map((l) => l.tun.offloads.uso)).toEqual([true, false]);
    expect(daemon!.links.map((l) => l.impaired !== undefined)).toEqual([false, true]);
  });

  it('an impaired link with TSO on both sides: 2 MB echoed through 1% loss, impaired segment by segment', async () => {
    // Echo on the stack; the kernel sends 2 MB (TSO super-packets into the TUN) and reads them
    // back (the stack's GSO super-packets out of it).
    server = new TcpServer(driver!, { allowHalfOpen: true }, (socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => server!.listen(7000, '10.78.0.2', resolve));
    const client = spawnIn(ns, ['python3', '-c', ECHO_CLIENT, '10.78.0.2', '7000', String(2_000_000)]);
    const timer = setTimeout(() => client.kill(), 60_000);
    const out = await client.output;
    clearTimeout(timer);
    expect(out.trim()).toBe('echoed 2000000');
    const link = daemon!.links[1]!;
    expect(link.tun.offloads).toMatchObject({ csum: true, tso4: true });
    const { tx, rx } = link.impaired!;
    for (const s of [tx.stats, rx.stats]) {
      // Well over 2 MB / 1500 B each way, every one of them at most a wire packet.
      expect(s.offered).toBeGreaterThan(1300);
      expect(s.offeredBytes).toBeLessThanOrEqual(s.offered * 1500);
      expect(s.lost).toBeGreaterThan(0);
    }
  }, 90_000);
});

/** Connects, sends argv[3] random bytes while reading the echo, half-closes, checks it all came back. */
const ECHO_CLIENT = `
import os, socket, sys, threading
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(n)
s = socket.create_connection((host, port), timeout=50)
got = bytearray()
def read():
    while True:
        b = s.recv(65536)
        if not b:
            return
        got.extend(b)
t = threading.Thread(target=read)
t.start()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
t.join()
print('echoed %d' % len(got) if bytes(got) == data else 'mismatch after %d bytes' % len(got))
`;
