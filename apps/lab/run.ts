// Running the system tools the lab is made of (ip, sysctl, tc, dnsmasq) and reading their
// answers. Every failure carries the command line and its stderr, so a broken `lab up` says
// which step failed.

import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Text written to the command's stdin. */
  input?: string;
  /** Do not throw on a non-zero exit status. */
  allowFail?: boolean;
  timeoutMs?: number;
}

/** Run a command to completion; throws (unless allowFail) when it exits non-zero. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      argv[0]!,
      argv.slice(1),
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        if (code !== 0 && !opts.allowFail) {
          const input = opts.input ? `\n--- input ---\n${opts.input}` : '';
          reject(new Error(`${argv.join(' ')} exited ${err?.code ?? code}: ${stderr.trim() || err?.message}${input}`));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** argv that runs `command` inside a network namespace. */
export function inNamespace(namespace: string, command: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', namespace, ...command];
}

/**
 * Run many `ip` commands in one process (`ip -batch`), in a namespace or (namespace
 * undefined) the root one. Stops at the first failing line and reports it. A batch line
 * cannot carry `-6`, and `ip rule` does not infer the family from the address, so lines
 * written `-6 ...` run afterwards, in order, in a second `ip -6 -batch`.
 */
export async function ipBatch(namespace: string | undefined, lines: readonly string[]): Promise<void> {
  const v6 = lines.filter((l) => l.startsWith('-6 ')).map((l) => l.slice(3));
  const other = lines.filter((l) => !l.startsWith('-6 '));
  const base = namespace === undefined ? ['ip'] : ['ip', '-n', namespace];
  if (other.length) await run([...base, '-batch', '-'], { input: other.join('\n') + '\n' });
  if (v6.length) await run([...base, '-6', '-batch', '-'], { input: v6.join('\n') + '\n' });
}

/** Set sysctls inside a namespace in one process. */
export async function sysctls(namespace: string, settings: Readonly<Record<string, string | number>>): Promise<void> {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  if (args.length) await run(inNamespace(namespace, ['sysctl', '-q', '-w', ...args]));
}

/** Names from `ip netns list` (the first word of each line). */
export async function listNamespaces(): Promise<Set<string>> {
  const { stdout } = await run(['ip', 'netns', 'list']);
  return new Set(stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.length > 0));
}

/** Process ids living in a namespace (`ip netns pids`). */
export async function namespacePids(namespace: string): Promise<number[]> {
  const { stdout, code } = await run(['ip', 'netns', 'pids', namespace], { allowFail: true });
  if (code !== 0) return [];
  return stdout.split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** The process exists and is not a zombie (a daemon's corpse waits for init to reap it). */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ...", the state letter follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** SIGTERM each process, wait up to `graceMs`, then SIGKILL those still there. */
export async function stopProcesses(pids: readonly number[], graceMs = 2000): Promise<void> {
  const live = pids.filter(isAlive);
  for (const pid of live) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.some(isAlive) && Date.now() < deadline) await sleep(20);
  for (const pid of live.filter(isAlive)) signal(pid, 'SIGKILL');
  const killDeadline = Date.now() + 2000;
  while (live.some(isAlive) && Date.now() < killDeadline) await sleep(20);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone between the check and the signal.
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Start a long-running process detached from us (it outlives the CLI); returns its pid. */
export function spawnDetached(argv: readonly string[], logFd: number): number {
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', logFd, logFd] });
  // A failed exec is reported through the missing pid below, not as an unhandled event.
  child.on('error', () => {});
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${argv.join(' ')}`);
  return child.pid;
}
