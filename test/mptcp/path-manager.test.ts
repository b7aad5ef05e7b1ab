import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../stack/config.js';
import {
  PathManager,
  pathManagerOptions,
  type LocalAddress,
  type PathAction,
  type PathManagerOptions,
} from '../../stack/mptcp/path-manager.js';
import { formatAddress, parseAddress } from '../../stack/wire/address.js';

const a = (s: string) => parseAddress(s)!;
const options: PathManagerOptions = {
  maxSubflows: 8,
  addAddrAccepted: 8,
  fullMesh: true,
  createSubflows: true,
  announce: false,
  retryBaseMs: 1000,
  retryMaxMs: 8000,
  addAddrTimeoutMs: 2000,
  addAddrMaxRetransmits: 2,
  oneFamilyPerInterface: false,
};
const local = (address: string, ifIndex: number, o: Partial<LocalAddress> = {}): LocalAddress => ({
  address: a(address),
  ifIndex,
  subflow: true,
  signal: false,
  backup: false,
  ...o,
});
/** Actions as short strings: easy to read and compare. */
const show = (actions: PathAction[]): string[] =>
  actions.map((x) => {
    switch (x.kind) {
      case 'open-subflow':
        return `open ${x.pathId} ${formatAddress(x.local)}#${x.localId} -> ${formatAddress(x.remote)}#${x.remoteId}:${x.port}${x.backup ? ' backup' : ''}`;
      case 'announce':
        return `announce ${x.id} ${formatAddress(x.address)}${x.port ? ':' + x.port : ''}`;
      case 'remove-address':
        return `remove-address ${x.id}`;
      case 'close-subflow':
        return `close ${x.pathId} ${x.reason}`;
      case 'set-backup':
        return `set-backup ${x.pathId} ${x.backup}`;
    }
  });

function client(o: Partial<PathManagerOptions> = {}): PathManager {
  return new PathManager(
    { ...options, ...o },
    { local: a('10.0.1.1'), remote: a('10.0.1.2'), remotePort: 443, ifIndex: 1, weOpened: true },
  );
}

describe('PathManager: full mesh (client)', () => {
  it('does nothing before the connection is fully established, then joins every pair', () => {
    const pm = client();
    pm.setLocalAddresses([local('10.0.1.1', 1), local('10.0.2.1', 2)], 0);
    expect(pm.onAddAddr({ id: 1, address: a('10.0.2.2') }, 0)).toBe(true);
    expect(pm.poll(0)).toEqual([]);
    pm.onEstablished(10);
    // Disjoint pair first (new local and new remote address), then the crossed ones.
    expect(show(pm.poll(10))).toEqual([
      'open 1 10.0.2.1#1 -> 10.0.2.2#1:443',
      'open 2 10.0.1.1#0 -> 10.0.2.2#1:443',
      'open 3 10.0.2.1#1 -> 10.0.1.2#0:443',
    ]);
    expect(pm.poll(20)).toEqual([]);
  });

  it('respects the subflow limit, preferring paths that share nothing with existing ones', () => {
    const pm = client({ maxSubflows: 2 });
    pm.setLocalAddresses([local('10.0.1.1', 1), local('10.0.2.1', 2)], 0);
    pm.onAddAddr({ id: 1, address: a('10.0.2.2') }, 0);
    pm.onEstablished(0);
    expect(show(pm.poll(0))).toEqual(['open 1 10.0.2.1#1 -> 10.0.2.2#1:443']);
  });

  it('uses four paths (two local x two remote addresses) and re-creates one that dies, with backoff', () => {
    const pm = client();
    pm.setLocalAddresses([local('10.0.1.1', 1), local('10.0.2.1', 2)], 0);
    pm.onAddAddr({ id: 1, address: a('10.0.2.2') }, 0);
    pm.onEstablished(0);
    pm.poll(0);
    for (const id of [0, 1, 2, 3]) pm.onSubflowEstablished(id, 100);
    expect(pm.pathList.filter((p) => p.state === 'established').length).toBe(4);

    // path 1 breaks: retried after 1 s, 2 s, 4 s, 8 s, 8 s (cap)
    let t = 1000;
    const delays: number[] = [];
    pm.onSubflowClosed(1, 'failed', t);
    for (let i = 0; i < 5; i++) {
      const due = pm.nextTimeout()!;
      expect(pm.poll(due - 1)).toEqual([]);
      expect(show(pm.poll(due))).toEqual(['open 1 10.0.2.1#1 -> 10.0.2.2#1:443']);
      delays.push(due - t);
      t = due + 50;
      pm.onSubflowClosed(1, 'failed', t);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000]);
    // the path comes back: once established, the next failure starts again from 1 s
    const due = pm.nextTimeout()!;
    pm.poll(due);
    pm.onSubflowEstablished(1, due + 10);
    pm.onSubflowClosed(1, 'failed', due + 5000);
    expect(pm.nextTimeout()).toBe(due + 6000);
  });

  it('closes the subflows of a link that goes down and re-creates them at once when it comes back', () => {
    const pm = client();
    pm.setLocalAddresses([local('10.0.1.1', 1), local('10.0.2.1', 2, { signal: true })], 0);
    pm.onEstablished(0);
    expect(show(pm.poll(0))).toEqual(['open 1 10.0.2.1#1 -> 10.0.1.2#0:443']);
    pm.onSubflowEstablished(1, 10);
    pm.linkDown(2, 1000);
    expect(show(pm.poll(1000))).toEqual(['close 1 link-down']);
    // the connection reports the close it was asked for: no retry while the link is down
    pm.onSubflowClosed(1, 'closed', 1001);
    expect(pm.nextTimeout()).toBeUndefined();
    expect(pm.poll(60_000)).toEqual([]);
    pm.linkUp(2, 90_000);
    expect(show(pm.poll(90_000))).toEqual(['open 1 10.0.2.1#1 -> 10.0.1.2#0:443']);
  });

  it('does not insist on a pair the peer refused', () => {
    const pm = client();
    pm.setLocalAddresses([local('10.0.1.1', 1), local('10.0.2.1', 2)], 0);
    pm.onEstablished(0);
    pm.poll(0);
    pm.onSubflowClosed(1, 'rejected', 10);
    expect(pm.nextTimeout()).toBeUndefined();
    expect(pm.poll(100_000)).toEqual([]);
  });

  it('re-creates the initial subflow as a join when it fails', () => {
    const pm = client();
    pm.onEstablished(0);
    expect(pm.poll(0)).toEqual([]);
    pm.onSubflowClosed(0, 'failed', 5);
    expect(show(pm.poll(1005))).toEqual(['open 0 10.0.1.1#0 -> 10.0.1.2#0:443']);
  });

  it('pairs only addresses of the same family (mixed IPv4/IPv6)', () => {
    const pm = client();
    pm.setLocalAddresses([local('10.0.1.1', 1), local('2001:db8:1::1', 1), local('2001:db8:2::1', 2)], 0);
    pm.onAddAddr({ id: 5, address: a('2001:db8:9::2'), port: 8443 }, 0);
    pm.onEstablished(0);
    expect(show(pm.poll(0))).toEqual([
      'open 1 2001:db8:1::1#1 -> 2001:db8:9::2#5:8443',
      'open 2 2001:db8:2::1#2 -> 2001:db8:9::2#5:8443',
    ]);
  });

  it('with oneFamilyPerInterface: one family per interface, the initial first; the other stands by and takes over when it fails', () => {
    const pm = client({ oneFamilyPerInterface: true });
    pm.setLocalAddresses([local('10.0.1.1', 1), local('fd00:1::1', 1), local('10.0.2.1', 2), local('fd00:2::1', 2), local('fd00:3::1', 3)], 0);
    pm.onAddAddr({ id: 1, address: a('fd00:9::2') }, 0);
    pm.onAddAddr({ id: 2, address: a('10.0.9.2') }, 0);
    pm.onEstablished(0);
    // Interface 1 has IPv4 already (the initial subflow); 2 takes IPv4 (the initial family)
    // to both IPv4 peer addresses; 3 has only IPv6.
    expect(show(pm.poll(0))).toEqual([
      'open 1 10.0.2.1#2 -> 10.0.9.2#2:443',
      'open 2 10.0.1.1#0 -> 10.0.9.2#2:443',
      'open 3 10.0.2.1#2 -> 10.0.1.2#0:443',
      'open 4 fd00:3::1#4 -> fd00:9::2#1:443',
    ]);
    for (const id of [1, 2, 3, 4]) pm.onSubflowEstablished(id, 10);
    expect(pm.poll(20)).toEqual([]);
    // Interface 2's first subflow dies: its other one still serves IPv4 there, nothing changes.
    pm.onSubflowClosed(1, 'failed', 1000);
    expect(pm.poll(1000)).toEqual([]);
    // Its last IPv4 subflow dies too: IPv6 takes interface 2 at once.
    pm.onSubflowClosed(3, 'failed', 1500);
    expect(show(pm.poll(1500))).toEqual(['open 5 fd00:2::1#3 -> fd00:9::2#1:443']);
    pm.onSubflowEstablished(5, 1510);
    // The IPv4 retries come due while IPv6 serves the interface: they stand by (no timer).
    expect(pm.poll(10_000)).toEqual([]);
    expect(pm.pathList.filter((p) => p.state === 'waiting').map((p) => [p.pathId, p.retryAt])).toEqual([
      [1, undefined],
      [3, undefined],
    ]);
    expect(pm.nextTimeout()).toBeUndefined();
    // IPv6 fails on interface 2 in turn: the IPv4 paths come back at once.
    pm.onSubflowClosed(5, 'failed', 20_000);
    expect(show(pm.poll(20_000))).toEqual(['open 1 10.0.2.1#2 -> 10.0.9.2#2:443', 'open 3 10.0.2.1#2 -> 10.0.1.2#0:443']);
  });

  it('accepts peer announcements up to the limit; REMOVE_ADDR closes their subflows and frees a slot', () => {
    const pm = client({ addAddrAccepted: 2 });
    pm.onEstablished(0);
    expect(pm.onAddAddr({ id: 1, address: a('10.0.2.2') }, 0)).toBe(true);
    expect(pm.onAddAddr({ id: 2, address: a('10.0.3.2') }, 0)).toBe(true);
    expect(pm.onAddAddr({ id: 3, address: a('10.0.4.2') }, 0)).toBe(false);
    // a retransmitted announcement is not a new address
    expect(pm.onAddAddr({ id: 1, address: a('10.0.2.2') }, 0)).toBe(true);
    expect(show(pm.poll(0))).toEqual([
      'open 1 10.0.1.1#0 -> 10.0.2.2#1:443',
      'open 2 10.0.1.1#0 -> 10.0.3.2#2:443',
    ]);
    pm.onRemoveAddr(1, 50);
    expect(show(pm.poll(50))).toEqual(['close 1 remote-removed']);
    pm.onSubflowClosed(1, 'closed', 51);
    expect(pm.onAddAddr({ id: 3, address: a('10.0.4.2') }, 60)).toBe(true);
    expect(show(pm.poll(60))).toEqual(['open 3 10.0.1.1#0 -> 10.0.4.2#3:443']);
    expect(pm.remoteAddresses.map((r) => r.id).sort()).toEqual([0, 2, 3]);
  });

  it('treats a known ID announced with a new address as a replacement', () => {
    const pm = client();
    pm.onEstablished(0);
    pm.onAddAddr({ id: 1, address: a('10.0.2.2') }, 0);
    pm.poll(0);
    // the peer's initial address (port 443 implied) under another ID is nothing new
    expect(pm.onAddAddr({ id: 7, address: a('10.0.1.2') }, 5)).toBe(false);
    expect(pm.onAddAddr({ id: 1, address: a('10.0.5.2') }, 10)).toBe(true);
    expect(show(pm.poll(10))).toEqual(['close 1 remote-removed', 'open 2 10.0.1.1#0 -> 10.0.5.2#1:443']);
  });

  it('withdraws a removed local address, keeps its ID, and brings it back on return', () => {
    const pm = client({ announce: true });
    const both = [local('10.0.1.1', 1), local('10.0.2.1', 2, { signal: true })];
    pm.setLocalAddresses(both, 0);
    pm.onEstablished(0);
    expect(show(pm.poll(0))).toEqual(['announce 1 10.0.2.1', 'open 1 10.0.2.1#1 -> 10.0.1.2#0:443']);
    pm.onAddAddrEcho(1, 50);
    pm.setLocalAddresses([local('10.0.1.1', 1)], 100);
    expect(show(pm.poll(100))).toEqual(['close 1 local-removed', 'remove-address 1']);
    pm.setLocalAddresses([local('10.0.1.1', 1), local('10.0.3.1', 3), both[1]!], 200);
    expect(show(pm.poll(200))).toEqual([
      'announce 1 10.0.2.1',
      'open 1 10.0.2.1#1 -> 10.0.1.2#0:443',
      'open 2 10.0.3.1#2 -> 10.0.1.2#0:443',
    ]);
    expect(pm.localIdOf(a('10.0.3.1'))).toBe(2);
    expect(pm.localIdOf(a('10.0.1.1'))).toBe(0);
  });

  it('marks subflows from backup addresses and switches priority when the flag changes (MP_PRIO)', () => {
    const pm = client();
    pm.setLocalAddresses([local('10.0.1.1', 1), local('10.0.2.1', 2, { backup: true })], 0);
    pm.onEstablished(0);
    expect(show(pm.poll(0))).toEqual(['open 1 10.0.2.1#1 -> 10.0.1.2#0:443 backup']);
    pm.setLocalAddresses([local('10.0.1.1', 1, { backup: true }), local('10.0.2.1', 2)], 10);
    expect(show(pm.poll(10))).toEqual(['set-backup 0 true', 'set-backup 1 false']);
  });

  it("follows Linux's pairing without full mesh", () => {
    const pm = client({ fullMesh: false });
    pm.setLocalAddresses([local('10.0.1.1', 1), local('10.0.2.1', 2), local('10.0.3.1', 3)], 0);
    pm.onAddAddr({ id: 1, address: a('10.0.9.2') }, 0);
    pm.onEstablished(0);
    expect(show(pm.poll(0))).toEqual([
      'open 1 10.0.1.1#0 -> 10.0.9.2#1:443',
      'open 2 10.0.2.1#1 -> 10.0.1.2#0:443',
      'open 3 10.0.3.1#2 -> 10.0.1.2#0:443',
    ]);
  });
});

describe('PathManager: server side', () => {
  function server(o: Partial<PathManagerOptions> = {}): PathManager {
    return new PathManager(
      { ...options, createSubflows: false, announce: true, ...o },
      { local: a('10.0.1.2'), remote: a('10.0.1.1'), remotePort: 40000, ifIndex: 1, weOpened: false },
    );
  }

  it('announces one signal address at a time, the next after the echo, and re-announces until echoed', () => {
    const pm = server();
    pm.setLocalAddresses(
      [
        local('10.0.1.2', 1, { signal: true }),
        local('2001:db8::2', 3, { signal: true, port: 8443 }),
        local('10.0.2.2', 2, { signal: true }),
        local('10.0.4.2', 4),
      ],
      0,
    );
    pm.onEstablished(0);
    // The initial subflow's family (IPv4) first; nothing more until the echo.
    expect(show(pm.poll(0))).toEqual(['announce 2 10.0.2.2']);
    expect(pm.poll(100)).toEqual([]);
    pm.onAddAddrEcho(2, 100);
    expect(show(pm.poll(100))).toEqual(['announce 1 2001:db8::2:8443']);
    expect(pm.nextTimeout()).toBe(2100);
    expect(show(pm.poll(2100))).toEqual(['announce 1 2001:db8::2:8443']);
    expect(show(pm.poll(4100))).toEqual(['announce 1 2001:db8::2:8443']);
    expect(pm.poll(6100)).toEqual([]);
    expect(pm.nextTimeout()).toBeUndefined();
  });

  it('moves on to the next address when the peer never echoes one', () => {
    const pm = server({ addAddrMaxRetransmits: 1 });
    pm.setLocalAddresses([local('10.0.1.2', 1), local('10.0.2.2', 2, { signal: true }), local('10.0.3.2', 3, { signal: true })], 0);
    pm.onEstablished(0);
    expect(show(pm.poll(0))).toEqual(['announce 1 10.0.2.2']);
    expect(show(pm.poll(2000))).toEqual(['announce 1 10.0.2.2']);
    expect(show(pm.poll(4000))).toEqual(['announce 2 10.0.3.2']);
  });

  it('counts the peer joins against the limit and does not re-create them', () => {
    const pm = server({ maxSubflows: 2 });
    pm.onEstablished(0);
    expect(pm.canAcceptSubflow).toBe(true);
    const id = pm.onPeerSubflow(a('10.0.1.2'), a('10.0.2.1'), 51000, 1, false);
    expect(pm.canAcceptSubflow).toBe(false);
    pm.onSubflowClosed(id, 'failed', 100);
    expect(pm.canAcceptSubflow).toBe(true);
    expect(pm.nextTimeout()).toBeUndefined();
    // the server's initial subflow belongs to the client: not re-created here either
    pm.onSubflowClosed(0, 'failed', 200);
    expect(pm.poll(10_000)).toEqual([]);
  });
});

describe('PathManager: learned peer addresses (Happy Eyeballs, docs/happy-eyeballs.md)', () => {
  // The initial subflow is IPv6; the race's other family reached 10.0.2.2 from 10.0.2.1.
  const dual = (o: Partial<PathManagerOptions> = {}): PathManager => {
    const pm = new PathManager({ ...options, ...o }, { local: a('fd00:1::1'), remote: a('fd00:1::2'), remotePort: 443, ifIndex: 1, weOpened: true });
    pm.setLocalAddresses([local('fd00:1::1', 1), local('10.0.2.1', 2), local('10.0.3.1', 3)], 0);
    pm.onEstablished(0);
    pm.poll(0);
    return pm;
  };

  it('joins a learned address from the local address that reached it only, full mesh or not, outside the ADD_ADDR limit', () => {
    for (const fullMesh of [true, false]) {
      const pm = dual({ fullMesh, addAddrAccepted: 0 });
      expect(pm.addLearnedRemote(a('10.0.2.2'), 443, a('10.0.2.1'), 10)).toBe(true);
      expect(show(pm.poll(10))).toEqual(['open 1 10.0.2.1#1 -> 10.0.2.2#256:443']);
      // Known already; a local address that is not ours or of the other family: refused.
      expect(pm.addLearnedRemote(a('10.0.2.2'), 443, a('10.0.3.1'), 10)).toBe(false);
      expect(pm.addLearnedRemote(a('10.0.4.2'), 443, a('10.9.9.9'), 10)).toBe(false);
      expect(pm.addLearnedRemote(a('10.0.4.2'), 443, a('fd00:1::1'), 10)).toBe(false);
      expect(pm.poll(10)).toEqual([]);
    }
  });

  it('re-creates a failed learned path like its own, and takes the peer ID when the peer announces the address', () => {
    const pm = dual();
    pm.addLearnedRemote(a('10.0.2.2'), 443, a('10.0.2.1'), 0);
    pm.poll(0);
    pm.onSubflowClosed(1, 'failed', 100);
    expect(show(pm.poll(1100))).toEqual(['open 1 10.0.2.1#1 -> 10.0.2.2#256:443']);
    // The peer announces the same address as ID 7: no second subflow, and its REMOVE_ADDR closes the path.
    expect(pm.onAddAddr({ id: 7, address: a('10.0.2.2') }, 1200)).toBe(true);
    expect(pm.remoteAddresses.map((r) => [r.id, formatAddress(r.address)])).toEqual([[0, 'fd00:1::2'], [7, '10.0.2.2']]);
    // Now an announced address: full mesh pairs it with the other IPv4 address too.
    expect(show(pm.poll(1200))).toEqual(['open 2 10.0.3.1#2 -> 10.0.2.2#7:443']);
    pm.onRemoveAddr(7, 1300);
    expect(show(pm.poll(1300))).toEqual(['close 2 remote-removed', 'close 1 remote-removed']);
  });
});

describe('pathManagerOptions', () => {
  it('gives the client the subflows and the server the announcements by default', () => {
    const c = pathManagerOptions(DEFAULT_CONFIG.mptcp, true);
    const s = pathManagerOptions(DEFAULT_CONFIG.mptcp, false);
    expect([c.createSubflows, c.announce, s.createSubflows, s.announce]).toEqual([true, false, false, true]);
    const both = pathManagerOptions({ ...DEFAULT_CONFIG.mptcp, createSubflows: 'both', announce: 'none' }, false);
    expect([both.createSubflows, both.announce]).toEqual([true, false]);
    expect(c.maxSubflows).toBe(DEFAULT_CONFIG.mptcp.maxSubflows);
  });
});
