import { describe, expect, it } from 'vitest';
import { keyToToken } from '../../stack/mptcp/crypto.js';
import { TokenTable } from '../../stack/mptcp/tokens.js';
import { seededRandom, type RandomSource } from '../../stack/random.js';

describe('TokenTable', () => {
  it('allocates keys whose token names the owner', () => {
    const t = new TokenTable<string>(10);
    const a = t.allocate(seededRandom(1), 'conn-a');
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    expect(keyToToken(a.key)).toBe(a.token);
    expect(t.lookup(a.token)).toBe('conn-a');
    expect(t.has(a.token)).toBe(true);
    expect(t.lookup(a.token ^ 1)).toBeUndefined();
  });

  it('draws again when a token is taken', () => {
    const t = new TokenTable<string>(10);
    // A source that returns the same key twice, then a new one.
    const same = seededRandom('same').bytes(8);
    const other = seededRandom('other').bytes(8);
    let calls = 0;
    const src: RandomSource = { bytes: () => (calls++ < 2 ? same.slice() : other.slice()), uint32: () => 0, float: () => 0 };
    const first = t.allocate(src, 'a');
    const second = t.allocate(src, 'b');
    expect(first.ok && second.ok).toBe(true);
    if (!first.ok || !second.ok) return;
    expect(second.token).not.toBe(first.token);
    expect(calls).toBe(3);
    expect([t.lookup(first.token), t.lookup(second.token)]).toEqual(['a', 'b']);
  });

  it('fails after repeated collisions and when full', () => {
    const t = new TokenTable<string>(2);
    const same = seededRandom('same').bytes(8);
    const src: RandomSource = { bytes: () => same.slice(), uint32: () => 0, float: () => 0 };
    expect(t.allocate(src, 'a').ok).toBe(true);
    expect(t.allocate(src, 'b')).toEqual({ ok: false, reason: 'collision' });
    expect(t.allocate(seededRandom(2), 'c').ok).toBe(true);
    expect(t.allocate(seededRandom(3), 'd')).toEqual({ ok: false, reason: 'full' });
    expect(t.size).toBe(2);
  });

  it('hands a token from a request to its connection and removes only the current owner', () => {
    const t = new TokenTable<object>(4);
    const req = {};
    const conn = {};
    const a = t.allocate(seededRandom(9), req);
    if (!a.ok) throw new Error('allocation failed');
    expect(t.replace(a.token, conn)).toBe(true);
    expect(t.replace(a.token ^ 1, conn)).toBe(false);
    expect(t.remove(a.token, req)).toBe(false);
    expect(t.lookup(a.token)).toBe(conn);
    expect(t.remove(a.token, conn)).toBe(true);
    expect(t.size).toBe(0);
  });
});
