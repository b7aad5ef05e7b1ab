// `namestack listen <service|port>`: a listener in the daemon, by name (thesis Table 1
// listen(local_name, peer_name, service, transport): MPTCP, names exchanged and verified)
// unless --address asks for a plain TCP listener on one address. Without --exec the first
// connection is piped to stdin/stdout (like `nc -l`) and the command ends with it; with
// --exec CMD every connection runs `sh -c CMD` with its stdin/stdout connected to the stream
// (like inetd or `ncat --sh-exec`), up to --max at once, until SIGINT/SIGTERM.

import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { openControl } from '../control/client.js';
import { LineReader, TOO_BIG } from '../control/line-reader.js';
import type { ListenEvent, ListenReply, StreamOutcome, StreamReply } from '../control/protocol.js';
import { CLIENT_OPTIONS, controlPath, portArgument, pump, report } from './common.js';

const USAGE = `usage: namestack listen <service|port> [--local-name N|*] [--peer-name N|*] [--require-verified]
                        [--address ADDR] [--exec CMD [--max N]] [--control PATH] [-v]

Listens by name on the namestack daemon: SYNs for another local name (default * = any of the
daemon's names) or from a peer other than --peer-name are dropped; --require-verified takes
only peers whose name is verified in DNS. --address listens plain TCP on one address instead.
Without --exec: the first connection is piped to
stdin/stdout (like nc -l), exit 0 when it closes cleanly, 1 with the error code otherwise.
With --exec: each connection runs 'sh -c CMD' with stdin/stdout on the stream and
NAMESTACK_REMOTE_ADDRESS/PORT, NAMESTACK_LOCAL_ADDRESS/PORT (and NAMESTACK_PEER_NAME,
NAMESTACK_PEER_NAME_VERIFIED, NAMESTACK_LOCAL_NAME when known) in its environment; at most
--max (default 16) at once, the rest wait in the daemon's backlog. Runs until SIGINT/SIGTERM.
`;

/** Event lines are short; this only bounds a broken daemon. */
const MAX_EVENT_BYTES = 64 * 1024;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      address: { type: 'string' },
      'local-name': { type: 'string' },
      'peer-name': { type: 'string' },
      'require-verified': { type: 'boolean' },
      exec: { type: 'string' },
      max: { type: 'string', default: '16' },
      verbose: { type: 'boolean', short: 'v' },
    },
  });
  const max = Number(values.max);
  if (values.help || positionals.length !== 1 || !Number.isInteger(max) || max < 1) {
    (values.help ? process.stdout : process.stderr).write(USAGE);
    return values.help ? 0 : 2;
  }
  const path = controlPath(values.control);
  let session;
  try {
    const service = portArgument(positionals[0]!);
    session = await openControl<ListenReply>(
      path,
      values.address !== undefined
        ? { op: 'listen', port: service, address: values.address }
        : {
            op: 'listen',
            service,
            localName: values['local-name'] ?? '*',
            peerName: values['peer-name'] ?? '*',
            ...(values['require-verified'] && { requireVerified: true }),
          },
    );
  } catch (err) {
    return report('listen', err);
  }
  const { socket: events, reply } = session;
  if (values.verbose) process.stderr.write(`listening on ${reply.local.address} port ${reply.local.port}\n`);
  const say = (line: string): void => void (values.verbose && process.stderr.write(line + '\n'));
  const serve = values.exec === undefined ? stdioServer(path, say) : execServer(path, values.exec, max, say);
  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (status: number): void => {
      if (finished) return;
      finished = true;
      events.destroy();
      resolve(status);
    };
    const stop = (): void => finish(0);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const reader = new LineReader(MAX_EVENT_BYTES);
    reader.push(session.rest);
    const drainLines = (): void => {
      for (let line = reader.next(); line !== undefined; line = reader.next()) {
        if (line === TOO_BIG) return finish(report('listen', { code: 'EPROTO', message: 'event line too long' }));
        let event: ListenEvent;
        try {
          event = JSON.parse(line) as ListenEvent;
        } catch {
          return finish(report('listen', { code: 'EPROTO', message: `bad event line: ${line.slice(0, 80)}` }));
        }
        const done = serve(event);
        if (done !== undefined) void done.then(finish);
      }
    };
    events.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      drainLines();
    });
    events.on('error', () => {});
    events.on('close', () => {
      if (!finished) finish(report('listen', { code: 'ESHUTDOWN', message: 'the daemon closed the listener' }));
    });
    drainLines();
    events.resume();
  });
}

/** Handles one event; a returned promise ends the command with its status. */
type Server = (event: ListenEvent) => Promise<number> | undefined;

function describe(e: { remote: { address: string; port: number }; peerName?: string; peerNameVerified?: boolean }): string {
  const name = e.peerName !== undefined ? ` ${e.peerName} (${e.peerNameVerified ? 'verified' : 'not verified'})` : '';
  return `${e.remote.address} port ${e.remote.port}${name}`;
}

/** The first connection gets stdin/stdout; the command's status is that connection's outcome. */
function stdioServer(path: string, say: (line: string) => void): Server {
  let taken = false;
  let result: ((status: number) => void) | undefined;
  let streamClosed = false;
  let outcome: StreamOutcome | undefined;
  const settle = (): void => {
    if (!streamClosed || !outcome || !result) return;
    result(outcome.error ? report('listen', outcome.error) : 0);
  };
  return (event) => {
    if (event.event === 'closed') {
      if (taken && outcome === undefined) {
        outcome = event;
        settle();
      }
      return undefined;
    }
    if (taken) return undefined; // left in the daemon's backlog, reset when we leave
    taken = true;
    say(`connection from ${describe(event)} (stream ${event.id})`);
    return new Promise<number>((resolve) => {
      result = resolve;
      openControl<StreamReply>(path, { op: 'accept', id: event.id }).then(
        async ({ socket, rest }) => {
          await pump(socket, rest, process.stdin, process.stdout);
          process.stdin.destroy();
          streamClosed = true;
          settle();
        },
        (err) => resolve(report('listen', err)),
      );
    });
  };
}

/** Each connection runs `sh -c cmd`; never ends by itself. */
function execServer(path: string, cmd: string, max: number, say: (line: string) => void): Server {
  const waiting: number[] = [];
  let running = 0;
  const start = (id: number): void => {
    running++;
    openControl<StreamReply>(path, { op: 'accept', id }).then(
      ({ socket, reply, rest }) => runChild(socket, reply, rest, cmd, () => next()),
      (err) => {
        report('listen', err);
        next();
      },
    );
  };
  const next = (): void => {
    running--;
    const id = waiting.shift();
    if (id !== undefined) start(id);
  };
  return (event) => {
    if (event.event === 'closed') {
      say(`stream ${event.id} closed${event.error ? `: ${event.error.code}` : ''} (${event.bytesRead} bytes in, ${event.bytesWritten} out)`);
      return undefined;
    }
    say(`connection from ${describe(event)} (stream ${event.id})`);
    if (running < max) start(event.id);
    else waiting.push(event.id);
    return undefined;
  };
}

function runChild(stream: Socket, reply: StreamReply, rest: Buffer, cmd: string, done: () => void): void {
  const child = spawn('sh', ['-c', cmd], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      NAMESTACK_REMOTE_ADDRESS: reply.remote.address,
      NAMESTACK_REMOTE_PORT: String(reply.remote.port),
      NAMESTACK_LOCAL_ADDRESS: reply.local.address,
      NAMESTACK_LOCAL_PORT: String(reply.local.port),
      ...(reply.peerName !== undefined && { NAMESTACK_PEER_NAME: reply.peerName, NAMESTACK_PEER_NAME_VERIFIED: reply.peerNameVerified ? '1' : '0' }),
      ...(reply.localName !== undefined && { NAMESTACK_LOCAL_NAME: reply.localName }),
    },
  });
  // A child that stops reading its stdin (or exits) is not an error of ours.
  child.stdin.on('error', () => {});
  let exited = false;
  let closed = false;
  const finish = (): void => {
    if (exited && closed) done();
  };
  child.once('exit', () => {
    exited = true;
    finish();
  });
  child.once('error', () => {
    exited = true;
    stream.destroy();
    finish();
  });
  void pump(stream, rest, child.stdout, child.stdin).then(() => {
    child.stdin.destroy();
    closed = true;
    finish();
  });
  // The peer's EOF is the child's stdin EOF.
  stream.once('end', () => child.stdin.end());
}
