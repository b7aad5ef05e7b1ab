import { describe, expect, it } from 'vitest';
import { randomBytes, sha256, simPair, transfer } from './sim-pair.js';

describe('TCP smoke', () => {
  it('connects, moves data both ways and closes on a clean path', () => {
    const p = simPair({ impairment: { delayMs: 5 } });
    const aData = randomBytes(300_000, 'a');
    const bData = randomBytes(200_000, 'b');
    const t = transfer(p, { aData, bData });
    const done = p.net.runUntil(() => t.client().closed && t.server()?.closed === true, 300_000);
    const c = t.client();
    const s = t.server()!;
    expect(c.error).toBeUndefined();
    expect(s.error).toBeUndefined();
    expect(done).toBe(true);
    expect(sha256(s.received)).toBe(sha256(aData));
    expect(sha256(c.received)).toBe(sha256(bData));
  });
});
