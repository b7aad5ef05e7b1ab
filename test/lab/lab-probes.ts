// Measurements the lab tests make inside lab namespaces: ping RTTs, one-way UDP delivery,
// DNS answers, kernel MPTCP subflows. The peers are small python3 programs (python3 is on
// every machine the lab runs on and knows IPPROTO_MPTCP), run with labExec/labSpawn.

import type { ChildProcess } from 'node:child_process';
import { labExec, labSpawn } from '../../apps/lab/lab.js';

export interface PingResult {
  sent: number;
  received: number;
  /** Round-trip times of the replies, ms. */
  rtts: number[];
  /** ping's exit status: 0 when at least one reply came back. */
  code: number;
}

export async function ping(prefix: string, node: string, src: string, dst: string, count = 3, intervalS = 0.05): Promise<PingResult> {
  const r = await labExec(prefix, node, ['ping', '-n', '-c', String(count), '-i', String(intervalS), '-W', '1', '-I', src, dst]);
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const stats = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  return { sent: Number(stats?.[1] ?? 0), received: Number(stats?.[2] ?? 0), rtts, code: r.code };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Waits until a spawned python peer prints `ready`. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('ready')) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`peer exited (${code}) before it was ready: ${out}`)));
  });
}

function collect(child: ChildProcess): Promise<string> {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('close', () => resolve(out)));
}

// Receiver: counts distinct sequence numbers until `idle` seconds pass without a datagram.
const UDP_RECEIVER = `
import socket, sys
host, port, idle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE: never drop at the socket
s.bind((host, port))
print('ready', flush=True)
seen = set()
s.settimeout(20)
try:
    while True:
        seen.add(s.recv(2048)[:8])
        s.settimeout(idle)
except socket.timeout:
    pass
print('received', len(seen), flush=True)
`;

// Sender: n numbered 100-byte datagrams, paced (20 every 2 ms, at most 10k/s) so that only
// the impairment loses them, not a queue in front of a relay that missed its turn on the CPU.
const UDP_SENDER = `
import socket, sys, time
src, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
for i in range(n):
    s.sendto(i.to_bytes(8, 'big') + b'.' * 92, (host, port))
    if i % 20 == 19:
        time.sleep(0.002)
print('sent', n, flush=True)
`;

/** Sends `count` datagrams from node `from` (address src) to node `to` (address dst) and counts what arrives. */
export async function udpDelivery(
  prefix: string,
  from: string,
  src: string,
  to: string,
  dst: string,
  count: number,
): Promise<{ sent: number; received: number }> {
  const port = 9000 + (process.pid % 1000);
  const receiver = labSpawn(prefix, to, ['python3', '-c', UDP_RECEIVER, dst, String(port), '1.0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await ready(receiver);
  const output = collect(receiver);
  const sent = await labExec(prefix, from, ['python3', '-c', UDP_SENDER, src, dst, String(port), String(count)]);
  if (sent.code !== 0) throw new Error(`UDP sender failed: ${sent.stderr}`);
  const m = /received (\d+)/.exec(await output);
  if (!m) throw new Error(`UDP receiver said: ${await output}`);
  return { sent: count, received: Number(m[1]) };
}

// A minimal DNS client (RFC 1035 4.1): one question, prints rcode and the A/AAAA answers.
const DNS_QUERY = `
import socket, struct, sys
server, name, qtype = sys.argv[1], sys.argv[2], int(sys.argv[3])
q = struct.pack('!HHHHHH', 0x4e53, 0x0100, 1, 0, 0, 0)
q += b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\\0' + struct.pack('!HH', qtype, 1)
s = socket.socket(socket.AF_INET6 if ':' in server else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (server, 53))
r = s.recv(4096)
ident, flags, qd, an, ns, ar = struct.unpack('!HHHHHH', r[:12])
i = 12
while r[i] != 0:
    i += r[i] + 1
i += 5
out = []
for _ in range(an):
    if r[i] & 0xc0 == 0xc0:
        i += 2
    else:
        while r[i] != 0:
            i += r[i] + 1
        i += 1
    t, c, ttl, l = struct.unpack('!HHIH', r[i:i + 10])
    i += 10
    if t in (1, 28):
        out.append(socket.inet_ntop(socket.AF_INET if t == 1 else socket.AF_INET6, r[i:i + l]))
    i += l
print(flags & 0xf, *out)
`;

export async function dnsQuery(prefix: string, node: string, server: string, name: string, type: 'A' | 'AAAA'): Promise<{ rcode: number; addresses: string[] }> {
  const r = await labExec(prefix, node, ['python3', '-c', DNS_QUERY, server, name, type === 'A' ? '1' : '28']);
  if (r.code !== 0) throw new Error(`DNS query failed: ${r.stderr}`);
  const [rcode, ...addresses] = r.stdout.trim().split(/\s+/);
  return { rcode: Number(rcode), addresses: addresses.sort() };
}

// Kernel MPTCP peers: a server that counts bytes, a client that sends for a while.
const MPTCP_SERVER = `
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_MPTCP)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', port))
s.listen(1)
print('ready', flush=True)
c, _ = s.accept()
n = 0
while True:
    d = c.recv(1 << 16)
    if not d:
        break
    n += len(d)
print('received', n, flush=True)
`;

const MPTCP_CLIENT = `
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_MPTCP)
s.connect((host, port))
buf = b'n' * (1 << 16)
n = 0
end = time.time() + seconds
while time.time() < end:
    n += s.send(buf)
s.shutdown(socket.SHUT_WR)
s.recv(1)
print('sent', n, flush=True)
`;

export interface MptcpRun {
  sent: number;
  received: number;
  /** Local addresses of the client's established TCP subflows to the server port, seen mid-transfer. */
  subflowSources: string[];
  /** The server's MPTcpExtMPJoinAckRx counter afterwards (joins completed). */
  joinAckRx: number;
}

/** A kernel MPTCP transfer from `client` to `server` (address dst) lasting `seconds`. */
export async function mptcpTransfer(prefix: string, client: string, server: string, dst: string, seconds: number): Promise<MptcpRun> {
  const port = 5201 + (process.pid % 1000);
  const srv = labSpawn(prefix, server, ['python3', '-c', MPTCP_SERVER, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await ready(srv);
  const srvOut = collect(srv);
  const cli = labSpawn(prefix, client, ['python3', '-c', MPTCP_CLIENT, dst, String(port), String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const cliOut = collect(cli);
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
  const ss = await labExec(prefix, client, ['ss', '-tnH', 'state', 'established', `( dport = :${port} )`]);
  const subflowSources = ss.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/)[2]!)
    .map((local) => local.replace(/^\[?(.*?)\]?:\d+$/, '$1'))
    .sort();
  const sent = Number(/sent (\d+)/.exec(await cliOut)?.[1] ?? NaN);
  const received = Number(/received (\d+)/.exec(await srvOut)?.[1] ?? NaN);
  const nstat = await labExec(prefix, server, ['nstat', '-az', 'MPTcpExtMPJoinAckRx']);
  const joinAckRx = Number(/MPTcpExtMPJoinAckRx\s+(\d+)/.exec(nstat.stdout)?.[1] ?? NaN);
  return { sent, received, subflowSources, joinAckRx };
}
