// tcpdump inside a lab namespace for the name and Happy Eyeballs tests: started and known to
// capture before the test acts, stopped with everything written.

import type { ChildProcess } from 'node:child_process';
import { labSpawn } from '../../apps/lab/lab.js';

export interface Capture {
  /** Stops tcpdump (SIGINT) and waits until the file is complete. */
  stop(): Promise<void>;
  child: ChildProcess;
}

/**
 * tcpdump on `iface` in lab node `node`, writing `file`; resolves once it listens. Use `ip6`
 * rather than `tcp port` for IPv6: BPF does not see TCP behind an extension header (the names).
 */
export async function startCapture(prefix: string, node: string, iface: string, file: string, filter: string): Promise<Capture> {
  // -Z root: tcpdump would drop to its own user, which cannot write into a private temp
  // directory; --immediate-mode: packets still in the kernel's ring at SIGINT are lost otherwise.
  const child = labSpawn(prefix, node, ['tcpdump', '-Z', 'root', '--immediate-mode', '-U', '-n', '-i', iface, '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/listening on/.test(err)) resolve();
    });
    child.on('close', (code) => reject(new Error(`tcpdump exited ${code}: ${err}`)));
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      await closed;
    },
  };
}
