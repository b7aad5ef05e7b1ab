// iproute2's `ip` for setting devices up (never per packet): the TUN driver's MTU, state,
// addresses and namespace moves, and the routes a daemon points into its TUNs. One place
// turns a failure into an Error with code 'EIPCOMMAND' that carries ip's own complaint.

import { execFileSync } from 'node:child_process';

/**
 * Runs `ip [-n netns] args` to completion and returns its standard output. Throws an Error
 * with code 'EIPCOMMAND' whose message holds the command line and ip's stderr.
 */
export function runIp(args: readonly string[], netns?: string): string {
  const argv = netns === undefined ? [...args] : ['-n', netns, ...args];
  try {
    return execFileSync('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer | string }).stderr ?? '').trim();
    throw Object.assign(new Error(`ip ${argv.join(' ')} failed: ${stderr || (err as Error).message}; check that iproute2 is installed and the name/namespace exist`), {
      code: 'EIPCOMMAND',
    });
  }
}
