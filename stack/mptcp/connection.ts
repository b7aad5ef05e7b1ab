// The MPTCP connection, Linux's "msk" (RFC 8684): one byte stream over several subflows.
// It holds the keys and tokens (3.1), both data sequence spaces, the connection-level send
// buffer with the peer's DATA_ACK and window (3.3.2, 3.3.4; data-sender.ts), the
// connection-level reassembly (reassembly.ts), the scheduler and reinjection (3.3.6,
// scheduler.ts), DATA_FIN and the close of both directions (3.3.3), MP_FASTCLOSE (3.5),
// MP_FAIL and fallback to plain TCP (3.7), address signals (3.4, with the path manager in
// path-driver.ts), and the application API, shaped like TcpConnection's so the socket layer
// treats both alike (stream.ts).
//
// Sans-I/O like TcpConnection: application calls and subflow events only mark work as
// pending; the owner (layer.ts) runs `onTimeout` at once, which schedules data onto the
// subflows (their own timers then put it on the wire).

import type { MptcpConfig, MptcpCongestionControl, MptcpSchedulerName, TcpConfig } from '../config.js';
import type { TcpConnection } from '../tcp/connection.js';
import { TcpError } from '../tcp/errors.js';
import type { TcpState } from '../tcp/state.js';
import { addressEquals, familyOf, type IpAddress } from '../wire/address.js';
import {
  MP_TCPRST_MIDDLEBOX_INTERFERENCE,
  MP_TCPRST_UNSPECIFIED,
  type AddAddr,
  type MpCapable,
  type MptcpOption,
} from '../wire/mptcp-options.js';
import type { TcpOption } from '../wire/tcp-options.js';
import { addAddrHmac, dssChecksum, keyToTokenAndIdsn, macEquals } from './crypto.js';
import { CoupledCongestionControl } from './coupled-cc.js';
import { DataSender } from './data-sender.js';
import { DsnSpace } from './dsn.js';
import type { DataMapping } from './mapping.js';
import { checksumRequired, paddedLength } from './options.js';
import { DataReassembly, type DataReassemblyStats } from './reassembly.js';
import {
  pickReinjectionSubflow,
  schedule,
  SEND_BURST_SIZE,
  type SchedulerContext,
  type SubflowSnapshot,
} from './scheduler.js';
import { Subflow, type SubflowInit } from './subflow.js';
import type { MptcpEventLog } from './events.js';
import type { PathDriver } from './path-driver.js';
import { concatBytes } from '../wire/bytes.js';

/** Events of an MPTCP connection, the same as TcpConnectionHandler's (Node net.Socket's). */
export interface MptcpConnectionHandler {
  onConnect?(conn: MptcpConnection): void;
  onData?(conn: MptcpConnection, data: Uint8Array): void;
  onReadable?(conn: MptcpConnection): void;
  onEnd?(conn: MptcpConnection): void;
  onWritable?(conn: MptcpConnection): void;
  onClose?(conn: MptcpConnection, error?: TcpError): void;
}

/** Per-connection choices; each defaults to config.mptcp / config.tcp. */
export interface MptcpConnectionOptions {
  scheduler?: MptcpSchedulerName;
  congestionControl?: MptcpCongestionControl;
  /** Ask for DSS checksums (MP_CAPABLE flag A). */
  checksum?: boolean;
  sendBufferBytes?: number;
  receiveBufferBytes?: number;
  noDelay?: boolean;
}

/** What a connection needs from the layer that owns it (layer.ts). */
export interface MptcpConnectionOwner {
  readonly now: number;
  readonly config: MptcpConfig;
  readonly tcpConfig: TcpConfig;
  /** Visit this connection's onTimeout at its deadline (or at once when work is pending). */
  schedule(conn: MptcpConnection): void;
  /** Open a join subflow (RFC 8684 3.2) from `local` to `remote`:`port`; undefined when TCP refused. */
  openSubflow(conn: MptcpConnection, sf: Subflow, local: IpAddress, remote: IpAddress, port: number): TcpConnection | undefined;
  /** The connection is closed: forget its token. */
  release(conn: MptcpConnection): void;
  /** A fresh random 32-bit nonce (MP_JOIN). */
  nonce(): number;
}

export type MptcpRole = 'client' | 'server';

// Work flags for the next visit.
const EV_CONNECT = 1;
const EV_READABLE = 2;
const EV_END = 4;
const EV_WRITABLE = 8;
const EV_CLOSE = 16;

/** ADD_ADDR / REMOVE_ADDR options waiting for a pure ACK at most. */
const MAX_PENDING_SIGNALS = 16;

/** Closed subflows kept for stats. */
const MAX_CLOSED_SUBFLOWS = 16;

/** Linux MPTCP_RESET_TIMEOUT-like floor for the data-level retransmission timer (ms). */
const MIN_DATA_RTO_MS = 200;

export class MptcpConnection {
  handler: MptcpConnectionHandler = {};
  readonly role: MptcpRole;
  readonly config: MptcpConfig;
  readonly localKey: bigint;
  readonly localToken: number;
  readonly sendDsn: DsnSpace;
  remoteKey = 0n;
  remoteToken = 0;
  recvDsn: DsnSpace | undefined = undefined;
  /** DSS checksums in use (RFC 8684 3.1: either side set A). */
  checksum: boolean;
  /** We ask for checksums (our A flag on SYN and SYN/ACK). */
  readonly checksumWanted: boolean;
  readonly scheduler: MptcpSchedulerName;
  readonly congestionControl: MptcpCongestionControl;
  readonly subflows: Subflow[] = [];
  /** Coupled congestion control of the subflows (RFC 6356), absent when uncoupled. */
  readonly coupled: CoupledCongestionControl | undefined;
  readonly events: MptcpEventLog;
  /** Why the connection failed, once it did. */
  error: TcpError | undefined = undefined;
  /** The peer's last mapping used a 64-bit DSN: our DATA_ACKs are 64 bits too (Linux use_64bit_ack). */
  peerUses64BitDsn = false;
  /** Plain TCP on the initial subflow (RFC 8684 3.7 fallback). */
  private fellBack = false;
  private fallbackReason: string | undefined = undefined;
  private readonly send: DataSender;
  private recv: DataReassembly | undefined = undefined;
  private currentState: TcpState;
  private readonly owner: MptcpConnectionOwner;
  private nextSubflowId = 0;
  private pending = false;
  /** Application events waiting for dispatch (EV_*). */
  private events_ = 0;
  private dispatching = false;
  private paused = false;
  private endEmitted = false;
  private closed = false;
  private connectEmitted = false;
  private wantWritable = false;
  /** Ceiling of the send buffer's growth (growSendBuffer); 0 when the size was given explicitly. */
  private readonly sendBufferMax: number;
  /** Data-level retransmission timer (Linux mptcp_retransmit_timer). */
  private rtxDeadline: number | undefined = undefined;
  private rtxBackoff = 0;
  /** A second subflow was ever used, or data-level retransmission happened: no infinite-mapping fallback (Linux allow_infinite_fallback). */
  private infiniteFallbackAllowed = true;
  /** Round robin's last subflow; redundant's per-subflow progress. */
  private lastSubflowId: number | undefined = undefined;
  private readonly sentUpTo = new Map<number, number>();
  /** ADD_ADDR / REMOVE_ADDR waiting for a pure ACK (RFC 8684 3.4). */
  private readonly signals: MptcpOption[] = [];
  /** Data-level receive buffer: bounds the shared window (RFC 8684 3.3.4). */
  private readonly receiveBufferBytes: number;
  /** The peer's DATA_FIN was reached (the application saw, or will see, the end of the stream). */
  private peerFinSeen = false;
  /** The shared window as last advertised on any subflow. */
  private lastAdvertised = 0;
  /** Every subflow was asked for an ACK carrying our DATA_FIN. */
  private dataFinAnnounced = false;
  /** After fallback: our DATA_FIN went as the subflow's FIN. */
  private fallbackFinSent = false;
  /** Connection-level counters. */
  readonly counters = {
    dataRetransmits: 0,
    fastcloseReceived: false,
    mpFailReceived: 0,
    mpFailSent: 0,
    addAddrBadHmac: 0,
    addAddrReceived: 0,
    joinsRejected: 0,
    checksumFailures: 0,
  };
  /** Path manager glue, set by the layer (path-driver.ts). */
  pathEvents: PathDriver | undefined = undefined;

  constructor(
    owner: MptcpConnectionOwner,
    role: MptcpRole,
    key: { key: bigint; token: number; idsn: bigint },
    readonly options: MptcpConnectionOptions,
    events: MptcpEventLog,
  ) {
    this.owner = owner;
    this.role = role;
    this.config = owner.config;
    this.localKey = key.key;
    this.localToken = key.token;
    this.sendDsn = new DsnSpace(key.idsn);
    this.checksumWanted = options.checksum ?? this.config.checksum;
    this.checksum = this.checksumWanted;
    this.scheduler = options.scheduler ?? this.config.scheduler;
    this.congestionControl = options.congestionControl ?? this.config.congestionControl;
    const tcp = owner.tcpConfig;
    this.coupled = this.congestionControl === 'uncoupled' ? undefined : new CoupledCongestionControl(this.congestionControl, { initialCwndSegments: tcp.initialCwndSegments, hystart: tcp.hystart });
    this.send = new DataSender(options.sendBufferBytes ?? owner.tcpConfig.sendBufferBytes);
    // An explicit size is kept as asked (Linux: SO_SNDBUF locks the send buffer's auto-tuning).
    this.sendBufferMax = options.sendBufferBytes === undefined ? this.config.sendBufferMaxBytes : 0;
    this.receiveBufferBytes = options.receiveBufferBytes ?? owner.tcpConfig.receiveBufferMaxBytes;
    this.currentState = role === 'client' ? 'SYN_SENT' : 'SYN_RECEIVED';
    this.events = events;
  }

  // ---- application API (TcpConnection's shape) ------------------------------------------

  get state(): TcpState {
    return this.currentState;
  }

  get now(): number {
    return this.owner.now;
  }

  /** Plain TCP after a fallback (RFC 8684 3.7). */
  get fallback(): boolean {
    return this.fellBack;
  }

  /**
   * A DATA_FIN went either way, or the connection is gone: no new subflows. Linux accepts
   * joins only while its connection is ESTABLISHED (mptcp_can_accept_new_subflow), so after a
   * half-close a join would only be refused.
   */
  get closing(): boolean {
    const s = this.send;
    return this.closed || (s.finQueued && s.nxt >= s.end) || (this.recv?.finReached ?? false);
  }

  get fallbackCause(): string | undefined {
    return this.fallbackReason;
  }

  /** The initial subflow's addresses stand for the connection's (like Linux's msk). */
  get localAddress(): IpAddress {
    return this.subflows[0]?.tcp?.localAddress ?? new Uint8Array(4);
  }
  get localPort(): number {
    return this.subflows[0]?.tcp?.localPort ?? 0;
  }
  get remoteAddress(): IpAddress {
    return this.subflows[0]?.tcp?.remoteAddress ?? new Uint8Array(4);
  }
  get remotePort(): number {
    return this.subflows[0]?.tcp?.remotePort ?? 0;
  }

  get writableLength(): number {
    return this.canWrite() ? this.send.room : 0;
  }

  get readableLength(): number {
    return this.recv?.readable ?? 0;
  }

  /** Queue application bytes; returns how many the send buffer took (see TcpConnection.write). */
  write(data: Uint8Array): number {
    if (this.closed) throw new TcpError('EPIPE', 'the connection is closed');
    if (!this.canWrite()) throw new TcpError('EPIPE', 'write after end()');
    const n = this.send.write(data);
    if (n < data.length) this.wantWritable = true;
    if (n > 0) this.markPending();
    return n;
  }

  /** Half-close at the data level: a DATA_FIN follows the data written so far (RFC 8684 3.3.3). */
  end(): void {
    if (this.closed || this.send.finQueued) return;
    switch (this.currentState) {
      case 'SYN_SENT':
      case 'SYN_RECEIVED':
      case 'ESTABLISHED':
        this.send.finQueued = true;
        if (this.currentState === 'ESTABLISHED') this.setState('FIN_WAIT_1');
        break;
      case 'CLOSE_WAIT':
        this.send.finQueued = true;
        this.setState('LAST_ACK');
        break;
      default:
        return;
    }
    this.markPending();
  }

  /** end(), and nothing more will be read. */
  close(): void {
    if (this.readableLength > 0) {
      this.destroy();
      return;
    }
    this.end();
  }

  /**
   * Abort: MP_FASTCLOSE (RFC 8684 3.5) on a RST on every subflow, as Linux does, with
   * MP_TCPRST; after fallback a plain RST.
   */
  destroy(error?: TcpError): void {
    if (this.closed) return;
    const open = this.subflows.filter((s) => !s.closed);
    // Closed first, so the path manager does not replace the subflows being reset.
    this.finish(error);
    if (this.fellBack) {
      for (const sf of open) sf.tcp?.destroy(error);
    } else {
      const fastclose: TcpOption[] = [{ kind: 'mptcp', option: { subtype: 'mpFastclose', receiverKey: this.remoteKey } }];
      for (const sf of open) sf.abort(MP_TCPRST_UNSPECIFIED, false, fastclose);
    }
  }

  /** The next chunk of received data, or undefined. Reading opens the shared window. */
  read(max = Infinity): Uint8Array | undefined {
    const r = this.recv;
    if (!r) return undefined;
    const chunks = r.read(max === Infinity ? Infinity : max);
    if (chunks.length === 0) {
      if (r.finReached && !this.endEmitted) {
        this.events_ |= EV_END;
        this.markPending();
      }
      return undefined;
    }
    const chunk = chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
    this.onConsumed();
    return chunk;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.readableLength > 0) this.events_ |= EV_READABLE;
    this.markPending();
  }

  setNoDelay(noDelay = true): void {
    for (const sf of this.subflows) sf.tcp?.setNoDelay(noDelay);
  }

  // ---- owner side ----------------------------------------------------------------------

  /** The earliest time this connection needs a visit. */
  get deadline(): number | undefined {
    if (this.pending || this.events_ !== 0) return this.owner.now;
    if (this.closed) return undefined;
    let d = this.rtxDeadline;
    for (const sf of this.subflows) if (sf.joinAckDeadline !== undefined && (d === undefined || sf.joinAckDeadline < d)) d = sf.joinAckDeadline;
    const p = this.pathEvents?.nextTimeout();
    if (p !== undefined && (d === undefined || p < d)) d = p;
    return d;
  }

  onTimeout(now: number): void {
    this.pending = false;
    if (!this.closed) {
      for (const sf of this.subflows) if (sf.joinAckDeadline !== undefined && sf.joinAckDeadline <= now) sf.onJoinAckTimer(now);
      if (this.rtxDeadline !== undefined && this.rtxDeadline <= now) this.onRetransmitTimer(now);
      this.pathEvents?.onTimeout(now);
      this.push(now);
    }
    this.dispatch();
  }

  /** Mark work for the next visit (at once). */
  markPending(): void {
    if (this.pending) return;
    this.pending = true;
    this.owner.schedule(this);
  }

  scheduleTimer(): void {
    this.owner.schedule(this);
  }

  // ---- subflows ------------------------------------------------------------------------

  /** A new subflow object (the caller binds it to a TcpConnection). */
  createSubflow(init: Omit<SubflowInit, 'nonce'>): Subflow {
    const sf = new Subflow(this, this.nextSubflowId++, { ...init, nonce: this.owner.nonce() });
    this.subflows.push(sf);
    this.pruneClosedSubflows();
    return sf;
  }

  /** Closed subflows stay listed for stats, the oldest forgotten beyond a bound (re-created paths add up). */
  private pruneClosedSubflows(): void {
    let closed = 0;
    for (const s of this.subflows) if (s.closed) closed++;
    for (let i = 0; i < this.subflows.length && closed > MAX_CLOSED_SUBFLOWS; i++) {
      const s = this.subflows[i]!;
      if (!s.closed || s.role === 'mpc-client' || s.role === 'mpc-server') continue;
      this.subflows.splice(i--, 1);
      closed--;
    }
  }

  /** The path manager asks for a join (RFC 8684 3.2). */
  openJoin(pathId: number, local: IpAddress, localId: number, remote: IpAddress, remoteId: number, port: number, backup: boolean): Subflow | undefined {
    if (this.closed || this.fellBack || this.currentState === 'CLOSED') return undefined;
    const sf = this.createSubflow({ role: 'join-client', pathId, localId, remoteId, backup });
    const tcp = this.owner.openSubflow(this, sf, local, remote, port);
    if (!tcp) {
      this.subflows.splice(this.subflows.indexOf(sf), 1);
      return undefined;
    }
    sf.tcp = tcp;
    this.bindHandler(sf);
    this.infiniteFallbackAllowed = false;
    this.events.record(this.now, { kind: 'subflow-opening', subflow: sf.id, pathId, local, remote, port, backup });
    return sf;
  }

  /** A join SYN for this connection (RFC 8684 3.2): the subflow to accept it, or why not. */
  acceptJoin(local: IpAddress, remote: IpAddress, remotePort: number, o: { backup: boolean; addressId: number; nonce: number }, irs: number): Subflow | 'reset' {
    // Linux accepts joins only on a fully established connection, within its limits.
    if (this.closed || this.fellBack || !this.isFullyEstablished() || !(this.pathEvents?.canAcceptSubflow() ?? true)) {
      this.counters.joinsRejected++;
      this.events.record(this.now, { kind: 'join-rejected', remote, reason: this.fellBack ? 'fallback' : 'limit or not established' });
      return 'reset';
    }
    const localId = this.pathEvents?.localIdOf(local) ?? 0;
    const sf = this.createSubflow({ role: 'join-server', pathId: -1, localId, remoteId: o.addressId, backup: false });
    sf.acceptJoinSyn(o.nonce, o.addressId, o.backup, irs, { local, remote, remotePort });
    this.infiniteFallbackAllowed = false;
    return sf;
  }

  /** Bind the subflow's TCP events (a passive subflow gets this on establishment). */
  bindHandler(sf: Subflow): void {
    const tcp = sf.tcp!;
    // RFC 8684 3.3.4: before any DATA_ACK, the window the client offered; establish() ran
    // before the listener attached a passive subflow's TCP connection, so it could not see it.
    if (sf.role === 'mpc-server') this.send.windowEnd = Math.max(this.send.windowEnd, tcp.sender.wnd);
    tcp.handler = {
      onConnect: () => this.onSubflowConnected(sf),
      onEnd: () => this.onSubflowEnd(sf),
      onWritable: () => this.markPending(),
    };
  }

  // ---- subflow callbacks ---------------------------------------------------------------

  onMpcSynAck(o: MpCapable): void {
    this.setRemoteKey(o.senderKey!);
    if (checksumRequired(o)) this.checksum = true;
  }

  /** The server's third ACK with both keys; false when it names another key than ours. */
  onMpcThirdAck(o: MpCapable): boolean {
    if (o.receiverKey !== this.localKey) return false;
    if (this.recvDsn === undefined) this.setRemoteKey(o.senderKey!);
    else if (o.senderKey !== this.remoteKey) return false;
    return true;
  }

  /** The server learned the checksum wish of the client's SYN (RFC 8684 3.1). */
  onMpcSyn(o: MpCapable): void {
    if (checksumRequired(o)) this.checksum = true;
  }

  private setRemoteKey(key: bigint): void {
    this.remoteKey = key;
    const { token, idsn } = keyToTokenAndIdsn(key);
    this.remoteToken = token;
    this.recvDsn = new DsnSpace(idsn);
    this.recv ??= new DataReassembly({ bufferSize: this.receiveBufferBytes, maxOutOfOrderSegments: this.config.dataOutOfOrderMaxSegments });
  }

  /** Any TCP state change of a subflow: after fallback its FIN and close are the stream's. */
  onSubflowState(): void {
    if (this.fellBack) this.markPending();
  }

  onSubflowTcpEstablished(sf: Subflow): void {
    sf.lastProgress = this.now;
    if (sf.role === 'mpc-server' && this.currentState === 'SYN_RECEIVED') this.establish();
    this.markPending();
  }

  private onSubflowConnected(sf: Subflow): void {
    if (sf.role === 'mpc-client' && this.currentState === 'SYN_SENT') {
      this.establish();
      this.events.record(this.now, { kind: 'subflow-established', subflow: sf.id, pathId: sf.pathId, local: sf.localAddress!, remote: sf.remoteAddress!, backup: sf.backup });
    }
    this.markPending();
  }

  private establish(): void {
    this.setState(this.send.finQueued ? 'FIN_WAIT_1' : 'ESTABLISHED');
    if (!this.connectEmitted) {
      this.connectEmitted = true;
      if (this.role === 'client') this.events_ |= EV_CONNECT;
    }
    this.recv ??= new DataReassembly({ bufferSize: this.receiveBufferBytes, maxOutOfOrderSegments: this.config.dataOutOfOrderMaxSegments });
    // RFC 8684 3.3.4: the peer's window before any DATA_ACK: what its SYN/SYN-ACK offered.
    const tcp = this.subflows[0]?.tcp;
    if (tcp) this.send.windowEnd = Math.max(this.send.windowEnd, tcp.sender.wnd);
  }

  onSubflowFullyEstablished(sf: Subflow): void {
    if (sf.isJoin) {
      if (sf.role === 'join-server') sf.pathIdAssigned(this.pathEvents?.onPeerSubflow(sf) ?? -1);
      this.events.record(this.now, { kind: 'subflow-established', subflow: sf.id, pathId: sf.pathId, local: sf.localAddress!, remote: sf.remoteAddress!, backup: sf.backup });
    } else {
      this.events.record(this.now, { kind: 'fully-established', token: this.localToken });
    }
    if (!sf.isJoin || this.role === 'client') this.pathEvents?.onEstablished(this.now);
    this.markPending();
  }

  isFullyEstablished(): boolean {
    return this.subflows.some((s) => !s.isJoin && s.fullyEstablished);
  }

  /** The subflow's TCP connection reached CLOSED. */
  onSubflowClosed(sf: Subflow): void {
    const unacked = sf.unacknowledged.filter((r) => r.end > this.send.una);
    this.events.record(this.now, {
      kind: 'subflow-closed',
      subflow: sf.id,
      pathId: sf.pathId,
      error: sf.tcp?.error?.code,
      reset: sf.peerResetReason,
    });
    if (!this.closed && !this.fellBack && unacked.length > 0) {
      // RFC 8684 3.3.6: what the dead subflow carried and the peer did not DATA_ACK goes elsewhere.
      this.send.queueReinjection(unacked);
      this.infiniteFallbackAllowed = false;
    }
    if (this.closed) return;
    this.pathEvents?.onSubflowClosed(sf, this.now);
    if (this.fellBack || this.subflows.every((s) => s.closed)) this.onAllSubflowsClosed(sf);
    this.markPending();
  }

  private onAllSubflowsClosed(last: Subflow): void {
    if (this.closed) return;
    const finished = this.send.finAcked && (this.recv?.finReached ?? false);
    if (finished || this.currentState === 'CLOSED') {
      this.finish(undefined);
      return;
    }
    // The path manager may bring a subflow back: only the client re-creates paths, and only
    // while it has one scheduled; without any subflow left the connection fails like TCP.
    const err = last.tcp?.error ?? new TcpError('ECONNRESET', 'every subflow closed');
    if (this.fellBack && last.tcp?.error === undefined && this.recv?.finReached) {
      this.finish(undefined);
      return;
    }
    this.finish(err);
  }

  /** The peer's FIN on a subflow: after fallback the end of the stream, else only that subflow ends. */
  private onSubflowEnd(sf: Subflow): void {
    if (this.fellBack) {
      this.onDataFin(this.recv?.dataAck ?? 0);
      return;
    }
    // RFC 8684 3.3.3: a subflow FIN says nothing about the data stream. Close our side too,
    // once what we sent on it is acknowledged (unacknowledged data is reinjected on close).
    if (!sf.closed && !sf.endRequested) {
      sf.endRequested = true;
      sf.tcp?.end();
    }
    this.markPending();
  }

  onSubflowViolation(sf: Subflow, reason: string): void {
    this.events.record(this.now, { kind: 'protocol-error', subflow: sf.id, reason });
  }

  onJoinFailed(sf: Subflow, reason: string): void {
    this.counters.joinsRejected++;
    sf.closed = true;
    this.events.record(this.now, { kind: 'join-rejected', remote: sf.remoteAddress!, reason });
  }

  onPriorityChanged(sf: Subflow): void {
    this.events.record(this.now, { kind: 'priority', subflow: sf.id, backup: sf.backup });
    this.markPending();
  }

  // ---- data level: receive -------------------------------------------------------------

  /** The DATA_ACK offset the last DSS sent carried (Subflow.continuation leaves it off while it has not moved). */
  dataAckSentOffset = 0;

  /** The DATA_ACK offset we send (next expected data byte, +1 after the DATA_FIN). */
  get dataAckOffset(): number {
    return this.recv?.dataAck ?? 0;
  }

  /** The DATA_ACK as the wire carries it, 64 or 32 bits (Linux: 64 once the peer used 64-bit DSNs). */
  dataAckOnWire(): bigint | undefined {
    if (!this.recvDsn) return undefined;
    const v = this.recvDsn.toWire64(this.dataAckOffset);
    return this.peerUses64BitDsn ? v : v & 0xffffffffn;
  }

  onPeerDsnWidth(dsn64: boolean): void {
    if (this.peerUses64BitDsn === dsn64) return;
    this.peerUses64BitDsn = dsn64;
    // Our DATA_ACKs change width: the subflows' MSS follows (Subflow.dataOptionSpace).
    for (const sf of this.subflows) sf.tcp?.optionSpaceChanged();
  }

  /** The shared receive window, relative to the DATA_ACK (RFC 8684 3.3.4). */
  get receiveWindow(): number {
    const w = this.recv?.window ?? this.receiveBufferBytes;
    // What the peer was last told (TCP asks for it on every segment it builds).
    this.lastAdvertised = w;
    return w;
  }

  /** Mapped data from a subflow. */
  onData(_sf: Subflow, offset: number, data: Uint8Array): void {
    const r = this.recv;
    if (!r) return;
    const out = r.receive(offset, data);
    if (out.inOrder > 0) this.onInOrder();
  }

  /** Data on a fallen-back subflow: the stream continues at the DATA_ACK (single subflow, in order). */
  onFallbackData(_sf: Subflow, data: Uint8Array): void {
    this.recv ??= new DataReassembly({ bufferSize: this.receiveBufferBytes, maxOutOfOrderSegments: this.config.dataOutOfOrderMaxSegments });
    const out = this.recv.receive(this.recv.dataAck, data);
    if (out.inOrder > 0) this.onInOrder();
  }

  private onInOrder(): void {
    this.events_ |= EV_READABLE;
    // A DATA_FIN that arrived ahead of data is reached once the data fills in.
    if (this.recv!.finReached) this.onPeerFinReached();
    this.markPending();
  }

  /** The peer's DATA_FIN sits at `offset` (RFC 8684 3.3.3). */
  onDataFin(offset: number): void {
    const r = this.recv;
    if (!r || !r.dataFin(offset)) return;
    if (r.finReached) this.onPeerFinReached();
  }

  private onPeerFinReached(): void {
    if (this.peerFinSeen) return;
    this.peerFinSeen = true;
    this.events_ |= EV_END;
    switch (this.currentState) {
      case 'ESTABLISHED':
      case 'SYN_RECEIVED':
        this.setState('CLOSE_WAIT');
        break;
      case 'FIN_WAIT_1':
        this.setState(this.send.finAcked ? 'TIME_WAIT' : 'CLOSING');
        break;
      case 'FIN_WAIT_2':
        this.setState('TIME_WAIT');
        break;
      default:
        break;
    }
    // The DATA_ACK covering the DATA_FIN goes out at once.
    this.ackAll();
    this.checkDone();
  }

  private onConsumed(): void {
    // Like TCP's window update: when the window grew by a worthwhile amount, tell the peer.
    const w = this.recv!.window;
    // Linux (mptcp_cleanup_rbuf) tells every subflow: the peer may be sending on any of them.
    if (w - this.lastAdvertised >= Math.min(this.receiveBufferBytes / 2, 65536)) this.ackAll();
  }

  /** A checksummed mapping failed (RFC 8684 3.7). */
  onChecksumFailure(sf: Subflow, map: Readonly<DataMapping>, chunks: { offset: number; data: Uint8Array }[]): void {
    this.counters.checksumFailures++;
    const dsn = this.recvDsn!.toWire64(map.dataOffset);
    this.events.record(this.now, { kind: 'checksum-failure', subflow: sf.id, dsn });
    if (this.canFallBack(sf)) {
      // Linux (subflow_check_data_avail): MP_FAIL to the peer, and the stream carries on
      // as plain TCP; the bytes already acknowledged at the TCP level are kept.
      this.counters.mpFailSent++;
      sf.sendFail(dsn);
      for (const c of chunks) this.onData(sf, c.offset, c.data);
      this.fallBack(sf, 'DSS checksum failure');
      return;
    }
    // Several subflows: this one is broken; the peer reinjects what it carried.
    this.counters.mpFailSent++;
    sf.abort(MP_TCPRST_MIDDLEBOX_INTERFERENCE, false, [{ kind: 'mptcp', option: { subtype: 'mpFail', dsn } }]);
  }

  /** The peer reports a checksum failure (RFC 8684 3.7): answer with the infinite mapping and fall back. */
  onMpFail(sf: Subflow, dsn: bigint): void {
    this.counters.mpFailReceived++;
    this.events.record(this.now, { kind: 'mp-fail', subflow: sf.id, dsn });
    if (this.fellBack) return;
    if (!this.canFallBack(sf)) return;
    this.fallBack(sf, 'MP_FAIL from the peer');
    sf.startInfiniteMapping(this.send.nxt);
  }

  onInfiniteMapping(sf: Subflow, dataOffset: number): void {
    if (!this.fellBack) this.fallBack(sf, 'infinite mapping from the peer');
    void dataOffset;
  }

  /**
   * MP_FASTCLOSE with our key (RFC 8684 3.5): the connection is gone; every other subflow is
   * reset (`via`, when it came on a RST, is closing already).
   */
  onFastclose(key: bigint, via: Subflow | undefined): boolean {
    if (key !== this.localKey || this.closed) return false;
    this.counters.fastcloseReceived = true;
    this.events.record(this.now, { kind: 'fastclose' });
    const open = this.subflows.filter((s) => !s.closed && s !== via);
    this.finish(new TcpError('ECONNRESET', 'MP_FASTCLOSE from the peer'));
    for (const sf of open) sf.abort(MP_TCPRST_UNSPECIFIED, false);
    return true;
  }

  // ---- data level: send ----------------------------------------------------------------

  /** A DATA_ACK arrived on `sf`, with the segment's window field (RFC 8684 3.3.2, 3.3.4). */
  onDataAck(sf: Subflow, wire: bigint, is64: boolean, windowField: number): void {
    const una = this.send.una;
    const ack = is64 ? this.sendDsn.fromWire64(wire) : this.sendDsn.fromWire32(Number(wire & 0xffffffffn), una);
    const window = windowField * 2 ** (sf.tcp?.sender.scale ?? 0);
    const out = this.send.onDataAck(ack, window);
    if (out.acked > 0 || out.finAcked) {
      this.rtxBackoff = 0;
      this.rtxDeadline = undefined;
      if (this.wantWritable && this.send.room >= Math.min(65536, this.send.buffer.limit / 2)) {
        this.wantWritable = false;
        this.events_ |= EV_WRITABLE;
      }
    }
    if (out.finAcked) this.onOurFinAcked();
    this.markPending();
  }

  private onOurFinAcked(): void {
    switch (this.currentState) {
      case 'FIN_WAIT_1':
        this.setState('FIN_WAIT_2');
        break;
      case 'CLOSING':
        this.setState('TIME_WAIT');
        break;
      case 'LAST_ACK':
        this.setState('TIME_WAIT');
        break;
      default:
        break;
    }
    this.checkDone();
  }

  /**
   * Both DATA_FINs are through: the connection is closed (Linux: the msk goes to TCP_CLOSE,
   * no TIME_WAIT at the data level) and the subflows close with FINs on their own; they keep
   * answering a retransmitted DATA_FIN with the DATA_ACK meanwhile.
   */
  private checkDone(): void {
    if (!this.send.finAcked || !this.recv?.finReached) return;
    for (const sf of this.subflows) {
      if (sf.closed || sf.endRequested) continue;
      sf.endRequested = true;
      sf.tcp?.end();
    }
    this.finish(undefined);
  }

  /** The DATA_FIN offset to put on pure ACKs, while it is not acknowledged (RFC 8684 3.3.3). */
  dataFinToSend(): number | undefined {
    const s = this.send;
    return s.finQueued && !s.finAcked && s.nxt === s.end && !this.fellBack ? s.end : undefined;
  }

  /** DSS checksum of a DATA_FIN-only mapping (no payload). */
  dataFinChecksum(offset: number): number {
    return dssChecksum(this.sendDsn.toWire64(offset), 0, 1, []);
  }

  /** An ADD_ADDR / REMOVE_ADDR that fits in `room` bytes, for a pure ACK. */
  takeSignal(room: number): MptcpOption | undefined {
    const i = this.signals.findIndex((o) => paddedLength(o) <= room);
    if (i < 0) return undefined;
    return this.signals.splice(i, 1)[0];
  }

  /** Announce one of our addresses (RFC 8684 3.4.1). */
  announce(id: number, address: IpAddress, port: number | undefined): void {
    const o: AddAddr = { subtype: 'addAddr', echo: false, addressId: id, address, hmac: addAddrHmac(this.localKey, this.remoteKey, id, address, port ?? 0) };
    if (port) o.port = port;
    this.queueSignal(o);
    this.events.record(this.now, { kind: 'announce', id, address });
  }

  /** Withdraw an address (RFC 8684 3.4.2). */
  removeAddress(id: number): void {
    this.queueSignal({ subtype: 'removeAddr', addressIds: [id] });
    this.events.record(this.now, { kind: 'remove-address', id });
  }

  private queueSignal(o: MptcpOption, via = this.bestSubflow()): void {
    // Bounded: a peer re-announcing (or we re-announcing to a silent peer) cannot grow it.
    if (this.signals.length >= MAX_PENDING_SIGNALS) this.signals.shift();
    this.signals.push(o);
    via?.tcp?.sendAck();
  }

  onAddAddr(sf: Subflow, o: AddAddr): void {
    if (o.echo) {
      this.pathEvents?.onAddAddrEcho(o.addressId, this.now);
      return;
    }
    const expected = addAddrHmac(this.remoteKey, this.localKey, o.addressId, o.address, o.port ?? 0);
    if (!o.hmac || !macEquals(o.hmac, expected)) {
      // RFC 8684 3.4.1: an ADD_ADDR whose HMAC does not match is ignored (Linux MPTCP_MIB_ADDADDRDROP).
      this.counters.addAddrBadHmac++;
      this.events.record(this.now, { kind: 'add-addr-bad-hmac', subflow: sf.id, id: o.addressId, address: o.address });
      return;
    }
    this.counters.addAddrReceived++;
    const accepted = this.pathEvents?.onAddAddr(o, this.now) ?? false;
    this.events.record(this.now, { kind: 'add-addr', id: o.addressId, address: o.address, port: o.port, accepted });
    // RFC 8684 3.4.1: every valid announcement is echoed, accepted or not.
    const echo: AddAddr = { subtype: 'addAddr', echo: true, addressId: o.addressId, address: o.address };
    if (o.port !== undefined) echo.port = o.port;
    this.queueSignal(echo, sf);
  }

  onRemoveAddr(ids: number[]): void {
    for (const id of ids) {
      this.events.record(this.now, { kind: 'remove-addr', id });
      this.pathEvents?.onRemoveAddr(id, this.now);
    }
  }

  /** Close a subflow on the path manager's request (address gone, link down). */
  closeSubflow(sf: Subflow, reason: string): void {
    if (sf.closed) return;
    this.events.record(this.now, { kind: 'subflow-closing', subflow: sf.id, reason });
    const unacked = sf.unacknowledged.filter((r) => r.end > this.send.una);
    if (unacked.length > 0) this.send.queueReinjection(unacked);
    sf.abort(MP_TCPRST_UNSPECIFIED, true);
    this.markPending();
  }

  // ---- fallback (RFC 8684 3.7) ----------------------------------------------------------

  /** Whether this subflow may turn into plain TCP (Linux subflow_can_fallback / allow_infinite_fallback). */
  canFallBack(sf: Subflow): boolean {
    if (sf.isJoin) return false;
    return this.infiniteFallbackAllowed && this.subflows.filter((s) => !s.closed).length <= 1;
  }

  fallBack(sf: Subflow, reason: string): void {
    if (this.fellBack) return;
    this.fellBack = true;
    this.fallbackReason = reason;
    // Plain TCP from now on: no DSS to make room for (Subflow.dataOptionSpace).
    sf.tcp?.optionSpaceChanged();
    this.events.record(this.now, { kind: 'fallback', reason });
    this.recv ??= new DataReassembly({ bufferSize: this.receiveBufferBytes, maxOutOfOrderSegments: this.config.dataOutOfOrderMaxSegments });
    // The token no longer names a live MPTCP connection (no joins, RFC 8684 3.7).
    this.owner.release(this);
    for (const other of this.subflows) if (other !== sf && !other.closed) other.abort(MP_TCPRST_UNSPECIFIED, false);
    sf.flushOnFallback();
    this.markPending();
  }

  // ---- scheduling ----------------------------------------------------------------------

  private push(now: number): void {
    if (this.closed) return;
    if (this.fellBack) {
      this.pushFallback();
      return;
    }
    if (this.currentState === 'SYN_SENT' || this.currentState === 'SYN_RECEIVED' || !this.recvDsn) return;
    for (const sf of this.subflows) sf.pruneAcked();
    const snaps = this.snapshots();
    this.growSendBuffer(snaps);
    this.reinject(snaps);
    this.scheduleNew(snaps);
    if (this.dataFinToSend() !== undefined && !this.dataFinAnnounced) {
      this.dataFinAnnounced = true;
      this.ackAll();
    }
    this.armRetransmitTimer(now);
  }

  /** After fallback: the one subflow is the stream; DATA_ACK follows its TCP ACKs. */
  private pushFallback(): void {
    const sf = this.subflows.find((s) => s.role === 'mpc-client' || s.role === 'mpc-server');
    const tcp = sf?.tcp;
    if (!sf || !tcp) return;
    sf.pruneAcked();
    const s = this.send;
    // Bytes written to TCP and acknowledged there are acknowledged at the data level too.
    const una = s.nxt - (tcp.sender.buffer.length);
    if (una > s.una) {
      s.onDataAck(una, Number.MAX_SAFE_INTEGER / 4);
      if (this.wantWritable && s.room >= Math.min(65536, s.buffer.limit / 2)) {
        this.wantWritable = false;
        this.events_ |= EV_WRITABLE;
      }
    }
    s.windowEnd = Number.MAX_SAFE_INTEGER;
    while ((tcp.state === 'ESTABLISHED' || tcp.state === 'CLOSE_WAIT') && s.unsent > 0) {
      const n = Math.min(s.unsent, tcp.writableLength, SEND_BURST_SIZE);
      if (n <= 0) break;
      const chunks = s.slices(s.nxt, n);
      const taken = sf.writeData(s.nxt, chunks, n, false, false);
      if (taken <= 0) break;
      s.advance(taken);
    }
    // The DATA_FIN is the subflow's FIN now, sent after the last byte and acknowledged with it.
    if (s.finQueued && s.unsent === 0 && !this.fallbackFinSent) {
      this.fallbackFinSent = true;
      tcp.end();
    }
    if (this.fallbackFinSent && tcp.sender.finAcked && !s.finAcked) {
      s.finAcked = true;
      this.onOurFinAcked();
    }
  }

  private snapshots(): SubflowSnapshot[] {
    const out: SubflowSnapshot[] = [];
    for (const sf of this.subflows) {
      const tcp = sf.tcp;
      if (!tcp || sf.closed) continue;
      const s = tcp.sender;
      const inFlight = s.outstanding;
      const queued = s.unsent;
      const cwnd = s.cc.cwnd;
      // Like Linux's subflow send buffer (about two windows): queueing past cwnd is what
      // spreads a bulk transfer over paths in proportion to their rates (scheduler.ts).
      const limit = Math.max(2 * cwnd, 4 * s.mss);
      out.push({
        id: sf.id,
        active: sf.usable,
        backup: sf.backup,
        stale: sf.stale,
        srtt: s.rtt.srtt,
        cwnd,
        inFlight,
        queued,
        queueRoom: Math.max(0, Math.min(limit - inFlight - queued, tcp.writableLength)),
      });
    }
    return out;
  }

  /**
   * Grow the send buffer to what the paths need. Data leaves it only with the DATA_ACK, so
   * a hole on the slowest path holds back what every faster one sent meanwhile: an MPTCP
   * buffer must cover about 2 * sum(rate_i) * max(RTT_i) (Raiciu et al., "How Hard Can It
   * Be?", NSDI 2012, 4.2; RFC 8684 3.3.4 sizes the receive side the same way). Linux gets
   * there by making the connection's sndbuf the sum of its subflows' auto-tuned ones
   * (mptcp_propagate_sndbuf). Never shrinks, as tcp_sndbuf_expand.
   */
  private growSendBuffer(snaps: readonly SubflowSnapshot[]): void {
    const buffer = this.send.buffer;
    if (buffer.limit >= this.sendBufferMax) return;
    let rate = 0;
    let rttMax = 0;
    for (const s of snaps) {
      if (!s.active || s.srtt === undefined || s.srtt <= 0) continue;
      rate += s.cwnd / s.srtt;
      rttMax = Math.max(rttMax, s.srtt);
    }
    const want = Math.min(this.sendBufferMax, Math.ceil(2 * rate * rttMax));
    if (want <= buffer.limit) return;
    buffer.limit = want;
    if (this.wantWritable && this.send.room >= Math.min(65536, want / 2)) {
      this.wantWritable = false;
      this.events_ |= EV_WRITABLE;
    }
  }

  private reinject(snaps: SubflowSnapshot[]): void {
    const s = this.send;
    const exclude = new Set<number>();
    for (const sf of this.subflows) if (sf.closed || sf.stale) exclude.add(sf.id);
    for (let i = 0; i < 256 && s.pendingReinjection > 0; i++) {
      const target = pickReinjectionSubflow(snaps, exclude);
      if (!target) return;
      const max = Math.min(target.queueRoom, SEND_BURST_SIZE, 65535);
      const r = s.takeReinjection(max);
      if (!r) return;
      const sf = this.subflows.find((x) => x.id === target.id)!;
      const n = sf.writeData(r.start, s.slices(r.start, r.end - r.start), r.end - r.start, false, true);
      if (n < r.end - r.start) s.returnReinjection({ start: r.start + n, end: r.end });
      if (n === 0) {
        exclude.add(target.id);
        continue;
      }
      target.queued += n;
      target.queueRoom -= n;
    }
  }

  private scheduleNew(snaps: SubflowSnapshot[]): void {
    const s = this.send;
    for (let i = 0; i < 256; i++) {
      const ctx: SchedulerContext = {
        dataUna: s.una,
        dataNext: s.nxt,
        dataEnd: s.end,
        windowEnd: s.windowEnd,
        lastSubflowId: this.lastSubflowId,
        sentUpTo: this.sentUpTo,
      };
      const decisions = schedule(this.scheduler, snaps, ctx);
      if (decisions.length === 0) return;
      let progress = false;
      for (const d of decisions) {
        const sf = this.subflows.find((x) => x.id === d.subflowId)!;
        const length = Math.min(d.length, 65535);
        const fin = s.finQueued && d.offset + length === s.end;
        const n = sf.writeData(d.offset, s.slices(d.offset, length), length, fin, d.offset < s.nxt);
        if (n === 0) {
          const snap = snaps.find((x) => x.id === d.subflowId)!;
          snap.queueRoom = 0;
          continue;
        }
        progress = true;
        this.lastSubflowId = d.subflowId;
        const end = d.offset + n;
        this.sentUpTo.set(d.subflowId, Math.max(this.sentUpTo.get(d.subflowId) ?? 0, end));
        if (end > s.nxt) s.advance(end - s.nxt);
        const snap = snaps.find((x) => x.id === d.subflowId)!;
        snap.queued += n;
        snap.queueRoom = Math.max(0, snap.queueRoom - n);
        if (this.subflows.filter((x) => !x.closed).length > 1) this.infiniteFallbackAllowed = false;
      }
      if (!progress) return;
    }
  }

  /** Linux mptcp_retransmit_timer: no DATA_ACK progress for an RTO means data-level retransmission. */
  private armRetransmitTimer(now: number): void {
    const s = this.send;
    const outstanding = s.una < s.nxt || (s.finQueued && !s.finAcked && s.nxt === s.end);
    if (!outstanding) {
      this.rtxDeadline = undefined;
      this.rtxBackoff = 0;
      return;
    }
    if (this.rtxDeadline === undefined) this.rtxDeadline = now + this.dataRto() * 2 ** this.rtxBackoff;
  }

  /**
   * The data-level retransmission timeout: the largest RTO of the subflows that are making
   * progress. A subflow in RTO backoff (a dead path) is left out while another is healthy, as
   * Linux leaves stale subflows out of mptcp_set_timeout: its doubled RTO would push the
   * data-level retransmission, and so the reinjection of its data, ever further out.
   */
  private dataRto(): number {
    const largest = (list: readonly Subflow[]): number => {
      let rto = 0;
      for (const sf of list) if (sf.usable && sf.tcp) rto = Math.max(rto, sf.tcp.sender.rtt.rto);
      return rto;
    };
    return Math.max(largest(this.healthySubflows()) || largest(this.subflows), MIN_DATA_RTO_MS);
  }

  /** Subflows making progress: usable, not stale, no RTO since their last ACK progress. */
  private healthySubflows(): Subflow[] {
    return this.subflows.filter((sf) => sf.usable && !sf.stale && (sf.tcp?.sender.rtoCount ?? 0) === 0);
  }

  /**
   * A subflow in RTO backoff while others are healthy: its unacknowledged data goes on them
   * (reinject picks where), and after staleLossCount RTOs it is stale (Linux
   * mptcp_pm_subflow_chk_stale: no new data). Returns whether anything was queued.
   */
  private reinjectStalled(sf: Subflow, healthy: readonly Subflow[], now: number): boolean {
    if (sf.closed || !sf.tcp) return false;
    const rtos = sf.tcp.sender.rtoCount;
    if (rtos === 0 || healthy.length === 0 || healthy.includes(sf)) return false;
    if (rtos >= this.config.staleLossCount && !sf.stale) {
      sf.stale = true;
      this.events.record(now, { kind: 'subflow-stale', subflow: sf.id });
    }
    const s = this.send;
    const ranges = sf.unacknowledged.filter((r) => r.end > Math.max(s.una, sf.reinjectedUpTo));
    if (ranges.length === 0) return false;
    s.queueReinjection(ranges.map((r) => ({ start: Math.max(r.start, sf.reinjectedUpTo), end: r.end })));
    sf.reinjectedUpTo = Math.max(...ranges.map((r) => r.end));
    return true;
  }

  /**
   * A subflow's retransmission timer fired: with another subflow healthy, its data goes there
   * now rather than at the next data-level timeout, which may be a whole RTO later (RFC 8684
   * 3.3.6 lets any data be sent again on any subflow).
   */
  onSubflowTimeout(sf: Subflow, now: number): void {
    if (this.closed) return;
    if (this.reinjectStalled(sf, this.healthySubflows(), now)) this.markPending();
  }

  private onRetransmitTimer(now: number): void {
    this.rtxDeadline = undefined;
    const s = this.send;
    if (s.una >= s.nxt && !(s.finQueued && !s.finAcked)) return;
    this.counters.dataRetransmits++;
    this.infiniteFallbackAllowed = false;
    const healthy = this.healthySubflows();
    let queued = false;
    for (const sf of this.subflows) if (this.reinjectStalled(sf, healthy, now)) queued = true;
    if (!queued && s.una < s.nxt) {
      // Linux __mptcp_retrans: the first unacknowledged chunk again, on the best subflow.
      s.queueReinjection([{ start: s.una, end: Math.min(s.nxt, s.una + SEND_BURST_SIZE) }]);
    }
    if (s.finQueued && !s.finAcked && s.nxt === s.end) this.ackAll();
    this.rtxBackoff = Math.min(this.rtxBackoff + 1, 6);
    this.rtxDeadline = now + this.dataRto() * 2 ** this.rtxBackoff;
    this.markPending();
  }

  /** Recover from stale marks once a subflow makes progress again. */
  onSubflowProgress(sf: Subflow): void {
    if (sf.stale && (sf.tcp?.sender.rtoCount ?? 0) === 0) {
      sf.stale = false;
      this.events.record(this.now, { kind: 'subflow-recovered', subflow: sf.id });
    }
  }

  /** ACK now on every open subflow (DATA_FIN, its DATA_ACK). */
  private ackAll(): void {
    for (const sf of this.subflows) if (!sf.closed) sf.tcp?.sendAck();
  }

  private bestSubflow(): Subflow | undefined {
    let best: Subflow | undefined;
    for (const sf of this.subflows) {
      if (!sf.usable) continue;
      if (!best || (sf.tcp!.sender.rtt.srtt ?? Infinity) < (best.tcp!.sender.rtt.srtt ?? Infinity)) best = sf;
    }
    return best ?? this.subflows.find((s) => !s.closed && s.tcp !== undefined);
  }

  // ---- lifecycle -----------------------------------------------------------------------

  private canWrite(): boolean {
    if (this.send.finQueued) return false;
    const s = this.currentState;
    return s === 'SYN_SENT' || s === 'SYN_RECEIVED' || s === 'ESTABLISHED' || s === 'CLOSE_WAIT';
  }

  private setState(s: TcpState): void {
    this.currentState = s;
  }

  private finish(error: TcpError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.error = error;
    this.setState('CLOSED');
    this.rtxDeadline = undefined;
    this.events_ |= EV_CLOSE;
    this.events.record(this.now, { kind: 'closed', error: error?.code });
    this.owner.release(this);
    this.markPending();
  }

  private dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.events_ !== 0) {
        const ev = this.events_;
        this.events_ = 0;
        const h = this.handler;
        if (ev & EV_CONNECT) h.onConnect?.(this);
        if (ev & (EV_READABLE | EV_END)) this.deliverReadable(h);
        if (ev & EV_WRITABLE && !this.closed) h.onWritable?.(this);
        if (ev & EV_CLOSE) {
          if (this.readableLength > 0 || (this.recv?.finReached && !this.endEmitted)) this.deliverReadable(h);
          h.onClose?.(this, this.error);
        }
      }
    } finally {
      this.dispatching = false;
    }
  }

  private deliverReadable(h: MptcpConnectionHandler): void {
    const r = this.recv;
    if (!r) return;
    if (h.onData) {
      let consumed = 0;
      while (!this.paused) {
        const chunks = r.read(Infinity);
        if (chunks.length === 0) break;
        for (const c of chunks) {
          consumed += c.length;
          h.onData(this, c);
        }
      }
      if (consumed > 0) this.onConsumed();
    } else if (r.readable > 0) {
      h.onReadable?.(this);
    }
    if (r.finReached && r.readable === 0 && !this.endEmitted) {
      this.endEmitted = true;
      h.onEnd?.(this);
    }
  }

  // ---- stats helpers -------------------------------------------------------------------

  /** Data-level sequence state for stats. */
  dataState(): { una: number; nxt: number; end: number; windowEnd: number; dataAck: number; reinjectedBytes: number; pendingReinjection: number } {
    const s = this.send;
    return { una: s.una, nxt: s.nxt, end: s.end, windowEnd: s.windowEnd, dataAck: this.dataAckOffset, reinjectedBytes: s.reinjectedBytes, pendingReinjection: s.pendingReinjection };
  }

  /** Data-level receive: bytes not stored, by reason (undefined before any data arrived). */
  receiveStats(): Readonly<DataReassemblyStats> | undefined {
    return this.recv?.stats;
  }

  /** A subflow to the same peer address already exists (for the path manager's bookkeeping). */
  hasSubflow(local: IpAddress, remote: IpAddress): boolean {
    return this.subflows.some((s) => !s.closed && s.localAddress && s.remoteAddress && addressEquals(s.localAddress, local) && addressEquals(s.remoteAddress, remote) && familyOf(local) === familyOf(remote));
  }
}
