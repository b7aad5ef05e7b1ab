// A kernel-side transfer peer for the lab, in the pattern of the kernel selftest
// mptcp_connect.sh: random bytes go both ways at once and each side reports the count and
// SHA-256 of what it sent and what it received, so a test compares them byte for byte.
// The peer is a small python3 program (python3 knows IPPROTO_MPTCP) run in a lab namespace.

import type { ChildProcess } from 'node:child_process';
import { labSpawn } from './lab.js';

const PEER = `
import hashlib, json, os, socket, sys, threading
role, proto, host, port, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ipproto = socket.IPPROTO_MPTCP if proto == 'mptcp' else socket.IPPROTO_TCP
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
if role == 'server':
    ls = socket.socket(fam, socket.SOCK_STREAM, ipproto)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)
    print(json.dumps({'ready': True}), flush=True)
    s, peer = ls.accept()
else:
    s = socket.socket(fam, socket.SOCK_STREAM, ipproto)
    s.settimeout(30)
    s.connect((host, port))
    s.settimeout(None)
    peer = s.getpeername()
s.settimeout(120)
out = {'peer': peer[0]}
def send():
    h = hashlib.sha256(); n = 0
    while n < size:
        chunk = os.urandom(min(1 << 16, size - n))
        s.sendall(chunk); h.update(chunk); n += len(chunk)
    s.shutdown(socket.SHUT_WR)
    out['sent'] = n; out['sentSha256'] = h.hexdigest()
t = threading.Thread(target=send); t.start()
h = hashlib.sha256(); n = 0
try:
    while True:
        d = s.recv(1 << 16)
        if not d: break
        h.update(d); n += len(d)
except OSError as e:
    out['error'] = str(e)
t.join()
out['received'] = n; out['receivedSha256'] = h.hexdigest()
try:
    out['mptcp'] = s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL) == socket.IPPROTO_MPTCP
except OSError:
    pass
s.close()
print(json.dumps(out), flush=True)
`;

export interface TransferReport {
  /** Address of the other end as this peer saw it. */
  peer: string;
  sent: number;
  sentSha256: string;
  received: number;
  receivedSha256: string;
  /** The socket was an MPTCP socket (the kernel may still have fallen back to TCP on the wire). */
  mptcp?: boolean;
  error?: string;
}

export interface PeerOptions {
  role: 'server' | 'client';
  protocol: 'tcp' | 'mptcp';
  /** server: the address to bind ('::' or '0.0.0.0' for any); client: the address to connect to. */
  host: string;
  port: number;
  /** Bytes this peer sends (random) before half-closing. */
  size: number;
}

export interface RunningPeer {
  child: ChildProcess;
  /** Resolves when a server listens (at once for a client). */
  ready: Promise<void>;
  /** Resolves with the peer's report when it exits. */
  done: Promise<TransferReport>;
}

/** Starts a kernel transfer peer in lab node `node`. */
export function startTransferPeer(prefix: string, node: string, opts: PeerOptions): RunningPeer {
  const child = labSpawn(prefix, node, ['python3', '-c', PEER, opts.role, opts.protocol, opts.host, String(opts.port), String(opts.size)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  if (opts.role === 'client') markReady();
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('"ready"')) markReady();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<TransferReport>((resolve, reject) => {
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        const report = JSON.parse(last) as TransferReport;
        if ('sent' in report) return resolve(report);
      } catch {
        // fall through to the error below
      }
      reject(new Error(`transfer peer on ${node} exited ${code}: ${stderr.trim() || stdout.trim()}`));
    });
  });
  // A server that fails before listening must not leave `ready` pending forever.
  done.catch(() => markReady());
  return { child, ready, done };
}
