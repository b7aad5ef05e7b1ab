// A namestack host of the lab run inside the calling process: the daemon's own code
// (startHostDaemon with the lab's per-host configuration, its TUNs moved into the host's
// namespace and attached like the lab's daemon hook does), with the name layer handed back
// so a test or a benchmark drives it directly: set P, open by name, read the race records.
// The lab must be up without a daemon on that host (labUp() without `daemon`).

import type { PartialConfig } from '../../stack/config.js';
import type { NameStack } from '../../stack/socket/name-stack.js';
import type { SocketDriver } from '../../stack/socket/tcp-socket.js';
import { TcpLayer } from '../../stack/tcp/layer.js';
import { readConfigFile } from '../host/config.js';
import { startHostDaemon, type HostDaemon } from '../host/daemon.js';
import { createLogger } from '../host/log.js';
import { nameTransport } from '../host/name-transport.js';
import { codedError } from '../host/transport.js';
import { attachNamestackLink, labStatus } from './lab.js';
import { daemonConfigFile } from './state.js';

export interface InProcessHost {
  daemon: HostDaemon;
  names: NameStack;
  /** For NameSocket / NameServer / NameSocketApi on this host. */
  driver: SocketDriver;
  stop(): Promise<void>;
}

/**
 * Starts lab host `hostName` (alice or carol) in this process with stack configuration
 * `stack` over the lab's; `control` is where its control socket goes.
 */
export async function startInProcessHost(prefix: string, hostName: string, opts: { control: string; stack?: PartialConfig }): Promise<InProcessHost> {
  const status = await labStatus(prefix);
  if (!status.up) throw new Error(`the lab ${prefix} is not up`);
  const h = status.hosts[hostName];
  if (!h || h.role !== 'namestack') throw new Error(`${hostName} is not a namestack host of the lab`);
  if (h.daemon?.running) throw new Error(`a daemon already runs on ${hostName}`);
  const config = readConfigFile(daemonConfigFile(prefix, hostName));
  config.control = opts.control;
  for (const [section, fields] of Object.entries(opts.stack ?? {})) {
    const s = section as keyof PartialConfig;
    config.stack[s] = { ...config.stack[s], ...fields } as never;
  }
  // The lab's daemon runs inside the namespace; from here each TUN is made and moved there.
  for (const l of config.links) l.netns = h.namespace;
  let parts: { names: NameStack; driver: SocketDriver } | undefined;
  const daemon = await startHostDaemon(config, {
    log: createLogger('warn'),
    transport: (host, runtime, c) => {
      const tcp = new TcpLayer(host);
      const nt = nameTransport(host, runtime, tcp, c);
      parts = { names: nt.names!, driver: { tcp, now: () => runtime.now(), kick: () => runtime.kick() } };
      return {
        connect: () => Promise.reject(codedError('ENOTSUP', 'this in-process host opens by name only')),
        listen: nt.listen,
        open: nt.open,
        stats: () => ({ counters: { ...tcp.counters } }),
        nameStats: nt.stats,
      };
    },
  });
  try {
    for (const [i, a] of h.addresses.entries()) await attachNamestackLink(prefix, hostName, a.path, config.links[i]!.tun);
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  if (!parts?.names) {
    await daemon.stop();
    throw new Error('the lab gives this host no nameservers');
  }
  return { daemon, names: parts.names, driver: parts.driver, stop: () => daemon.stop() };
}
