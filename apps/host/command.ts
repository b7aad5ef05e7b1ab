// `namestack host`: runs the daemon until SIGTERM or SIGINT, then stops it gracefully and
// exits 0. Startup failures print one line with the error code and what to do, exit 1
// (2 for a bad configuration or bad flags).

import { parseArgs } from 'node:util';
import { DEFAULT_CONTROL_PATH } from '../control/protocol.js';
import { ConfigError, parseDaemonConfig, parseHostFlag, parseLinkFlag, parseSetFlag, readConfigFile, type DaemonConfig, type LogLevel } from './config.js';
import { startHostDaemon } from './daemon.js';
import { createLogger } from './log.js';
import { stackTransport } from './stack-transport.js';

const USAGE = `usage: namestack host [--config FILE] [--control PATH] [--link SPEC]... [options]

Runs the user-space stack on TUN devices and serves the control socket (mode 0600) that
'namestack connect', 'listen' and 'stats' (or any program, docs/control-protocol.md) use.

  --config FILE      JSON configuration (docs/control-protocol.md "Daemon configuration";
                     the lab's per-host file works as it is)
  --control PATH     control socket (default ${DEFAULT_CONTROL_PATH})
  --link SPEC        add a link: tun=NAME,mtu=1500,addr=10.0.0.2/24,addr=fd00::2/64,
                     gw=10.0.0.1,gw=fd00::1,route=10.9.0.0/16@10.0.0.1,netns=NS,
                     kernel-addr=10.0.0.1/24,kernel-route=10.0.0.2/32,pcap=FILE,
                     offloads=off|csum+tso4+tso6,delay=20ms,jitter=5ms,loss=1%,
                     reorder=1%,duplicate=1%,rate=100mbit
  --host NAME=ADDR[,ADDR...]   static name for connect (until DNS lands)
  --set SECTION.FIELD=VALUE    stack configuration override (tcp.nagle=false)
  --name NAME        this host's name
  -v, --verbose      log lifecycle and connections (-vv: debug)
  -q, --quiet        log errors only

SIGTERM/SIGINT: connections close with FIN (reset after a grace time), the control socket
and the TUN devices are removed, exit status 0.
`;

function buildConfig(argv: string[]): DaemonConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      control: { type: 'string' },
      link: { type: 'string', multiple: true },
      host: { type: 'string', multiple: true },
      set: { type: 'string', multiple: true },
      name: { type: 'string' },
      verbose: { type: 'boolean', short: 'v', multiple: true },
      quiet: { type: 'boolean', short: 'q' },
    },
  });
  const config = values.config !== undefined ? readConfigFile(values.config) : parseDaemonConfig({});
  if (values.control !== undefined) config.control = values.control;
  if (values.name !== undefined) config.name = values.name;
  for (const spec of values.link ?? []) config.links.push(parseLinkFlag(spec));
  for (const spec of values.host ?? []) config.hosts = parseHostFlag(spec, config.hosts);
  for (const spec of values.set ?? []) config.stack = parseSetFlag(spec, config.stack);
  const verbosity = values.verbose?.length ?? 0;
  if (values.quiet) config.logLevel = 'error';
  else if (verbosity > 0) config.logLevel = (['info', 'debug'] as LogLevel[])[Math.min(verbosity, 2) - 1]!;
  if (config.links.length === 0) throw new ConfigError('no links: give --link or a --config file with "links"');
  return config;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let config: DaemonConfig;
  try {
    config = buildConfig(argv);
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'EBADCONFIG';
    process.stderr.write(`namestack host: ${code}: ${(err as Error).message}\n`);
    return 2;
  }
  const log = createLogger(config.logLevel);
  let daemon;
  try {
    daemon = await startHostDaemon(config, { log, transport: stackTransport });
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'EIO';
    process.stderr.write(`namestack host: ${code}: ${(err as Error).message}\n`);
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info('stopping', { signal });
  // A second signal while stopping means "now".
  const force = (): void => {
    log.warn('second signal: exiting without waiting');
    process.exit(1);
  };
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  await daemon.stop();
  // Everything is closed; should a stray handle keep the loop alive, exit anyway.
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}
