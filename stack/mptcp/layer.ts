// MPTCP on a Host, over its TcpLayer (RFC 8684): connect() opens the initial subflow with
// MP_CAPABLE, listen() accepts MP_CAPABLE SYNs as new connections, MP_JOIN SYNs as subflows
// of the connection their token names (unknown token: RST with MP_TCPRST, RFC 8684 3.2) and
// plain SYNs as plain TCP; the token table (tokens.ts); the host's address and link changes
// fed to every connection's path manager; the timers of all connections (the Host visits
// them as a timer client).

import type { MptcpConfig, TcpConfig } from '../config.js';
import type { Host, HostNetworkEvent } from '../ip/host.js';
import type { IncomingSyn, ListenOptions } from '../tcp/connection-options.js';
import type { TcpConnection } from '../tcp/connection.js';
import { TcpError } from '../tcp/errors.js';
import type { TcpExtension } from '../tcp/extension.js';
import type { Ipv6HeaderHook } from '../tcp/ipv6-hook.js';
import type { TcpLayer } from '../tcp/layer.js';
import type { TcpListener } from '../tcp/listener.js';
import { TimerHeap, type TimerOwner } from '../tcp/timer-heap.js';
import { parseAddress, type IpAddress } from '../wire/address.js';
import { MP_TCPRST_MPTCP_ERROR } from '../wire/mptcp-options.js';
import { TCP_ACK } from '../wire/tcp.js';
import type { TcpOption } from '../wire/tcp-options.js';
import { MptcpConnection, type MptcpConnectionOptions, type MptcpConnectionOwner } from './connection.js';
import { MptcpEventLog, type MptcpEventListener } from './events.js';
import { acceptableMpCapable, mptcpOptionsOf } from './options.js';
import { hostLocalAddresses, PathDriver } from './path-driver.js';
import { pathManagerOptions } from './path-manager.js';
import { Subflow } from './subflow.js';
import { TokenTable } from './tokens.js';

export interface MptcpConnectOptions extends MptcpConnectionOptions {
  remoteAddress: IpAddress | string;
  remotePort: number;
  localAddress?: IpAddress | string;
  localPort?: number;
  /** Rides on the initial subflow's IPv6 headers (the name exchange; joins carry none). */
  ipv6Hook?: Ipv6HeaderHook;
}

export interface MptcpListenOptions extends MptcpConnectionOptions {
  port: number;
  /** One of our addresses; every address of both families when absent. */
  address?: IpAddress | string;
  backlog?: number;
  /** Every accepted connection: MPTCP, or plain TCP when the client did not offer MP_CAPABLE. */
  onConnection?: (conn: MptcpConnection | TcpConnection) => void;
  /** Every SYN's IPv6 header hook (TCP ListenOptions.ipv6Hook; sees joins too). */
  ipv6Hook?: ListenOptions['ipv6Hook'];
}

export interface MptcpLayerOptions {
  /** Sees every connection's events as they happen (the daemon's event stream). */
  onEvent?: MptcpEventListener;
  /** Interfaces whose addresses make backup subflows (RFC 8684 3.3.8). */
  backupInterfaces?: readonly string[];
  /** Events kept per connection for stats. */
  eventLogSize?: number;
}

export interface MptcpLayerCounters {
  /** MP_CAPABLE connections opened by connect() / accepted (Linux MPTcpExtMPCapableSYNTX / SYNRX). */
  activeOpens: number;
  passiveOpens: number;
  /** MP_JOIN SYNs naming a token nobody has (Linux MPTcpExtMPJoinNoTokenFound). */
  joinNoToken: number;
  /** MP_JOIN SYNs accepted / refused by the connection (limits, not fully established). */
  joinSynAccepted: number;
  joinSynRefused: number;
  /** SYNs to an MPTCP listener without (acceptable) MP_CAPABLE: plain TCP. */
  plainSyns: number;
  /** Token table full or key collisions: answered as plain TCP. */
  tokenFailures: number;
}

interface Timed extends TimerOwner {
  conn: MptcpConnection;
}

export class MptcpLayer implements MptcpConnectionOwner {
  readonly config: MptcpConfig;
  readonly tcpConfig: TcpConfig;
  readonly counters: MptcpLayerCounters = { activeOpens: 0, passiveOpens: 0, joinNoToken: 0, joinSynAccepted: 0, joinSynRefused: 0, plainSyns: 0, tokenFailures: 0 };
  private readonly tokens: TokenTable<MptcpConnection | undefined>;
  private readonly live = new Map<MptcpConnection, Timed>();
  private readonly drivers = new Map<MptcpConnection, PathDriver>();
  private readonly timers = new TimerHeap<Timed>();
  private backupInterfaces: ReadonlySet<string>;
  private readonly onEvent: MptcpEventListener | undefined;
  private readonly eventLogSize: number;

  constructor(
    readonly host: Host,
    readonly tcp: TcpLayer,
    options: MptcpLayerOptions = {},
  ) {
    this.config = host.config.mptcp;
    this.tcpConfig = host.config.tcp;
    this.tokens = new TokenTable(this.config.maxConnections);
    this.backupInterfaces = new Set(options.backupInterfaces ?? []);
    this.onEvent = options.onEvent;
    this.eventLogSize = options.eventLogSize ?? 256;
    host.addTimerClient(this);
    host.onNetworkEvent((e) => this.onHostEvent(e));
  }

  get now(): number {
    return this.tcp.now;
  }

  /** Live connections. */
  connections(): IterableIterator<MptcpConnection> {
    return this.live.keys();
  }

  /**
   * Active open with MP_CAPABLE (RFC 8684 3.1). Throws TcpError like TcpLayer.connect;
   * a peer without MPTCP gives a connection in fallback (plain TCP).
   */
  connect(opts: MptcpConnectOptions, now: number): MptcpConnection {
    const key = this.tokens.allocate(this.host.random, undefined);
    if (!key.ok) throw new TcpError('EADDRNOTAVAIL', `no MPTCP token (${key.reason})`);
    const conn = new MptcpConnection(this, 'client', key, opts, new MptcpEventLog(key.token, this.eventLogSize, this.onEvent));
    this.tokens.replace(key.token, conn);
    const sf = conn.createSubflow({ role: 'mpc-client', pathId: 0, localId: 0, remoteId: 0, backup: false });
    let tcp: TcpConnection;
    try {
      tcp = this.tcp.connect(
        {
          remoteAddress: opts.remoteAddress,
          remotePort: opts.remotePort,
          ...(opts.localAddress !== undefined && { localAddress: opts.localAddress }),
          ...(opts.localPort !== undefined && { localPort: opts.localPort }),
          ...this.tcpOptions(opts),
          extension: sf,
          ipv6Hook: opts.ipv6Hook,
        },
        now,
      );
    } catch (e) {
      this.tokens.remove(key.token, conn);
      throw e;
    }
    sf.attach(tcp);
    conn.bindHandler(sf);
    this.counters.activeOpens++;
    conn.events.record(now, { kind: 'created', role: 'client', token: key.token });
    this.track(conn, tcp.localAddress, tcp.remoteAddress, tcp.remotePort, true, now);
    return conn;
  }

  /** Passive open: MPTCP connections, joins and plain TCP on one port. */
  listen(opts: MptcpListenOptions): TcpListener {
    const connOptions: MptcpConnectionOptions = opts;
    return this.tcp.listen({
      port: opts.port,
      ...(opts.address !== undefined && { address: opts.address }),
      ...(opts.backlog !== undefined && { backlog: opts.backlog }),
      ...this.tcpOptions(opts),
      extension: (syn) => this.onSyn(syn, connOptions),
      ipv6Hook: opts.ipv6Hook,
      onConnection: (conn) => this.onAccepted(conn, opts.onConnection),
    });
  }

  /**
   * Subflows on these interfaces become backups (RFC 8684 3.3.8): new joins carry the B flag,
   * established subflows get MP_PRIO; the others become regular again.
   */
  setBackupInterfaces(names: readonly string[]): void {
    this.backupInterfaces = new Set(names);
    const list = hostLocalAddresses(this.host, this.backupInterfaces);
    for (const [conn, d] of this.drivers) {
      if (conn.state === 'CLOSED') continue;
      d.setLocalAddresses(list, this.now);
      this.schedule(conn);
    }
  }

  // ---- Host timer client -----------------------------------------------------------------

  nextTimeout(): number | undefined {
    return this.timers.peek();
  }

  onTimeout(now: number): void {
    const due: Timed[] = [];
    for (let t = this.timers.popDue(now); t !== undefined; t = this.timers.popDue(now)) due.push(t);
    for (const t of due) {
      t.conn.onTimeout(now);
      if (t.conn.state === 'CLOSED' && t.conn.deadline === undefined) this.forget(t.conn);
      else this.schedule(t.conn);
    }
    this.timers.compact(this.live.size);
  }

  // ---- MptcpConnectionOwner --------------------------------------------------------------

  schedule(conn: MptcpConnection): void {
    const t = this.live.get(conn);
    if (t) this.timers.schedule(t, conn.deadline);
  }

  openSubflow(conn: MptcpConnection, sf: Subflow, local: IpAddress, remote: IpAddress, port: number): TcpConnection | undefined {
    try {
      return this.tcp.connect({ remoteAddress: remote, remotePort: port, localAddress: local, ...this.tcpOptions(conn.options), extension: sf }, this.now);
    } catch (e) {
      if (e instanceof TcpError) return undefined;
      throw e;
    }
  }

  release(conn: MptcpConnection): void {
    this.tokens.remove(conn.localToken, conn);
  }

  nonce(): number {
    return this.host.random.uint32();
  }

  // ---- passive side --------------------------------------------------------------------

  private onSyn(syn: IncomingSyn, options: MptcpConnectionOptions): TcpExtension | { resetWith: TcpOption[] } | undefined {
    const seg = syn.segment;
    // A SYN-cookie ACK carries no SYN options to decide on: plain TCP (Linux keeps MPTCP
    // state in cookies; we do not).
    if (seg.flags & TCP_ACK) return undefined;
    const opts = mptcpOptionsOf(seg.options());
    for (const o of opts) {
      if (o.subtype === 'mpJoinSyn') {
        const conn = this.tokens.lookup(o.token);
        if (!conn) {
          // RFC 8684 3.2: unknown token -> RST (Linux MP_TCPRST reason MPTCP_RST_EMPTCP).
          this.counters.joinNoToken++;
          return this.resetWith(MP_TCPRST_MPTCP_ERROR);
        }
        const sf = conn.acceptJoin(syn.localAddress, syn.remoteAddress, seg.srcPort, o, seg.seq);
        if (sf === 'reset') {
          this.counters.joinSynRefused++;
          return this.resetWith(MP_TCPRST_MPTCP_ERROR);
        }
        this.counters.joinSynAccepted++;
        return sf;
      }
    }
    const mpc = opts.find((o) => o.subtype === 'mpCapable');
    // RFC 8684 3.1: a v1 SYN carries MP_CAPABLE without a key; anything else is plain TCP.
    if (!this.config.enabled || !mpc || mpc.subtype !== 'mpCapable' || mpc.senderKey !== undefined || !acceptableMpCapable(mpc)) {
      this.counters.plainSyns++;
      return undefined;
    }
    const key = this.tokens.allocate(this.host.random, undefined);
    if (!key.ok) {
      this.counters.tokenFailures++;
      return undefined;
    }
    const conn = new MptcpConnection(this, 'server', key, options, new MptcpEventLog(key.token, this.eventLogSize, this.onEvent));
    this.tokens.replace(key.token, conn);
    conn.onMpcSyn(mpc);
    const sf = conn.createSubflow({ role: 'mpc-server', pathId: 0, localId: 0, remoteId: 0, backup: false });
    sf.acceptMpcSyn(seg.seq, { local: syn.localAddress, remote: syn.remoteAddress, remotePort: seg.srcPort });
    this.counters.passiveOpens++;
    conn.events.record(this.now, { kind: 'created', role: 'server', token: key.token });
    this.track(conn, syn.localAddress, syn.remoteAddress, seg.srcPort, false, this.now);
    return sf;
  }

  private onAccepted(tcp: TcpConnection, onConnection: MptcpListenOptions['onConnection']): void {
    const ext = tcp.extension;
    if (ext instanceof Subflow) {
      const conn = ext.connection;
      ext.attach(tcp);
      conn.bindHandler(ext);
      if (ext.role === 'mpc-server') onConnection?.(conn);
      return;
    }
    onConnection?.(tcp);
  }

  /** A listener's refusal: a RST carrying MP_TCPRST with `reason` (RFC 8684 3.6). */
  private resetWith(reason: number): { resetWith: TcpOption[] } {
    return { resetWith: [{ kind: 'mptcp', option: { subtype: 'mpTcpRst', flags: 0, reason } }] };
  }

  // ---- bookkeeping ---------------------------------------------------------------------

  private track(conn: MptcpConnection, local: IpAddress, remote: IpAddress, remotePort: number, weOpened: boolean, now: number): void {
    this.live.set(conn, { conn, heapDeadline: Infinity });
    const ifIndex = this.host.interfaces.owner(local)?.index ?? 0;
    const driver = new PathDriver(conn, pathManagerOptions(this.config, weOpened), { local, remote, remotePort, ifIndex, weOpened });
    this.drivers.set(conn, driver);
    driver.setLocalAddresses(hostLocalAddresses(this.host, this.backupInterfaces), now);
    this.schedule(conn);
  }

  private forget(conn: MptcpConnection): void {
    this.live.delete(conn);
    this.drivers.delete(conn);
    this.tokens.remove(conn.localToken, conn);
  }

  /** Address and link changes reach every connection's path manager (RFC 8684 3.4). */
  private onHostEvent(e: HostNetworkEvent): void {
    const now = this.now;
    const list = hostLocalAddresses(this.host, this.backupInterfaces);
    for (const [conn, d] of this.drivers) {
      if (conn.state === 'CLOSED') continue;
      if (e.kind === 'link') {
        conn.events.record(now, { kind: 'local-address', change: e.up ? 'link-up' : 'link-down', ifIndex: e.ifIndex });
        if (e.up) d.linkUp(e.ifIndex, now);
        else d.linkDown(e.ifIndex, now);
      } else {
        conn.events.record(now, { kind: 'local-address', change: e.kind === 'address-added' ? 'added' : 'removed', ifIndex: e.ifIndex });
        d.setLocalAddresses(list, now);
      }
      this.schedule(conn);
    }
  }

  private tcpOptions(o: MptcpConnectionOptions): { noDelay?: boolean; receiveBufferBytes?: number } {
    return {
      ...(o.noDelay !== undefined && { noDelay: o.noDelay }),
      ...(o.receiveBufferBytes !== undefined && { receiveBufferBytes: o.receiveBufferBytes }),
    };
  }
}

export function toAddress(a: IpAddress | string): IpAddress | undefined {
  return typeof a === 'string' ? parseAddress(a) : a;
}
