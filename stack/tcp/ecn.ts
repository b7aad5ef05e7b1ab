// Explicit Congestion Notification for one TCP connection (RFC 3168 6.1, as Linux's
// tcp_ecn_* helpers with net.ipv4.tcp_ecn): the negotiation on the handshake (6.1.1), the
// IP codepoint of what we send (ECT(0) on new data only: pure ACKs, retransmissions and
// window probes stay Not-ECT, 6.1.5-6.1.6), the receiver's echo of CE marks (ECE on every
// segment until the peer's CWR, 6.1.3) and the sender's CWR after a window reduction
// (6.1.2). The reduction itself is the sender's: TcpSender.onEcnEcho, a congestion event
// of kind 'ecn' at most once per window, with no retransmission.

import type { TcpEcnMode } from '../config.js';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_RST } from '../wire/tcp.js';
import type { DelayedAckPolicy } from './delayed-ack.js';
import type { OutgoingKind } from './extension.js';
import type { ReceivedSegment } from './received-segment.js';
import type { TcpSender } from './sender.js';

/** RFC 3168 5: the two ECN bits of the IPv4 TOS byte / IPv6 traffic class. */
export const ECN_NOT_ECT = 0;
export const ECN_ECT1 = 1;
export const ECN_ECT0 = 2;
export const ECN_CE = 3;
export const ECN_MASK = 3;

/** Host-wide ECN counters (part of TcpCounters). */
export interface EcnCounters {
  /** Connections that agreed on ECN. */
  ecnConnections: number;
  /** Data segments that arrived CE-marked (6.1.3). */
  ecnCeReceived: number;
  /** ACKs with ECE for our data (6.1.2). */
  ecnEceReceived: number;
  /** Segments we sent with CWR. */
  ecnCwrSent: number;
  /** Congestion window reductions for ECE (at most one per window). */
  ecnCwndReductions: number;
}

/** RFC 3168 6.1.1: an ECN-setup SYN carries ECE and CWR. */
export function isEcnSetupSyn(flags: number): boolean {
  return (flags & (TCP_ECE | TCP_CWR)) === (TCP_ECE | TCP_CWR);
}

/** RFC 3168 6.1.1: an ECN-setup SYN-ACK carries ECE and not CWR. */
export function isEcnSetupSynAck(flags: number): boolean {
  return (flags & (TCP_ECE | TCP_CWR)) === TCP_ECE;
}

/** Whether a listener answers `synFlags` with ECN under `mode` (Linux tcp_ecn_create_request: any tcp_ecn but 0). */
export function acceptsEcnSetup(mode: TcpEcnMode, synFlags: number): boolean {
  return mode !== 'off' && isEcnSetupSyn(synFlags);
}

export class TcpEcn {
  /** Both ends agreed on ECN. */
  ok = false;
  /** A CE mark arrived and no CWR since: our segments carry ECE (RFC 3168 6.1.3). */
  echoing = false;
  // Per-connection counts, as in EcnCounters.
  ceReceived = 0;
  eceReceived = 0;
  cwrSent = 0;
  cwndReductions = 0;
  /** Our SYN asked for ECN. */
  private asked = false;
  /** The sender's window reductions the peer has been told of with CWR. */
  private reductionsSignalled = 0;

  constructor(
    private readonly mode: TcpEcnMode,
    private readonly counters: EcnCounters,
    private readonly sender: TcpSender,
  ) {}

  /** The peer's SYN or SYN-ACK (RFC 3168 6.1.1; Linux tcp_ecn_rcv_syn / tcp_ecn_rcv_synack). */
  onHandshake(flags: number, passive: boolean): void {
    if (flags & TCP_ACK) this.agree(this.asked && isEcnSetupSynAck(flags));
    else this.agree(passive ? acceptsEcnSetup(this.mode, flags) : this.asked && isEcnSetupSyn(flags));
  }

  /** A SYN cookie came back with its ECN bit (syn-cookies.ts): the SYN-ACK agreed if it was set. */
  fromCookie(ecn: boolean): void {
    this.agree(ecn && this.mode !== 'off');
  }

  /**
   * Sets the ECN flags of an outgoing segment and returns its IP ECN codepoint. A SYN asks
   * only when the mode is 'on' and only the first time: a retransmitted SYN gives ECN up, in
   * case a middlebox drops ECN-setup SYNs (RFC 3168 6.1.1.1, Linux tcp_ecn_clear_syn).
   * SYNs and SYN-ACKs are never ECT (6.1.1).
   */
  outgoing(kind: OutgoingKind, flags: number, length: number, retransmission: boolean): { flags: number; codepoint: number } {
    const out = OUTGOING;
    out.flags = flags;
    out.codepoint = ECN_NOT_ECT;
    if (kind === 'syn') {
      this.asked = this.mode === 'on' && !retransmission;
      if (this.asked) out.flags |= TCP_ECE | TCP_CWR;
      return out;
    }
    if (!this.ok || flags & TCP_RST) return out;
    if (kind === 'syn-ack') {
      out.flags |= TCP_ECE;
      return out;
    }
    if (this.echoing && flags & TCP_ACK) out.flags |= TCP_ECE;
    // 6.1.5 / Linux tcp_ecn_send: only new data is ECT; it is the data CWR rides on (6.1.2).
    if (length > 0 && !retransmission) {
      out.codepoint = ECN_ECT0;
      if (this.sender.windowReductions !== this.reductionsSignalled) {
        this.reductionsSignalled = this.sender.windowReductions;
        out.flags |= TCP_CWR;
        this.cwrSent++;
        this.counters.ecnCwrSent++;
      }
    }
    return out;
  }

  /**
   * An in-window data segment (`ipEcn` from its IP header): CWR ends our echo, a CE mark
   * (re)starts it (RFC 3168 6.1.3, in that order: a CE-marked CWR segment echoes again).
   * Both are acknowledged at once: the peer's cwnd may be tiny (Linux tcp_ecn_accept_cwr,
   * __tcp_ecn_check_ce).
   */
  onData(seg: ReceivedSegment, delayedAck: DelayedAckPolicy): void {
    if (!this.ok) return;
    if (seg.flags & TCP_CWR) {
      this.echoing = false;
      delayedAck.enterQuickAck(1);
    }
    if (seg.ipEcn === ECN_CE) {
      this.ceReceived++;
      this.counters.ecnCeReceived++;
      this.echoing = true;
      delayedAck.enterQuickAck(1);
    }
  }

  /** An acceptable ACK in a synchronized state carried ECE (6.1.2): reduce once per window. */
  onEcho(now: number): void {
    if (!this.ok) return;
    this.eceReceived++;
    this.counters.ecnEceReceived++;
    if (!this.sender.onEcnEcho(now)) return;
    this.cwndReductions++;
    this.counters.ecnCwndReductions++;
  }

  private agree(ok: boolean): void {
    if (ok && !this.ok) this.counters.ecnConnections++;
    this.ok = ok;
    // Reductions before the agreement (none in practice) need no CWR.
    this.reductionsSignalled = this.sender.windowReductions;
  }
}

// Processing is synchronous: one result object serves every connection.
const OUTGOING = { flags: 0, codepoint: ECN_NOT_ECT };
