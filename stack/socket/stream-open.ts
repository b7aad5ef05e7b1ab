// open() for stream sockets (thesis 2.3 Open, 5.2 Happy Eyeballs with name-based sockets):
// resolve the peer's name with the stack's own DNS (AAAA and A in parallel), race the
// addresses with HappyEyeballsRace (the thesis's P per destination), each attempt a real
// MPTCP (or TCP) connection carrying the names on IPv6, reset the losers, and hand the
// winner over as a NameConnection whose peer name is then verified.
//
// With MPTCP (eyeballs.keepOtherFamilyForMptcp) the other family's attempt is not reset when
// the winner connects: it runs on, and once it connects too its path is known to work. It
// cannot be adopted (it is an MPTCP connection of its own, with its own keys and token, which
// RFC 8684 gives no way to merge), so it is reset then and its path (local and remote
// address) handed to the winner's path manager as a learned peer address, which opens an
// MP_JOIN subflow there at once (docs/happy-eyeballs.md).

import type { DnsQueryHandle } from '../dns/resolver.js';
import { HappyEyeballsRace, type AttemptRecord, type RaceOutcome, type RaceOwner, type RaceRecord } from '../eyeballs/race.js';
import { ConnectionNames } from '../name/connection-names.js';
import { TcpError } from '../tcp/errors.js';
import { MptcpConnection } from '../mptcp/connection.js';
import { familyOf, type IpAddress } from '../wire/address.js';
import { NameSocketError } from './errors.js';
import { NameConnection, type StreamConnection } from './name-connection.js';
import type { NameStackCore } from './name-stack.js';

export interface StreamOpenRequest {
  /** Normalized peer name. */
  peerName: string;
  /** Normalized local name to send; undefined: this host has none (only the destination name is sent). */
  localName: string | undefined;
  port: number;
  /** MPTCP with fallback (default), or plain TCP. */
  multipath: boolean;
  noDelay?: boolean;
}

export type OpenResult = { ok: true; connection: NameConnection } | { ok: false; error: NameSocketError; race: RaceRecord };

interface Attempt {
  conn: StreamConnection;
  names: ConnectionNames | undefined;
}

export class StreamOpen implements RaceOwner {
  readonly race: HappyEyeballsRace;
  private readonly attempts = new Map<number, Attempt>();
  private nextId = 1;
  private readonly removeTimer: () => void;
  private readonly lookup: DnsQueryHandle;
  /** finished() ran: the application has its outcome. */
  private reported = false;
  /** The winner, while kept attempts may still join it. */
  private winner: StreamConnection | undefined;

  constructor(
    private readonly core: NameStackCore,
    private readonly req: StreamOpenRequest,
    now: number,
    private readonly done: (r: OpenResult) => void,
  ) {
    const keepOtherFamily = req.multipath && core.mptcp !== undefined && core.config.eyeballs.keepOtherFamilyForMptcp;
    this.race = new HappyEyeballsRace(this, core.config.eyeballs, core.preferences, { destination: req.peerName, keepOtherFamily }, now);
    this.removeTimer = core.host.addTimerClient(this.race);
    this.lookup = core.resolver.lookupBoth(req.peerName, now, (family, r, at) => this.race.onAnswer(family, r.ok ? r : { ok: false, code: r.code }, at), this.race.record.firstFamily);
  }

  /** The application gave up (closed the socket before it connected). */
  abort(now: number): void {
    this.lookup.cancel();
    this.race.abort(now);
  }

  startAttempt(address: IpAddress, now: number): number {
    const id = this.nextId++;
    const { core, req } = this;
    const family = familyOf(address);
    let names: ConnectionNames | undefined;
    if (family === 6) {
      const n = ConnectionNames.initiator({ family, peerName: req.peerName, ...(req.localName !== undefined && { localName: req.localName }) }, core.config.name);
      // Names were validated by the caller; a failure here would be a bug, so fail the attempt.
      if (!n.ok) {
        this.race.attemptFailed(id, 'EINVAL', now);
        return id;
      }
      names = n.value;
    }
    let conn: StreamConnection;
    try {
      const base = { remoteAddress: address, remotePort: req.port, ...(req.noDelay !== undefined && { noDelay: req.noDelay }), ...(names && { ipv6Hook: names }) };
      conn = req.multipath && core.mptcp ? core.mptcp.connect(base, now) : core.tcp.connect(base, now);
    } catch (e) {
      this.race.attemptFailed(id, e instanceof TcpError ? e.code : 'EINVAL', now);
      return id;
    }
    this.attempts.set(id, { conn, names });
    const handler = {
      onConnect: () => {
        this.race.attemptSucceeded(id, core.tcp.now);
        this.releaseWhenSettled();
      },
      onClose: (_c: unknown, error?: TcpError) => {
        this.race.attemptFailed(id, error?.code ?? 'ECONNRESET', core.tcp.now);
        this.releaseWhenSettled();
      },
    };
    (conn as { handler: unknown }).handler = handler;
    return id;
  }

  cancel(id: number): void {
    const a = this.attempts.get(id);
    this.attempts.delete(id);
    // A loser is reset (thesis 5.2.1: "the other connection is reset").
    a?.conn.destroy();
    this.releaseWhenSettled();
  }

  /** A kept attempt of the other family connected: reset it and join its path to the winner. */
  extraConnected(attempt: AttemptRecord, now: number): void {
    const a = this.attempts.get(attempt.id);
    this.attempts.delete(attempt.id);
    if (!a) return;
    const local = a.conn.localAddress;
    a.conn.destroy();
    const w = this.winner;
    attempt.joined = false;
    if (w instanceof MptcpConnection && !w.fallback && w.state === 'ESTABLISHED' && w.pathEvents && this.core.mptcp) {
      attempt.joined = w.pathEvents.addLearnedRemote(attempt.address, this.req.port, local, now);
      this.core.mptcp.schedule(w);
    }
  }

  finished(outcome: RaceOutcome, now: number): void {
    if (this.reported) return;
    this.reported = true;
    this.core.recordRace(outcome.record);
    if (!outcome.ok) {
      for (const a of this.attempts.values()) a.conn.destroy();
      this.attempts.clear();
      this.releaseWhenSettled();
      this.done({ ok: false, error: new NameSocketError(outcome.code, `cannot open ${this.req.peerName}: ${outcome.code}`), race: outcome.record });
      return;
    }
    const a = this.attempts.get(outcome.winner.id)!;
    this.attempts.delete(outcome.winner.id);
    (a.conn as { handler: unknown }).handler = {};
    this.winner = a.conn;
    // Only an MPTCP winner can take the other family's path as a subflow.
    if (!(a.conn instanceof MptcpConnection) || a.conn.fallback) this.race.dropKept(now);
    this.releaseWhenSettled();
    const connection = new NameConnection(a.conn, 'initiator', a.names, this.req.localName, this.req.peerName, outcome.record);
    this.core.track(connection);
    this.core.verifyPeer(connection, now);
    this.done({ ok: true, connection });
  }

  /** Once the race needs nothing more (no kept attempt left), it stops being a timer client. */
  private releaseWhenSettled(): void {
    if (!this.reported || !this.race.settled) return;
    this.removeTimer();
    this.winner = undefined;
  }
}
