// What happened to an MPTCP connection, for stats and the daemon's event stream (like Linux
// `ip mptcp monitor`: created/established/closed, announced/removed, subflow
// established/closed/priority), plus what Linux only counts in MIBs (bad ADD_ADDR HMACs,
// checksum failures, fallbacks). Each connection keeps the last events in a bounded log;
// a layer-wide listener sees them all as they happen.

import type { IpAddress } from '../wire/address.js';

export type MptcpEvent =
  | { kind: 'created'; role: 'client' | 'server'; token: number }
  | { kind: 'fully-established'; token: number }
  | { kind: 'fallback'; reason: string }
  | { kind: 'closed'; error: string | undefined }
  | { kind: 'subflow-opening'; subflow: number; pathId: number; local: IpAddress; remote: IpAddress; port: number; backup: boolean }
  | { kind: 'subflow-established'; subflow: number; pathId: number; local: IpAddress; remote: IpAddress; backup: boolean }
  | { kind: 'subflow-closing'; subflow: number; reason: string }
  | { kind: 'subflow-closed'; subflow: number; pathId: number; error: string | undefined; reset: number | undefined }
  | { kind: 'subflow-stale'; subflow: number }
  | { kind: 'subflow-recovered'; subflow: number }
  | { kind: 'subflow-retry'; pathId: number; at: number }
  | { kind: 'priority'; subflow: number; backup: boolean }
  | { kind: 'join-rejected'; remote: IpAddress; reason: string }
  | { kind: 'announce'; id: number; address: IpAddress }
  | { kind: 'remove-address'; id: number }
  | { kind: 'add-addr'; id: number; address: IpAddress; port: number | undefined; accepted: boolean }
  | { kind: 'add-addr-bad-hmac'; subflow: number; id: number; address: IpAddress }
  | { kind: 'remove-addr'; id: number }
  | { kind: 'local-address'; change: 'added' | 'removed' | 'link-down' | 'link-up'; ifIndex: number }
  | { kind: 'checksum-failure'; subflow: number; dsn: bigint }
  | { kind: 'mp-fail'; subflow: number; dsn: bigint }
  | { kind: 'fastclose' }
  | { kind: 'protocol-error'; subflow: number; reason: string };

export interface MptcpEventRecord {
  time: number;
  /** The connection's local token (RFC 8684 2.2), as `ip mptcp monitor` names connections. */
  token: number;
  event: MptcpEvent;
}

export type MptcpEventListener = (r: MptcpEventRecord) => void;

/** A connection's recent events (oldest dropped beyond `limit`). */
export class MptcpEventLog {
  private readonly list: MptcpEventRecord[] = [];

  constructor(
    private readonly token: number,
    private readonly limit: number,
    private readonly listener: MptcpEventListener | undefined,
  ) {}

  record(time: number, event: MptcpEvent): void {
    const r: MptcpEventRecord = { time, token: this.token, event };
    this.list.push(r);
    if (this.list.length > this.limit) this.list.splice(0, this.list.length - this.limit);
    this.listener?.(r);
  }

  entries(): readonly MptcpEventRecord[] {
    return this.list;
  }

  /** How many recorded events (still in the log) are of `kind`. */
  count(kind: MptcpEvent['kind']): number {
    let n = 0;
    for (const r of this.list) if (r.event.kind === kind) n++;
    return n;
  }
}
