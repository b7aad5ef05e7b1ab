// The host's interfaces: index, name, MTU, link state and the address set. A host uses the
// weak host model (RFC 1122 3.3.4.2, what Linux does): a packet to any of our addresses is
// ours, whatever interface it came in on.

import { addressKey, familyOf, type IpAddress, type IpFamily } from '../wire/address.js';

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
    return removed;
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
