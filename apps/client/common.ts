// What the control-socket CLI tools share: the socket path option, the port argument,
// pumping a stream to and from a pair of byte streams, and the one-line error report.

import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { DEFAULT_CONTROL_PATH, type StreamOutcome } from '../control/protocol.js';
import { controlCall } from '../control/client.js';

/** parseArgs options every control client takes. */
export const CLIENT_OPTIONS = {
  control: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** --control, else $NAMESTACK_CONTROL, else the daemon's default path. */
export function controlPath(flag: string | undefined): string {
  return flag ?? process.env.NAMESTACK_CONTROL ?? DEFAULT_CONTROL_PATH;
}

/** A port argument as the protocol takes it: a number when numeric, else a service name. */
export function portArgument(text: string): number | string {
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** Prints `namestack <tool>: CODE: message` and returns the exit status 1. */
export function report(tool: string, err: unknown): number {
  const e = err as { code?: string; message?: string };
  process.stderr.write(`namestack ${tool}: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
  return 1;
}

/**
 * Pipes `input` into the stream and the stream into `output` (never ending `output`, which
 * may be the process's stdout). `input`'s end half-closes the stream. Resolves when the
 * stream socket has closed: both directions done, or the daemon dropped it.
 */
export function pump(stream: Socket, rest: Buffer, input: Readable, output: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (rest.length > 0) output.write(rest);
    stream.pipe(output, { end: false });
    input.pipe(stream);
    // The other end went away: stop writing into it (EPIPE is the expected outcome, not news).
    stream.on('error', () => {});
    input.on('error', () => stream.end());
    // A reader that went away (`| head`): nobody wants the rest.
    output.on('error', () => stream.destroy());
    stream.once('close', () => {
      input.unpipe(stream);
      resolve();
    });
    stream.resume();
  });
}

/**
 * The stream's outcome from the daemon (`wait`), asked right after the stream opened so a
 * fast finish is not missed; settles with an outcome, or undefined if the daemon cannot say.
 */
export function watchOutcome(path: string, id: number): Promise<StreamOutcome | undefined> {
  return controlCall<StreamOutcome & { ok: true }>(path, { op: 'wait', id }).then(
    (o) => o,
    () => undefined,
  );
}

/** `p`, or undefined once `ms` have passed (the timer does not keep the process alive). */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}
