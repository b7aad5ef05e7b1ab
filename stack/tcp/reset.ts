// Answers to segments that belong to no connection (RFC 9293 3.10.7.1, "If the state is
// CLOSED"), and the same reply rule wherever a state check says "send a reset":
//   segment has ACK:    <SEQ=SEG.ACK><CTL=RST>
//   segment has no ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
// An arriving RST is never answered.

import type { Host } from '../ip/host.js';
import type { IpAddress } from '../wire/address.js';
import type { TcpOption } from '../wire/tcp-options.js';
import { emitTcp, TCP_ACK, TCP_PROTOCOL, TCP_RST, tcpHeaderLength, type TcpRepr } from '../wire/tcp.js';
import type { ReceivedSegment } from './received-segment.js';
import { seqAdd } from './seq.js';

/**
 * Sends the RFC 9293 3.10.7.1 reset for `seg`, which arrived from `remote` to `local`, with
 * `options` (a listener extension's, e.g. MP_TCPRST). Returns whether one was sent.
 */
export function sendResetFor(host: Host, local: IpAddress, remote: IpAddress, seg: ReceivedSegment, now: number, options: readonly TcpOption[] = []): boolean {
  if (seg.flags & TCP_RST) return false;
  const hasAck = (seg.flags & TCP_ACK) !== 0;
  const repr: TcpRepr = {
    srcPort: seg.dstPort,
    dstPort: seg.srcPort,
    seq: hasAck ? seg.ack : 0,
    ack: hasAck ? 0 : seqAdd(seg.seq, seg.length),
    flags: hasAck ? TCP_RST : TCP_RST | TCP_ACK,
    window: 0,
    urgentPointer: 0,
    checksum: 0,
    options: [...options],
  };
  const sent = host.send(
    {
      src: local,
      dst: remote,
      protocol: TCP_PROTOCOL,
      l4Length: tcpHeaderLength(repr),
      writeL4: (out, offset, src, dst) => emitTcp(repr, undefined, 0, out, offset, { mode: 'full', src, dst }),
    },
    now,
  );
  return sent.ok;
}
