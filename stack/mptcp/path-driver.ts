// The path manager at work on one connection: H8's pure policy (path-manager.ts) fed with
// the host's addresses and link changes, the peer's ADD_ADDR / REMOVE_ADDR and subflow
// outcomes, and its actions carried out on real subflows (open a join, announce, withdraw,
// close a subflow, MP_PRIO). RFC 8684 3.2 and 3.4.

import type { Host } from '../ip/host.js';
import type { IpAddress } from '../wire/address.js';
import type { AddAddr } from '../wire/mptcp-options.js';
import type { MptcpConnection } from './connection.js';
import { PathManager, type LocalAddress, type PathManagerOptions, type SubflowCloseReason } from './path-manager.js';
import type { Subflow } from './subflow.js';

/** Addresses a subflow may use: not loopback, not link-local (they cannot reach the peer's other paths). */
export function usableAddress(a: IpAddress): boolean {
  if (a.length === 4) return a[0] !== 127 && !(a[0] === 169 && a[1] === 254) && a[0] !== 0;
  if (a[0] === 0xfe && (a[1]! & 0xc0) === 0x80) return false;
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return true;
  return a[15] !== 1 && a[15] !== 0;
}

/** The host's addresses as the path manager sees them: every usable one opens subflows and is announced. */
export function hostLocalAddresses(host: Host, backupInterfaces: ReadonlySet<string> = new Set()): LocalAddress[] {
  const out: LocalAddress[] = [];
  for (const iface of host.interfaces.all()) {
    for (const a of iface.addresses) {
      if (!usableAddress(a.address)) continue;
      out.push({ address: a.address, ifIndex: iface.index, subflow: true, signal: true, backup: backupInterfaces.has(iface.name) });
    }
  }
  return out;
}

export class PathDriver {
  readonly pm: PathManager;
  private readonly conn: MptcpConnection;
  /** Local address IDs whose last subflow we closed in this round: REMOVE_ADDR them. */
  private readonly withdrawn = new Set<number>();

  constructor(conn: MptcpConnection, options: PathManagerOptions, initial: { local: IpAddress; remote: IpAddress; remotePort: number; ifIndex: number; weOpened: boolean }) {
    this.conn = conn;
    this.pm = new PathManager(options, initial);
    conn.pathEvents = this;
  }

  // ---- host events ---------------------------------------------------------------------

  setLocalAddresses(list: readonly LocalAddress[], now: number): void {
    this.pm.setLocalAddresses(list, now);
    this.apply(now);
  }

  linkDown(ifIndex: number, now: number): void {
    this.pm.linkDown(ifIndex, now);
    this.apply(now);
  }

  linkUp(ifIndex: number, now: number): void {
    this.pm.linkUp(ifIndex, now);
    this.apply(now);
  }

  // ---- connection events ---------------------------------------------------------------

  onEstablished(now: number): void {
    this.pm.onEstablished(now);
    this.apply(now);
  }

  onSubflowClosed(sf: Subflow, now: number): void {
    if (sf.pathId < 0) return;
    this.pm.onSubflowClosed(sf.pathId, closeReason(sf), now);
    this.apply(now);
  }

  onAddAddr(o: AddAddr, now: number): boolean {
    const accepted = this.pm.onAddAddr({ id: o.addressId, address: o.address, port: o.port }, now);
    this.apply(now);
    return accepted;
  }

  /** A peer address learned outside ADD_ADDR (PathManager.addLearnedRemote): joined from `local`. */
  addLearnedRemote(address: IpAddress, port: number, local: IpAddress, now: number): boolean {
    const added = this.pm.addLearnedRemote(address, port, local, now);
    this.apply(now);
    return added;
  }

  onAddAddrEcho(id: number, now: number): void {
    this.pm.onAddAddrEcho(id, now);
    this.apply(now);
  }

  onRemoveAddr(id: number, now: number): void {
    this.pm.onRemoveAddr(id, now);
    // RFC 8684 3.4.2: every subflow using that address goes, also the ones the peer opened
    // from it (the policy knows only addresses the peer announced).
    for (const sf of this.conn.subflows) if (!sf.closed && sf.remoteId === id && sf.fullyEstablished) this.conn.closeSubflow(sf, 'remote-removed');
    this.apply(now);
  }

  nextTimeout(): number | undefined {
    return this.pm.nextTimeout();
  }

  onTimeout(now: number): void {
    this.apply(now);
  }

  localIdOf(a: IpAddress): number | undefined {
    return this.pm.localIdOf(a);
  }

  canAcceptSubflow(): boolean {
    return this.pm.canAcceptSubflow;
  }

  /** A join the peer opened to us completed: it counts against the subflow limit. */
  onPeerSubflow(sf: Subflow): number {
    return this.pm.onPeerSubflow(sf.localAddress!, sf.remoteAddress!, sf.remotePort, sf.remoteId, sf.backupRemote);
  }

  /** Carry out what the policy decided. */
  private apply(now: number): void {
    const c = this.conn;
    for (const a of this.pm.poll(now)) {
      switch (a.kind) {
        case 'open-subflow': {
          // A closing connection opens no more subflows: the pair rests until a link event.
          if (c.closing) {
            this.pm.onSubflowClosed(a.pathId, 'rejected', now);
            break;
          }
          const sf = c.openJoin(a.pathId, a.local, a.localId, a.remote, a.remoteId, a.port, a.backup);
          if (!sf) this.pm.onSubflowClosed(a.pathId, 'failed', now);
          break;
        }
        case 'announce':
          c.announce(a.id, a.address, a.port);
          break;
        case 'remove-address':
          this.withdrawn.add(a.id);
          break;
        case 'close-subflow': {
          const sf = c.subflows.find((s) => s.pathId === a.pathId && !s.closed);
          if (!sf) break;
          c.closeSubflow(sf, a.reason);
          // Our address is gone: tell the peer at once (RFC 8684 3.4.2) so it stops waiting
          // for its data on that subflow and reinjects it, announced address or not.
          if (a.reason !== 'remote-removed' && !c.subflows.some((s) => !s.closed && s.localId === sf.localId)) this.withdrawn.add(sf.localId);
          break;
        }
        case 'set-backup': {
          const sf = c.subflows.find((s) => s.pathId === a.pathId && !s.closed);
          sf?.sendPriority(a.backup);
          break;
        }
      }
    }
    for (const id of this.withdrawn) c.removeAddress(id);
    this.withdrawn.clear();
    const retry = this.pm.nextTimeout();
    if (retry !== undefined) c.scheduleTimer();
  }
}

/** How a subflow's end reads for the path manager (retry it, give up on the pair, or nothing). */
function closeReason(sf: Subflow): SubflowCloseReason {
  if (sf.closeReason !== undefined) return sf.closeReason;
  const code = sf.tcp?.error?.code;
  if (!sf.fullyEstablished && sf.isJoin && (code === 'ECONNREFUSED' || code === 'ECONNABORTED')) return 'rejected';
  return code === undefined ? 'closed' : 'failed';
}
