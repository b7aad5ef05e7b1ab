// One name-based stream connection (thesis 2.3 "a handle to the new socket"): the transport
// connection (MPTCP, or TCP when either side has no MPTCP), the names of both ends, what the
// exchange on the wire did, and the verdict on the peer's name (thesis 2.4). The transport's
// own API (write, read, end, destroy, handler) is used through `conn` unchanged; the Duplex
// form (name-socket.ts) wraps it.

import { MptcpConnection } from '../mptcp/connection.js';
import type { ConnectionNames } from '../name/connection-names.js';
import type { ExchangeState } from '../name/exchange.js';
import type { Verification, VerificationState } from '../name/verify.js';
import type { RaceRecord } from '../eyeballs/race.js';
import type { TcpConnection } from '../tcp/connection.js';
import { formatAddress, type IpAddress } from '../wire/address.js';

export type StreamConnection = MptcpConnection | TcpConnection;

/** What the stats and the control protocol show of a connection's names. */
export interface NameSummary {
  localName: string | undefined;
  peerName: string | undefined;
  peerNameVerified: boolean;
  /** verified / unverified / pending / failed; 'none' when there is no name to check. */
  verification: VerificationState | 'none';
  /** Why a name is unverified or its check failed. */
  verificationReason?: string;
  /** The exchange on the wire: done (names both ways), legacy (the peer sent none, or IPv4), ... */
  exchange: ExchangeState | 'none';
}

export class NameConnection {
  /** Called once the peer's name is verified, unverified or failed (after a pending start). */
  onVerification: ((v: Verification) => void) | undefined = undefined;
  private verdict: Verification | undefined = undefined;

  constructor(
    readonly conn: StreamConnection,
    readonly role: 'initiator' | 'responder',
    /** The exchange of the (initial) subflow; absent over IPv4, where no names travel. */
    readonly names: ConnectionNames | undefined,
    /** Our name as the application gave it (initiator) or as the peer asked for it (responder). */
    private readonly ownName: string | undefined,
    /** The name the application opened (initiator): the peer's name even when it sent none. */
    private readonly requestedPeer: string | undefined,
    /** The Happy Eyeballs race that made this connection (initiator). */
    readonly race: RaceRecord | undefined,
  ) {}

  /** The initial subflow's TCP connection (the connection itself for plain TCP). */
  static initialTcp(conn: StreamConnection): TcpConnection | undefined {
    return conn instanceof MptcpConnection ? conn.subflows[0]?.tcp : conn;
  }

  get localName(): string | undefined {
    return this.names?.exchange.localName ?? this.ownName;
  }

  /** The name the peer claimed on the wire, else (initiator) the name we opened. */
  get peerName(): string | undefined {
    return this.names?.exchange.peerName ?? this.requestedPeer;
  }

  /** The peer's name was exchanged on the wire (both ways). */
  get namesExchanged(): boolean {
    return this.names !== undefined && this.names.exchange.peerName !== undefined;
  }

  get verification(): Verification | undefined {
    return this.verdict;
  }

  get peerNameVerified(): boolean {
    return this.verdict?.state === 'verified';
  }

  get remoteAddress(): IpAddress {
    return this.conn.remoteAddress;
  }

  /** MPTCP end to end (not a plain TCP peer, not fallen back). */
  get multipath(): boolean {
    return this.conn instanceof MptcpConnection && !this.conn.fallback;
  }

  /** The name layer's verdict arrived (or was known at once). */
  setVerification(v: Verification): void {
    this.verdict = v;
    if (v.state !== 'pending') this.onVerification?.(v);
  }

  summary(): NameSummary {
    const v = this.verdict;
    const s: NameSummary = {
      localName: this.localName,
      peerName: this.peerName,
      peerNameVerified: this.peerNameVerified,
      verification: v?.state ?? 'none',
      exchange: this.names?.exchange.state ?? 'none',
    };
    if (v?.reason !== undefined) s.verificationReason = v.reason;
    return s;
  }

  /** For stats: addresses as text, the transport, names and the race. */
  describe(): Record<string, unknown> {
    const c = this.conn;
    return {
      role: this.role,
      transport: this.multipath ? 'mptcp' : 'tcp',
      // As the tcp section's connections: {address, port}, so no one has to split "fd00::1:7".
      local: { address: formatAddress(c.localAddress), port: c.localPort },
      remote: { address: formatAddress(c.remoteAddress), port: c.remotePort },
      state: c.state,
      ...this.summary(),
      ...(this.names && { namedPacketsSent: this.names.exchange.stats.namedPacketsSent, namedPacketsReceived: this.names.exchange.stats.namedPacketsReceived }),
      ...(c instanceof MptcpConnection && { subflows: c.subflows.filter((sf) => !sf.closed).length }),
    };
  }
}
