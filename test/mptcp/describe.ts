// One line per packet with the MPTCP options spelled out, for traces in tests and debugging.

import type { MptcpOption } from '../../stack/wire/mptcp-options.js';
import { parsePacket } from '../../stack/wire/packet.js';
import { formatAddress } from '../../stack/wire/address.js';
import { flagString } from '../tcp/describe-segment.js';
import type { SimNetwork } from '../sim/network.js';

export function mptcpOptionString(o: MptcpOption): string {
  switch (o.subtype) {
    case 'mpCapable':
      return `mpc v${o.version} f${o.flags.toString(16)}${o.senderKey !== undefined ? ' sk' : ''}${o.receiverKey !== undefined ? ' rk' : ''}${o.dataLength !== undefined ? ` len ${o.dataLength}` : ''}${o.checksum !== undefined ? ' csum' : ''}`;
    case 'mpJoinSyn':
      return `join-syn id ${o.addressId} token ${o.token.toString(16)}${o.backup ? ' B' : ''}`;
    case 'mpJoinSynAck':
      return `join-synack id ${o.addressId}`;
    case 'mpJoinAck':
      return 'join-ack';
    case 'dss': {
      const p: string[] = ['dss'];
      if (o.dataAck !== undefined) p.push(`ack${o.dataAck64 ? 64 : 32} ${o.dataAck & 0xffffn}`);
      if (o.mapping) p.push(`map${o.dsn64 ? 64 : 32} ${o.mapping.dsn & 0xffffn} ssn ${o.mapping.subflowSeq} len ${o.mapping.dataLength}${o.mapping.checksum !== undefined ? ' csum' : ''}`);
      if (o.dataFin) p.push('F');
      return p.join(' ');
    }
    case 'addAddr':
      return `add-addr${o.echo ? '-echo' : ''} id ${o.addressId} ${formatAddress(o.address)}${o.port ? `:${o.port}` : ''}`;
    case 'removeAddr':
      return `remove-addr ${o.addressIds.join(',')}`;
    case 'mpPrio':
      return `prio${o.backup ? ' B' : ''}`;
    case 'mpFail':
      return `fail ${o.dsn}`;
    case 'mpFastclose':
      return 'fastclose';
    case 'mpTcpRst':
      return `tcprst ${o.reason}`;
    default:
      return o.subtype;
  }
}

export function describeMptcpPacket(packet: Uint8Array): string | undefined {
  const r = parsePacket(packet);
  if (!r.ok || r.value.transport.protocol !== 'tcp') return undefined;
  const v = r.value;
  const tcp = v.transport.repr;
  const len = v.payload.length;
  const src = formatAddress(v.ip.repr.src);
  const dst = formatAddress(v.ip.repr.dst);
  const mp = tcp.options.flatMap((o) => (o.kind === 'mptcp' ? [mptcpOptionString(o.option)] : []));
  return `${src}:${tcp.srcPort}>${dst}:${tcp.dstPort} ${flagString(tcp.flags)} ${tcp.seq}(${len}) ack ${tcp.ack} win ${tcp.window}${mp.length ? ` <${mp.join('; ')}>` : ''}`;
}

/** Prints every delivered/dropped packet (debugging aid). */
export function traceNetwork(net: SimNetwork, filter: (line: string) => boolean = () => true, limit = 200): void {
  let n = 0;
  net.onTrace((e) => {
    if (e.kind === 'sent' || n >= limit) return;
    const d = describeMptcpPacket(e.packet);
    if (!d) return;
    const line = `${e.time.toFixed(1)} ${e.path} ${e.kind === 'dropped' ? `DROP(${e.reason}) ` : ''}${d}`;
    if (!filter(line)) return;
    n++;
    console.log(line);
  });
}
