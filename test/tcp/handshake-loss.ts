// One handshake between two hosts on a 10 ms path with one chosen handshake packet lost;
// the client writes "hello" right away and the server echoes it.

import { Host } from '../../stack/ip/host.js';
import { TcpLayer } from '../../stack/tcp/layer.js';
import { SimNetwork } from '../sim/network.js';
import { describeTcpPacket } from './describe-segment.js';
import { FilteredNode } from './filtered-node.js';

export function lossyHandshake(which: 'SYN' | 'SYN-ACK' | 'third ACK') {
  const net = new SimNetwork(`handshake-${which}`);
  const make = (name: string, addr: string, match: RegExp | undefined) => {
    const h = new Host({ name, random: net.random(name) });
    h.addAddress(h.addInterface({ name: 'eth0', mtu: 1500 }), addr, 24);
    let done = false;
    const node = new FilteredNode(h, (packet) => {
      if (done || match === undefined || !match.test(describeTcpPacket(packet, { options: false }) ?? '')) return false;
      done = true;
      return true;
    }, () => net.now);
    net.addHost(node, name);
    return { h, node, tcp: new TcpLayer(h) };
  };
  const a = make('a', '10.0.0.1', which === 'SYN' ? / S \d/ : which === 'third ACK' ? / \. \d+:\d+\(0\)/ : undefined);
  const b = make('b', '10.0.0.2', which === 'SYN-ACK' ? / S\. / : undefined);
  net.connect({ host: a.node, ifIndex: 1 }, { host: b.node, ifIndex: 1 }, { delayMs: 10 });
  let serverAccepted = 0;
  b.tcp.listen({
    port: 7,
    onConnection: (conn) => {
      serverAccepted++;
      conn.handler = { onData: (c, d) => c.write(d) };
    },
  });
  const conn = a.tcp.connect({ remoteAddress: '10.0.0.2', remotePort: 7 }, 0);
  let echoed = '';
  let echoedAt = -1;
  conn.handler = {
    onData: (_c, d) => {
      echoed += new TextDecoder().decode(d);
      echoedAt = net.now;
    },
  };
  conn.write(new TextEncoder().encode('hello'));
  net.runUntil(() => echoed === 'hello', 10_000);
  const expectedMinMs = which === 'third ACK' ? 40 : 1040;
  return { clientState: conn.state, serverAccepted, echoed, elapsedMs: echoedAt, expectedMinMs, lost: [...a.node.dropped, ...b.node.dropped].length };
}
