// The table of connections by 4-tuple (RFC 9293 3.3.1 "the pair of sockets identifies the
// connection"). Demultiplexing happens per received segment, so the key is a number mixed
// from the ports and address bytes (no string per packet); each entry caches its key, and
// entries with equal keys chain through `tableNext`.

import { addressEquals, type IpAddress } from '../wire/address.js';

export interface TableEntry {
  readonly localAddress: IpAddress;
  readonly localPort: number;
  readonly remoteAddress: IpAddress;
  readonly remotePort: number;
  /** Set by the table on add. */
  tableKey: number;
  tableNext: TableEntry | undefined;
}

/** FNV-1a style mix of the 4-tuple; equal tuples give equal keys. */
export function tupleKey(localAddress: IpAddress, localPort: number, remoteAddress: IpAddress, remotePort: number): number {
  let h = Math.imul(((localPort << 16) | remotePort) ^ 0x811c9dc5, 0x01000193);
  for (let i = 0; i < remoteAddress.length; i++) h = Math.imul(h ^ remoteAddress[i]!, 0x01000193);
  for (let i = 0; i < localAddress.length; i++) h = Math.imul(h ^ localAddress[i]!, 0x01000193);
  return h >>> 0;
}

export class ConnectionTable<T extends TableEntry> {
  private readonly buckets = new Map<number, T>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(localAddress: IpAddress, localPort: number, remoteAddress: IpAddress, remotePort: number): T | undefined {
    let e = this.buckets.get(tupleKey(localAddress, localPort, remoteAddress, remotePort)) as TableEntry | undefined;
    while (e !== undefined) {
      if (e.localPort === localPort && e.remotePort === remotePort && addressEquals(e.remoteAddress, remoteAddress) && addressEquals(e.localAddress, localAddress)) {
        return e as T;
      }
      e = e.tableNext;
    }
    return undefined;
  }

  /** Adds `e`; the caller made sure its tuple is not taken. */
  add(e: T): void {
    const key = tupleKey(e.localAddress, e.localPort, e.remoteAddress, e.remotePort);
    e.tableKey = key;
    e.tableNext = this.buckets.get(key);
    this.buckets.set(key, e);
    this.count++;
  }

  /** Removes `e` if present; returns whether it was. */
  remove(e: T): boolean {
    const head = this.buckets.get(e.tableKey);
    if (head === undefined) return false;
    if (head === e) {
      if (e.tableNext === undefined) this.buckets.delete(e.tableKey);
      else this.buckets.set(e.tableKey, e.tableNext as T);
    } else {
      let prev: TableEntry = head;
      while (prev.tableNext !== undefined && prev.tableNext !== e) prev = prev.tableNext;
      if (prev.tableNext !== e) return false;
      prev.tableNext = e.tableNext;
    }
    e.tableNext = undefined;
    this.count--;
    return true;
  }

  *values(): Generator<T> {
    for (const head of this.buckets.values()) {
      for (let e: TableEntry | undefined = head; e !== undefined; e = e.tableNext) yield e as T;
    }
  }
}
