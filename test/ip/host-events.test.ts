import { describe, expect, it } from 'vitest';
import { Host, type HostNetworkEvent } from '../../stack/ip/host.js';
import { formatAddress } from '../../stack/wire/address.js';

describe('Host network events', () => {
  it('reports address and link changes after the routes follow them, and only real changes', () => {
    const h = new Host({ name: 'h' });
    const i = h.addInterface({ name: 'eth0', mtu: 1500 });
    const seen: string[] = [];
    const stop = h.onNetworkEvent((e: HostNetworkEvent) => {
      if (e.kind === 'link') seen.push(`link ${e.ifIndex} ${e.up ? 'up' : 'down'}`);
      else seen.push(`${e.kind} ${formatAddress(e.address)} route=${h.routes.lookup(e.address) !== undefined}`);
    });
    h.addAddress(i, '10.0.0.1', 24);
    h.setLinkUp(i, false);
    h.setLinkUp(i, false);
    h.setLinkUp(i, true);
    h.removeAddress(i, '10.0.0.1');
    h.removeAddress(i, '10.0.0.1');
    stop();
    h.addAddress(i, '10.0.0.2', 24);
    expect(seen).toEqual(['address-added 10.0.0.1 route=true', 'link 1 down', 'link 1 up', 'address-removed 10.0.0.1 route=false']);
  });
});
