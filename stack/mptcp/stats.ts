// Per-connection MPTCP state in the shape of `ss -Mi` (Linux mptcp_info plus each subflow's
// tcp_info): tokens, fallback, checksums, the data-level sequence state, and for every
// subflow its addresses, state, backup flags, cwnd, srtt and byte counters, plus what Linux
// lacks: reinjections per subflow and the path-manager events.

import type { MptcpCongestionControl, MptcpSchedulerName } from '../config.js';
import type { TcpState } from '../tcp/state.js';
import { formatAddress, type IpAddress } from '../wire/address.js';
import type { MptcpConnection } from './connection.js';
import type { MptcpEventRecord } from './events.js';
import { noDataReassemblyDrops, type DataReassemblyStats } from './reassembly.js';
import type { SubflowRole } from './subflow.js';

export interface SubflowStats {
  id: number;
  pathId: number;
  role: SubflowRole;
  local: string;
  remote: string;
  state: TcpState;
  /** MPTCP-level handshake complete (a join after its fourth ACK). */
  fullyEstablished: boolean;
  /** Carries new data now (the scheduler may pick it). */
  active: boolean;
  backupLocal: boolean;
  backupRemote: boolean;
  stale: boolean;
  localId: number;
  remoteId: number;
  cwnd: number;
  ssthresh: number;
  srttMs: number | undefined;
  rtoMs: number;
  bytesInFlight: number;
  /** TCP-level counters (first transmissions, acknowledged, received, retransmitted). */
  bytesSent: number;
  /** Of those, sent without a DSS: inside a mapping announced on an earlier segment (Subflow.continuation). */
  bytesWithoutDss: number;
  bytesAcked: number;
  bytesReceived: number;
  retransmittedBytes: number;
  timeouts: number;
  /** Data-level bytes mapped onto this subflow: new, and reinjected from another subflow. */
  dataBytesSent: number;
  reinjectedBytesSent: number;
  dataBytesReceived: number;
  checksumFailures: number;
  /** The peer's MP_TCPRST reason, when it reset the subflow with one. */
  peerResetReason: number | undefined;
}

export interface MptcpConnectionStats {
  token: number;
  remoteToken: number;
  role: 'client' | 'server';
  state: TcpState;
  fallback: boolean;
  fallbackReason: string | undefined;
  checksum: boolean;
  scheduler: MptcpSchedulerName;
  congestionControl: MptcpCongestionControl;
  /** Data level: the peer's DATA_ACK (snd_una), next new byte (snd_nxt), bytes written (write_seq), our DATA_ACK (rcv_nxt); offsets from IDSN+1. */
  sndUna: number;
  sndNxt: number;
  writeSeq: number;
  rcvNxt: number;
  /** Bytes queued again for another subflow (RFC 8684 3.3.6), and still waiting. */
  reinjectedBytes: number;
  pendingReinjection: number;
  dataRetransmits: number;
  /** Data-level receive: bytes not stored, by reason (duplicates, out of window, out-of-order limit, after the DATA_FIN). */
  receive: DataReassemblyStats;
  subflowsOpen: number;
  subflows: SubflowStats[];
  addAddrReceived: number;
  addAddrBadHmac: number;
  joinsRejected: number;
  checksumFailures: number;
  mpFailSent: number;
  mpFailReceived: number;
  events: readonly MptcpEventRecord[];
}

function endpoint(a: IpAddress | undefined, port: number | undefined): string {
  if (!a) return '-';
  return a.length === 16 ? `[${formatAddress(a)}]:${port ?? 0}` : `${formatAddress(a)}:${port ?? 0}`;
}

export function mptcpConnectionStats(conn: MptcpConnection): MptcpConnectionStats {
  const d = conn.dataState();
  const subflows: SubflowStats[] = conn.subflows.map((sf) => {
    const tcp = sf.tcp;
    const t = tcp?.stats();
    return {
      id: sf.id,
      pathId: sf.pathId,
      role: sf.role,
      local: endpoint(tcp?.localAddress, tcp?.localPort),
      remote: endpoint(tcp?.remoteAddress, tcp?.remotePort),
      state: sf.state,
      fullyEstablished: sf.fullyEstablished,
      active: sf.usable,
      backupLocal: sf.backupLocal,
      backupRemote: sf.backupRemote,
      stale: sf.stale,
      localId: sf.localId,
      remoteId: sf.remoteId,
      cwnd: t?.cwnd ?? 0,
      ssthresh: t?.ssthresh ?? 0,
      srttMs: t?.srttMs,
      rtoMs: t?.rtoMs ?? 0,
      bytesInFlight: t?.bytesInFlight ?? 0,
      bytesSent: t?.bytesSent ?? 0,
      bytesWithoutDss: t?.continuationBytes ?? 0,
      bytesAcked: t?.bytesAcked ?? 0,
      bytesReceived: t?.bytesReceived ?? 0,
      retransmittedBytes: t?.retransmittedBytes ?? 0,
      timeouts: t?.timeouts ?? 0,
      dataBytesSent: sf.counters.dataBytesSent,
      reinjectedBytesSent: sf.counters.reinjectedBytesSent,
      dataBytesReceived: sf.counters.dataBytesReceived,
      checksumFailures: sf.counters.checksumFailures,
      peerResetReason: sf.peerResetReason,
    };
  });
  const c = conn.counters;
  return {
    token: conn.localToken,
    remoteToken: conn.remoteToken,
    role: conn.role,
    state: conn.state,
    fallback: conn.fallback,
    fallbackReason: conn.fallbackCause,
    checksum: conn.checksum,
    scheduler: conn.scheduler,
    congestionControl: conn.congestionControl,
    sndUna: d.una,
    sndNxt: d.nxt,
    writeSeq: d.end,
    rcvNxt: d.dataAck,
    reinjectedBytes: d.reinjectedBytes,
    pendingReinjection: d.pendingReinjection,
    dataRetransmits: c.dataRetransmits,
    receive: { ...(conn.receiveStats() ?? noDataReassemblyDrops()) },
    subflowsOpen: conn.subflows.filter((s) => !s.closed).length,
    subflows,
    addAddrReceived: c.addAddrReceived,
    addAddrBadHmac: c.addAddrBadHmac,
    joinsRejected: c.joinsRejected,
    checksumFailures: c.checksumFailures,
    mpFailSent: c.mpFailSent,
    mpFailReceived: c.mpFailReceived,
    events: conn.events.entries(),
  };
}

/** `ss -Mi`-like text: one line for the connection, one per subflow. */
export function formatMptcpStats(s: MptcpConnectionStats): string {
  const lines = [
    `mptcp ${s.state} token:${s.token.toString(16)} remote_token:${s.remoteToken.toString(16)}${s.fallback ? ` fallback(${s.fallbackReason})` : ''}` +
      ` subflows:${s.subflowsOpen} sched:${s.scheduler} cc:${s.congestionControl}${s.checksum ? ' csum' : ''}` +
      ` snd_una:${s.sndUna} snd_nxt:${s.sndNxt} write_seq:${s.writeSeq} rcv_nxt:${s.rcvNxt} reinjected:${s.reinjectedBytes} data_rtx:${s.dataRetransmits}`,
  ];
  for (const f of s.subflows) {
    const flags = [f.backupLocal || f.backupRemote ? 'backup' : '', f.stale ? 'stale' : '', f.active ? 'active' : ''].filter(Boolean).join(',');
    lines.push(
      `  subflow ${f.id} ${f.role} ${f.local} -> ${f.remote} ${f.state} ${flags}` +
        ` cwnd:${f.cwnd} srtt:${f.srttMs?.toFixed(1) ?? '-'} sent:${f.bytesSent} acked:${f.bytesAcked} rcvd:${f.bytesReceived} retrans:${f.retransmittedBytes}` +
        ` data_sent:${f.dataBytesSent} no_dss:${f.bytesWithoutDss} reinjected:${f.reinjectedBytesSent}`,
    );
  }
  return lines.join('\n');
}
