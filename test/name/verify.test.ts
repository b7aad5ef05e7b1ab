// Name verification on the simulated network: the claimed name's forward lookup must hold
// the packet's source address (thesis 2.4).

import { describe, expect, it } from 'vitest';
import { NameVerifier, type Verification } from '../../stack/name/verify.js';
import { addr, dnsWorld, SERVERS, type Zone } from '../dns/dns-sim.js';

const ZONE: Zone = {
  'alice.lab.test': { A: ['198.18.1.10', '198.18.2.10'], AAAA: ['fd00:1:1::10', 'fd00:2:1::10'], ttl: 5 },
  'carol.lab.test': { A: ['198.19.1.21'], AAAA: ['fd00:1:2::21'], ttl: 5 },
};

function world(servers?: string[]) {
  const w = dnsWorld({ zone: ZONE, ...(servers && { servers }) });
  const verifier = new NameVerifier(w.resolver);
  /** Verifies and runs the network until the verdict; returns it with what verify() said at first. */
  const check = (name: string, address: string): { first: Verification; final: Verification | undefined } => {
    let final: Verification | undefined;
    const first = verifier.verify(name, addr(address), w.net.now, (v) => (final = v));
    w.net.runUntil(() => final !== undefined, w.net.now + 60_000);
    return { first, final };
  };
  return Object.assign(w, { verifier, check });
}

describe('name verification', () => {
  it('verifies a name whose lookup holds the source address, asking AAAA and A', () => {
    const w = world();
    const { first, final } = w.check('Alice.Lab.Test', 'fd00:2:1::10');
    expect(first.state).toBe('pending');
    expect(final).toMatchObject({ state: 'verified', name: 'alice.lab.test', expiresAt: 10 + 5000 });
    expect(w.queries.map((q) => q.question.type).sort()).toEqual(['A', 'AAAA']);
    // The IPv4 address of the same peer (a later subflow) is verified from the cache at once.
    let v4: Verification | undefined;
    expect(w.verifier.verify('alice.lab.test', addr('198.18.1.10'), w.net.now, (v) => (v4 = v)).state).toBe('verified');
    expect(v4?.state).toBe('verified');
    expect(w.queries).toHaveLength(2);
  });

  it('does not verify a spoofed name: carol claiming to be alice', () => {
    const w = world();
    expect(w.check('alice.lab.test', 'fd00:1:2::21').final).toMatchObject({
      state: 'unverified',
      reason: 'alice.lab.test has fd00:1:1::10, fd00:2:1::10',
    });
    expect(w.verifier.counters).toEqual({ verified: 0, unverified: 1, failed: 0 });
  });

  it('a name that does not exist, or cannot, is unverified; a lookup that gets no answer is failed', () => {
    const w = world();
    expect(w.check('nobody.lab.test', 'fd00:1:2::21').final).toMatchObject({ state: 'unverified', reason: 'ENOTFOUND' });
    expect(w.verifier.verify('not a name', addr('fd00:1:2::21'), 0).state).toBe('unverified');
    const dead = world([SERVERS.v6a]);
    dead.responder = () => [];
    expect(dead.check('alice.lab.test', 'fd00:1:1::10').final).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^ETIMEOUT/) });
    expect(dead.verifier.status('alice.lab.test', addr('fd00:1:1::10'), dead.net.now)).toBeUndefined();
  });

  it('reports pending while the lookup runs, the verdict while the TTL lasts, nothing after', () => {
    const w = world();
    const a = addr('fd00:1:1::10');
    expect(w.verifier.status('alice.lab.test', a, 0)).toBeUndefined();
    let calls = 0;
    w.verifier.verify('alice.lab.test', a, 0, () => calls++);
    w.verifier.verify('alice.lab.test', a, 0, () => calls++);
    expect(w.verifier.status('alice.lab.test', a, 0)?.state).toBe('pending');
    w.net.run(100);
    expect(calls).toBe(2);
    expect(w.queries).toHaveLength(2);
    expect(w.verifier.status('alice.lab.test', a, w.net.now)?.state).toBe('verified');
    w.net.run(5010);
    expect(w.verifier.status('alice.lab.test', a, w.net.now)).toBeUndefined();
  });
});
