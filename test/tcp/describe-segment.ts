// One line per TCP packet, tcpdump style, for traces in tests and failure messages:
// "S 1000:1000(0) win 65535 <mss 1460,sackOK,TS 1:0,nop,wscale 7>".

import { parsePacket } from '../../stack/wire/packet.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../stack/wire/tcp.js';
import type { TcpOption } from '../../stack/wire/tcp-options.js';

export function flagString(flags: number): string {
  let s = '';
  if (flags & TCP_SYN) s += 'S';
  if (flags & TCP_FIN) s += 'F';
  if (flags & TCP_RST) s += 'R';
  if (flags & TCP_PSH) s += 'P';
  if (flags & TCP_ACK) s += '.';
  return s || '-';
}

function optionString(o: TcpOption): string {
  switch (o.kind) {
    case 'mss':
      return `mss ${o.mss}`;
    case 'sackPermitted':
      return 'sackOK';
    case 'timestamps':
      return `TS ${o.tsVal}:${o.tsEcr}`;
    case 'windowScale':
      return `wscale ${o.shift}`;
    case 'sack':
      return `sack ${o.blocks.map((b) => `${b.left}:${b.right}`).join(' ')}`;
    case 'nop':
      return 'nop';
    case 'eol':
      return 'eol';
    case 'mptcp':
      return 'mptcp';
    case 'unknown':
      return `opt${o.type}`;
  }
}

/** A summary of an IP packet carrying TCP, or undefined for anything else. */
export function describeTcpPacket(packet: Uint8Array, opts: { options?: boolean } = {}): string | undefined {
  const r = parsePacket(packet);
  if (!r.ok || r.value.transport.protocol !== 'tcp') return undefined;
  const tcp = r.value.transport.repr;
  const len = r.value.payload.length;
  const parts = [`${tcp.srcPort}>${tcp.dstPort}`, flagString(tcp.flags), `${tcp.seq}:${(tcp.seq + len) >>> 0}(${len})`];
  if (tcp.flags & TCP_ACK) parts.push(`ack ${tcp.ack}`);
  parts.push(`win ${tcp.window}`);
  const opts2 = tcp.options.filter((o) => o.kind !== 'nop' && o.kind !== 'eol');
  if (opts.options !== false && opts2.length > 0) parts.push(`<${opts2.map(optionString).join(',')}>`);
  return parts.join(' ');
}
