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
  const argv = [...wrap, ...nodeCommand(cli, 'host', '--control', control, ...args)];
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

/** Kernel peers for the daemon's streams (python3 in a namespace): an echo or flood server, a client. */
const PEER = `
import socket, sys, threading
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ':' in host else socket.AF_INET
if mode == 'client':
    s = socket.create_connection((host, port))
    def send():
        s.sendall(sys.stdin.buffer.read())
        s.shutdown(socket.SHUT_WR)
    threading.Thread(target=send).start()
    while chunk := s.recv(65536):
        sys.stdout.buffer.write(chunk)
    sys.exit(0)
srv = socket.socket(family, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen()
print('ready', flush=True)
c, _ = srv.accept()
try:
    if sys.argv[4] == 'echo':
        while chunk := c.recv(65536):
            c.sendall(chunk)
        print('eof', flush=True)
        c.shutdown(socket.SHUT_WR)
    else:
        block = bytes(65536)
        while True:
            c.sendall(block)
except OSError as e:
    import errno
    print(errno.errorcode.get(e.errno, str(e)), flush=True)
`;
import { nodeCommand } from '../../apps/node-command.js';

export class KernelPeers {
  private readonly script: string;
  private readonly children: ChildProcess[] = [];

  constructor(dir: string) {
    this.script = join(dir, 'peer.py');
    writeFileSync(this.script, PEER);
  }

  /**
   * A one-connection server in namespace `ns`, listening once this resolves. `echo` sends
   * everything back and half-closes after the client's FIN (output 'eof'); `flood` sends
   * zeros until the connection fails (output: the errno name).
   */
  async server(ns: string, address: string, port: number, mode: 'echo' | 'flood'): Promise<{ output: Promise<string> }> {
    const child = spawn('ip', ['netns', 'exec', ns, 'python3', this.script, 'serve', address, String(port), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.children.push(child);
    let out = '';
    const output = new Promise<string>((resolve) => child.on('close', () => resolve(out)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.startsWith('ready')) resolve();
      });
      child.on('close', () => reject(new Error(`kernel server exited: ${out}`)));
    });
    return { output: output.then((o) => o.slice('ready\n'.length).trim()) };
  }

  /** argv of a client in `ns`: stdin to the server (then FIN), the server's bytes to stdout. */
  client(ns: string, address: string, port: number): string[] {
    return ['ip', 'netns', 'exec', ns, 'python3', this.script, 'client', address, String(port)];
  }

  kill(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }
}
