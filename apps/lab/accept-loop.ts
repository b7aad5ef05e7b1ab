// A kernel MPTCP server on a lab node that accepts every connection and closes it at once:
// the far end of connection-setup measurements (Happy Eyeballs races), where only the
// handshake matters. The server is a small python3 program (python3 knows IPPROTO_MPTCP).

import type { ChildProcess } from 'node:child_process';
import { labSpawn } from './lab.js';

const ACCEPT_LOOP = `
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_MPTCP)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', int(sys.argv[1])))
s.listen(128)
print('ready', flush=True)
while True:
    c, _ = s.accept()
    c.close()
`;

/** Starts the server on `node` (both families, every address) and resolves once it listens; the caller kills it. */
export function startAcceptLoop(prefix: string, node: string, port: number): Promise<ChildProcess> {
  const child = labSpawn(prefix, node, ['python3', '-c', ACCEPT_LOOP, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
    child.on('close', (code) => reject(new Error(`the accept loop on ${node} exited ${code}: ${err.trim()}`)));
  });
}
