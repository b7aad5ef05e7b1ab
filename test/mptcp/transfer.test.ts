import { describe, expect, it } from 'vitest';
import { isMptcp, mptcpPair, mptcpTransfer, randomBytes, sha256 } from './sim-mptcp.js';

describe('MPTCP transfer on the simulated network', () => {
  it('one path: MP_CAPABLE handshake, DSS both ways, DATA_FIN close', () => {
    const p = mptcpPair({ paths: [{ params: { delayMs: 5 } }] });
    const clientData = randomBytes(300_000, 'c');
    const serverData = randomBytes(200_000, 's');
    const t = mptcpTransfer(p, { clientData, serverData });
    const done = p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 60_000);
    const s = t.server()!;
    expect(t.client.error).toBeUndefined();
    expect(s.error).toBeUndefined();
    expect(done).toBe(true);
    expect(isMptcp(t.serverConn())).toBe(true);
    expect(t.client.conn.state).toBe('CLOSED');
    expect((t.client.conn as { fallback: boolean }).fallback).toBe(false);
    expect(sha256(s.received)).toBe(sha256(clientData));
    expect(sha256(t.client.received)).toBe(sha256(serverData));
  });
});
