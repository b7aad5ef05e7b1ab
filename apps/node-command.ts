// How namestack's programs start Node: the CLI's shebang, the scripts, and every process the
// lab, the demo and the benchmarks spawn (the host daemon, the path relays) run with V8's
// garbage collector on the main thread alone (--single-threaded-gc).
//
// Why: a stack moving gigabits allocates its receive buffers as fresh ArrayBuffers (the
// application keeps them, so they cannot be pooled), and V8 answers that external memory with
// one concurrent marking cycle after another on helper threads. On a two-core machine those
// threads take the core the kernel peer and the stack's own thread need: measured on the lab
// (bob -> alice over a TUN, 4 s runs in one process), later runs fell from 16-20 to 8-10
// Gbit/s, the process's user time per packet tripling, while with --single-threaded-gc every
// run stayed at 18-25 Gbit/s with a third less CPU. The pauses it adds stay in the
// milliseconds (GC is under 10% of the busy main thread).

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The V8 flags every namestack Node process runs with. */
export const NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];

/** argv that runs the JavaScript file `script` with `args` under this Node and NODE_FLAGS. */
export function nodeCommand(script: string, ...args: string[]): string[] {
  return [process.execPath, ...NODE_FLAGS, script, ...args];
}

/** argv that runs the built `namestack` CLI (build/apps/cli.js, next to this module's build) with `args`. */
export function cliCommand(...args: string[]): string[] {
  return nodeCommand(join(dirname(fileURLToPath(import.meta.url)), 'cli.js'), ...args);
}
