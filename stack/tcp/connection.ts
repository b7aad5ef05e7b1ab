// A TCP connection: the transmission control block and the state machine of RFC 9293
// (3.3.2 states, 3.5 handshake incl. simultaneous open, 3.6 close incl. simultaneous
// close and half-close, 3.10.7 segment arrival in the RFC's order), with RFC 5961 (blind
// RST/SYN/data protections, challenge ACKs), RFC 7323 (window scale, timestamps, PAWS),
// SACK (RFC 2018), keepalive (RFC 1122 4.2.3.6), ICMP errors (RFC 5927, RFC 1122 4.2.3.9,
// PMTU RFC 1191/8201) and the application API. The send and receive halves live in
// sender.ts and receiver.ts; segments leave through segment-writer.ts.
//
// Sans-I/O: `now` comes with every packet and timer; application calls (write, read, end)
// take no time argument, they mark output as pending and the owner's timer runs it at the
// next opportunity (TcpLayer reports it as due at once), so writes made in one tick leave
// as one super-segment.

import type { CongestionControlName, TcpConfig } from '../config.js';
import type { Host, IcmpErrorReport, SendResult } from '../ip/host.js';
import { icmpErrno, icmpErrorIsFatal } from '../ip/icmp-errors.js';
import { familyOf, type IpAddress, type IpFamily } from '../wire/address.js';
import { readU32, totalLength } from '../wire/bytes.js';
import { NOP_OPTION, SACK_PERMITTED_OPTION, TCP_MAX_OPTIONS_LENGTH, tcpOptionsLength, type SackBlock, type TcpOption } from '../wire/tcp-options.js';
import { TCP_ACK, TCP_ECE, TCP_FIN, TCP_MIN_HEADER_LENGTH, TCP_PSH, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import { createCongestionController } from './congestion/factory.js';
import type { TcpConnectionHandler } from './connection-options.js';
import type { TableEntry } from './connection-table.js';
import { TcpError } from './errors.js';
import { TcpEcn, type EcnCounters } from './ecn.js';
import type { IncomingVerdict, OutgoingKind, OutgoingSegment, TcpExtension } from './extension.js';
import { ipv6HeadersLength, type Ipv6HeaderHook } from './ipv6-hook.js';
import { TimestampState } from './paws.js';
import type { ReceivedSegment } from './received-segment.js';
import { TcpReceiver, type DataOutcome } from './receiver.js';
import type { SegmentWriter } from './segment-writer.js';
import type { PacketAllocator } from '../ip/packet-alloc.js';
import { TcpSender, type AckOutcome, type Transmission } from './sender.js';
import { inWindow, seqAdd, seqGeq, seqGt, seqLeq, seqLt, seqSub } from './seq.js';
import { acceptsData, canSend, type TcpState } from './state.js';
import type { TimerOwner } from './timer-heap.js';
import { chooseWindowScale } from './window.js';

/** What a connection needs from the layer that owns it. */
export interface ConnectionOwner {
  readonly host: Host;
  readonly config: TcpConfig;
  /** The latest time the layer has seen (for application calls, which carry none). */
  readonly now: number;
  /** The connection's deadline may have moved earlier. */
  schedule(conn: TcpConnection): void;
  /** The connection reached CLOSED: forget it. */
  release(conn: TcpConnection): void;
  /** RFC 5961 7: the host-wide challenge ACK budget. */
  challengeAckAllowed(now: number): boolean;
  /** A passively opened connection completed its handshake (for the listener's accept queue). */
  established(conn: TcpConnection): void;
  /** Builds and sends segments for every connection of the owner. */
  readonly writer: SegmentWriter;
  /** Where received payload is copied to (shared, so an idle connection holds no slab). */
  readonly allocator: PacketAllocator;
  /** Host-wide ECN counts (ecn.ts). */
  readonly counters: EcnCounters;
}

/** How a connection starts. */
export type ConnectionStart =
  | { kind: 'active' }
  /** Created by a listener for a SYN. */
  | { kind: 'passive'; syn: ReceivedSegment }
  /** Created by a listener for an ACK carrying a valid SYN cookie (syn-cookies.ts). */
  | { kind: 'cookie'; ack: ReceivedSegment; mss: number; windowScale: number | undefined; sackPermitted: boolean; ecn: boolean };

export interface ConnectionParams {
  localAddress: IpAddress;
  localPort: number;
  remoteAddress: IpAddress;
  remotePort: number;
  iss: number;
  /** Per-connection TSval offset (isn.ts timestampOffset). */
  tsOffset: number;
  noDelay: boolean;
  keepAliveInitialDelayMs: number | undefined;
  congestionControl: CongestionControlName;
  sendBufferBytes: number;
  receiveBufferBytes: number;
  extension: TcpExtension | undefined;
  /** IPv6 connections only (ipv6-hook.ts). */
  ipv6Hook: Ipv6HeaderHook | undefined;
}

export interface TcpConnectionStats {
  state: TcpState;
  srttMs: number | undefined;
  rttVarMs: number | undefined;
  minRttMs: number | undefined;
  rtoMs: number;
  cwnd: number;
  ssthresh: number;
  congestionControl: CongestionControlName;
  mss: number;
  peerMss: number;
  pathMtu: number;
  bytesInFlight: number;
  sendWindow: number;
  receiveWindow: number;
  receiveBuffer: number;
  bytesSent: number;
  /** First transmissions that went with the extension's continuation options (TcpExtension.continuation). */
  continuationBytes: number;
  bytesAcked: number;
  bytesReceived: number;
  segmentsSent: number;
  segmentsReceived: number;
  retransmittedBytes: number;
  timeouts: number;
  fastRecoveries: number;
  tailLossProbes: number;
  outOfOrderSegments: number;
  duplicateBytes: number;
  challengeAcks: number;
  sackEnabled: boolean;
  timestampsEnabled: boolean;
  sendScale: number;
  receiveScale: number;
  /** ECN agreed (RFC 3168), and its counts (ecn.ts). */
  ecn: boolean;
  ecnCeReceived: number;
  ecnEceReceived: number;
  ecnCwrSent: number;
  ecnCwndReductions: number;
}

// Events waiting for dispatch.
const EV_CONNECT = 1;
const EV_READABLE = 2;
const EV_END = 4;
const EV_WRITABLE = 8;
const EV_CLOSE = 16;

// RFC 9293 3.1: the IPv4 header without options, the IPv6 fixed header (no extension headers are sent).
const IP_HEADER = { 4: 20, 6: 40 } as const;
/** MSS option bytes per RFC 9293 3.7.1 exclude TCP options: timestamps cost this much of each segment. */
const TIMESTAMPS_SPACE = 12;
const MAX_SUPER_PAYLOAD = 65535 - 40 - 60;
const MAX_SACK_BLOCKS_POOL = 4;

export class TcpConnection implements TableEntry, TimerOwner {
  readonly localAddress: IpAddress;
  readonly localPort: number;
  readonly remoteAddress: IpAddress;
  readonly remotePort: number;
  readonly family: IpFamily;
  tableKey = 0;
  tableNext: TableEntry | undefined = undefined;
  heapDeadline = Infinity;
  /** Events go here; set it right after connect() / on accept. */
  handler: TcpConnectionHandler = {};
  readonly extension: TcpExtension | undefined;
  readonly ipv6Hook: Ipv6HeaderHook | undefined;
  /** Why the connection closed, when it failed. */
  error: TcpError | undefined = undefined;
  readonly iss: number;
  irs = 0;
  readonly sender: TcpSender;
  readonly ecn: TcpEcn;
  /** Exists once the peer's ISN is known (SYN received). */
  receiver: TcpReceiver | undefined = undefined;
  /** The connection was opened by a listener (return to LISTEN on RST in SYN_RECEIVED, RFC 9293 3.10.7.4). */
  readonly passive: boolean;
  private currentState: TcpState = 'CLOSED';
  private readonly config: TcpConfig;
  private readonly timestamps: TimestampState;
  private tsOk = false;
  private sackOk = false;
  /** Our window shift once agreed (RFC 7323 2.2), the one we offer before that. */
  private rcvScale: number;
  private wsOk = false;
  /** The MSS we announce: path MTU minus IP and TCP headers (RFC 9293 3.7.1). */
  private ourMss: number;
  private peerMss: number;
  private pathMtu: number;
  private readonly ipHeader: number;
  private readonly receiveBufferBytes: number;
  // Timers besides the sender's: handshake retransmission, TIME_WAIT, orphan FIN_WAIT_2.
  private stateDeadline: number | undefined = undefined;
  private handshakeRetries = 0;
  private handshakeSentAt: number | undefined = undefined;
  private keepAliveIdleMs: number | undefined;
  private keepAliveProbes = 0;
  private lastReceiveTime: number;
  private lastKeepAliveProbe = 0;
  /** Application calls made output or events pending: run them at the next timer visit. */
  private pending = false;
  private ackNow = false;
  /** sendAck() was called: a pure ACK goes out even if data segments carried the ACK. */
  private pureAckWanted = false;
  private lastAckSent = 0;
  private lastOutOfWindowAck = -Infinity;
  private events = 0;
  private dispatching = false;
  /** Inside input/onTimeout/icmpError processing. */
  private busy = false;
  private paused = false;
  /** close() was called: no more reads (data arriving now is answered with RST). */
  private orphaned = false;
  private endEmitted = false;
  private wantWritable = false;
  private closed = false;
  private resetOptions: readonly TcpOption[] | undefined = undefined;
  /** The last soft ICMP error since something got through (reported on timeout). */
  private softError: 'ENETUNREACH' | 'EHOSTUNREACH' | undefined = undefined;
  // Counters.
  private segmentsSent = 0;
  private segmentsReceived = 0;
  private bytesSent = 0;
  private continuationBytes = 0;
  private bytesAcked = 0;
  private challengeAcks = 0;

  constructor(
    private readonly owner: ConnectionOwner,
    p: ConnectionParams,
    start: ConnectionStart,
    now: number,
  ) {
    this.config = owner.config;
    const c = this.config;
    this.localAddress = p.localAddress;
    this.localPort = p.localPort;
    this.remoteAddress = p.remoteAddress;
    this.remotePort = p.remotePort;
    this.family = familyOf(p.remoteAddress);
    this.extension = p.extension;
    this.ipv6Hook = p.ipv6Hook;
    this.iss = p.iss;
    this.passive = start.kind !== 'active';
    this.ipHeader = IP_HEADER[this.family];
    this.pathMtu = owner.host.routeMtu(p.remoteAddress, p.localAddress) ?? (this.family === 4 ? 576 : 1280);
    this.ourMss = this.pathMtu - this.ipHeader - TCP_MIN_HEADER_LENGTH;
    this.peerMss = this.family === 4 ? c.defaultMssIpv4 : c.defaultMssIpv6;
    this.receiveBufferBytes = p.receiveBufferBytes;
    this.rcvScale = chooseWindowScale(Math.max(c.receiveBufferMaxBytes, p.receiveBufferBytes));
    this.timestamps = new TimestampState(p.tsOffset);
    this.keepAliveIdleMs = p.keepAliveInitialDelayMs;
    this.lastReceiveTime = now;
    const cc = p.extension?.congestionController?.(this.ourMss) ?? createCongestionController(p.congestionControl, this.ourMss, c);
    this.sender = new TcpSender(c, p.iss, this.ourMss, p.sendBufferBytes, cc);
    this.sender.nagle = !p.noDelay;
    this.ecn = new TcpEcn(c.ecn, owner.counters, this.sender);

    switch (start.kind) {
      case 'active':
        this.setState('SYN_SENT');
        this.sendSyn(now);
        break;
      case 'passive':
        this.acceptSyn(start.syn, now);
        break;
      case 'cookie':
        this.acceptCookie(start);
        break;
    }
    this.owner.schedule(this);
  }

  // ---- public API ------------------------------------------------------------------------

  get state(): TcpState {
    return this.currentState;
  }

  /** Bytes write() would take now. */
  get writableLength(): number {
    return canSend(this.currentState) && !this.sender.finQueued ? this.sender.buffer.room : 0;
  }

  /** Bytes waiting in read(). */
  get readableLength(): number {
    return this.receiver?.queuedBytes ?? 0;
  }

  /**
   * Queues application bytes; returns how many were taken (the rest did not fit in the
   * send buffer: keep it and write again after onWritable). Throws EPIPE after end().
   * Written arrays are kept by reference until acknowledged: do not modify them.
   */
  write(data: Uint8Array): number {
    return this.writeTagged(data, undefined);
  }

  /**
   * write() with a tag that every transmission of these bytes reports to the extension
   * (extension.ts); `data` may come in several arrays, kept by reference as one write.
   */
  writeMapped(data: Uint8Array | readonly Uint8Array[], tag: number): number {
    return this.writeTagged(data, tag);
  }

  /** Half-close: a FIN follows the data written so far (RFC 9293 3.10.4 CLOSE). */
  end(): void {
    switch (this.currentState) {
      case 'SYN_SENT':
      case 'SYN_RECEIVED':
      case 'ESTABLISHED':
        this.sender.queueFin();
        if (this.currentState === 'ESTABLISHED') this.setState('FIN_WAIT_1');
        break;
      case 'CLOSE_WAIT':
        this.sender.queueFin();
        this.setState('LAST_ACK');
        break;
      default:
        return;
    }
    this.markPending();
  }

  /**
   * Full close: end(), and this side will read no more. Unread data, or data arriving
   * later, makes it a reset instead (RFC 2525 2.17, as Linux does).
   */
  close(): void {
    if (this.closed) return;
    this.orphaned = true;
    if (this.readableLength > 0) {
      this.destroy();
      return;
    }
    this.receiver?.discard();
    this.end();
  }

  /**
   * Abort (RFC 9293 3.10.4 ABORT): a RST to the peer in the synchronized states, and the
   * connection is gone at once; `error` is reported through onClose. `resetOptions`: options
   * for that RST (an extension's MP_TCPRST).
   */
  destroy(error?: TcpError, opts?: { resetOptions?: readonly TcpOption[] }): void {
    if (this.closed) return;
    const s = this.currentState;
    if (s === 'SYN_RECEIVED' || s === 'ESTABLISHED' || s === 'FIN_WAIT_1' || s === 'FIN_WAIT_2' || s === 'CLOSE_WAIT') {
      this.resetOptions = opts?.resetOptions;
      this.sendReset(this.owner.now, this.sender.nxt);
    }
    this.finish(error);
    this.dispatch(this.owner.now);
  }

  /**
   * The next chunk of received data (at most `max` bytes), or undefined when none is
   * waiting. Reading opens the receive window.
   */
  read(max = Infinity): Uint8Array | undefined {
    const r = this.receiver;
    if (r === undefined) return undefined;
    const chunk = r.read(max);
    if (chunk === undefined) {
      if (r.finReceived && !this.endEmitted) {
        this.events |= EV_END;
        this.markPending();
      }
      return undefined;
    }
    if (r.onConsumed(this.owner.now, chunk.length)) {
      this.ackNow = true;
      this.markPending();
    }
    return chunk;
  }

  /** Stop onData delivery: data stays queued and the window closes as it fills. */
  pause(): void {
    this.paused = true;
  }

  /** Resume onData delivery. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.readableLength > 0) this.events |= EV_READABLE;
    this.markPending();
  }

  /** Nagle's algorithm off (true) or on (RFC 1122 4.2.3.4). */
  setNoDelay(noDelay = true): void {
    this.sender.nagle = !noDelay;
    if (noDelay) this.markPending();
  }

  /** Keepalive (RFC 1122 4.2.3.6) after `initialDelayMs` idle (tcp.keepAliveIdleMs when 0 or absent). */
  setKeepAlive(enable: boolean, initialDelayMs?: number): void {
    this.keepAliveIdleMs = enable ? initialDelayMs || this.config.keepAliveIdleMs : undefined;
    this.keepAliveProbes = 0;
    this.owner.schedule(this);
  }

  /**
   * Send an ACK-only segment at the next opportunity (extension.ts: DATA_ACK, ADD_ADDR), even
   * when data segments leave first: an extension's signal may need the room only a pure ACK
   * has (Linux mptcp_pm_send_ack calls tcp_send_ack).
   */
  sendAck(): void {
    this.ackNow = true;
    this.pureAckWanted = true;
    this.markPending();
  }

  stats(): TcpConnectionStats {
    const s = this.sender;
    const r = this.receiver;
    const minRtt = s.rtt.minRtt.value;
    return {
      state: this.currentState,
      srttMs: s.rtt.srtt,
      rttVarMs: s.rtt.rttvar,
      minRttMs: minRtt === Infinity ? undefined : minRtt,
      rtoMs: s.rtt.rto,
      cwnd: s.cc.cwnd,
      ssthresh: s.cc.ssthresh,
      congestionControl: s.cc.name,
      mss: s.mss,
      peerMss: this.peerMss,
      pathMtu: this.pathMtu,
      bytesInFlight: s.pipe(),
      sendWindow: s.wnd,
      receiveWindow: r?.wnd ?? 0,
      receiveBuffer: r?.bufferSize ?? this.receiveBufferBytes,
      bytesSent: this.bytesSent,
      continuationBytes: this.continuationBytes,
      bytesAcked: this.bytesAcked,
      bytesReceived: r?.bytesReceived ?? 0,
      segmentsSent: this.segmentsSent,
      segmentsReceived: this.segmentsReceived,
      retransmittedBytes: s.retransmittedBytes,
      timeouts: s.timeouts,
      fastRecoveries: s.fastRecoveries,
      tailLossProbes: s.tailLossProbes,
      outOfOrderSegments: r?.outOfOrderSegments ?? 0,
      duplicateBytes: r?.duplicateBytes ?? 0,
      challengeAcks: this.challengeAcks,
      sackEnabled: this.sackOk,
      timestampsEnabled: this.tsOk,
      sendScale: s.scale,
      receiveScale: this.wsOk ? this.rcvScale : 0,
      ecn: this.ecn.ok,
      ecnCeReceived: this.ecn.ceReceived,
      ecnEceReceived: this.ecn.eceReceived,
      ecnCwrSent: this.ecn.cwrSent,
      ecnCwndReductions: this.ecn.cwndReductions,
    };
  }

  // ---- owner side ------------------------------------------------------------------------

  /** The earliest time this connection needs a visit (onTimeout). */
  get deadline(): number | undefined {
    if (this.closed) return this.events !== 0 ? this.owner.now : undefined;
    if (this.pending) return this.owner.now;
    let d = this.stateDeadline;
    const s = this.sender.deadline;
    if (s !== undefined && (d === undefined || s < d)) d = s;
    const a = this.receiver?.delayedAck.deadline;
    if (a !== undefined && (d === undefined || a < d)) d = a;
    const k = this.keepAliveDeadline();
    if (k !== undefined && (d === undefined || k < d)) d = k;
    return d;
  }

  /**
   * RFC 9293 3.10.7.4 / RFC 6191 (Linux tcp_timewait_state_process): a new SYN for a
   * connection in TIME_WAIT may start a new incarnation when its sequence number (or
   * timestamp) is beyond the old one's. Then this connection goes away at once and the
   * caller hands the SYN to the listener.
   */
  recycleForSyn(seg: ReceivedSegment, now: number): boolean {
    if (this.currentState !== 'TIME_WAIT' || (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN) return false;
    const newer = this.tsOk && seg.hasTimestamps ? !this.timestamps.isPawsReject(now, seg.tsVal, false) && seg.tsVal !== this.timestamps.tsRecent : seqGt(seg.seq, this.receiver!.nxt);
    if (!newer) return false;
    this.finish(undefined);
    this.afterEvent(now);
    return true;
  }

  /** A segment for this connection arrived (the layer matched the 4-tuple). */
  input(seg: ReceivedSegment, now: number): void {
    if (this.closed) return;
    this.segmentsReceived++;
    this.lastReceiveTime = now;
    this.keepAliveProbes = 0;
    if (this.currentState === 'SYN_SENT') this.synSentInput(seg, now);
    else this.synchronizedInput(seg, now);
    this.afterEvent(now);
  }

  /** Timers due at `now` (and pending application work). */
  onTimeout(now: number): void {
    if (!this.closed) {
      this.pending = false;
      this.runTimers(now);
    }
    this.afterEvent(now);
  }

  /** An ICMP error about a segment of ours (the layer matched the quoted ports). */
  icmpError(e: IcmpErrorReport, now: number): void {
    if (this.closed) return;
    const h = e.original.l4Header;
    // RFC 5927 4.1 / RFC 9293 3.10.7: only errors quoting a sequence number in flight are believed.
    if (h.length >= 8) {
      const seq = readU32(h, 4);
      const inFlight = this.currentState === 'SYN_SENT' || this.currentState === 'SYN_RECEIVED'
        ? seq === this.iss
        : seqGeq(seq, this.sender.una) && seqLt(seq, this.sender.nxt);
      if (!inFlight) return;
    }
    if (e.kind === 'packetTooBig') {
      if (e.mtu !== undefined && e.mtu < this.pathMtu) this.onPathMtu(e.mtu);
    } else if (icmpErrorIsFatal(e) && (this.currentState === 'SYN_SENT' || this.currentState === 'SYN_RECEIVED')) {
      // RFC 1122 4.2.3.9 / RFC 5927 4.2: hard errors abort only a connection being opened.
      const code = icmpErrno(e);
      this.finish(new TcpError(code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'EHOSTUNREACH', `ICMP ${e.kind} code ${e.code} from the network`));
    } else {
      // A soft error: remembered, and reported instead of ETIMEDOUT if the connection times
      // out before anything gets through (Linux sk_err_soft, RFC 1122 4.2.3.9).
      const code = icmpErrno(e);
      this.softError = code === 'ENETUNREACH' || code === 'EHOSTUNREACH' ? code : undefined;
    }
    this.afterEvent(now);
  }

  // ---- segment arrival: SYN_SENT (RFC 9293 3.10.7.3) -------------------------------------

  private synSentInput(seg: ReceivedSegment, now: number): void {
    const f = seg.flags;
    const hasAck = (f & TCP_ACK) !== 0;
    // First: an ACK must acknowledge our SYN exactly (ISS < SEG.ACK <= SND.NXT).
    if (hasAck && (seqLeq(seg.ack, this.iss) || seqGt(seg.ack, this.sender.nxt))) {
      if (!(f & TCP_RST)) this.sendReset(now, seg.ack);
      return;
    }
    // Second: a RST is believed only with an acceptable ACK (RFC 5961 3.2 keeps this rule).
    if (f & TCP_RST) {
      if (hasAck) {
        this.extension?.onReset?.(seg);
        this.finish(new TcpError('ECONNREFUSED', `connection refused by ${this.peerName()}`));
      }
      return;
    }
    // Fourth: the SYN.
    if (!(f & TCP_SYN)) return;
    if (this.extension?.incomingSegment && this.consult(seg, now) !== 'accept') return;
    this.irs = seg.seq;
    this.negotiate(seg);
    this.receiver = this.newReceiver(seg.seq);
    this.applyWindow(seg);
    if (this.tsOk) this.timestamps.update(now, seg.tsVal, seg.seq, seg.seq);
    if (hasAck) {
      this.sender.una = seg.ack;
      this.rttFromHandshake(seg, now);
      this.establish(now);
      this.events |= EV_CONNECT;
      this.sendPureAck(now, 'handshake-ack');
      // Data or a FIN on the SYN-ACK: RFC 9293 3.10.7.3 continues at the sixth step.
      if (seg.payload.length > 0 || seg.flags & TCP_FIN) this.processText(seg, seqAdd(seg.seq, 1), seg.payload, now);
    } else {
      // Simultaneous open (RFC 9293 3.5 figure 8): answer with our SYN again, now SYN-ACK.
      this.setState('SYN_RECEIVED');
      this.handshakeRetries = 0;
      this.sendSynAck(now);
    }
  }

  // ---- segment arrival: synchronized states (RFC 9293 3.10.7.4) ---------------------------

  private synchronizedInput(seg: ReceivedSegment, now: number): void {
    const r = this.receiver!;
    let f = seg.flags;
    const state = this.currentState;
    // A retransmitted SYN in SYN_RECEIVED: our SYN-ACK was lost (Linux tcp_check_req).
    if (state === 'SYN_RECEIVED' && (f & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN && seg.seq === this.irs) {
      this.sendSynAck(now);
      return;
    }
    // The SYN-ACK of a simultaneous open (Linux tcp_validate_incoming's exception).
    if (
      state === 'SYN_RECEIVED' && !this.passive && (f & (TCP_SYN | TCP_ACK | TCP_RST)) === (TCP_SYN | TCP_ACK) &&
      seqAdd(seg.seq, 1) === r.nxt && seg.ack === this.sender.nxt
    ) {
      f &= ~TCP_SYN;
    }
    const isRst = (f & TCP_RST) !== 0;
    // Where the text starts: after the SYN when the SYN was consumed above.
    const seq = (seg.flags & TCP_SYN) !== 0 && (f & TCP_SYN) === 0 ? seqAdd(seg.seq, 1) : seg.seq;
    let payload = seg.payload;

    // RFC 7323 5.3: PAWS comes before the sequence check.
    if (this.tsOk && seg.hasTimestamps && this.timestamps.isPawsReject(now, seg.tsVal, isRst)) {
      this.outOfWindowAck(now);
      return;
    }
    // First: sequence number acceptability.
    const segLen = payload.length + (f & TCP_SYN ? 1 : 0) + (f & TCP_FIN ? 1 : 0);
    const wnd = r.wnd;
    if (!this.acceptable(seq, segLen, wnd)) {
      // RFC 9293 3.10.7.4: answer with an ACK (unless RST); TIME_WAIT re-acks a retransmitted FIN.
      if (isRst) return;
      if (state === 'TIME_WAIT' && f & TCP_FIN) this.restartTimeWait(now);
      if (payload.length > 0 && seqLt(seq, r.nxt) && acceptsData(state)) {
        // Old data, a spurious retransmission: ACK at once with a D-SACK (RFC 2883 4.1).
        r.onData(now, seq, payload, false, this.sender.rtt.srtt, DATA_OUTCOME);
        this.sendPureAck(now, 'segment');
        return;
      }
      // Linux tcp_oow_rate_limited: only segments without data are paced (no ACK loops).
      if (payload.length > 0) this.sendPureAck(now, 'segment');
      else this.outOfWindowAck(now);
      return;
    }
    // Trim to the window (RFC 9293 3.10.7.4: segments are processed as if only the part in
    // the window had arrived); data below RCV.NXT stays for D-SACK reporting.
    const windowEnd = seqAdd(r.nxt, Math.max(wnd, 0));
    let fin = (f & TCP_FIN) !== 0;
    const payloadEnd = seqAdd(seq, payload.length);
    if (seqGt(payloadEnd, windowEnd)) {
      payload = payload.subarray(0, Math.max(seqSub(windowEnd, seq), 0));
      fin = false; // the FIN lies beyond the window
      // The sender overran the window (or probes a zero one): tell it where the edge is now.
      this.ackNow = true;
    }

    // Second: RST (RFC 5961 3.2: only an exact RCV.NXT match resets; in window -> challenge ACK).
    if (isRst) {
      if (seg.seq !== r.nxt) {
        this.challengeAck(now);
        return;
      }
      this.extension?.onReset?.(seg);
      this.onReset();
      return;
    }
    // Fourth: SYN in a synchronized state (RFC 5961 4.2: challenge ACK; RFC 9293 3.10.7.4).
    if (f & TCP_SYN) {
      if (state === 'SYN_RECEIVED' && this.passive) {
        // A passive open returns to LISTEN: this embryonic connection just goes away.
        this.finish(undefined);
        return;
      }
      this.challengeAck(now);
      return;
    }
    if (this.extension?.incomingSegment && this.consult(seg, now) !== 'accept') return;

    // Fifth: the ACK field.
    if (!(f & TCP_ACK)) return;
    const s = this.sender;
    if (state === 'SYN_RECEIVED') {
      if (!(seqGt(seg.ack, s.una) && seqLeq(seg.ack, s.nxt))) {
        this.sendReset(now, seg.ack);
        return;
      }
      s.una = seg.ack;
      this.rttFromHandshake(seg, now);
      this.establish(now);
      this.applyWindow(seg);
      s.wl1 = seg.seq;
      s.wl2 = seg.ack;
      // An accepted connection is announced by its listener, which hands it to the application.
      if (this.passive) this.owner.established(this);
      else this.events |= EV_CONNECT;
      // Data queued before establishment (and a FIN) may go now.
      this.pending = true;
    } else {
      // RFC 5961 5.2: SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT, else challenge ACK.
      if (seqGt(seg.ack, s.nxt) || seqLt(seg.ack, seqAdd(s.una, -Math.max(s.maxWnd, 1)))) {
        this.challengeAck(now);
        return;
      }
      if (seqGeq(seg.ack, s.una)) this.processAck(seg, seq, payload.length === 0 && !fin, now);
    }
    if (this.closed) return;
    if (this.tsOk && seg.hasTimestamps) this.timestamps.update(now, seg.tsVal, seq, this.lastAckSent);

    // Sixth: URG is not supported (RFC 6093: urgent data is delivered inline, unmarked).
    // Seventh and eighth: text and FIN.
    if (payload.length > 0 || fin) this.processText(seg, seq, payload, now, fin);
  }

  /** RFC 9293 3.10.7.4 first check: the four cases of segment length and window. */
  private acceptable(seq: number, len: number, wnd: number): boolean {
    const nxt = this.receiver!.nxt;
    if (len === 0) return wnd === 0 ? seq === nxt : inWindow(seq, nxt, wnd);
    // A zero window still takes the segment at RCV.NXT for its ACK (RFC 9293: "special
    // allowance ... to accept valid ACKs"); its text is trimmed away.
    if (wnd === 0) return seq === nxt;
    return inWindow(seq, nxt, wnd) || inWindow(seqAdd(seq, len - 1), nxt, wnd) || (seqLt(seq, nxt) && seqGt(seqAdd(seq, len), nxt));
  }

  private processAck(seg: ReceivedSegment, seq: number, isPureAck: boolean, now: number): void {
    const s = this.sender;
    let echoRtt: number | undefined;
    let echoSendTime: number | undefined;
    if (this.tsOk && seg.hasTimestamps && seg.tsEcr !== 0) {
      echoRtt = this.timestamps.rttFromEcho(now, seg.tsEcr);
      if (echoRtt !== undefined) echoSendTime = this.timestamps.sendTimeOf(now, seg.tsEcr);
    }
    const out = ACK_OUTCOME;
    const blocks = this.sackOk ? seg.sackBlocks : NO_BLOCKS;
    this.softError = undefined;
    s.onAck(now, seq, seg.ack, seg.window, blocks, echoRtt, echoSendTime, isPureAck && (seg.flags & (TCP_SYN | TCP_FIN)) === 0, out);
    if (seg.flags & TCP_ECE) this.ecn.onEcho(now);
    if (out.advanced) this.bytesAcked += out.dataAcked;
    if (out.dataAcked > 0 && this.wantWritable && s.buffer.room >= Math.min(65536, s.buffer.limit / 2)) {
      this.wantWritable = false;
      this.events |= EV_WRITABLE;
    }
    // Something may be sendable now (window opened, cwnd grew, losses marked).
    this.pending = true;
    if (!out.finAcked) return;
    switch (this.currentState) {
      case 'FIN_WAIT_1':
        this.setState('FIN_WAIT_2');
        if (this.orphaned) this.stateDeadline = now + this.config.finWait2TimeoutMs;
        break;
      case 'CLOSING':
        this.enterTimeWait(now);
        break;
      case 'LAST_ACK':
        this.finish(undefined);
        break;
      default:
        break;
    }
  }

  /** Seventh (text) and eighth (FIN) steps. `seq` is where `payload` starts. */
  private processText(seg: ReceivedSegment, seq: number, payload: Uint8Array, now: number, fin = (seg.flags & TCP_FIN) !== 0): void {
    const r = this.receiver!;
    if (payload.length > 0) {
      if (!acceptsData(this.currentState)) {
        // After the peer's FIN, no new data can be valid; the FIN is acked again.
        this.ackNow = true;
      } else if (this.orphaned && seqGt(seqAdd(seq, payload.length), r.nxt)) {
        // Linux tcp_rcv_state_process: new data after close() resets the connection.
        this.sendReset(now, this.sender.nxt);
        this.finish(new TcpError('ECONNRESET', 'data arrived after close()'));
        return;
      } else {
        const out = DATA_OUTCOME;
        this.ecn.onData(seg, r.delayedAck);
        r.onData(now, seq, payload, (seg.flags & TCP_PSH) !== 0, this.sender.rtt.srtt, out, seg.owned);
        if (out.ackNow) this.ackNow = true;
        if (out.delivered > 0 && !this.extension?.onPayload) this.events |= EV_READABLE;
      }
    }
    let finNow = false;
    if (fin) {
      if (acceptsData(this.currentState)) finNow = r.onFin(seqAdd(seq, payload.length));
      else if (this.currentState === 'TIME_WAIT') this.restartTimeWait(now);
      // A FIN out of order, or again after ours: ACK at once (RFC 5681 4.2).
      this.ackNow = true;
    }
    // A FIN that arrived early is taken once the data before it is in.
    if (!finNow && acceptsData(this.currentState)) finNow = r.takeFinIfInOrder();
    if (finNow) this.onFinReceived(now);
  }

  /** RFC 9293 3.10.7.4 eighth step: RCV.NXT passed the FIN. */
  private onFinReceived(now: number): void {
    this.ackNow = true;
    this.events |= EV_END;
    switch (this.currentState) {
      case 'SYN_RECEIVED':
      case 'ESTABLISHED':
        this.setState('CLOSE_WAIT');
        break;
      case 'FIN_WAIT_1':
        // Simultaneous close (RFC 9293 3.6 figure 13) unless our FIN is acked already.
        if (this.sender.finAcked) this.enterTimeWait(now);
        else this.setState('CLOSING');
        break;
      case 'FIN_WAIT_2':
        this.enterTimeWait(now);
        break;
      default:
        break;
    }
  }

  /** RFC 9293 3.10.7.4 second check, RST in order: the connection is reset. */
  private onReset(): void {
    const s = this.currentState;
    if (s === 'SYN_RECEIVED') {
      // Passive: back to LISTEN (the embryo goes); active (simultaneous open): refused.
      this.finish(this.passive ? undefined : new TcpError('ECONNREFUSED', `connection refused by ${this.peerName()}`));
      return;
    }
    if (s === 'CLOSING' || s === 'LAST_ACK' || s === 'TIME_WAIT') {
      this.finish(undefined);
      return;
    }
    this.finish(new TcpError('ECONNRESET', `connection reset by ${this.peerName()}`));
  }

  /** An extension's verdict on a segment; a 'reset' aborts here. */
  private consult(seg: ReceivedSegment, now: number): IncomingVerdict {
    const verdict = this.extension!.incomingSegment!(seg, this.currentState);
    if (verdict === 'reset') {
      this.resetOptions = this.extension!.resetOptions?.();
      if (this.currentState === 'SYN_SENT') {
        if (seg.flags & TCP_ACK) this.sendReset(now, seg.ack);
      } else {
        this.sendReset(now, this.sender.nxt);
      }
      this.finish(new TcpError('ECONNABORTED', 'reset by the connection extension'));
    }
    return verdict;
  }

  // ---- handshake ---------------------------------------------------------------------------

  /** A listener's SYN (RFC 9293 3.10.7.2): SYN_RECEIVED, answer SYN-ACK. */
  private acceptSyn(syn: ReceivedSegment, now: number): void {
    this.irs = syn.seq;
    this.negotiate(syn);
    this.receiver = this.newReceiver(syn.seq);
    this.applyWindow(syn);
    this.sender.wl1 = syn.seq;
    this.sender.wl2 = this.iss;
    // RFC 7323 4.3: TS.Recent starts with the SYN's TSval.
    if (this.tsOk) this.timestamps.update(now, syn.tsVal, syn.seq, syn.seq);
    this.setState('SYN_RECEIVED');
    this.sendSynAck(now);
  }

  /** A valid SYN cookie came back: ESTABLISHED from the ACK, with what the cookie kept. */
  private acceptCookie(start: Extract<ConnectionStart, { kind: 'cookie' }>): void {
    const ack = start.ack;
    const c = this.config;
    this.irs = seqAdd(ack.seq, -1);
    this.peerMss = start.mss;
    this.sackOk = c.sack && start.sackPermitted;
    this.ecn.fromCookie(start.ecn);
    this.tsOk = c.timestamps && ack.hasTimestamps;
    this.wsOk = c.windowScaling && start.windowScale !== undefined;
    this.sender.scale = this.wsOk ? start.windowScale! : 0;
    if (!this.wsOk) this.rcvScale = 0;
    this.updateMss();
    this.receiver = this.newReceiver(this.irs);
    this.lastAckSent = seqAdd(this.irs, 1);
    this.setState('SYN_RECEIVED');
    // The cookie SYN-ACK offered the unscaled minimum of buffer and 65535, as this does; the
    // owner then feeds the ACK through input() like any segment in SYN_RECEIVED.
    this.receiver.windowField();
  }

  private negotiate(syn: ReceivedSegment): void {
    const c = this.config;
    if (syn.mss >= 0) this.peerMss = Math.max(syn.mss, c.minMss);
    this.sackOk = c.sack && syn.sackPermitted;
    this.ecn.onHandshake(syn.flags, this.passive);
    this.tsOk = c.timestamps && syn.hasTimestamps;
    // RFC 7323 2.2-2.3: scaling only when both sides sent the option; shifts above 14 are 14.
    this.wsOk = c.windowScaling && syn.windowScale >= 0;
    this.sender.scale = this.wsOk ? Math.min(syn.windowScale, 14) : 0;
    if (!this.wsOk) this.rcvScale = 0;
    this.updateMss();
  }

  private newReceiver(irs: number): TcpReceiver {
    return new TcpReceiver(this.config, irs, this.ourMss, this.receiveBufferBytes, this.extension, this.owner.allocator);
  }

  private applyWindow(seg: ReceivedSegment): void {
    // RFC 7323 2.2: the window of a SYN or SYN-ACK is never scaled.
    const s = this.sender;
    const wnd = seg.flags & TCP_SYN ? seg.window : seg.window * 2 ** s.scale;
    s.wnd = wnd;
    if (wnd > s.maxWnd) s.maxWnd = wnd;
    s.wl1 = seg.seq;
    s.wl2 = seg.ack;
  }

  private rttFromHandshake(seg: ReceivedSegment, now: number): void {
    // RFC 6298 2.1/3: a SYN sent once gives a valid sample; else the timestamp echo does.
    if (this.handshakeRetries === 0 && this.handshakeSentAt !== undefined) this.sender.rtt.sample(now, now - this.handshakeSentAt);
    else if (this.tsOk && seg.hasTimestamps && seg.tsEcr !== 0) {
      const rtt = this.timestamps.rttFromEcho(now, seg.tsEcr);
      if (rtt !== undefined) this.sender.rtt.sample(now, rtt);
    }
  }

  private establish(now: number): void {
    const s = this.sender;
    s.establish(s.una, this.sackOk);
    this.receiver!.window.scale = this.wsOk ? this.rcvScale : 0;
    this.stateDeadline = undefined;
    this.setState(s.finQueued ? 'FIN_WAIT_1' : 'ESTABLISHED');
    this.lastReceiveTime = now;
  }

  private sendSyn(now: number): void {
    this.handshakeSentAt = now;
    this.emit(now, 'syn', this.iss, TCP_SYN, 0, this.handshakeRetries > 0);
    this.stateDeadline = now + this.sender.rtt.rto;
  }

  private sendSynAck(now: number): void {
    this.handshakeSentAt = now;
    this.emit(now, 'syn-ack', this.iss, TCP_SYN | TCP_ACK, 0, this.handshakeRetries > 0);
    this.stateDeadline = now + this.sender.rtt.rto;
  }

  // ---- timers ------------------------------------------------------------------------------

  private runTimers(now: number): void {
    const state = this.currentState;
    if (this.stateDeadline !== undefined && this.stateDeadline <= now) {
      this.stateDeadline = undefined;
      this.onStateTimer(state, now);
      if (this.closed) return;
    }
    const s = this.sender;
    const maxPayload = this.maxPayload();
    if (s.rackDeadline !== undefined && s.rackDeadline <= now) s.onRackTimeout(now);
    if (s.ptoDeadline !== undefined && s.ptoDeadline <= now) {
      const probe = s.onPtoTimeout(now, maxPayload);
      if (probe) this.transmit(now, probe);
    }
    if (s.rtoDeadline !== undefined && s.rtoDeadline <= now) {
      if (!s.onRtoTimeout(now, this.config.retries2)) {
        this.finish(this.timedOut(`no acknowledgment from ${this.peerName()} after ${this.config.retries2} retransmissions`));
        return;
      }
      // RFC 6298 5.7 applies to path changes; Linux refreshes the route's MTU here too.
      this.refreshPathMtu();
      this.extension?.onRetransmissionTimeout?.(now);
    }
    if (s.persistDeadline !== undefined && s.persistDeadline <= now) {
      if (!s.onPersistTimeout(this.config.retries2)) {
        this.finish(new TcpError('ETIMEDOUT', `zero-window probes to ${this.peerName()} unanswered`));
        return;
      }
      this.sendProbe(now);
    }
    const delack = this.receiver?.delayedAck;
    if (delack?.deadline !== undefined && delack.deadline <= now && delack.onTimeout(now)) this.ackNow = true;
    const k = this.keepAliveDeadline();
    if (k !== undefined && k <= now) this.onKeepAlive(now);
  }

  private onStateTimer(state: TcpState, now: number): void {
    switch (state) {
      case 'SYN_SENT':
        if (++this.handshakeRetries > this.config.synRetries) {
          this.finish(this.timedOut(`no answer from ${this.peerName()} to ${this.config.synRetries + 1} SYNs`));
          return;
        }
        this.sender.rtt.backoff();
        this.sendSyn(now);
        return;
      case 'SYN_RECEIVED':
        if (++this.handshakeRetries > this.config.synAckRetries) {
          this.finish(this.passive ? undefined : new TcpError('ETIMEDOUT', `handshake with ${this.peerName()} timed out`));
          return;
        }
        this.sender.rtt.backoff();
        this.sendSynAck(now);
        return;
      case 'TIME_WAIT':
        this.finish(undefined);
        return;
      case 'FIN_WAIT_2':
        // Linux tcp_fin_timeout for orphans: the peer never closed.
        this.sendReset(now, this.sender.nxt);
        this.finish(undefined);
        return;
      default:
        return;
    }
  }

  private keepAliveDeadline(): number | undefined {
    if (this.keepAliveIdleMs === undefined || (this.currentState !== 'ESTABLISHED' && this.currentState !== 'CLOSE_WAIT')) return undefined;
    // RFC 1122 4.2.3.6: probes only on an idle connection (nothing in flight or queued).
    if (this.sender.outstanding > 0 || this.sender.unsent > 0) return undefined;
    return this.keepAliveProbes === 0 ? this.lastReceiveTime + this.keepAliveIdleMs : this.lastKeepAliveProbe + this.config.keepAliveIntervalMs;
  }

  private onKeepAlive(now: number): void {
    if (this.keepAliveProbes >= this.config.keepAliveProbes) {
      this.sendReset(now, this.sender.nxt);
      this.finish(new TcpError('ETIMEDOUT', `${this.peerName()} did not answer ${this.keepAliveProbes} keepalive probes`));
      return;
    }
    this.keepAliveProbes++;
    this.lastKeepAliveProbe = now;
    this.sendProbe(now);
  }

  /**
   * Zero-window and keepalive probe (Linux tcp_xmit_probe_skb): an old sequence number
   * (SND.UNA - 1) with no data, which any live peer answers with an ACK showing its window.
   */
  private sendProbe(now: number): void {
    this.emit(now, 'segment', seqAdd(this.sender.una, -1), TCP_ACK, 0, false);
  }

  private enterTimeWait(now: number): void {
    this.setState('TIME_WAIT');
    this.restartTimeWait(now);
    const s = this.sender;
    s.rtoDeadline = s.ptoDeadline = s.rackDeadline = s.persistDeadline = undefined;
  }

  private restartTimeWait(now: number): void {
    this.stateDeadline = now + this.config.timeWaitMs;
  }

  // ---- output ------------------------------------------------------------------------------

  /** After a packet, a timer or an application call: send, dispatch events, reschedule. */
  private afterEvent(now: number): void {
    this.busy = true;
    try {
      // Events first: data the application consumes now is not announced as a closed
      // window, and what handlers do in reaction (write, read, end) goes out in this pass.
      for (let round = 0; round < 8; round++) {
        if (this.events !== 0) this.dispatch(now);
        if (this.closed) break;
        this.output(now);
        if (this.events === 0) break;
      }
    } finally {
      this.busy = false;
    }
    this.owner.schedule(this);
  }

  private output(now: number): void {
    const state = this.currentState;
    const s = this.sender;
    if (state === 'ESTABLISHED' || state === 'CLOSE_WAIT' || state === 'FIN_WAIT_1' || state === 'CLOSING' || state === 'LAST_ACK') {
      // The hook's headers (names) shrink the MSS only while they are sent.
      if (this.ipv6Hook !== undefined) this.updateMss();
      const maxPayload = this.maxPayload();
      for (let i = 0; i < 1024; i++) {
        const tx = s.next(now, maxPayload);
        if (tx === undefined || !this.transmit(now, tx)) break;
      }
      s.updatePersist(now);
    }
    if ((this.ackNow || this.pureAckWanted) && this.receiver !== undefined && state !== 'SYN_SENT' && state !== 'CLOSED' && state !== 'SYN_RECEIVED') {
      this.pureAckWanted = false;
      this.sendPureAck(now, 'segment');
    }
    this.pending = false;
  }

  private maxPayload(): number {
    // While the hook's headers ride (the names: N packets, thesis 2.4), one wire segment per send.
    return this.config.gso && !this.ipv6Hook?.ipv6Overhead ? MAX_SUPER_PAYLOAD : this.sender.mss;
  }

  /** Sends `tx`; false when nothing left (the loop should stop). */
  private transmit(now: number, tx: Transmission): boolean {
    const s = this.sender;
    let flags = TCP_ACK;
    if (tx.length > 0) flags |= TCP_PSH;
    if (tx.fin) flags |= TCP_FIN;
    const mapping = tx.length > 0 ? s.mappingAt(tx.seq) : undefined;
    const offset = seqSub(tx.seq, s.bufferSeq);
    let cont = !tx.retransmission && tx.length > 0 ? this.extension?.continuation?.(tx.seq) : undefined;
    // A lead segment is one more write per send: the saved option bytes count where a path's
    // rate is the limit, not for a sender bound by its own CPU (cwnd / srtt beyond a gigabit).
    if (cont?.lead && tx.length > s.mss && (s.rtt.srtt === undefined || s.cc.cwnd >= CONTINUATION_SPLIT_MAX_BYTES_PER_MS * s.rtt.srtt)) cont = undefined;
    let result: SendResult | undefined;
    if (cont === undefined) {
      result = this.emit(now, 'segment', tx.seq, flags, tx.length, tx.retransmission, offset, mapping);
    } else {
      // The first wire segment with the extension's full options (if it needs them), the rest
      // with the continuation's, each carrying that many bytes more (TcpExtension.continuation).
      const lead = cont.lead ? Math.min(s.mss, tx.length) : 0;
      if (lead > 0) result = this.emit(now, 'segment', tx.seq, lead === tx.length ? flags : TCP_ACK, lead, false, offset, mapping);
      if (lead < tx.length && (result === undefined || result.ok || result.code !== 'EMSGSIZE')) {
        result = this.emit(now, 'segment', seqAdd(tx.seq, lead), flags, tx.length - lead, false, offset + lead, mapping, cont.options);
        this.continuationBytes += tx.length - lead;
      }
    }
    if (result !== undefined && !result.ok && result.code === 'EMSGSIZE' && result.mtu !== undefined && result.mtu < this.pathMtu) {
      // The route's MTU went down under us: cut smaller and go again.
      this.onPathMtu(result.mtu);
      return true;
    }
    // Other local failures (no route, queue full) count as losses: the timers retransmit.
    s.onTransmitted(tx, now);
    if (!tx.retransmission) this.bytesSent += tx.length;
    return true;
  }

  private sendPureAck(now: number, kind: OutgoingKind): void {
    this.emit(now, kind, this.sender.nxt, TCP_ACK, 0, false);
  }

  /** A RST with sequence number `seq` (and no ACK: RFC 9293 3.10.7.3/3.10.7.4 forms). */
  private sendReset(now: number, seq: number): void {
    this.emit(now, 'reset', seq, TCP_RST, 0, false);
  }

  /** RFC 5961 7: a challenge ACK, within the host-wide budget and the per-connection pace. */
  private challengeAck(now: number): void {
    if (!this.owner.challengeAckAllowed(now)) return;
    this.challengeAcks++;
    this.outOfWindowAck(now);
  }

  /** The duplicate ACK answering an unacceptable segment, at most one per outOfWindowAckIntervalMs (Linux tcp_oow_rate_limited). */
  private outOfWindowAck(now: number): void {
    if (now - this.lastOutOfWindowAck < this.config.outOfWindowAckIntervalMs) return;
    this.lastOutOfWindowAck = now;
    this.sendPureAck(now, 'segment');
  }

  /**
   * Builds and sends one segment: header from the TCB, our options (RFC 9293 3.2 MSS,
   * RFC 7323 window scale and timestamps, RFC 2018 SACK), the extension's, and SACK blocks
   * in the room left.
   */
  private emit(
    now: number,
    kind: OutgoingKind,
    seq: number,
    flags: number,
    length: number,
    retransmission: boolean,
    payloadOffset = 0,
    mapping: OutgoingSegment['mapping'] = undefined,
    continuation: readonly TcpOption[] | undefined = undefined,
  ): SendResult {
    const w = this.owner.writer;
    const repr = w.begin(this.localAddress, this.localPort, this.remoteAddress, this.remotePort);
    const r = this.receiver;
    const hasAck = (flags & TCP_ACK) !== 0;
    repr.seq = seq;
    const ecn = this.ecn.outgoing(kind, flags, length, retransmission);
    repr.flags = ecn.flags;
    w.ecnCodepoint = ecn.codepoint;
    repr.ack = hasAck && r !== undefined ? r.nxt : 0;
    const options = repr.options;
    if (flags & TCP_SYN) {
      repr.window = r !== undefined ? Math.min(r.windowField(), 0xffff) : Math.min(this.receiveBufferBytes, 0xffff);
      this.synOptions(options, now, kind === 'syn');
    } else {
      repr.window = flags & TCP_RST ? 0 : r !== undefined ? r.windowField() : 0;
      if (this.tsOk && !(flags & TCP_RST)) {
        TS_OPTION.tsVal = this.timestamps.tsval(now);
        TS_OPTION.tsEcr = this.timestamps.tsecr;
        options.push(NOP_OPTION, NOP_OPTION, TS_OPTION);
      }
    }
    let used = tcpOptionsLength(options);
    const ext = this.extension;
    if (continuation !== undefined) {
      for (const opt of continuation) options.push(opt);
      used = tcpOptionsLength(options);
    } else if (ext?.outgoingOptions && (kind !== 'reset' || this.resetOptions === undefined)) {
      const o = OUTGOING;
      o.kind = kind;
      o.seq = seq;
      o.ack = repr.ack;
      o.flags = flags;
      o.payloadLength = length;
      o.retransmission = retransmission;
      o.mapping = mapping;
      const extra = kind === 'reset' ? undefined : ext.outgoingOptions(o, TCP_MAX_OPTIONS_LENGTH - used);
      if (extra !== undefined && extra.length > 0 && used + tcpOptionsLength(extra) <= TCP_MAX_OPTIONS_LENGTH) {
        for (const opt of extra) options.push(opt);
        used = tcpOptionsLength(options);
      }
    }
    if (kind === 'reset' && this.resetOptions !== undefined) {
      for (const opt of this.resetOptions) options.push(opt);
      if (tcpOptionsLength(options) > TCP_MAX_OPTIONS_LENGTH) options.length = 0;
      used = tcpOptionsLength(options);
    }
    if (this.sackOk && hasAck && r !== undefined && !(flags & (TCP_SYN | TCP_RST))) {
      const blocks = r.sackBlocks(this.tsOk, TCP_MAX_OPTIONS_LENGTH - used - 2);
      if (blocks.length > 0) {
        const list = SACK_OPTION.blocks;
        list.length = 0;
        for (let i = 0; i < blocks.length && i < MAX_SACK_BLOCKS_POOL; i++) {
          const b = (SACK_POOL[i] ??= { left: 0, right: 0 });
          b.left = blocks[i]!.start;
          b.right = blocks[i]!.end;
          list.push(b);
        }
        options.push(NOP_OPTION, NOP_OPTION, SACK_OPTION);
      }
    }
    const headerLength = w.currentHeaderLength;
    const ipv6 = this.ipv6Hook?.outgoingIpv6(kind);
    w.ipv6Extensions = ipv6;
    // Payload per wire segment: the sender's MSS, unless this header leaves less room (the
    // peer's MSS counts no options, RFC 6691; the path MTU counts all, extension headers too).
    const segmentRoom = Math.min(this.peerMss + TCP_MIN_HEADER_LENGTH, this.pathMtu - this.ipHeader - ipv6HeadersLength(ipv6)) - headerLength;
    const mss = continuation === undefined ? this.sender.mss : this.continuationMss(continuation);
    const gsoSize = Math.max(Math.min(mss, segmentRoom), 1);
    const result = w.send(now, length > 0 ? this.sender.buffer : undefined, payloadOffset, length, length > gsoSize ? gsoSize : undefined);
    if (result.ok || result.code !== 'EMSGSIZE') {
      this.segmentsSent++;
      if (hasAck) {
        this.lastAckSent = repr.ack;
        this.ackNow = false;
        r?.delayedAck.onAckSent();
      }
    }
    return result;
  }

  /** SYN / SYN-ACK options in Linux's order (MSS, SACK-permitted, timestamps, NOP, window scale). */
  private synOptions(options: TcpOption[], now: number, activeOpen: boolean): void {
    const c = this.config;
    options.push({ kind: 'mss', mss: Math.min(this.ourMss, 0xffff) });
    // A SYN-ACK offers only what the SYN offered (RFC 7323 2.2, 3.2; RFC 2018 2).
    const sack = activeOpen ? c.sack : this.sackOk;
    const ts = activeOpen ? c.timestamps : this.tsOk;
    const ws = activeOpen ? c.windowScaling : this.wsOk;
    if (ts) {
      if (sack) options.push(SACK_PERMITTED_OPTION);
      else options.push(NOP_OPTION, NOP_OPTION);
      options.push({ kind: 'timestamps', tsVal: this.timestamps.tsval(now), tsEcr: activeOpen ? 0 : this.timestamps.tsecr });
    } else if (sack) {
      options.push(NOP_OPTION, NOP_OPTION, SACK_PERMITTED_OPTION);
    }
    if (ws) options.push(NOP_OPTION, { kind: 'windowScale', shift: this.rcvScale });
  }

  // ---- path MTU ----------------------------------------------------------------------------

  /** RFC 1191 / 8201: the path MTU dropped to `mtu`. */
  private onPathMtu(mtu: number): void {
    this.pathMtu = mtu;
    const before = this.sender.mss;
    this.updateMss();
    if (this.sender.mss < before) {
      this.sender.onMtuReduced(this.sender.mss);
      this.pending = true;
    }
  }

  private refreshPathMtu(): void {
    const mtu = this.owner.host.routeMtu(this.remoteAddress, this.localAddress);
    if (mtu !== undefined && mtu !== this.pathMtu) {
      this.pathMtu = mtu;
      this.updateMss();
    }
  }

  /** Payload of a continuation segment: the MSS plus the option bytes it leaves off. */
  private continuationMss(cont: readonly TcpOption[]): number {
    return this.sender.mss + Math.max((this.extension!.dataOptionSpace ?? 0) - tcpOptionsLength(cont), 0);
  }

  /** The extension's dataOptionSpace changed: the MSS follows [MPTCP: DATA_ACK width, fallback]. */
  optionSpaceChanged(): void {
    this.updateMss();
  }

  /** Effective send MSS: the peer's MSS and the path, less our per-segment options (RFC 6691). */
  private updateMss(): void {
    const path = this.pathMtu - this.ipHeader - TCP_MIN_HEADER_LENGTH;
    const mss = Math.min(this.peerMss, path) - (this.tsOk ? TIMESTAMPS_SPACE : 0) - (this.extension?.dataOptionSpace ?? 0) - (this.ipv6Hook?.ipv6Overhead ?? 0);
    this.sender.setMss(Math.max(mss, this.config.minMss));
  }

  // ---- lifecycle and events ----------------------------------------------------------------

  private writeTagged(data: Uint8Array | readonly Uint8Array[], tag: number | undefined): number {
    if (this.closed) throw new TcpError('EPIPE', 'the connection is closed');
    if (!canSend(this.currentState) || this.sender.finQueued) throw new TcpError('EPIPE', 'write after end()');
    const n = this.sender.write(data, tag);
    if (n < (data instanceof Uint8Array ? data.length : totalLength(data))) this.wantWritable = true;
    if (n > 0) this.markPending();
    return n;
  }

  private markPending(): void {
    if (this.pending || this.closed) return;
    this.pending = true;
    // Inside input/onTimeout the pass ends with output and a reschedule anyway.
    if (!this.busy) this.owner.schedule(this);
  }

  private setState(s: TcpState): void {
    if (s === this.currentState) return;
    this.currentState = s;
    this.extension?.onStateChange?.(s);
  }

  /** To CLOSED: leave the table, stop timers, report `error` (RFC 9293 3.10.7 "delete the TCB"). */
  private finish(error: TcpError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.error = error;
    this.setState('CLOSED');
    const s = this.sender;
    s.rtoDeadline = s.ptoDeadline = s.rackDeadline = s.persistDeadline = undefined;
    this.stateDeadline = undefined;
    this.keepAliveIdleMs = undefined;
    if (error !== undefined) this.receiver?.discard();
    this.events |= EV_CLOSE;
    this.owner.release(this);
  }

  private dispatch(now: number): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.events !== 0) {
        const ev = this.events;
        this.events = 0;
        const h = this.handler;
        if (ev & EV_CONNECT) h.onConnect?.(this);
        if (ev & (EV_READABLE | EV_END)) this.deliverReadable(now, h);
        if (ev & EV_WRITABLE && !this.closed) h.onWritable?.(this);
        if (ev & EV_CLOSE) {
          // Data and the end of stream reach the application before the close.
          if (this.readableLength > 0 || (this.receiver?.finReceived && !this.endEmitted)) this.deliverReadable(now, h);
          h.onClose?.(this, this.error);
        }
      }
    } finally {
      this.dispatching = false;
    }
  }

  private deliverReadable(now: number, h: TcpConnectionHandler): void {
    const r = this.receiver;
    if (r === undefined) return;
    if (h.onData) {
      let consumed = 0;
      while (!this.paused) {
        const chunk = r.read(Infinity);
        if (chunk === undefined) break;
        consumed += chunk.length;
        h.onData(this, chunk);
      }
      if (consumed > 0 && r.onConsumed(now, consumed)) {
        this.ackNow = true;
        this.pending = true;
      }
    } else if (r.queuedBytes > 0) {
      h.onReadable?.(this);
    }
    if (r.finReceived && r.queuedBytes === 0 && !this.endEmitted) {
      this.endEmitted = true;
      h.onEnd?.(this);
    }
  }

  /** ETIMEDOUT, or the soft ICMP error that explains it (Linux tcp_write_err). */
  private timedOut(message: string): TcpError {
    return this.softError !== undefined ? new TcpError(this.softError, `${message} (ICMP: ${this.softError})`) : new TcpError('ETIMEDOUT', message);
  }

  private peerName(): string {
    return `port ${this.remotePort}`;
  }
}

const NO_BLOCKS: readonly { start: number; end: number }[] = [];

// Scratch objects of the segment path, reused by every connection: processing is
// synchronous, so one of each suffices and an idle connection holds none.
const ACK_OUTCOME: AckOutcome = { advanced: false, dataAcked: 0, finAcked: false };
const DATA_OUTCOME: DataOutcome = { delivered: 0, ackNow: false };
const TS_OPTION = { kind: 'timestamps' as const, tsVal: 0, tsEcr: 0 };
const SACK_OPTION: { readonly kind: 'sack'; blocks: SackBlock[] } = { kind: 'sack', blocks: [] };
const SACK_POOL: SackBlock[] = [];
/** Above this rate (1 Gbit/s) a send that needs a lead segment keeps the extension's options on all (TcpConnection.transmit). */
const CONTINUATION_SPLIT_MAX_BYTES_PER_MS = 125_000;
const OUTGOING: OutgoingSegment = { kind: 'segment', seq: 0, ack: 0, flags: 0, payloadLength: 0, retransmission: false, mapping: undefined };
