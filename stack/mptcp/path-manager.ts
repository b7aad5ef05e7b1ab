// The path manager's policy for one MPTCP connection (RFC 8684 3.4 address signalling,
// 3.2 starting subflows), as a pure object: events in (local addresses and links, the
// peer's ADD_ADDR / REMOVE_ADDR, subflow outcomes, time), actions out (open or close a
// subflow, announce or withdraw an address, change a subflow's backup priority).
//
// Beyond Linux's in-kernel path manager (net/mptcp/pm_kernel.c): full mesh over every
// usable local x remote address pair of the same family by default, and a subflow that
// failed is re-created with exponential backoff (and at once when its link comes back),
// which Linux does not do (mptcp_net-next issue 440). Like Linux, addresses are announced
// one at a time, the next after the echo of the previous one (see announce()). Echoing
// received ADD_ADDRs is the connection's job: RFC 8684 3.4.1 requires an echo for every
// one, accepted or not.

import type { MptcpConfig } from '../config.js';
import { addressEquals, addressKey, familyOf, type IpAddress } from '../wire/address.js';

export interface LocalAddress {
  address: IpAddress;
  ifIndex: number;
  /** Open subflows from this address (Linux endpoint flag "subflow"). */
  subflow: boolean;
  /** Announce it to the peer with ADD_ADDR (Linux "signal"). */
  signal: boolean;
  /** Subflows from it are backups (MP_JOIN B flag, MP_PRIO; RFC 8684 3.3.8). */
  backup: boolean;
  /** Port to announce with the address when the stack listens there on another port. */
  port?: number | undefined;
}

export interface RemoteAddress {
  id: number;
  address: IpAddress;
  port?: number | undefined;
  /** A learned address (addLearnedRemote): our local address that reached it, the only one paired with it. */
  learnedFrom?: IpAddress | undefined;
}

export interface PathManagerOptions {
  /** Subflows at most, the initial one included (Linux `ip mptcp limits ... subflows`, plus one). */
  maxSubflows: number;
  /** Peer ADD_ADDRs accepted at most (Linux add_addr_accepted). */
  addAddrAccepted: number;
  /** Pair every local address with every remote one; false is Linux's default pairing. */
  fullMesh: boolean;
  /** This side opens subflows (usually only the client: the server is often behind nothing but the client behind NAT). */
  createSubflows: boolean;
  /** This side announces its `signal` addresses. */
  announce: boolean;
  /** Delay before re-creating a failed subflow, doubled after every failure up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** ADD_ADDR is sent on a pure ACK and may be lost: re-announce after this long without echo (RFC 8684 3.4.1). */
  addAddrTimeoutMs: number;
  addAddrMaxRetransmits: number;
  /** Subflows of one address family per local interface at a time; the other family's stand by (config.mptcp.oneFamilyPerInterface). */
  oneFamilyPerInterface: boolean;
}

/** The path-manager options config.mptcp gives one side of a connection. */
export function pathManagerOptions(config: MptcpConfig, weOpened: boolean): PathManagerOptions {
  const side = (setting: 'client' | 'server' | 'both' | 'none', mine: 'client' | 'server'): boolean =>
    setting === 'both' || setting === mine;
  const role = weOpened ? 'client' : 'server';
  return {
    maxSubflows: config.maxSubflows,
    addAddrAccepted: config.addAddrAccepted,
    fullMesh: config.fullMesh,
    createSubflows: side(config.createSubflows, role),
    announce: side(config.announce, role),
    retryBaseMs: config.subflowRetryBaseMs,
    retryMaxMs: config.subflowRetryMaxMs,
    addAddrTimeoutMs: config.addAddrTimeoutMs,
    addAddrMaxRetransmits: config.addAddrMaxRetransmits,
    oneFamilyPerInterface: config.oneFamilyPerInterface,
  };
}

export interface InitialSubflow {
  local: IpAddress;
  remote: IpAddress;
  /** The peer's port (joins to remote address id 0 use it). */
  remotePort: number;
  ifIndex: number;
  /** Whether we opened the connection (the client): then the initial path is ours to re-create. */
  weOpened: boolean;
}

export type PathAction =
  | {
      kind: 'open-subflow';
      pathId: number;
      local: IpAddress;
      localId: number;
      ifIndex: number;
      remote: IpAddress;
      remoteId: number;
      /** Destination port: the announced one, else the connection's. */
      port: number;
      backup: boolean;
    }
  | { kind: 'announce'; id: number; address: IpAddress; port?: number | undefined }
  | { kind: 'remove-address'; id: number }
  | { kind: 'close-subflow'; pathId: number; reason: 'remote-removed' | 'local-removed' | 'link-down' }
  | { kind: 'set-backup'; pathId: number; backup: boolean };

export type SubflowCloseReason =
  /** Reset or timed out after being established, or the join failed: try again later. */
  | 'failed'
  /** The peer refused the join (RST to MP_JOIN, MP_TCPRST): do not insist on this pair. */
  | 'rejected'
  /** Closed on purpose (by us, by the peer's FIN, or after one of our actions). */
  | 'closed';

export type PathState = 'connecting' | 'established' | 'waiting' | 'idle';

export interface PathInfo {
  readonly pathId: number;
  readonly local: IpAddress;
  readonly localId: number;
  readonly remote: IpAddress;
  readonly remoteId: number;
  readonly port: number;
  /**
   * 'waiting': failed, a retry is scheduled at `retryAt` (undefined: standing by while a subflow
   * of the other family serves its interface); 'idle': closed for good or until a link comes back.
   */
  readonly state: PathState;
  /** Who opened it: our paths are the ones we re-create. */
  readonly ours: boolean;
  readonly backup: boolean;
  readonly failures: number;
  readonly retryAt: number | undefined;
}

interface Path {
  pathId: number;
  local: IpAddress;
  localKey: string;
  localId: number;
  remote: IpAddress;
  remoteKey: string;
  remoteId: number;
  port: number;
  ifIndex: number;
  state: PathState;
  ours: boolean;
  backup: boolean;
  failures: number;
  retryAt: number | undefined;
}

interface Local {
  info: LocalAddress;
  id: number;
  up: boolean;
  present: boolean;
  announced: boolean;
}

interface Announcement {
  id: number;
  sentAt: number;
  retransmits: number;
}

/** RFC 8684 3.4.1: address IDs are 8 bits; 0 is the initial subflow's address. */
const MAX_ADDRESS_ID = 255;

function remoteKeyOf(address: IpAddress, port: number): string {
  return `${addressKey(address)}:${port}`;
}

export class PathManager {
  private readonly options: PathManagerOptions;
  private readonly initial: InitialSubflow;
  private readonly locals = new Map<string, Local>();
  /** Known peer addresses by ID; ID 0 is the initial subflow's remote address. */
  private readonly remotes = new Map<number, RemoteAddress>();
  private readonly paths: Path[] = [];
  private readonly announcements = new Map<number, Announcement>();
  private readonly actions: PathAction[] = [];
  private nextLocalId = 1;
  private nextPathId = 1;
  /** IDs of learned peer addresses: above the 8-bit range, so no ADD_ADDR or REMOVE_ADDR of the peer can name them. */
  private nextLearnedId = MAX_ADDRESS_ID + 1;
  private established = false;

  constructor(options: PathManagerOptions, initial: InitialSubflow) {
    this.options = options;
    this.initial = initial;
    this.locals.set(addressKey(initial.local), {
      info: { address: initial.local, ifIndex: initial.ifIndex, subflow: true, signal: false, backup: false },
      id: 0,
      up: true,
      present: true,
      announced: false,
    });
    this.remotes.set(0, { id: 0, address: initial.remote, port: initial.remotePort });
    this.addPath({
      pathId: 0,
      local: initial.local,
      localId: 0,
      remote: initial.remote,
      remoteId: 0,
      port: initial.remotePort,
      ifIndex: initial.ifIndex,
      state: 'connecting',
      ours: initial.weOpened,
      backup: false,
    });
  }

  /** Current paths (for stats and tests). */
  get pathList(): readonly PathInfo[] {
    return this.paths;
  }

  /** Peer addresses we know and accepted, by ID. */
  get remoteAddresses(): readonly RemoteAddress[] {
    return [...this.remotes.values()];
  }

  /** The ID our address has on this connection (0 for the initial one), if it has one. */
  localIdOf(address: IpAddress): number | undefined {
    return this.locals.get(addressKey(address))?.id;
  }

  /**
   * The host's local addresses now (the whole list: missing ones are gone). New ones are
   * announced and used, vanished ones withdrawn (REMOVE_ADDR) and their subflows closed.
   */
  setLocalAddresses(list: readonly LocalAddress[], now: number): void {
    const seen = new Set<string>();
    for (const info of list) {
      const key = addressKey(info.address);
      seen.add(key);
      let l = this.locals.get(key);
      if (!l) {
        if (this.nextLocalId > MAX_ADDRESS_ID) continue;
        l = { info, id: this.nextLocalId++, up: true, present: true, announced: false };
        this.locals.set(key, l);
        continue;
      }
      const backupChanged = l.info.backup !== info.backup;
      l.info = info;
      if (!l.present) {
        l.present = true;
        l.up = true;
        this.revive(key, now);
      }
      if (backupChanged) {
        for (const p of this.paths) {
          if (p.localKey !== key) continue;
          p.backup = info.backup;
          if (p.state === 'established' || p.state === 'connecting') {
            this.actions.push({ kind: 'set-backup', pathId: p.pathId, backup: info.backup });
          }
        }
      }
    }
    for (const [key, l] of this.locals) {
      if (seen.has(key) || !l.present) continue;
      l.present = false;
      this.withdraw(key, l, 'local-removed');
    }
    this.update(now);
  }

  /** An interface went down: its subflows are closed and its announced addresses withdrawn. */
  linkDown(ifIndex: number, now: number): void {
    for (const [key, l] of this.locals) {
      if (l.info.ifIndex !== ifIndex || !l.up) continue;
      l.up = false;
      this.withdraw(key, l, 'link-down');
    }
    this.update(now);
  }

  /** An interface came back: re-create its subflows now and announce its addresses again. */
  linkUp(ifIndex: number, now: number): void {
    for (const [key, l] of this.locals) {
      if (l.info.ifIndex !== ifIndex || l.up) continue;
      l.up = true;
      this.revive(key, now);
    }
    this.update(now);
  }

  /** The connection is fully established: joins and announcements may start (RFC 8684 3.2). */
  onEstablished(now: number): void {
    this.established = true;
    const first = this.paths.find((p) => p.pathId === 0);
    if (first && first.state === 'connecting') first.state = 'established';
    this.update(now);
  }

  /**
   * A verified ADD_ADDR from the peer (RFC 8684 3.4.1). Returns whether it was accepted
   * (the caller echoes it either way).
   */
  onAddAddr(remote: RemoteAddress, now: number): boolean {
    if (remote.id === 0) return false;
    const key = this.remoteKey(remote);
    const learned = [...this.remotes.values()].find((r) => r.learnedFrom && this.remoteKey(r) === key);
    if (learned && !this.remotes.has(remote.id)) {
      // The peer now announces an address we had learned: from here on it is an announced
      // address under the peer's ID, so the peer's REMOVE_ADDR for it closes its subflows
      // (RFC 8684 3.4.2) and the usual pairing applies.
      this.remotes.delete(learned.id);
      this.remotes.set(remote.id, { id: remote.id, address: learned.address, port: learned.port });
      for (const p of this.paths) if (p.remoteId === learned.id) p.remoteId = remote.id;
      this.update(now);
      return true;
    }
    const old = this.remotes.get(remote.id);
    if (old) {
      // A retransmission (our echo was lost) changes nothing.
      if (this.remoteKey(old) === key) return true;
      // Same ID, new address: the old one is replaced (its subflows go).
      this.forgetRemote(remote.id);
    } else if (this.acceptedCount() >= this.options.addAddrAccepted) {
      return false;
    }
    for (const r of this.remotes.values()) if (this.remoteKey(r) === key) return false;
    this.remotes.set(remote.id, { id: remote.id, address: remote.address, port: remote.port });
    this.update(now);
    return true;
  }

  /**
   * A peer address learned outside ADD_ADDR: Happy Eyeballs' other family, which `local`
   * reached with a handshake of its own (docs/happy-eyeballs.md). It is joined from `local`
   * only, full mesh or not (that pair is known to work), and re-created after failures like
   * any of our paths; false when the address is known already or `local` is not one of ours.
   */
  addLearnedRemote(address: IpAddress, port: number, local: IpAddress, now: number): boolean {
    const key = remoteKeyOf(address, port);
    if (!this.locals.has(addressKey(local)) || familyOf(local) !== familyOf(address)) return false;
    for (const r of this.remotes.values()) if (this.remoteKey(r) === key) return false;
    const id = this.nextLearnedId++;
    this.remotes.set(id, { id, address, port, learnedFrom: local });
    this.update(now);
    return true;
  }

  /** The peer echoed our ADD_ADDR: stop re-announcing it and announce the next address. */
  onAddAddrEcho(id: number, now: number): void {
    this.announcements.delete(id);
    this.update(now);
  }

  /** The peer withdrew an address (RFC 8684 3.4.2): close the subflows to it. */
  onRemoveAddr(id: number, now: number): void {
    if (!this.remotes.has(id)) return;
    this.forgetRemote(id);
    this.update(now);
  }

  /** A subflow the peer opened to us (an MP_JOIN we accepted): counted against the limit. */
  onPeerSubflow(local: IpAddress, remote: IpAddress, remotePort: number, remoteId: number, backup: boolean): number {
    const l = this.locals.get(addressKey(local));
    return this.addPath({
      pathId: this.nextPathId++,
      local,
      localId: l?.id ?? 0,
      remote,
      remoteId,
      port: remotePort,
      ifIndex: l?.info.ifIndex ?? 0,
      state: 'established',
      ours: false,
      backup,
    }).pathId;
  }

  /** Whether one more subflow fits (for accepting a peer's MP_JOIN). */
  get canAcceptSubflow(): boolean {
    return this.liveCount() < this.options.maxSubflows;
  }

  /** A subflow we asked for (or the initial one) is fully established. */
  onSubflowEstablished(pathId: number, now: number): void {
    const p = this.paths.find((x) => x.pathId === pathId);
    if (!p) return;
    p.state = 'established';
    p.failures = 0;
    p.retryAt = undefined;
    this.update(now);
  }

  /** A subflow is gone. Ours are re-created after a backoff unless refused or closed on purpose. */
  onSubflowClosed(pathId: number, reason: SubflowCloseReason, now: number): void {
    const i = this.paths.findIndex((x) => x.pathId === pathId);
    if (i < 0) return;
    const p = this.paths[i]!;
    if (p.state === 'idle' || p.state === 'waiting') return;
    if (!p.ours || reason === 'closed') {
      this.paths.splice(i, 1);
    } else if (reason === 'rejected') {
      p.state = 'idle';
    } else {
      p.failures++;
      p.state = 'waiting';
      p.retryAt = now + Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** (p.failures - 1));
    }
    // The other family's paths on this interface stood by for this one: they take over now.
    for (const q of this.paths) if (q.state === 'waiting' && q.retryAt === undefined && q.ifIndex === p.ifIndex) q.retryAt = now;
    this.update(now);
  }

  /** Actions due at `now`, in the order they arose (a withdrawal precedes what replaces it). */
  poll(now: number): PathAction[] {
    this.update(now);
    return this.actions.splice(0);
  }

  /** When `poll` has something to do next without any event (a retry or a re-announcement). */
  nextTimeout(): number | undefined {
    let t: number | undefined;
    const consider = (x: number | undefined): void => {
      if (x !== undefined && (t === undefined || x < t)) t = x;
    };
    // Retries due while every subflow slot is taken wait for a slot to free (an event).
    if (this.liveCount() < this.options.maxSubflows) for (const p of this.paths) if (p.state === 'waiting') consider(p.retryAt);
    for (const a of this.announcements.values()) consider(a.sentAt + this.options.addAddrTimeoutMs);
    return t;
  }

  private addPath(p: Omit<Path, 'localKey' | 'remoteKey' | 'failures' | 'retryAt'>): Path {
    const path: Path = {
      ...p,
      localKey: addressKey(p.local),
      remoteKey: remoteKeyOf(p.remote, p.port),
      failures: 0,
      retryAt: undefined,
    };
    this.paths.push(path);
    return path;
  }

  /** A peer address and the port subflows to it use (the connection's when none was announced). */
  private remoteKey(r: RemoteAddress): string {
    return remoteKeyOf(r.address, r.port || this.initial.remotePort);
  }

  /** Peer ADD_ADDRs accepted: neither the initial address nor learned ones count against the limit. */
  private acceptedCount(): number {
    let n = 0;
    for (const r of this.remotes.values()) if (r.id !== 0 && !r.learnedFrom) n++;
    return n;
  }

  private liveCount(): number {
    let n = 0;
    for (const p of this.paths) if (p.state === 'connecting' || p.state === 'established') n++;
    return n;
  }

  private forgetRemote(id: number): void {
    this.remotes.delete(id);
    for (let i = this.paths.length - 1; i >= 0; i--) {
      const p = this.paths[i]!;
      if (p.remoteId !== id) continue;
      if (p.state === 'connecting' || p.state === 'established') {
        this.actions.push({ kind: 'close-subflow', pathId: p.pathId, reason: 'remote-removed' });
      }
      this.paths.splice(i, 1);
    }
  }

  /** A local address became unusable: close its subflows (kept for a later comeback) and withdraw it. */
  private withdraw(key: string, l: Local, reason: 'local-removed' | 'link-down'): void {
    for (const p of this.paths) {
      if (p.localKey !== key) continue;
      if (p.state === 'connecting' || p.state === 'established') {
        this.actions.push({ kind: 'close-subflow', pathId: p.pathId, reason });
      }
      p.state = 'idle';
      p.retryAt = undefined;
    }
    if (l.announced) {
      l.announced = false;
      this.announcements.delete(l.id);
      this.actions.push({ kind: 'remove-address', id: l.id });
    }
  }

  /** A local address is usable again: its paths of ours are retried at once. */
  private revive(key: string, now: number): void {
    for (const p of this.paths) {
      if (p.localKey !== key || !p.ours || p.state !== 'idle') continue;
      p.state = 'waiting';
      p.failures = 0;
      p.retryAt = now;
    }
  }

  private usableLocal(l: Local): boolean {
    return l.present && l.up;
  }

  /** Recompute what to do: due retries, announcements, and missing subflows. */
  private update(now: number): void {
    if (!this.established) return;
    this.announce(now);
    this.retry(now);
    if (this.options.createSubflows) this.fillMesh();
  }

  private announce(now: number): void {
    if (!this.options.announce) return;
    for (const a of this.announcements.values()) {
      if (now < a.sentAt + this.options.addAddrTimeoutMs) continue;
      const l = [...this.locals.values()].find((x) => x.id === a.id);
      if (!l || a.retransmits >= this.options.addAddrMaxRetransmits) {
        this.announcements.delete(a.id);
        continue;
      }
      a.retransmits++;
      a.sentAt = now;
      this.actions.push({ kind: 'announce', id: l.id, address: l.info.address, port: l.info.port });
    }
    // One announcement awaits its echo at a time, as Linux's own path manager sends them
    // (pm_kernel.c: the next signal endpoint once mptcp_pm_add_addr_echoed). A Linux peer
    // holds a single received ADD_ADDR for its path-manager worker (pm->remote) and drops,
    // unechoed, any that arrives before the worker ran (pm.c mptcp_pm_add_addr_received,
    // MPTcpExtAddAddrDrop): announcements sent back to back lost all but the first.
    if (this.announcements.size > 0) return;
    // RFC 8684 3.4.1: the initial address (ID 0) is known to the peer already. Addresses of
    // the initial subflow's family first: a peer socket of one family joins only that family.
    const family = familyOf(this.initial.local);
    let next: Local | undefined;
    for (const l of this.locals.values()) {
      if (l.id === 0 || l.announced || !l.info.signal || !this.usableLocal(l)) continue;
      if (!next || (familyOf(l.info.address) === family && familyOf(next.info.address) !== family)) next = l;
    }
    if (!next) return;
    next.announced = true;
    this.announcements.set(next.id, { id: next.id, sentAt: now, retransmits: 0 });
    this.actions.push({ kind: 'announce', id: next.id, address: next.info.address, port: next.info.port });
  }

  private retry(now: number): void {
    for (const p of this.paths) {
      if (p.state !== 'waiting' || p.retryAt === undefined || p.retryAt > now) continue;
      const l = this.locals.get(p.localKey);
      if (!l || !this.usableLocal(l) || !this.remotes.has(p.remoteId)) {
        p.state = 'idle';
        p.retryAt = undefined;
        continue;
      }
      if (this.liveCount() >= this.options.maxSubflows) continue;
      if (this.familyStandsBy(l, this.remotes.get(p.remoteId)!)) {
        p.retryAt = undefined;
        continue;
      }
      this.open(p);
    }
  }

  /**
   * With oneFamilyPerInterface: `l` -> `r` waits while a subflow of the other family is live
   * on `l`'s interface. Both would share that link's bottleneck, and an IPv6 packet carries 20
   * header bytes more (1.4% of a 1500-byte MTU). A learned address (Happy Eyeballs' loser,
   * kept on purpose) is exempt.
   */
  private familyStandsBy(l: Local, r: RemoteAddress): boolean {
    if (!this.options.oneFamilyPerInterface || r.learnedFrom) return false;
    const family = familyOf(l.info.address);
    for (const p of this.paths) {
      if ((p.state === 'connecting' || p.state === 'established') && p.ifIndex === l.info.ifIndex && familyOf(p.local) !== family) return true;
    }
    return false;
  }

  /** Open the missing local x remote pairs (same family), least-used addresses first. */
  private fillMesh(): void {
    const candidates: { l: Local; r: RemoteAddress; load: number; order: number }[] = [];
    let order = 0;
    for (const l of this.locals.values()) {
      if (!l.info.subflow || !this.usableLocal(l)) continue;
      for (const r of this.remotes.values()) {
        order++;
        if (familyOf(l.info.address) !== familyOf(r.address)) continue;
        // A learned address is joined only from the local address that reached it: the one pair known to work.
        if (r.learnedFrom ? !addressEquals(l.info.address, r.learnedFrom) : !this.options.fullMesh && !this.linuxPairing(l, r)) continue;
        const rKey = this.remoteKey(r);
        const lKey = addressKey(l.info.address);
        // A peer's join names its address by ID (RFC 8684 3.2), its port is ephemeral.
        if (this.paths.some((p) => p.localKey === lKey && (p.remoteKey === rKey || p.remoteId === r.id))) continue;
        const load = this.paths.filter(
          (p) => (p.localKey === lKey || p.remoteKey === rKey) && (p.state === 'connecting' || p.state === 'established'),
        ).length;
        candidates.push({ l, r, load, order });
      }
    }
    // The initial subflow's family first: with oneFamilyPerInterface it takes each interface.
    const family = familyOf(this.initial.local);
    const rank = (c: (typeof candidates)[number]): number => (this.options.oneFamilyPerInterface && familyOf(c.l.info.address) !== family ? 1 : 0);
    candidates.sort((a, b) => rank(a) - rank(b) || a.load - b.load || a.order - b.order);
    for (const c of candidates) {
      if (this.liveCount() >= this.options.maxSubflows) break;
      if (this.familyStandsBy(c.l, c.r)) continue;
      const path = this.addPath({
        pathId: this.nextPathId++,
        local: c.l.info.address,
        localId: c.l.id,
        remote: c.r.address,
        remoteId: c.r.id,
        port: c.r.port || this.initial.remotePort,
        ifIndex: c.l.info.ifIndex,
        state: 'connecting',
        ours: true,
        backup: c.l.info.backup,
      });
      this.open(path);
    }
  }

  /**
   * Linux's default pairing (no fullmesh flag): a `subflow` address joins the peer's
   * initial address; an announced peer address is joined from our initial address.
   */
  private linuxPairing(l: Local, r: RemoteAddress): boolean {
    return r.id === 0 ? l.id !== 0 : addressEquals(l.info.address, this.initial.local);
  }

  private open(p: Path): void {
    p.state = 'connecting';
    p.retryAt = undefined;
    const l = this.locals.get(p.localKey)!;
    p.backup = l.info.backup;
    p.ifIndex = l.info.ifIndex;
    this.actions.push({
      kind: 'open-subflow',
      pathId: p.pathId,
      local: p.local,
      localId: p.localId,
      ifIndex: p.ifIndex,
      remote: p.remote,
      remoteId: p.remoteId,
      port: p.port,
      backup: p.backup,
    });
  }
}
