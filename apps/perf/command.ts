// `namestack perf`: iperf3's client and server (the options people use most, same letters),
// over namestack's TCP by default or the kernel's with --kernel.

import { parseArgs } from 'node:util';
import { runClient } from './client.js';
import { CONGESTION_NAME, DEFAULT_DURATION, DEFAULT_PORT, DEFAULT_SETTINGS, DEFAULT_TCP_BLOCK_SIZE, MAX_BLOCK_SIZE, MAX_STREAMS, MAX_TIME, type TestSettings } from './protocol.js';
import type { PerfReport } from './report.js';
import { startServer } from './server.js';
import { TextReport } from './text-report.js';
import { kernelTransport, type PerfTransport } from './transport.js';
import { parseRate, parseSize } from './units.js';

const USAGE = `usage: namestack perf -s [-p PORT] [-1] [-J] [transport]
       namestack perf -c HOST [-p PORT] [-t SEC | -n BYTES] [-P N] [-R] [-b RATE]
                      [-l LEN] [-O SEC] [-N] [-C ALGO] [-J] [transport]

An iperf3-compatible client and server: iperf3 (3.x) is the peer in either role.

  -s, --server           run a server (one test at a time, like iperf3 -s)
  -1, --one-off          serve one test, then exit
  -c, --client HOST      run a client against HOST
  -p, --port PORT        server port (default ${DEFAULT_PORT})
  -t, --time SEC         test length in seconds (default ${DEFAULT_DURATION})
  -n, --bytes N          send N bytes instead (K/M/G/T = powers of 1024)
  -P, --parallel N       N data streams (1-${MAX_STREAMS})
  -R, --reverse          the server sends, the client receives
  -b, --bitrate RATE     limit each stream to RATE bit/s (K/M/G = powers of 1000)
  -l, --length LEN       bytes per write (default 128K)
  -O, --omit SEC         leave the first SEC seconds out of the results
  -N, --no-delay         disable Nagle's algorithm on the data streams
  -C, --congestion ALGO  congestion control for both ends' data streams (e.g. cubic);
                         the server sets it when it can (kernel TCP)
  -J, --json             print a JSON report like iperf3 -J

transport (default: namestack's TCP through the host daemon):
  --kernel               use the kernel's TCP (Node's net), for reference runs
  --control PATH         the daemon's control socket (default /run/namestack/host.sock)
`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      server: { type: 'boolean', short: 's' },
      'one-off': { type: 'boolean', short: '1' },
      client: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      time: { type: 'string', short: 't' },
      bytes: { type: 'string', short: 'n' },
      parallel: { type: 'string', short: 'P' },
      reverse: { type: 'boolean', short: 'R' },
      bitrate: { type: 'string', short: 'b' },
      length: { type: 'string', short: 'l' },
      omit: { type: 'string', short: 'O' },
      'no-delay': { type: 'boolean', short: 'N' },
      congestion: { type: 'string', short: 'C' },
      json: { type: 'boolean', short: 'J' },
      kernel: { type: 'boolean' },
      control: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length > 0 || values.server === (values.client !== undefined)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const port = integer(values.port ?? String(DEFAULT_PORT), 'port', values.server ? 0 : 1, 65535);
  const transport = await chooseTransport(values.kernel ?? false, values.control);
  const json = values.json ?? false;
  const out = (line: string): void => void process.stdout.write(line + '\n');
  const text = json ? undefined : new TextReport(out);
  const printJson = (report: PerfReport): void => out(JSON.stringify(report, null, '\t'));

  if (values.server) {
    const server = await startServer({
      port,
      transport,
      oneOff: values['one-off'] ?? false,
      text,
      collectIntervals: json,
      onReport: json ? printJson : undefined,
    });
    const stop = (): void => server.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await server.closed;
    return 0;
  }

  const settings = clientSettings(values);
  const report = await runClient({ host: values.client!, port, settings, transport, text, collectIntervals: json });
  if (json) printJson(report);
  return report.error === undefined ? 0 : 1;
}

function clientSettings(values: Record<string, string | boolean | undefined>): TestSettings {
  const bytes = values.bytes !== undefined ? parseSize(values.bytes as string) : 0;
  const time = values.time !== undefined ? integer(values.time as string, 'time', 1, MAX_TIME) : bytes > 0 ? 0 : DEFAULT_DURATION;
  if (values.time !== undefined && bytes > 0) throw new Error('give either -t or -n, not both (iperf3: only one test end condition)');
  const blockSize = values.length !== undefined ? parseSize(values.length as string) : DEFAULT_TCP_BLOCK_SIZE;
  if (blockSize < 1 || blockSize > MAX_BLOCK_SIZE) throw new Error(`-l must be 1..${MAX_BLOCK_SIZE} bytes`);
  return {
    ...DEFAULT_SETTINGS,
    omitSeconds: values.omit !== undefined ? integer(values.omit as string, 'omit', 0, MAX_TIME) : 0,
    durationSeconds: time,
    bytes,
    parallel: values.parallel !== undefined ? integer(values.parallel as string, 'parallel', 1, MAX_STREAMS) : 1,
    reverse: (values.reverse as boolean | undefined) ?? false,
    blockSize,
    rate: values.bitrate !== undefined ? parseRate(values.bitrate as string) : 0,
    noDelay: (values['no-delay'] as boolean | undefined) ?? false,
    ...(values.congestion !== undefined && { congestion: congestionName(values.congestion as string) }),
  };
}

function congestionName(text: string): string {
  if (!CONGESTION_NAME.test(text)) throw new Error(`bad congestion control name ${JSON.stringify(text)} (examples: cubic, reno, bbr)`);
  return text;
}

function integer(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`bad ${what} ${JSON.stringify(text)} (${min}-${max})`);
  return n;
}

async function chooseTransport(kernel: boolean, controlPath: string | undefined): Promise<PerfTransport> {
  if (kernel) {
    if (controlPath !== undefined) throw new Error('--kernel and --control exclude each other');
    return kernelTransport;
  }
  const { controlTransport } = await import('./control-transport.js');
  return controlTransport(controlPath);
}
