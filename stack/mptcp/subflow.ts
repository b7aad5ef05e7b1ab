// One MPTCP subflow: the TcpExtension riding on one TcpConnection (RFC 8684 3.1 MP_CAPABLE
// on the initial subflow, 3.2 MP_JOIN on the others, 3.3 DSS on every segment after the
// handshake). It owns what is per subflow: the handshake state in its role, the mappings of
// data sent and received on it (mapping.ts), the checksum check of received mappings, and
// the subflow-specific signals (MP_PRIO, MP_FAIL, MP_TCPRST). Everything at the data level
// (DATA_ACK, reassembly, keys, address signals) is the connection's (connection.ts).

import type { CongestionController } from '../tcp/congestion/controller.js';
import type { TcpConnection } from '../tcp/connection.js';
import type { Continuation, IncomingVerdict, OutgoingSegment, TcpExtension } from '../tcp/extension.js';
import type { ReceivedSegment } from '../tcp/received-segment.js';
import { seqAdd, seqSub } from '../tcp/seq.js';
import type { TcpState } from '../tcp/state.js';
import type { IpAddress } from '../wire/address.js';
import {
  MP_TCPRST_ADMIN_PROHIBITED,
  MP_TCPRST_MPTCP_ERROR,
  MP_TCPRST_TRANSIENT,
  type Dss,
  type MpCapable,
  type MptcpOption,
} from '../wire/mptcp-options.js';
import { TCP_SYN } from '../wire/tcp.js';
import type { TcpOption } from '../wire/tcp-options.js';
import { joinAckHmac, joinSynAckHmac, macEquals } from './crypto.js';
import type { MptcpConnection } from './connection.js';
import type { CoupledSubflowController } from './coupled-cc.js';
import { mappingChecksumOk, mappingFromWire, ReceiveMappings, SendMappings, sliceChunks, type DataMapping } from './mapping.js';
import type { SubflowCloseReason } from './path-manager.js';
import { acceptableMpCapable, dssLength, mpCapableAck, mpCapableHandshake, mptcpOptionsOf, padded, paddedLength } from './options.js';

/** How the subflow came to be: the initial one (MP_CAPABLE) or a join, and who opened it. */
export type SubflowRole = 'mpc-client' | 'mpc-server' | 'join-client' | 'join-server';

export interface SubflowInit {
  role: SubflowRole;
  /** Path manager path id (0 for the initial subflow). */
  pathId: number;
  /** Our address ID on this subflow (MP_JOIN, RFC 8684 3.2). */
  localId: number;
  /** The peer's address ID (known for joins we open; from the MP_JOIN SYN for joins we accept). */
  remoteId: number;
  /** Backup priority we ask for (MP_JOIN B flag, RFC 8684 3.3.8). */
  backup: boolean;
  /** Our MP_JOIN nonce. */
  nonce: number;
}

/** The addresses of a passive subflow's SYN. */
export interface SynTuple {
  local: IpAddress;
  remote: IpAddress;
  remotePort: number;
}

/** Subflow counters for stats (ss -Mi style). */
export interface SubflowCounters {
  /** Data-level bytes mapped onto this subflow, first transmissions at the data level. */
  dataBytesSent: number;
  /** Data-level bytes mapped onto this subflow that another subflow had carried before. */
  reinjectedBytesSent: number;
  /** Data-level bytes received on this subflow (duplicates included). */
  dataBytesReceived: number;
  /** Mappings whose DSS checksum failed. */
  checksumFailures: number;
}

/** The MP_TCPRST flags and reason of the RST we send when resetting this subflow (RFC 8684 3.6). */
interface ResetReason {
  flags: number;
  reason: number;
}

/** continuation()'s answer: no options at all on the segments it covers. */
const CONTINUATION: Continuation = { lead: false, options: [] };

export class Subflow implements TcpExtension {
  /**
   * A data segment's DSS as buildDss writes it: DATA_ACK (64 bits once the peer uses 64-bit
   * DSNs, else 32), the 64-bit mapping, the checksum when negotiated, padded to 4 bytes: 24
   * bytes usually, as Linux (its MSS follows the options it sends, tcp_current_mss). After
   * fallback: none. The connection calls tcp.optionSpaceChanged() when either changes.
   */
  get dataOptionSpace(): number {
    const m = this.meta;
    if (m.fallback) return 0;
    return dssLength(m.peerUses64BitDsn, m.checksum);
  }
  readonly id: number;
  readonly role: SubflowRole;
  /** Path manager path id (-1 for a peer's join until it completes). */
  pathId: number;
  readonly localId: number;
  remoteId: number;
  /** We asked the peer to treat this subflow as backup (B flag or MP_PRIO sent). */
  backupLocal: boolean;
  /** The peer marked it backup (its B flag or MP_PRIO). */
  backupRemote = false;
  tcp: TcpConnection | undefined = undefined;
  /** The MPTCP handshake of this subflow is complete (RFC 8684 3.1 "fully established"; a join after its fourth ACK). */
  fullyEstablished = false;
  /** Marked stale: no progress over several RTOs (scheduler.ts); excluded from new data until it recovers. */
  stale = false;
  /** Closed at the TCP level (or reset by us). */
  closed = false;
  readonly counters: SubflowCounters = { dataBytesSent: 0, reinjectedBytesSent: 0, dataBytesReceived: 0, checksumFailures: 0 };
  /** Received MP_TCPRST reason, if the peer sent one. */
  peerResetReason: number | undefined = undefined;
  /** Data-level ranges already queued for reinjection from this subflow reach this offset. */
  reinjectedUpTo = 0;
  /** Deadline of the MP_JOIN third-ACK retransmission (join-client until the fourth ACK). */
  joinAckDeadline: number | undefined = undefined;
  /** Time the subflow's ACKs last advanced (for stats and stale detection). */
  lastProgress = 0;
  /** We sent our FIN on this subflow (its data is all DATA_ACKed or reinjected elsewhere). */
  endRequested = false;
  /** Set when we close the subflow ourselves, for the path manager (retry it or not). */
  closeReason: SubflowCloseReason | undefined = undefined;
  /** An ACK is owed once the TCP connection is attached (the fourth ACK of a join we accepted). */
  private ackOnAttach = false;

  private readonly meta: MptcpConnection;
  /** A passive subflow's addresses, known from its SYN before the listener hands over the TCP connection. */
  private synTuple: SynTuple | undefined = undefined;
  /** This subflow's share of the coupled congestion control. */
  private cc: CoupledSubflowController | undefined = undefined;
  /** The key of an MP_FASTCLOSE that came on the RST closing this subflow. */
  private fastcloseKey: bigint | undefined = undefined;
  private readonly nonce: number;
  private remoteNonce = 0;
  private iss = 0;
  private irs = 0;
  private synRetransmits = 0;
  /** The SYN went out without MP_CAPABLE after too many retransmissions (RFC 8684 3.1 fallback). */
  private mpcDropped = false;
  /** Relative subflow sequence number of the next data byte we write. */
  private writeSeq = 1;
  private sendMappings: SendMappings | undefined = undefined;
  private recvMappings: ReceiveMappings | undefined = undefined;
  /** drainUnmapped is running (a fallback inside it must not reorder what waits). */
  private draining = false;
  /** In-order subflow bytes that no mapping covers yet. */
  private readonly unmapped: Uint8Array[] = [];
  private unmappedBytes = 0;
  /** Checksummed mapping being collected until its last byte (RFC 8684 3.3.1). */
  private csumMapping: Readonly<DataMapping> | undefined = undefined;
  private readonly csumChunks: { offset: number; data: Uint8Array }[] = [];
  /** The last segment carried a DSS mapping or MP_CAPABLE data (else its payload is unmapped). */
  private segmentHadMapping = false;
  private reset: ResetReason = { flags: 0, reason: 0 };
  /** MP_PRIO to send (RFC 8684 3.3.8). */
  private pendingPrio: boolean | undefined = undefined;
  /** MP_FAIL to send (RFC 8684 3.7): the DSN of the failed mapping. */
  private pendingFail: bigint | undefined = undefined;
  /** After fallback on a subflow that had MPTCP: the infinite mapping still to send (RFC 8684 3.7). */
  private infiniteMapping: DataMapping | undefined = undefined;

  constructor(meta: MptcpConnection, id: number, init: SubflowInit) {
    this.meta = meta;
    this.id = id;
    this.role = init.role;
    this.pathId = init.pathId;
    this.localId = init.localId;
    this.remoteId = init.remoteId;
    this.backupLocal = init.backup;
    this.nonce = init.nonce >>> 0;
  }

  /** The MPTCP connection this subflow belongs to. */
  get connection(): MptcpConnection {
    return this.meta;
  }

  get isJoin(): boolean {
    return this.role === 'join-client' || this.role === 'join-server';
  }

  get localAddress(): IpAddress | undefined {
    return this.tcp?.localAddress ?? this.synTuple?.local;
  }

  get remoteAddress(): IpAddress | undefined {
    return this.tcp?.remoteAddress ?? this.synTuple?.remote;
  }

  get remotePort(): number {
    return this.tcp?.remotePort ?? this.synTuple?.remotePort ?? 0;
  }

  get state(): TcpState {
    return this.tcp?.state ?? 'CLOSED';
  }

  /** Backup in either direction's view. */
  get backup(): boolean {
    return this.backupLocal || this.backupRemote;
  }

  /** May carry new data now: established at the MPTCP level (a join after its fourth ACK) and not closing our side. */
  get usable(): boolean {
    if (this.closed || this.endRequested || !this.tcp) return false;
    const s = this.tcp.state;
    if (s !== 'ESTABLISHED' && s !== 'CLOSE_WAIT') return false;
    if (this.meta.fallback) return this.role === 'mpc-client' || this.role === 'mpc-server';
    if (this.role === 'join-client') return this.fullyEstablished;
    if (this.role === 'join-server') return this.fullyEstablished;
    return true;
  }

  /** Bytes written to the subflow and not yet acknowledged by it. */
  get unacknowledged(): { start: number; end: number }[] {
    return this.sendMappings?.unacknowledged() ?? [];
  }

  /** The TCP connection carrying this subflow (for a passive one: once the listener hands it over). */
  attach(tcp: TcpConnection): void {
    this.tcp = tcp;
    if (this.ackOnAttach) {
      this.ackOnAttach = false;
      tcp.sendAck();
    }
  }

  /** The path manager's id for a join the peer opened (counted once it completed). */
  pathIdAssigned(pathId: number): void {
    this.pathId = pathId;
  }

  /** Set up the per-subflow mapping tables once the checksum choice is known. */
  initMappings(): void {
    const m = this.meta;
    this.sendMappings ??= new SendMappings({ checksum: m.checksum, dsn: m.sendDsn });
    this.recvMappings ??= new ReceiveMappings({
      checksum: m.checksum,
      unmappedLimit: m.config.unmappedDataLimit,
      maxMappings: m.config.maxMappingsPerSubflow,
    });
  }

  /**
   * Write data-level bytes [offset, offset + length) to the subflow as one mapping (at most
   * 64 KiB, RFC 8684 3.3); returns the bytes the TCP send buffer took. `dataFin`: the
   * DATA_FIN follows them (RFC 8684 3.3.3).
   */
  writeData(offset: number, chunks: Uint8Array[], length: number, dataFin: boolean, reinjection: boolean): number {
    const tcp = this.tcp!;
    this.initMappings();
    const room = Math.min(length, tcp.writableLength);
    if (room <= 0) return 0;
    let take = room;
    // The views go to TCP by reference, as one write (one mapping), never joined.
    const data = sliceChunks(chunks, 0, take);
    const fin = dataFin && take === length;
    const sent = (tcp.sender.nxt - this.iss) >>> 0;
    // Continuing the last, still unsent mapping: one mapping, one TCP write tag (its start).
    let tag = fin ? undefined : this.sendMappings!.extendLast(offset, this.writeSeq, take, sent);
    if (tag === undefined) {
      this.sendMappings!.add(offset, this.writeSeq, take, fin, this.meta.checksum ? data : undefined);
      tag = offset;
    }
    take = tcp.writeMapped(data, tag);
    this.writeSeq = seqAdd(this.writeSeq, take);
    if (reinjection) this.counters.reinjectedBytesSent += take;
    else this.counters.dataBytesSent += take;
    return take;
  }

  /** Forget mappings the subflow has acknowledged. */
  pruneAcked(): void {
    const tcp = this.tcp;
    if (!tcp || !this.sendMappings) return;
    this.sendMappings.acknowledge((tcp.sender.una - this.iss) >>> 0);
  }

  /** Ask for MP_PRIO on the next segment. */
  sendPriority(backup: boolean): void {
    this.backupLocal = backup;
    this.pendingPrio = backup;
    this.tcp?.sendAck();
  }

  /** Ask for MP_FAIL on the next segment (RFC 8684 3.7). */
  sendFail(dsn: bigint): void {
    this.pendingFail = dsn;
    this.tcp?.sendAck();
  }

  /** Send the infinite mapping on the next segment and no DSS after it (RFC 8684 3.7). */
  startInfiniteMapping(dataOffset: number): void {
    this.infiniteMapping = { dataOffset, subflowSeq: this.writeSeq, length: 0, dataFin: false };
    this.tcp?.sendAck();
  }

  /** Reset this subflow with MP_TCPRST (RFC 8684 3.6) and these reset options. */
  abort(reason: number, transient: boolean, extra?: readonly TcpOption[]): void {
    if (this.closed) return;
    this.reset = { flags: transient ? MP_TCPRST_TRANSIENT : 0, reason };
    const options: TcpOption[] = extra ? [...extra] : [];
    options.push({ kind: 'mptcp', option: { subtype: 'mpTcpRst', flags: this.reset.flags, reason } });
    this.closed = true;
    this.tcp?.destroy(undefined, { resetOptions: options });
  }

  // ---- TcpExtension: outgoing ----------------------------------------------------------

  outgoingOptions(seg: OutgoingSegment, room: number): readonly TcpOption[] | undefined {
    const m = this.meta;
    switch (seg.kind) {
      case 'syn':
        this.iss = seg.seq;
        if (this.role === 'mpc-client') {
          if (seg.retransmission) this.synRetransmits++;
          // Linux net.mptcp.syn_retrans_before_tcp_fallback: a middlebox may drop MPTCP SYNs.
          if (this.synRetransmits > m.config.synRetransmitsBeforeFallback) this.mpcDropped = true;
          return this.mpcDropped ? undefined : padded(mpCapableHandshake(m.checksumWanted));
        }
        return padded({ subtype: 'mpJoinSyn', backup: this.backupLocal, addressId: this.localId, token: m.remoteToken, nonce: this.nonce });
      case 'syn-ack':
        this.iss = seg.seq;
        // Linux: the SYN/ACK's A flag is our own wish; the third ACK carries the outcome.
        if (this.role === 'mpc-server') return m.fallback ? undefined : padded(mpCapableHandshake(m.checksumWanted, m.localKey));
        return padded({
          subtype: 'mpJoinSynAck',
          backup: this.backupLocal,
          addressId: this.localId,
          hmac: joinSynAckHmac(m.localKey, m.remoteKey, this.nonce, this.remoteNonce),
          nonce: this.nonce,
        });
      case 'handshake-ack':
        if (this.role === 'mpc-client') return m.fallback ? undefined : padded(mpCapableAck(m.checksum, m.localKey, m.remoteKey));
        if (this.role === 'join-client') {
          // RFC 8684 3.2: retransmitted until the peer's ACK shows it arrived (Linux: TCP_RTO_MIN).
          this.joinAckDeadline = m.now + m.config.joinAckRetransmitMs;
          m.scheduleTimer();
          return padded({ subtype: 'mpJoinAck', hmac: joinAckHmac(m.localKey, m.remoteKey, this.nonce, this.remoteNonce) });
        }
        return undefined;
      case 'reset':
        return undefined;
      case 'segment':
        return this.segmentOptions(seg, room);
    }
  }

  resetOptions(): readonly TcpOption[] | undefined {
    return [{ kind: 'mptcp', option: { subtype: 'mpTcpRst', flags: this.reset.flags, reason: this.reset.reason } }];
  }

  private segmentOptions(seg: OutgoingSegment, room: number): TcpOption[] | undefined {
    const m = this.meta;
    const rel = (seg.seq - this.iss) >>> 0;
    if (m.fallback) return this.fallbackOptions(seg, rel);
    // RFC 8684 3.2: the third ACK of a join goes again until the fourth ACK arrives.
    if (this.role === 'join-client' && !this.fullyEstablished) {
      return seg.payloadLength === 0 ? padded({ subtype: 'mpJoinAck', hmac: joinAckHmac(m.localKey, m.remoteKey, this.nonce, this.remoteNonce) }) : undefined;
    }
    // Linux: the client repeats MP_CAPABLE (with both keys) on segments at ISN+1 until fully
    // established; on data it carries the first mapping (DSN = IDSN+1, SSN = 1, RFC 8684 3.1).
    if (this.role === 'mpc-client' && !this.fullyEstablished && rel === 1) {
      if (seg.payloadLength === 0) return padded(mpCapableAck(m.checksum, m.localKey, m.remoteKey));
      const map = this.sendMappings?.mappingAt(1);
      return padded(mpCapableAck(m.checksum, m.localKey, m.remoteKey, map?.length ?? seg.payloadLength, map?.checksum));
    }
    const out: TcpOption[] = [];
    const pureAck = seg.payloadLength === 0 && (seg.flags & TCP_SYN) === 0;
    // ADD_ADDR / REMOVE_ADDR ride alone on a pure ACK (Linux drops the other suboptions there).
    if (pureAck) {
      const signal = m.takeSignal(room);
      if (signal) return padded(signal, out);
    }
    const dss = this.buildDss(seg, rel);
    padded(dss, out);
    let used = paddedLength(dss);
    if (this.pendingFail !== undefined && room - used >= 12) {
      padded({ subtype: 'mpFail', dsn: this.pendingFail }, out);
      used += 12;
      this.pendingFail = undefined;
    }
    if (this.pendingPrio !== undefined && room - used >= 4) {
      padded({ subtype: 'mpPrio', backup: this.pendingPrio }, out);
      this.pendingPrio = undefined;
    }
    return out;
  }

  /**
   * RFC 8684 3.3: a mapping covers all its bytes however many segments carry them, so only
   * its first segment needs the DSS; the others go without it, 24 bytes more payload each
   * (2x200 Mbit/s: 1448 instead of 1424 per 1514-byte frame). Linux takes them: its
   * get_mapping_status applies the current mapping to an skb that has none, and GRO and
   * tcp_try_coalesce merge such skbs into the one with the mapping (mptcp_skb_can_collapse).
   * Not while something else must ride on data: a DATA_ACK that moved since the last one
   * sent, MP_FAIL or MP_PRIO, the handshake's MP_CAPABLE echo; not after fallback. TCP asks
   * for first transmissions only: a retransmission always carries the DSS.
   */
  continuation(seq: number): Continuation | undefined {
    const m = this.meta;
    if (m.fallback || !this.fullyEstablished || this.pendingFail !== undefined || this.pendingPrio !== undefined) return undefined;
    if (m.dataAckOffset !== m.dataAckSentOffset) return undefined;
    const rel = (seq - this.iss) >>> 0;
    const map = this.sendMappings?.mappingAt(rel);
    if (map === undefined) return undefined;
    CONTINUATION.lead = map.subflowSeq === rel;
    return CONTINUATION;
  }

  /** DATA_ACK on every segment, the mapping of the payload, the DATA_FIN (RFC 8684 3.3). */
  private buildDss(seg: OutgoingSegment, rel: number): Dss {
    const m = this.meta;
    // Linux sets the m flag (64-bit DSN) only with a mapping, and always 64 bits then.
    const dss: Dss = { subtype: 'dss', dataAck64: m.peerUses64BitDsn, dsn64: false, dataFin: false };
    const ack = m.dataAckOnWire();
    if (ack !== undefined) {
      dss.dataAck = ack;
      m.dataAckSentOffset = m.dataAckOffset;
    } else dss.dataAck64 = false;
    if (seg.payloadLength > 0) {
      const map = this.sendMappings?.mappingAt(rel);
      if (map) {
        const mapping: NonNullable<Dss['mapping']> = { dsn: m.sendDsn.toWire64(map.dataOffset), subflowSeq: map.subflowSeq, dataLength: map.length };
        if (map.checksum !== undefined) mapping.checksum = map.checksum;
        dss.mapping = mapping;
        dss.dsn64 = true;
        dss.dataFin = map.dataFin;
      }
    } else {
      // RFC 8684 3.3.3: a DATA_FIN on no data is a mapping of length 1 at subflow sequence 0.
      const fin = m.dataFinToSend();
      if (fin !== undefined) {
        const mapping: NonNullable<Dss['mapping']> = { dsn: m.sendDsn.toWire64(fin), subflowSeq: 0, dataLength: 1 };
        if (m.checksum) mapping.checksum = m.dataFinChecksum(fin);
        dss.mapping = mapping;
        dss.dsn64 = true;
        dss.dataFin = true;
      }
    }
    return dss;
  }

  /** After fallback: nothing, except MP_FAIL and the one infinite mapping (RFC 8684 3.7). */
  private fallbackOptions(seg: OutgoingSegment, rel: number): TcpOption[] | undefined {
    if (this.pendingFail !== undefined) {
      const fail = padded({ subtype: 'mpFail', dsn: this.pendingFail });
      this.pendingFail = undefined;
      return fail;
    }
    const inf = this.infiniteMapping;
    if (inf === undefined) return undefined;
    if (seg.payloadLength > 0 && rel !== inf.subflowSeq) return undefined;
    this.infiniteMapping = undefined;
    return padded({
      subtype: 'dss',
      dataAck64: false,
      dsn64: true,
      dataFin: false,
      mapping: { dsn: this.meta.sendDsn.toWire64(inf.dataOffset), subflowSeq: inf.subflowSeq, dataLength: 0 },
    });
  }

  // ---- TcpExtension: incoming ----------------------------------------------------------

  incomingSegment(seg: ReceivedSegment, state: TcpState): IncomingVerdict {
    const m = this.meta;
    const opts = mptcpOptionsOf(seg.options());
    if (state === 'SYN_SENT') return this.synAckReceived(seg, opts);
    if (state === 'SYN_RECEIVED' || (!this.fullyEstablished && this.role !== 'mpc-client' && this.role !== 'join-client')) {
      const v = this.handshakeAckReceived(opts);
      if (v !== 'accept' || m.fallback) return v;
    }
    if (m.fallback) {
      for (const o of opts) if (o.subtype === 'dss' && o.mapping?.dataLength === 0) this.onInfiniteMapping(o);
      return 'accept';
    }
    this.segmentHadMapping = false;
    let sawDssAck = false;
    let sawMptcp = false;
    for (const o of opts) {
      switch (o.subtype) {
        case 'dss':
          sawMptcp = true;
          if (o.dataAck !== undefined) {
            sawDssAck = true;
            m.onDataAck(this, o.dataAck, o.dataAck64, seg.window);
          }
          if (o.mapping) {
            if (o.mapping.dataLength === 0) this.onInfiniteMapping(o);
            else if (!this.addMapping(mappingFromWire(o, m.recvDsn!, m.dataAckOffset)!, o.dsn64)) return 'reset';
          } else if (o.dataFin) {
            // A DATA_FIN without mapping is malformed for v1; ignore it (Linux does too).
          }
          break;
        case 'mpCapable':
          sawMptcp = true;
          // The client's repeated MP_CAPABLE may carry the first mapping (RFC 8684 3.1).
          if (o.dataLength !== undefined && this.role === 'mpc-server' && !this.addMapping(this.mpcMapping(o), true)) return 'reset';
          break;
        case 'addAddr':
          sawMptcp = true;
          m.onAddAddr(this, o);
          break;
        case 'removeAddr':
          m.onRemoveAddr(o.addressIds);
          break;
        case 'mpPrio':
          this.backupRemote = o.backup;
          m.onPriorityChanged(this);
          break;
        case 'mpFail':
          m.onMpFail(this, o.dsn);
          break;
        case 'mpFastclose':
          // RFC 8684 3.5 option A: MP_FASTCLOSE on an ACK; we answer with RSTs on every subflow.
          if (m.onFastclose(o.receiverKey, undefined)) return 'drop';
          break;
        case 'mpTcpRst':
          this.peerResetReason = o.reason;
          break;
        default:
          break;
      }
    }
    if (!this.fullyEstablished) {
      if (this.role === 'mpc-client') {
        // RFC 8684 3.1 / Linux check_fully_established: the first DSS with a DATA_ACK (or an
        // ADD_ADDR) from the server completes the handshake; a segment without any MPTCP
        // option means a middlebox stripped them: fall back to TCP.
        if (sawDssAck || opts.some((o) => o.subtype === 'addAddr' && !o.echo)) this.setFullyEstablished();
        else if (!sawMptcp && (seg.flags & TCP_SYN) === 0 && m.canFallBack(this)) {
          m.fallBack(this, 'no MPTCP option after the handshake');
          return 'accept';
        }
      } else if (this.role === 'join-client' && sawDssAck) {
        // The fourth ACK (RFC 8684 3.2): data may flow now.
        this.setFullyEstablished();
      }
    }
    if (this.recvMappings && this.unmappedBytes > 0) this.drainUnmapped();
    return 'accept';
  }

  onPayload(seq: number, data: Uint8Array): void {
    const m = this.meta;
    if (m.fallback || this.recvMappings === undefined) {
      m.onFallbackData(this, data);
      return;
    }
    this.unmapped.push(data);
    this.unmappedBytes += data.length;
    this.drainUnmapped();
    if (this.unmappedBytes === 0) return;
    if (!this.segmentHadMapping && m.canFallBack(this)) {
      // RFC 8684 3.7: data without a mapping on the only subflow: the options were stripped.
      m.fallBack(this, 'data without a DSS mapping');
      return;
    }
    if (this.unmappedBytes > m.config.unmappedDataLimit) {
      this.abort(MP_TCPRST_MPTCP_ERROR, false);
      m.onSubflowViolation(this, 'unmapped data beyond the limit');
    }
    void seq;
  }

  congestionController(mss: number): CongestionController | undefined {
    const group = this.meta.coupled;
    if (!group) return undefined;
    this.cc = group.addSubflow(mss);
    return this.cc;
  }

  onReset(seg: ReceivedSegment): void {
    for (const o of mptcpOptionsOf(seg.options())) {
      if (o.subtype === 'mpTcpRst') this.peerResetReason = o.reason;
      // RFC 8684 3.5: Linux sends MP_FASTCLOSE on a RST on every subflow.
      else if (o.subtype === 'mpFastclose') this.fastcloseKey = o.receiverKey;
    }
  }

  receiveWindow(): number | undefined {
    return this.meta.receiveWindow;
  }

  onRetransmissionTimeout(now: number): void {
    this.meta.onSubflowTimeout(this, now);
  }

  onStateChange(state: TcpState): void {
    if (state === 'CLOSED') {
      this.closed = true;
      if (this.cc) this.meta.coupled?.removeSubflow(this.cc);
      if (this.fastcloseKey !== undefined && this.meta.onFastclose(this.fastcloseKey, this)) return;
      this.meta.onSubflowClosed(this);
    } else if (state === 'ESTABLISHED') {
      this.meta.onSubflowTcpEstablished(this);
    }
    this.meta.onSubflowState();
  }

  // ---- handshake -----------------------------------------------------------------------

  /** Our SYN was answered (RFC 8684 3.1 / 3.2). */
  private synAckReceived(seg: ReceivedSegment, opts: MptcpOption[]): IncomingVerdict {
    const m = this.meta;
    this.irs = seg.seq;
    if (this.role === 'mpc-client') {
      const mpc = opts.find((o): o is MpCapable => o.subtype === 'mpCapable');
      if (this.mpcDropped || !mpc || mpc.senderKey === undefined || !acceptableMpCapable(mpc)) {
        m.fallBack(this, this.mpcDropped ? 'SYN sent without MP_CAPABLE' : 'SYN/ACK without MP_CAPABLE');
        return 'accept';
      }
      m.onMpcSynAck(mpc);
      this.initMappings();
      return 'accept';
    }
    // join-client
    const j = opts.find((o) => o.subtype === 'mpJoinSynAck');
    if (!j || j.subtype !== 'mpJoinSynAck') {
      this.reset = { flags: 0, reason: MP_TCPRST_MPTCP_ERROR };
      m.onJoinFailed(this, 'SYN/ACK without MP_JOIN');
      return 'reset';
    }
    this.remoteNonce = j.nonce >>> 0;
    const expected = joinSynAckHmac(m.remoteKey, m.localKey, this.remoteNonce, this.nonce);
    if (!macEquals(j.hmac, expected)) {
      // Linux MPTCP_MIB_JOINSYNACKMAC: reset with MPTCP_RST_EMPTCP.
      this.reset = { flags: 0, reason: MP_TCPRST_MPTCP_ERROR };
      m.onJoinFailed(this, 'bad MP_JOIN SYN/ACK HMAC');
      return 'reset';
    }
    this.remoteId = j.addressId;
    this.backupRemote = j.backup;
    this.initMappings();
    return 'accept';
  }

  /**
   * The third ACK of our passive open, or a later segment while it is still missing
   * (RFC 8684 3.1: MP_CAPABLE with both keys, possibly with data; 3.2: MP_JOIN with the HMAC).
   */
  private handshakeAckReceived(opts: MptcpOption[]): IncomingVerdict {
    const m = this.meta;
    if (this.role === 'mpc-server') {
      if (m.fallback) return 'accept';
      const mpc = opts.find((o): o is MpCapable => o.subtype === 'mpCapable');
      if (mpc && mpc.senderKey !== undefined && mpc.receiverKey !== undefined) {
        if (!acceptableMpCapable(mpc) || !m.onMpcThirdAck(mpc)) {
          this.reset = { flags: 0, reason: MP_TCPRST_MPTCP_ERROR };
          return 'reset';
        }
        this.initMappings();
        this.setFullyEstablished();
        return 'accept';
      }
      // RFC 8684 3.1 / Linux subflow_syn_recv_sock: no MP_CAPABLE on the third ACK: plain TCP.
      if (!opts.some((o) => o.subtype === 'dss')) m.fallBack(this, 'third ACK without MP_CAPABLE');
      return 'accept';
    }
    if (this.role === 'join-server') {
      const j = opts.find((o) => o.subtype === 'mpJoinAck');
      if (!j || j.subtype !== 'mpJoinAck') {
        // A join's third ACK must carry MP_JOIN; without it the subflow cannot be used.
        this.reset = { flags: 0, reason: MP_TCPRST_MPTCP_ERROR };
        m.onJoinFailed(this, 'third ACK without MP_JOIN');
        return 'reset';
      }
      const expected = joinAckHmac(m.remoteKey, m.localKey, this.remoteNonce, this.nonce);
      if (!macEquals(j.hmac, expected)) {
        // Linux MPTCP_MIB_JOINACKMAC: reset with MPTCP_RST_EPROHIBIT.
        this.reset = { flags: 0, reason: MP_TCPRST_ADMIN_PROHIBITED };
        m.onJoinFailed(this, 'bad MP_JOIN third-ACK HMAC');
        return 'reset';
      }
      this.initMappings();
      this.setFullyEstablished();
      // The fourth ACK (RFC 8684 3.2): answer at once so the peer may send data.
      if (this.tcp) this.tcp.sendAck();
      else this.ackOnAttach = true;
    }
    return 'accept';
  }

  /** A listener got this join's SYN: remember the peer's nonce, address ID and backup flag. */
  acceptJoinSyn(remoteNonce: number, remoteId: number, backup: boolean, irs: number, tuple: SynTuple): void {
    this.synTuple = tuple;
    this.remoteNonce = remoteNonce >>> 0;
    this.remoteId = remoteId;
    this.backupRemote = backup;
    this.irs = irs;
  }

  /** The listener's SYN for the initial subflow. */
  acceptMpcSyn(irs: number, tuple: SynTuple): void {
    this.synTuple = tuple;
    this.irs = irs;
  }

  /** The MP_JOIN third ACK was sent again (join-client, before the fourth ACK). */
  onJoinAckTimer(now: number): void {
    if (this.fullyEstablished || this.closed) {
      this.joinAckDeadline = undefined;
      return;
    }
    this.joinAckDeadline = now + this.meta.config.joinAckRetransmitMs;
    this.tcp?.sendAck();
  }

  private setFullyEstablished(): void {
    if (this.fullyEstablished) return;
    this.fullyEstablished = true;
    this.joinAckDeadline = undefined;
    this.meta.onSubflowFullyEstablished(this);
  }

  // ---- received data -------------------------------------------------------------------

  /** The mapping of the client's MP_CAPABLE with data: DSN = IDSN+1, SSN = 1 (RFC 8684 3.1). */
  private mpcMapping(o: MpCapable): DataMapping {
    const map: DataMapping = { dataOffset: 0, subflowSeq: 1, length: o.dataLength!, dataFin: false };
    if (o.checksum !== undefined) map.checksum = o.checksum;
    return map;
  }

  /** Record a received mapping; false when the subflow must be reset (RFC 8684 3.3.1). */
  private addMapping(map: DataMapping, dsn64: boolean): boolean {
    const m = this.meta;
    this.initMappings();
    this.segmentHadMapping = true;
    m.onPeerDsnWidth(dsn64);
    const r = this.recvMappings!.add(map);
    switch (r.kind) {
      case 'added':
        if (r.dataFinOffset !== undefined) m.onDataFin(r.dataFinOffset);
        break;
      case 'data-fin':
        m.onDataFin(r.dataFinOffset);
        break;
      case 'violation':
        this.reset = { flags: 0, reason: MP_TCPRST_MPTCP_ERROR };
        m.onSubflowViolation(this, `mapping ${r.reason}`);
        return false;
      default:
        break;
    }
    return true;
  }

  private onInfiniteMapping(o: Dss): void {
    const m = this.meta;
    this.initMappings();
    const map = mappingFromWire(o, m.recvDsn!, m.dataAckOffset)!;
    this.recvMappings!.add(map);
    m.onInfiniteMapping(this, map.dataOffset);
  }

  /**
   * Map the in-order bytes waiting for a mapping and hand them to the connection. A fallback
   * on the way (a checksum failure) turns the rest into plain stream data, in order.
   */
  private drainUnmapped(): void {
    const rm = this.recvMappings!;
    const m = this.meta;
    this.draining = true;
    try {
      while (this.unmapped.length > 0 && !this.closed) {
        const chunk = this.unmapped.shift()!;
        this.unmappedBytes -= chunk.length;
        if (m.fallback) {
          m.onFallbackData(this, chunk);
          continue;
        }
        const r = rm.map(chunk.length);
        for (const range of r.ranges) {
          const piece = chunk.subarray(range.chunkOffset, range.chunkOffset + range.length);
          if (m.fallback) m.onFallbackData(this, piece);
          else this.mappedData(range.dataOffset, piece, range.mapping, range.endsMapping);
        }
        if (r.mappedLength === chunk.length) continue;
        const rest = chunk.subarray(r.mappedLength);
        if (m.fallback) {
          m.onFallbackData(this, rest);
          continue;
        }
        this.unmapped.unshift(rest);
        this.unmappedBytes += rest.length;
        return;
      }
    } finally {
      this.draining = false;
    }
  }

  private mappedData(offset: number, data: Uint8Array, map: Readonly<DataMapping>, endsMapping: boolean): void {
    const m = this.meta;
    this.counters.dataBytesReceived += data.length;
    if (map.checksum === undefined || map.length === 0) {
      m.onData(this, offset, data);
      return;
    }
    // RFC 8684 3.3.1: a checksummed mapping is delivered only once all of it checked out.
    if (this.csumMapping !== map) {
      this.csumMapping = map;
      this.csumChunks.length = 0;
    }
    this.csumChunks.push({ offset, data });
    if (!endsMapping) return;
    const chunks = this.csumChunks.splice(0);
    this.csumMapping = undefined;
    const ok = mappingChecksumOk(map, m.recvDsn!, chunks.map((c) => c.data));
    if (!ok) {
      this.counters.checksumFailures++;
      m.onChecksumFailure(this, map, chunks);
      return;
    }
    for (const c of chunks) m.onData(this, c.offset, c.data);
  }

  /**
   * The connection fell back to TCP on this subflow: what waits here (a checksummed mapping
   * being collected, bytes no mapping covered yet) is the stream's next data, in order.
   */
  flushOnFallback(): void {
    const m = this.meta;
    for (const c of this.csumChunks.splice(0)) m.onFallbackData(this, c.data);
    this.csumMapping = undefined;
    // Inside drainUnmapped, the rest of the chunk being mapped comes first: it delivers all.
    if (this.draining) return;
    for (const c of this.unmapped.splice(0)) m.onFallbackData(this, c);
    this.unmappedBytes = 0;
  }

  /** The subflow sequence numbers we use on the wire for stats (relative, as Linux shows them). */
  relativeSeqs(): { sent: number; received: number } {
    const tcp = this.tcp;
    if (!tcp) return { sent: 0, received: 0 };
    return { sent: (tcp.sender.nxt - this.iss) >>> 0, received: seqSub(tcp.receiver?.nxt ?? this.irs, this.irs) };
  }

  /** Payload bytes of the mapping that covers relative subflow seq `rel` (for tests). */
  sentMappingAt(rel: number): Readonly<DataMapping> | undefined {
    return this.sendMappings?.mappingAt(rel);
  }
}
