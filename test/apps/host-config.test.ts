// The daemon's configuration: the file format, the lab's per-host file, --link / --set /
// --host flags, and the coded errors that name the bad field.

import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, parseDaemonConfig, parseHostFlag, parseLinkFlag, parseSetFlag } from '../../apps/host/config.js';
import { DEFAULT_CONTROL_PATH } from '../../apps/control/protocol.js';

describe('parseDaemonConfig', () => {
  it('fills defaults', () => {
    const c = parseDaemonConfig({});
    expect(c).toMatchObject({ control: DEFAULT_CONTROL_PATH, links: [], hosts: {}, stack: {}, limits: DEFAULT_LIMITS, logLevel: 'warn', shutdownGraceMs: 3000 });
  });

  it('reads a full link', () => {
    const c = parseDaemonConfig({
      name: 'a.example',
      links: [
        {
          tun: 'ns%d',
          mtu: 9000,
          netns: 'red',
          offloads: { tso6: false },
          addresses: ['10.0.0.2/24', 'fd00::2/64'],
          gateways: ['10.0.0.1', 'fd00::1'],
          routes: [{ destination: '10.9.0.0/16', gateway: '10.0.0.1', bound: false, metric: 5 }],
          kernelAddresses: ['10.0.0.1/24'],
          kernelRoutes: ['10.0.0.2'],
          pcap: '/tmp/x.pcap',
          impair: { both: { delayMs: 10 }, rx: { lossRate: 0.01 } },
        },
      ],
      hosts: { Bob: ['10.0.0.9', 'fd00::9'] },
      stack: { tcp: { nagle: false, congestionControl: 'newreno' } },
      limits: { maxStreams: 10 },
    });
    const l = c.links[0]!;
    expect(l).toMatchObject({ tun: 'ns%d', mtu: 9000, netns: 'red', offloads: { tso6: false }, gateways: ['10.0.0.1', 'fd00::1'], pcap: '/tmp/x.pcap' });
    expect(l.addresses).toEqual([
      { address: '10.0.0.2', prefixLength: 24, family: 4 },
      { address: 'fd00::2', prefixLength: 64, family: 6 },
    ]);
    expect(l.routes).toEqual([{ destination: { address: '10.9.0.0', prefixLength: 16, family: 4 }, gateway: '10.0.0.1', bound: false, metric: 5 }]);
    expect(l.kernelRoutes).toEqual([{ address: '10.0.0.2', prefixLength: 32, family: 4 }]);
    expect(l.impair).toEqual({ both: { delayMs: 10 }, rx: { lossRate: 0.01 } });
    expect(c.hosts).toEqual({ bob: ['10.0.0.9', 'fd00::9'] });
    expect(c.stack).toEqual({ tcp: { nagle: false, congestionControl: 'newreno' } });
    expect(c.limits.maxStreams).toBe(10);
  });

  it("reads the lab's per-host file as it is", () => {
    const c = parseDaemonConfig({
      lab: 'ns',
      name: 'alice.lab.test',
      zone: 'lab.test',
      controlSocket: '/run/namestack/ns/alice.sock',
      nameservers: [{ ipv4: '198.19.1.53' }],
      links: [
        { path: 'p1', tun: 'nsp1', ipv4: '198.18.1.10', ipv6: 'fd00:1:1::10', prefixLength4: 24, prefixLength6: 64, gateway4: '198.18.1.1', gateway6: 'fd00:1:1::1' },
      ],
    });
    expect(c.control).toBe('/run/namestack/ns/alice.sock');
    expect(c.name).toBe('alice.lab.test');
    expect(c.links[0]).toMatchObject({
      tun: 'nsp1',
      addresses: [
        { address: '198.18.1.10', prefixLength: 24 },
        { address: 'fd00:1:1::10', prefixLength: 64 },
      ],
      gateways: ['198.18.1.1', 'fd00:1:1::1'],
      kernelRoutes: [
        { address: '198.18.1.10', prefixLength: 32 },
        { address: 'fd00:1:1::10', prefixLength: 128 },
      ],
    });
  });

  it('refuses mistakes with EBADCONFIG naming the field', () => {
    const bad = (v: unknown): string => {
      try {
        parseDaemonConfig(v);
      } catch (e) {
        expect((e as { code: string }).code).toBe('EBADCONFIG');
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ links: [{ tun: 'x', adresses: [] }] })).toMatch(/links\[0\]: unknown field "adresses"/);
    expect(bad({ links: [{ tun: 'a-name-far-too-long' }] })).toMatch(/links\[0\]\.tun/);
    expect(bad({ links: [{ tun: 'x', addresses: ['10.0.0.2'] }] })).toMatch(/needs a prefix length/);
    expect(bad({ links: [{ tun: 'x', addresses: ['10.0.0.2/33'] }] })).toMatch(/bad prefix length/);
    expect(bad({ links: [{ tun: 'x', addresses: ['fd00::2/64'], mtu: 1000 }] })).toMatch(/at least 1280/);
    expect(bad({ links: [{ tun: 'x', addresses: ['10.0.0.2/24'], gateways: ['fd00::1'] }] })).toMatch(/no IPv6 address/);
    expect(bad({ links: [{ tun: 'x', impair: { both: { lossRate: 5 } } }] })).toMatch(/probability/);
    expect(bad({ stack: { tcp: { nagle: 'no' } } })).toMatch(/stack\.tcp\.nagle must be a boolean/);
    expect(bad({ stack: { tcp: { nagel: true } } })).toMatch(/unknown field "nagel"/);
    expect(bad({ limits: { maxStreams: 0 } })).toMatch(/limits\.maxStreams/);
    expect(bad({ logLevel: 'loud' })).toMatch(/logLevel/);
    expect(bad({ hosts: { bob: ['not-an-address'] } })).toMatch(/hosts\.bob\[0\]/);
  });
});

describe('flags', () => {
  it('--link takes repeatable keys, impairment in the lab units, offloads', () => {
    const l = parseLinkFlag('tun=ns0,mtu=1400,addr=10.0.0.2/24,addr=fd00::2/64,gw=10.0.0.1,route=10.9.0.0/16@10.0.0.1,netns=red,kernel-addr=10.0.0.1/24,offloads=csum+tso4,delay=20ms,loss=1%,rate=100mbit');
    expect(l).toMatchObject({
      tun: 'ns0',
      mtu: 1400,
      netns: 'red',
      gateways: ['10.0.0.1'],
      offloads: { csum: true, tso4: true, tso6: false, uso: false },
      impair: { both: { delayMs: 20, lossRate: 0.01, rateBitsPerSecond: 100e6 } },
    });
    expect(l.addresses).toHaveLength(2);
    expect(l.routes[0]).toMatchObject({ gateway: '10.0.0.1', bound: true });
    expect(parseLinkFlag('tun=x,offloads=off').offloads).toBe(false);
    expect(() => parseLinkFlag('tun=x,colour=blue')).toThrow(/unknown key "colour"/);
    expect(() => parseLinkFlag('tun=x,delay=fast')).toThrow(/bad duration/);
    expect(parseLinkFlag('tun=x,busy-poll=200us').busyPollUs).toBe(200);
    expect(parseLinkFlag('tun=x').busyPollUs).toBeUndefined();
    expect(() => parseLinkFlag('tun=x,busy-poll=200')).toThrow(expect.objectContaining({ code: 'EBADCONFIG', message: expect.stringMatching(/busyPollUs must be an integer from 0 to 10000/) }));
    expect(() => parseLinkFlag('tun=x,busy-poll=20000us')).toThrow(/busyPollUs must be an integer from 0 to 10000/);
  });

  it('--set and --host', () => {
    expect(parseSetFlag('tcp.congestionControl=newreno', parseSetFlag('tcp.nagle=false', {}))).toEqual({ tcp: { nagle: false, congestionControl: 'newreno' } });
    expect(() => parseSetFlag('tcp.nagle=1', {})).toThrow(/boolean/);
    expect(parseHostFlag('Bob=10.0.0.9,fd00::9', {})).toEqual({ bob: ['10.0.0.9', 'fd00::9'] });
  });
});
