// `namestack connect <address|name> <port|service>`: like `nc`, through the daemon. A name
// opens by name (thesis Table 1 open: DNS on the stack, Happy Eyeballs, names exchanged and
// verified); an address connects plain TCP to it. stdin
// goes to the peer, the peer's bytes to stdout; stdin's EOF half-closes (FIN); the command
// ends when both directions are done, with status 0 for a clean close and 1 (and the error
// code on stderr) when the connection failed or was reset.

import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { openControl } from '../control/client.js';
import type { StreamOutcome, StreamReply } from '../control/protocol.js';
import { CLIENT_OPTIONS, controlPath, portArgument, pump, report, watchOutcome, within } from './common.js';

const USAGE = `usage: namestack connect <peer-name|address> <service|port> [--local-name N] [--source ADDR] [--no-delay] [--control PATH] [-v]

Opens a connection from the namestack daemon and pipes stdin/stdout through it (like nc).
A peer name is opened by name: resolved by the stack's DNS, raced over IPv6 and IPv4 (Happy
Eyeballs), MPTCP (TCP when the peer has none), names exchanged and verified; -v shows them.
--local-name sets the name sent (default: the daemon's). An address connects plain TCP.
stdin EOF half-closes the connection; exits when both directions are done (0), or with 1 and
the error code (ECONNREFUSED, ETIMEDOUT, ECONNRESET, ...) on stderr.
--control defaults to $NAMESTACK_CONTROL or /run/namestack/host.sock.
`;

/** How long to wait for the stream's outcome after the stream closed, ms. */
const OUTCOME_WAIT_MS = 5000;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      source: { type: 'string' },
      'local-name': { type: 'string' },
      'no-delay': { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help || positionals.length !== 2) {
    (values.help ? process.stdout : process.stderr).write(USAGE);
    return values.help ? 0 : 2;
  }
  const path = controlPath(values.control);
  const [host, port] = positionals as [string, string];
  let session;
  try {
    const byName = isIP(host) === 0 && values.source === undefined;
    session = await openControl<StreamReply>(
      path,
      byName
        ? {
            op: 'open',
            peerName: host,
            service: portArgument(port),
            ...(values['local-name'] !== undefined && { localName: values['local-name'] }),
            ...(values['no-delay'] && { noDelay: true }),
          }
        : {
            op: 'connect',
            host,
            port: portArgument(port),
            ...(values.source !== undefined && { localAddress: values.source }),
            ...(values['no-delay'] && { noDelay: true }),
          },
    );
  } catch (err) {
    return report('connect', err);
  }
  const { socket, reply, rest } = session;
  if (values.verbose) {
    process.stderr.write(`connected ${reply.local.address} port ${reply.local.port} -> ${reply.remote.address} port ${reply.remote.port} (stream ${reply.id})\n`);
    if (reply.peerName !== undefined) process.stderr.write(`names: ${reply.localName ?? '(none)'} -> ${reply.peerName} (${reply.peerNameVerified ? 'verified' : 'not verified'})\n`);
  }
  const outcome = watchOutcome(path, reply.id);
  // A reset ends the stream at once, even while stdin is still open (an idle terminal).
  void outcome.then((o) => {
    if (o?.error) socket.destroy();
  });
  await pump(socket, rest, process.stdin, process.stdout);
  process.stdin.destroy();
  // The daemon answers once its side has closed too, which follows ours closely.
  const result: StreamOutcome | undefined = await within(outcome, OUTCOME_WAIT_MS);
  if (result?.error) return report('connect', result.error);
  if (values.verbose && result) process.stderr.write(`closed: ${result.bytesWritten} bytes sent, ${result.bytesRead} received\n`);
  return 0;
}
