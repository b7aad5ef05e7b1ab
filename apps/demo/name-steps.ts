// The demo's name-based steps (issue 6, thesis chapters 2, 5 and 6), through the daemons'
// control sockets like any program would use them (docs/control-protocol.md "Names"):
// alice -> carol by name with the names exchanged and verified both ways; alice -> bob's
// kernel, plain MPTCP with subflows on both paths; a Happy Eyeballs race with IPv6 broken
// and the thesis's P learning from it.

import { createHash, randomBytes } from 'node:crypto';
import { openControl } from '../control/client.js';
import type { NameListenRequest, StreamReply } from '../control/protocol.js';
import { startAcceptLoop } from '../lab/accept-loop.js';
import { labExec, type LabStatusUp } from '../lab/lab.js';
import { exchangeOnStream } from '../lab/namestack-transfer.js';
import { startTransferPeer } from '../lab/transfer-peer.js';

export interface NameStepContext {
  prefix: string;
  lab: LabStatusUp;
}

export interface NameStep {
  title: string;
  run(ctx: NameStepContext): Promise<string>;
}

export function control(ctx: NameStepContext, host: string): string {
  const c = ctx.lab.hosts[host]?.controlSocket;
  if (!c) throw new Error(`${host} has no namestack daemon`);
  return c;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}


/** Within `ms`, or the step fails with `what`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A name-based listener on `host` that takes its first connection: resolves with the accept
 * reply (the names, the verdict) and what the peer sent, after answering with `answer(reply)`.
 */
async function acceptFirst(ctx: NameStepContext, host: string, request: Omit<NameListenRequest, 'op'>, answer: (r: StreamReply) => string): Promise<{ reply: Promise<{ reply: StreamReply; received: Buffer }>; close: () => void }> {
  const path = control(ctx, host);
  const { socket, rest: head } = await openControl(path, { op: 'listen', ...request });
  const reply = new Promise<{ reply: StreamReply; received: Buffer }>((resolve, reject) => {
    let lines = head.toString();
    let taken = false;
    const take = (): void => {
      const nl = lines.indexOf('\n');
      if (nl < 0 || taken) return;
      const event = JSON.parse(lines.slice(0, nl)) as { event: string; id: number };
      if (event.event !== 'connection') return;
      taken = true;
      openControl<StreamReply>(path, { op: 'accept', id: event.id })
        .then(async ({ socket: s, reply: r, rest }) => ({ reply: r, received: await exchangeOnStream(s, rest, Buffer.from(answer(r))) }))
        .then(resolve, reject);
    };
    socket.on('data', (d: Buffer) => {
      lines += d.toString();
      take();
    });
    socket.on('error', reject);
    socket.resume();
    take();
  });
  return { reply, close: () => socket.destroy() };
}


interface RaceStats {
  destination: string;
  startedAt: number;
  finishedAt: number;
  preferenceBefore: number;
  preferenceAfter: number;
  attempts: { family: number; outcome: string }[];
  winner?: { family: number };
}

export const NAME_STEPS: NameStep[] = [
  {
    title: 'names: alice opens carol.lab.test by name; names exchanged on the wire and verified in DNS both ways',
    async run(ctx) {
      const listener = await acceptFirst(
        ctx,
        'carol',
        { service: 7101, localName: 'carol.lab.test', peerName: '*', requireVerified: true },
        (r) => `carol.lab.test here; you are ${r.peerName} (${r.peerNameVerified ? 'verified' : 'NOT verified'})\n`,
      );
      try {
        const { socket, reply, rest } = await openControl<StreamReply>(control(ctx, 'alice'), { op: 'open', peerName: 'carol.lab.test', service: 7101 });
        const answer = (await within(exchangeOnStream(socket, rest, Buffer.from('hello from alice\n')), 15_000, 'alice -> carol')).toString();
        const carol = (await within(listener.reply, 5000, 'carol accepting')).reply;
        if (reply.peerName !== 'carol.lab.test' || !reply.peerNameVerified) throw new Error(`alice sees ${reply.peerName} (verified: ${reply.peerNameVerified})`);
        if (carol.peerName !== 'alice.lab.test' || !carol.peerNameVerified || carol.localName !== 'carol.lab.test') {
          throw new Error(`carol sees ${carol.peerName} (verified: ${carol.peerNameVerified}) for ${carol.localName}`);
        }
        if (!answer.includes('you are alice.lab.test (verified)')) throw new Error(`carol answered ${JSON.stringify(answer)}`);
        return `alice ${reply.local.address} -> carol ${reply.remote.address}: alice sees carol.lab.test (verified), carol sees alice.lab.test (verified)`;
      } finally {
        listener.close();
      }
    },
  },
  {
    title: 'names: alice opens bob.lab.test (Linux kernel): plain MPTCP for bob, subflows on both paths, 2 MB each way SHA-256 checked',
    async run(ctx) {
      const port = 7102;
      const size = 2 << 20;
      const server = startTransferPeer(ctx.prefix, 'bob', { role: 'server', protocol: 'mptcp', host: '::', port, size });
      await server.ready;
      const payload = randomBytes(size);
      const { socket, reply, rest } = await openControl<StreamReply>(control(ctx, 'alice'), { op: 'open', peerName: 'bob.lab.test', service: port });
      // bob's kernel sees one MPTCP connection; its subflows while alice still sends.
      socket.write(payload.subarray(0, size / 2));
      let ss = '';
      for (let i = 0; i < 30 && !/subflows:[1-9]/.test(ss); i++) {
        await new Promise((r) => setTimeout(r, 100));
        ss = (await labExec(ctx.prefix, 'bob', ['ss', '-Mni', 'sport', `= :${port}`])).stdout;
      }
      const [received, report] = await within(Promise.all([exchangeOnStream(socket, rest, payload.subarray(size / 2)), server.done]), 20_000, 'alice <-> bob');
      if (!report.mptcp || report.received !== size || report.receivedSha256 !== sha256(payload)) throw new Error(`bob received ${report.received} bytes (MPTCP socket: ${report.mptcp}), SHA-256 differs`);
      if (sha256(received) !== report.sentSha256) throw new Error(`alice received ${received.length} bytes, SHA-256 differs`);
      const subflows = Number(/subflows:(\d+)/.exec(ss)?.[1] ?? 0) + 1;
      if (subflows < 2) throw new Error(`bob's kernel shows ${subflows} subflows (ss -Mi: ${ss.trim()})`);
      return `bob's kernel: 1 MPTCP connection from ${reply.local.address}, ${subflows} subflows (p1 and p2, the race's family); ${2 * size} bytes, SHA-256 equal both ways`;
    },
  },
  {
    title: 'Happy Eyeballs: bob-split.lab.test (IPv6 on p1, IPv4 on p2) with IPv6 blackholed; P learns to prefer IPv4',
    async run(ctx) {
      const port = 7103;
      const bob6 = ctx.lab.hosts.bob!.addresses.find((a) => a.path === 'p1')!.ipv6;
      const server = await within(startAcceptLoop(ctx.prefix, 'bob', port), 5000, 'bob listening');
      await labExec(ctx.prefix, 'r1', ['ip', '-6', 'route', 'add', 'blackhole', `${bob6}/128`]);
      try {
        for (let i = 0; i < 5; i++) {
          const { socket } = await within(openControl(control(ctx, 'alice'), { op: 'open', peerName: 'bob-split.lab.test', service: port }), 10_000, 'open bob-split');
          socket.destroy();
        }
        const stats = JSON.parse(await statsLine(control(ctx, 'alice'))) as { names?: { races: RaceStats[] } };
        const races = (stats.names?.races ?? []).filter((r) => r.destination === 'bob-split.lab.test').slice(-5);
        if (races.length !== 5) throw new Error(`stats show ${races.length} races to bob-split.lab.test`);
        for (const r of races) if (r.winner?.family !== 4) throw new Error(`a race was won by IPv${r.winner?.family}`);
        const ps = [races[0]!.preferenceBefore, ...races.map((r) => r.preferenceAfter)];
        if (!ps.every((p, i) => i === 0 || p < ps[i - 1]!)) throw new Error(`P did not learn: ${ps.join(' -> ')}`);
        const steps = races.map((r) => `${(r.finishedAt - r.startedAt).toFixed(0)} ms${r.attempts.some((a) => a.family === 6) ? '' : ' (no IPv6 attempt)'}`);
        return `P ${ps.join(' -> ')}; time to connect ${steps.join(', ')}`;
      } finally {
        server.kill('SIGKILL');
        await labExec(ctx.prefix, 'r1', ['ip', '-6', 'route', 'del', 'blackhole', `${bob6}/128`]);
      }
    },
  },
];

/** The daemon's stats reply line. */
async function statsLine(path: string): Promise<string> {
  const { socket, reply } = await openControl(path, { op: 'stats' });
  socket.destroy();
  return JSON.stringify(reply);
}
