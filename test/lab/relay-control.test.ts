// The relay's control conversation over a Unix socket in a temporary directory (no root).

import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_LINE, relayRequest, serveRelayControl, type RelayReply, type RelayRequest } from '../../apps/lab/relay-control.js';

const dir = mkdtempSync(join(tmpdir(), 'nst-relay-control-'));
const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

function serve(name: string, answer: (req: RelayRequest) => RelayReply): Promise<string> {
  const path = join(dir, name);
  return new Promise((resolve) => servers.push(serveRelayControl(path, answer, () => resolve(path))));
}

/**
 * Writes `chunks` 20 ms apart, going on after the server has hung up its side (half open),
 * then ends; resolves with everything the server sent.
 */
function converse(path: string, chunks: string[]): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ path, allowHalfOpen: true });
    let got = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (got += d));
    sock.on('error', () => {});
    sock.on('close', () => resolve(got));
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (sock.destroyed) return;
        sock.write(c);
        await new Promise((r) => setTimeout(r, 20));
      }
      sock.end();
    });
  });
}

describe('relay control socket', () => {
  it('answers one request per connection, once, whatever else the client sends', async () => {
    const seen: RelayRequest[] = [];
    const path = await serve('a.sock', (req) => {
      seen.push(req);
      return { ok: true };
    });
    expect(await relayRequest(path, { op: 'stats' })).toEqual({ ok: true });
    const got = await converse(path, ['{"op":"st', 'ats"}\n', '{"op":"set","params":{}}\n', 'more\n']);
    expect(got).toBe('{"ok":true}\n');
    expect(seen).toEqual([{ op: 'stats' }, { op: 'stats' }]);
  });

  it('turns an unreadable request into an error reply and hangs up on an endless line', async () => {
    const path = await serve('b.sock', () => ({ ok: true }));
    expect(JSON.parse(await converse(path, ['not json\n']))).toMatchObject({ ok: false });
    expect(await converse(path, ['x'.repeat(MAX_LINE + 1)])).toBe('');
  });
});
