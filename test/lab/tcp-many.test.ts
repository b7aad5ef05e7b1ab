// A kernel client on dave opens 1,000 connections to a listener of alice's namestack daemon
// (the lab with daemons, prefix nst-tm-<pid>), 50 at a time: each sends a few bytes and reads
// them back through an echo this test runs over the control protocol (listen, then accept per
// connection). All 1,000 must succeed, the daemon must still answer, and once the clients
// closed, its TCP layer and control server must hold no connection of that port any more.

import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openControl } from '../../apps/control/client.js';
import { labDown, labExec, labStatus, labUp, type LabStatusUp } from '../../apps/lab/lab.js';
import { privateBuild } from './daemon-process.js';

const PREFIX = `nst-tm-${process.pid}`;
const PORT = 7200;
const COUNT = 1000;
const BATCH = 50;
let build: ReturnType<typeof privateBuild> | undefined;
let status: LabStatusUp;
const sockets: Socket[] = [];

// Opens `count` connections, `batch` at a time: connect all of the batch, send a line on each,
// read it back on each, close each. Prints one JSON line: successes and the failures' reasons.
const CLIENT = `
import json, socket, sys
host, port, count, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ok = 0; errors = {}
for start in range(0, count, batch):
    conns = []
    for i in range(start, min(start + batch, count)):
        try:
            s = socket.create_connection((host, port), timeout=20)
            conns.append((i, s))
        except OSError as e:
            errors[str(e)] = errors.get(str(e), 0) + 1
    for i, s in conns:
        try:
            msg = ('hello %d\\n' % i).encode()
            s.sendall(msg)
            got = b''
            while len(got) < len(msg):
                d = s.recv(64)
                if not d: break
                got += d
            if got == msg: ok += 1
            else: errors['short or wrong echo'] = errors.get('short or wrong echo', 0) + 1
        except OSError as e:
            errors[str(e)] = errors.get(str(e), 0) + 1
        finally:
            s.close()
print(json.dumps({'ok': ok, 'errors': errors}), flush=True)
`;
import { nodeCommand } from '../../apps/node-command.js';

interface Stats {
  tcp: { connections: { local: { port: number }; state: string }[] };
  control: { streams: unknown[]; listeners: { pending: number }[] };
}

function control(): string {
  return status.hosts.alice!.controlSocket!;
}

async function stats(): Promise<Stats> {
  const { socket, reply } = await openControl<Stats>(control(), { op: 'stats' });
  socket.destroy();
  return reply;
}

/** Listens on PORT in alice's daemon and echoes every connection through its own accept stream. */
async function echoListener(): Promise<{ accepted: () => number }> {
  const { socket, rest } = await openControl(control(), { op: 'listen', port: PORT });
  sockets.push(socket);
  let accepted = 0;
  let lines = rest.toString();
  const take = (line: string): void => {
    const event = JSON.parse(line) as { event: string; id: number };
    if (event.event !== 'connection') return;
    void openControl(control(), { op: 'accept', id: event.id }).then(({ socket: stream, rest: head }) => {
      accepted++;
      sockets.push(stream);
      stream.on('error', () => {});
      stream.on('close', () => sockets.splice(sockets.indexOf(stream), 1));
      if (head.length) stream.write(head);
      stream.pipe(stream);
      stream.resume();
    });
  };
  const drain = (): void => {
    for (let nl = lines.indexOf('\n'); nl >= 0; nl = lines.indexOf('\n')) {
      const line = lines.slice(0, nl);
      lines = lines.slice(nl + 1);
      if (line.trim()) take(line);
    }
  };
  socket.on('data', (d: Buffer) => {
    lines += d.toString();
    drain();
  });
  socket.resume();
  drain();
  return { accepted: () => accepted };
}

beforeAll(async () => {
  build = privateBuild();
  status = await labUp({ prefix: PREFIX, daemon: nodeCommand(build.cli, 'host') });
}, 120_000);

afterAll(async () => {
  for (const s of [...sockets]) s.destroy();
  await labDown(PREFIX);
  build?.remove();
}, 60_000);

describe("1,000 kernel connections to alice's daemon", () => {
  it('all echo, the daemon stays healthy, and no connection is left after close', async () => {
    const echo = await echoListener();
    const alice = status.hosts.alice!.addresses.find((a) => a.path === 'p1')!.ipv4;
    const r = await labExec(PREFIX, 'dave', ['python3', '-c', CLIENT, alice, String(PORT), String(COUNT), String(BATCH)], { timeoutMs: 170_000 });
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { ok: number; errors: Record<string, number> };
    expect(report.errors, r.stderr).toEqual({});
    expect(report.ok).toBe(COUNT);
    expect(echo.accepted()).toBe(COUNT);

    // Healthy: the daemon still answers and runs.
    const { socket, reply } = await openControl<{ pid: number }>(control(), { op: 'ping' });
    socket.destroy();
    expect(reply.pid).toBe(status.hosts.alice!.daemon!.pid);
    const st = await labStatus(PREFIX);
    expect(st.up && st.hosts.alice!.daemon?.running).toBe(true);

    // Every connection of the port closes (the client closed first: no TIME_WAIT on our side).
    let left: Stats = await stats();
    const open = (s: Stats): number => s.tcp.connections.filter((c) => c.local.port === PORT && c.state !== 'LISTEN').length;
    for (let i = 0; i < 100 && (open(left) > 0 || left.control.streams.length > 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await stats();
    }
    expect(open(left), JSON.stringify(left.tcp.connections.slice(0, 3))).toBe(0);
    expect(left.control.streams).toEqual([]);
    expect(left.control.listeners.map((l) => l.pending)).toEqual([0]);
  }, 180_000);
});
