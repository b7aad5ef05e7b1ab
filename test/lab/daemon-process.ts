// Running the real `namestack` program from a test: a private build of this checkout (so the
// daemon and CLI under test are exactly these sources, whatever build/ holds), the daemon as
// a child process with its log captured, and CLI runs with stdin/stdout as buffers.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Compiles the checkout into a fresh directory; returns the path of its cli.js and a remover. */
export function privateBuild(): { cli: string; dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nst-build-'));
  // Other people's files may be mid-edit: tsc still emits, and only ours must load.
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json', '--outDir', dir], { cwd: ROOT, stdio: 'ignore' });
  const cli = join(dir, 'apps', 'cli.js');
  if (!existsSync(cli)) throw new Error(`the build in ${dir} has no apps/cli.js`);
  // ESM scope and dependencies for files outside the checkout.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'namestack', version: 'test', type: 'module' }));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  // Readable by an unprivileged user (the permission test runs the CLI as nobody).
  chmodSync(dir, 0o755);
  return { cli, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Daemon {
  child: ChildProcess;
  /** Everything the daemon wrote to stderr so far. */
  log: () => string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/** Starts `namestack host ...args` and waits for its control socket. */
export async function startDaemon(cli: string, args: string[], control: string, wrap: string[] = []): Promise<Daemon> {
  const argv = [...wrap, process.execPath, cli, 'host', '--control', control, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const deadline = Date.now() + 20_000;
  let gone: number | string | undefined;
  void exited.then((c) => (gone = c));
  while (!existsSync(control)) {
    if (gone !== undefined) throw new Error(`the daemon exited (${gone}) before serving: ${log}`);
    if (Date.now() > deadline) throw new Error(`no control socket after 20 s: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, log: () => log, exited };
}

export interface CliResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a command to completion (asynchronously: the daemon may live in this process's tests). */
export function runCommand(argv: string[], input?: Buffer | string, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${err}`));
    }, timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(input ?? '');
  });
}

/** Starts a long-running command; its output is collected until it exits. */
export function startCommand(argv: string[]): ChildProcess & { result: Promise<CliResult> } {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin!.on('error', () => {});
  const result = new Promise<CliResult>((resolve) => child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr: err })));
  return Object.assign(child, { result });
}
