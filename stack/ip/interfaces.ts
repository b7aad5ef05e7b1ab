// The host's interfaces: index, name, MTU, link state and the address set. A host uses the
// weak host model (RFC 1122 3.3.4.2, what Linux does): a packet to any of our addresses is
// ours, whatever interface it came in on.

import { addressKey, familyOf, type IpAddress, type IpFamily } from '../wire/address.js';
import { readU32 } from '../wire/bytes.js';

export interface InterfaceAddress {
  readonly address: IpAddress;
  readonly prefixLength: number;
  readonly family: IpFamily;
}

export interface NetInterface {
  readonly index: number;
  readonly name: string;
  mtu: number;
  /** A down link neither sends nor receives, and routes through it are skipped. */
  up: boolean;
  readonly addresses: InterfaceAddress[];
}

/** Smallest MTU an IPv6 link may have (RFC 8200 5); IPv4 needs 68 (RFC 791). */
export const IPV6_MIN_MTU = 1280;
export const IPV4_MIN_MTU = 68;

export class InterfaceTable {
  private readonly byIndex = new Map<number, NetInterface>();
  // Local address -> interface owning it; makes "is this packet for us" one lookup.
  private readonly local = new Map<string, NetInterface>();
  // Directed broadcast address of each IPv4 prefix we have (as a u32) -> addresses on it.
  private readonly broadcasts4 = new Map<number, number>();
  private nextIndex = 1;

  add(name: string, mtu: number): NetInterface {
    if (!Number.isInteger(mtu) || mtu < IPV4_MIN_MTU || mtu > 65535) throw new RangeError(`interface MTU ${mtu} out of range`);
    for (const i of this.byIndex.values()) if (i.name === name) throw new Error(`interface ${name} exists`);
    const iface: NetInterface = { index: this.nextIndex++, name, mtu, up: true, addresses: [] };
    this.byIndex.set(iface.index, iface);
    return iface;
  }

  get(ifIndex: number): NetInterface | undefined {
    return this.byIndex.get(ifIndex);
  }

  all(): IterableIterator<NetInterface> {
    return this.byIndex.values();
  }

  /** Adds an address; throws on a bad prefix, an unknown interface or a duplicate address. */
  addAddress(ifIndex: number, address: IpAddress, prefixLength: number): InterfaceAddress {
    const iface = this.require(ifIndex);
    const family = familyOf(address);
    const bits = address.length * 8;
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > bits) throw new RangeError(`prefix length ${prefixLength} out of range`);
    const key = addressKey(address);
    if (this.local.has(key)) throw new Error('address already assigned');
    const entry: InterfaceAddress = { address: address.slice(), prefixLength, family };
    iface.addresses.push(entry);
    this.local.set(key, iface);
    const broadcast = directedBroadcast(entry);
    if (broadcast !== undefined) this.broadcasts4.set(broadcast, (this.broadcasts4.get(broadcast) ?? 0) + 1);
    return entry;
  }

  /** Removes an address; returns the removed entry, or undefined when it was not on that interface. */
  removeAddress(ifIndex: number, address: IpAddress): InterfaceAddress | undefined {
    const iface = this.require(ifIndex);
    const key = addressKey(address);
    const at = iface.addresses.findIndex((a) => addressKey(a.address) === key);
    if (at < 0) return undefined;
    const [removed] = iface.addresses.splice(at, 1);
    this.local.delete(key);
    const broadcast = directedBroadcast(removed!);
    if (broadcast !== undefined) {
      const left = this.broadcasts4.get(broadcast)! - 1;
      if (left > 0) this.broadcasts4.set(broadcast, left);
      else this.broadcasts4.delete(broadcast);
    }
    return removed;
  }

  /** True when `u32` (an IPv4 address as a number) is the directed broadcast address of one of our prefixes. */
  isDirectedBroadcast4(u32: number): boolean {
    return this.broadcasts4.size > 0 && this.broadcasts4.has(u32);
  }

  /** The interface that owns `address`, when it is one of ours. */
  owner(address: IpAddress): NetInterface | undefined {
    return this.local.get(addressKey(address));
  }

  /** True when `address` is assigned to `ifIndex` (for interface-bound routes). */
  hasAddressOn(ifIndex: number, address: IpAddress): boolean {
    return this.local.get(addressKey(address))?.index === ifIndex;
  }

  private require(ifIndex: number): NetInterface {
    const iface = this.byIndex.get(ifIndex);
    if (!iface) throw new Error(`no interface ${ifIndex}`);
    return iface;
  }
}

/**
 * RFC 1122 3.2.1.3 (c)/(d): { <prefix>, -1 } broadcasts to the prefix, as a u32. A /31 (RFC
 * 3021) and a /32 have none.
 */
function directedBroadcast(a: InterfaceAddress): number | undefined {
  if (a.family !== 4 || a.prefixLength > 30) return undefined;
  return (readU32(a.address, 0) | (0xffffffff >>> a.prefixLength)) >>> 0;
}
