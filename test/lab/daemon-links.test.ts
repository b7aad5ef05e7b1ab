// The daemon's link set-up, in-process (startHostDaemon) on a real TUN in a throwaway
// namespace: the kernel routes it points into the TUN (through tun/ip-command's runIp).

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
        offloads: { tso6: false },
        addresses: ['10.77.0.2/24', 'fd77::2/64'],
        kernelAddresses: ['10.77.0.1/24', 'fd77::1/64'],
        kernelRoutes: ['10.77.9.0/24', 'fd77:9::/64'],
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
});
