// The host most IP tests start from: one interface (ifIndex 1, MTU 1500) with 10.0.0.1/24
// and 2001:db8::1/64, default routes for both families through it.

import type { PartialConfig } from '../../stack/config.js';
import { Host } from '../../stack/ip/host.js';
import { seededRandom } from '../../stack/random.js';

export function makeHost(config: PartialConfig = {}, seed: string | number = 'host-test'): { host: Host; eth: number } {
  const host = new Host({ config, random: seededRandom(seed), name: 'h' });
  const eth = host.addInterface({ name: 'eth0', mtu: 1500 });
  host.addAddress(eth, '10.0.0.1', 24);
  host.addAddress(eth, '2001:db8::1', 64);
  host.addRoute({ destination: '0.0.0.0', prefixLength: 0, ifIndex: eth });
  host.addRoute({ destination: '::', prefixLength: 0, ifIndex: eth });
  return { host, eth };
}
