// The daemon's link set-up, in-process (startHostDaemon) on a real TUN in a throwaway
// namespace: the kernel routes it points into the TUN (through tun/ip-command's runIp), and
// the offloads it asks for on an impaired link.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDaemonConfig } from '../../apps/host/config.js';
import { startHostDaemon, type HostDaemon } from '../../apps/host/daemon.js';
import { createLogger } from '../../apps/host/log.js';
import { Namespaces, sh } from './tun-lab.js';

const namespaces = new Namespaces(`nst-dln-${process.pid}-`);
const TUN = `ndl${process.pid % 100000}`;
const tmp = mkdtempSync(join(tmpdir(), 'nst-dln-'));
let ns: string;
let daemon: HostDaemon | undefined;

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
        impair: { both: { lossRate: 0.01 } },
      },
    ],
  });
  daemon = await startHostDaemon(config, { log: createLogger('warn') });
});

afterAll(async () => {
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
});
