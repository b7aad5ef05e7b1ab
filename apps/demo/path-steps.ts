// The demo's last two steps (issue 6 item 7): a path failure alice's MPTCP connection to
// bob's kernel survives with every byte intact, and a short throughput run through alice's
// daemon next to the kernel's own on the same path.

import { randomBytes } from 'node:crypto';
import { openControl } from '../control/client.js';
import type { StreamReply } from '../control/protocol.js';
import { labExec, labSpawn, setLink, type LabStatusUp } from '../lab/lab.js';
import { exchangeOnStream } from '../lab/namestack-transfer.js';
import { startTransferPeer, type TransferReport } from '../lab/transfer-peer.js';
import { runClient } from '../perf/client.js';
import { controlTransport } from '../perf/control-transport.js';
import { DEFAULT_SETTINGS } from '../perf/protocol.js';
import { control, sha256, within, type NameStep, type NameStepContext } from './name-steps.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The lab path an address of `host` belongs to. */
function pathOf(lab: LabStatusUp, host: string, address: string): string | undefined {
  return lab.hosts[host]?.addresses.find((a) => a.ipv4 === address || a.ipv6 === address)?.path;
}

/** One of bob's TCP subflows as `ss -ti` shows it: alice's end and the bytes it carried. */
interface SubflowSample {
  peer: string;
  sent: number;
  received: number;
  initial: boolean;
}

/**
 * bob's kernel subflows of the connection on `port` (`ss -tin`; the daemon's stats count
 * MPTCP connections but do not list subflows). Each socket is a line with the addresses,
 * then an indented line of tcp_info fields.
 */
async function bobSubflows(ctx: NameStepContext, port: number): Promise<SubflowSample[]> {
  const r = await labExec(ctx.prefix, 'bob', ['ss', '-tinH', 'state', 'established', 'sport', `= :${port}`]);
  const out: SubflowSample[] = [];
  for (const line of r.stdout.split('\n')) {
    const addresses = /^\d+\s+\d+\s+\S+\s+(\S+)/.exec(line);
    if (addresses && !/^\s/.test(line)) {
      out.push({ peer: addresses[1]!.replace(/:\d+$/, '').replace(/^\[(?:::ffff:)?|\]$/g, ''), sent: 0, received: 0, initial: false });
      continue;
    }
    const last = out[out.length - 1];
    if (!last) continue;
    last.sent = Number(/bytes_acked:(\d+)/.exec(line)?.[1] ?? last.sent);
    last.received = Number(/bytes_received:(\d+)/.exec(line)?.[1] ?? last.received);
    // The MP_CAPABLE subflow (the connection's first) is flagged M, joins J.
    last.initial ||= /flags:\S*M/.test(line);
  }
  return out;
}

/** "p1/v6 9.1 MB in, 3.0 MB out" per subflow that carried data, as bob counts them. */
function describeSubflows(lab: LabStatusUp, subflows: SubflowSample[]): string {
  const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
  return subflows
    .filter((s) => s.sent + s.received > 0)
    .map((s) => `${pathOf(lab, 'alice', s.peer) ?? s.peer}/v${s.peer.includes(':') ? 6 : 4}${s.initial ? ' (first)' : ''} ${mb(s.received)} from alice, ${mb(s.sent)} to her`)
    .join('; ');
}

/** Starts `iperf3 -s` in a lab node and waits until it listens. */
async function startIperfServer(ctx: NameStepContext, node: string, port: number): Promise<{ stop: () => void }> {
  const child = labSpawn(ctx.prefix, node, ['iperf3', '-s', '--forceflush', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await within(
    new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('listening')) resolve();
      });
      child.on('close', (code) => reject(new Error(`iperf3 -s on ${node} exited ${code}`)));
    }),
    5000,
    `iperf3 -s on ${node}`,
  );
  return { stop: () => child.kill('SIGKILL') };
}

const gbits = (bps: number): string => `${(bps / 1e9).toFixed(2)} Gbit/s`;

export const PATH_STEPS: NameStep[] = [
  {
    title: 'path failure: alice <-> bob.lab.test (kernel MPTCP), alice sends 32 MB, bob answers 8 MB; alice\'s p1 link cut mid-transfer and restored',
    async run(ctx) {
      const port = 7104;
      const size = 32 << 20;
      // bob sends his answer at once, but alice's control socket stays paused until p1 is back:
      // the answer fills her receive window and waits there, and on the path, across the cut
      // (a shared-window bug once stalled exactly this, fixed in 2593c2a: bob's snd_una stopped
      // megabytes short of write_seq).
      const answer = 8 << 20;
      const path = control(ctx, 'alice');
      const server = startTransferPeer(ctx.prefix, 'bob', { role: 'server', protocol: 'mptcp', host: '::', port, size: answer });
      await server.ready;
      const payload = randomBytes(size);
      const { socket, rest } = await within(openControl<StreamReply>(path, { op: 'open', peerName: 'bob.lab.test', service: port }), 5000, 'open bob.lab.test');
      const cut = 'p1';
      // Every subflow bob saw, at its highest counts (a subflow reset on the cut path leaves ss).
      const seen = new Map<string, SubflowSample>();
      const sample = async (): Promise<void> => {
        for (const s of await bobSubflows(ctx, port)) {
          const before = seen.get(s.peer);
          seen.set(s.peer, { peer: s.peer, sent: Math.max(s.sent, before?.sent ?? 0), received: Math.max(s.received, before?.received ?? 0), initial: s.initial || (before?.initial ?? false) });
        }
      };
      // A quarter before the cut, a quarter while p1 is down, the rest after it is back: the
      // cut falls mid-transfer however fast the machine is.
      const quarter = size / 4;
      let down = false;
      let transfer: Promise<[Buffer, TransferReport]>;
      try {
        socket.write(payload.subarray(0, quarter));
        await sleep(100);
        await sample();
        await setLink(ctx.prefix, 'alice', cut, false);
        down = true;
        socket.write(payload.subarray(quarter, 2 * quarter));
        for (let i = 0; i < 5; i++) {
          await sleep(100);
          await sample();
        }
        await setLink(ctx.prefix, 'alice', cut, true);
        down = false;
        transfer = within(Promise.all([exchangeOnStream(socket, rest, payload.subarray(2 * quarter)), server.done]), 15_000, 'alice <-> bob');
        transfer.catch(() => {});
        const done = transfer.then(() => true);
        while (!(await Promise.race([done, sleep(100).then(() => false)]))) await sample();
      } catch (err) {
        socket.destroy();
        server.child.kill('SIGKILL');
        throw err;
      } finally {
        if (down) await setLink(ctx.prefix, 'alice', cut, true);
      }
      const [received, report] = await transfer;
      if (!report.mptcp || report.received !== size || report.receivedSha256 !== sha256(payload)) throw new Error(`bob received ${report.received} of ${size} bytes, SHA-256 ${report.receivedSha256 === sha256(payload) ? 'equal' : 'differs'}`);
      if (received.length !== report.sent || sha256(received) !== report.sentSha256) throw new Error(`alice received ${received.length} of ${report.sent} bytes, SHA-256 differs`);
      const carried = seen.size ? `; bob's subflows (ss, last sample of each): ${describeSubflows(ctx.lab, [...seen.values()])}` : '';
      return `alice's ${cut} link down 0.5 s mid-transfer, then restored; ${size} + ${received.length} bytes, SHA-256 equal both ways${carried}`;
    },
  },
  {
    title: 'throughput: 2 s alice -> bob through namestack (namestack perf) next to the kernel dave -> bob (iperf3 -C cubic), p1 IPv4',
    async run(ctx) {
      // One server per run: iperf3 -s is still closing the first test when the second comes.
      const [port, kernelPort] = [5211, 5212];
      const bob = ctx.lab.hosts.bob!.addresses.find((a) => a.path === 'p1')!.ipv4;
      const servers = [await startIperfServer(ctx, 'bob', port)];
      try {
        servers.push(await startIperfServer(ctx, 'bob', kernelPort));
        const report = await within(
          runClient({ host: bob, port, settings: { ...DEFAULT_SETTINGS, durationSeconds: 2 }, transport: controlTransport(control(ctx, 'alice')), collectIntervals: false }),
          10_000,
          'namestack perf alice -> bob',
        );
        if (report.error || !report.end) throw new Error(`namestack perf: ${report.error ?? 'no result'}`);
        const ours = report.end.sum_received.bits_per_second;
        const k = await labExec(ctx.prefix, 'dave', ['iperf3', '-c', bob, '-p', String(kernelPort), '-t', '2', '-C', 'cubic', '-J'], { timeoutMs: 10_000 });
        const kernel = (JSON.parse(k.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number } }; error?: string });
        if (k.code !== 0 || !kernel.end?.sum_received) throw new Error(`kernel iperf3 dave -> bob: ${kernel.error ?? k.stderr.trim()}`);
        if (ours <= 0) throw new Error('namestack moved no data');
        return `namestack alice -> bob ${gbits(ours)}; kernel dave -> bob ${gbits(kernel.end.sum_received.bits_per_second)}`;
      } finally {
        for (const server of servers) server.stop();
      }
    },
  },
];
