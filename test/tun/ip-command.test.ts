import { describe, expect, it } from 'vitest';
import { runIp } from '../../tun/ip-command.js';

describe('runIp', () => {
  it('returns what ip prints, and throws EIPCOMMAND with ip\'s complaint when it fails', () => {
    expect(JSON.parse(runIp(['-j', 'link', 'show', 'dev', 'lo']))[0].ifname).toBe('lo');
    let err: (Error & { code?: string }) | undefined;
    try {
      runIp(['link', 'show', 'dev', 'nst-no-such0']);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe('EIPCOMMAND');
    expect(err?.message).toContain('ip link show dev nst-no-such0 failed: Device "nst-no-such0" does not exist.');
    expect(() => runIp(['link', 'show'], 'nst-no-such-netns')).toThrow(/ip -n nst-no-such-netns link show failed/);
  });
});
