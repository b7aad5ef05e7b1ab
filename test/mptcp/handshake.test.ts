// Our MPTCP segments against the kernel's (test/fixtures/mptcp-*.pcap, Linux 6.18): the same
// option layout (kinds, lengths, NOP padding, MPTCP subtype and flag bytes) on every kind of
// segment of both roles, and values that check out (tokens, IDSNs, the MP_JOIN and ADD_ADDR
// HMACs, 64-bit DATA_ACK only after the peer's 64-bit DSN).

import { beforeAll, describe, expect, it } from 'vitest';
import { addAddrHmac, joinAckHmac, joinSynAckHmac, keyToIdsn, keyToToken } from '../../stack/mptcp/crypto.js';
import { parsePacket } from '../../stack/wire/packet.js';
import { parseAddress } from '../../stack/wire/address.js';
import type { MptcpOption } from '../../stack/wire/mptcp-options.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../stack/wire/tcp.js';
import { fixturePackets } from '../wire/fixtures.js';
import { mptcpPair, mptcpTransfer, randomBytes } from './sim-mptcp.js';

interface Seg {
  flags: number;
  payload: number;
  /** The option bytes as on the wire. */
  options: Uint8Array;
  mptcp: MptcpOption[];
  src: string;
}

function segment(packet: Uint8Array): Seg | undefined {
  const r = parsePacket(packet);
  if (!r.ok || r.value.transport.protocol !== 'tcp') return undefined;
  const l4 = packet.subarray(r.value.ip.version === 4 ? 20 : 40);
  const hl = (l4[12]! >> 4) * 4;
  const repr = r.value.transport.repr;
  return {
    flags: repr.flags,
    payload: r.value.payload.length,
    options: l4.slice(20, hl),
    mptcp: repr.options.flatMap((o) => (o.kind === 'mptcp' ? [o.option] : [])),
    src: Buffer.from(r.value.ip.repr.src).toString('hex'),
  };
}

/**
 * The layout of an option area: each option as kind/length, NOPs as "nop", and MPTCP options
 * with their first two data bytes (subtype, version or flags, flags or address ID).
 */
function layout(options: Uint8Array, { maskId = true } = {}): string {
  const out: string[] = [];
  for (let i = 0; i < options.length; ) {
    const kind = options[i]!;
    if (kind === 1) {
      out.push('nop');
      i++;
      continue;
    }
    if (kind === 0) break;
    const len = options[i + 1]!;
    if (kind === 30) {
      const sub = options[i + 2]!;
      const subtype = sub >> 4;
      // The address ID of MP_JOIN SYN/SYN-ACK and ADD_ADDR is whatever the endpoint numbering gave.
      const third = maskId && (subtype === 1 || subtype === 3) && len !== 24 ? 'id' : options[i + 3]!.toString(16).padStart(2, '0');
      out.push(`mptcp/${len}/${sub.toString(16).padStart(2, '0')}${third}`);
    } else {
      out.push(`${kind}/${len}`);
    }
    i += len;
  }
  return out.join(' ');
}

/** Strips the timestamps option (Linux's IPv6 capture ran without them) to compare the rest. */
function withoutTimestamps(l: string): string {
  return l.replace(/^nop nop 8\/10 ?/, '');
}

const linux4 = fixturePackets('mptcp-ipv4.pcap').map((p) => segment(p.data)!);
const linux6 = fixturePackets('mptcp-ipv6.pcap').map((p) => segment(p.data)!);
const linuxCsum = fixturePackets('mptcp-checksum.pcap').map((p) => segment(p.data)!);

function firstLinux(list: Seg[], pred: (s: Seg) => boolean): Seg {
  const s = list.find(pred);
  if (!s) throw new Error('no such fixture segment');
  return s;
}

const has = (s: Seg, pred: (o: MptcpOption) => boolean): boolean => s.mptcp.some(pred);
const isSyn = (s: Seg): boolean => (s.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
const isSynAck = (s: Seg): boolean => (s.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
const pure = (s: Seg): boolean => s.payload === 0 && (s.flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0;

describe('MPTCP segments as Linux lays them out', () => {
  const ours: Seg[] = [];
  let clientAddr = '';
  beforeAll(() => {
    const p = mptcpPair({ seed: 'bytes', paths: [{ params: { delayMs: 5 }, ipv6: false }, { params: { delayMs: 5 }, ipv6: false }] });
    p.net.onTrace((e) => {
      if (e.kind !== 'sent') return;
      const s = segment(e.packet);
      if (s) ours.push(s);
    });
    const t = mptcpTransfer(p, { clientData: randomBytes(200_000, 'b1'), serverData: randomBytes(200_000, 'b2') });
    p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 30_000);
    clientAddr = Buffer.from(parseAddress('10.1.0.1')!).toString('hex');
  });

  const mine = (pred: (s: Seg) => boolean): Seg => {
    const s = ours.find(pred);
    if (!s) throw new Error('no such segment of ours');
    return s;
  };
  const fromClient = (s: Seg): boolean => s.src === clientAddr || s.src === Buffer.from(parseAddress('10.2.0.1')!).toString('hex');

  it('MP_CAPABLE SYN (4 bytes), SYN/ACK (12) and third ACK (20) match Linux', () => {
    const mpc = (o: MptcpOption): boolean => o.subtype === 'mpCapable';
    expect(layout(mine((s) => isSyn(s) && has(s, mpc)).options)).toBe(layout(firstLinux(linux4, (s) => isSyn(s) && has(s, mpc)).options));
    expect(layout(mine((s) => isSynAck(s) && has(s, mpc)).options)).toBe(layout(firstLinux(linux4, (s) => isSynAck(s) && has(s, mpc)).options));
    const third = (s: Seg): boolean => pure(s) && has(s, (o) => o.subtype === 'mpCapable' && o.receiverKey !== undefined);
    expect(layout(mine(third).options)).toBe(layout(firstLinux(linux4, third).options));
    expect(layout(mine(third).options)).toBe('nop nop 8/10 mptcp/20/0101');
  });

  it('MP_CAPABLE with data (22 + NOP NOP) on the first data segment, the mapping at IDSN+1 / SSN 1', () => {
    const withData = (s: Seg): boolean => s.payload > 0 && has(s, (o) => o.subtype === 'mpCapable' && o.dataLength !== undefined);
    const seg = mine(withData);
    expect(withoutTimestamps(layout(seg.options))).toBe(layout(firstLinux(linux6, withData).options));
    expect(layout(seg.options)).toBe('nop nop 8/10 mptcp/22/0101 nop nop');
    const mpc = seg.mptcp.find((o) => o.subtype === 'mpCapable')!;
    expect(mpc.subtype === 'mpCapable' && mpc.dataLength).toBeGreaterThanOrEqual(seg.payload);
  });

  it('MP_JOIN SYN (12), SYN/ACK (16) and ACK (24) match Linux, with the token and both HMACs right', () => {
    const joinSyn = (s: Seg): boolean => has(s, (o) => o.subtype === 'mpJoinSyn');
    const joinSynAck = (s: Seg): boolean => has(s, (o) => o.subtype === 'mpJoinSynAck');
    const joinAck = (s: Seg): boolean => has(s, (o) => o.subtype === 'mpJoinAck');
    expect(layout(mine(joinSyn).options)).toBe(layout(firstLinux(linux4, joinSyn).options));
    expect(layout(mine(joinSynAck).options)).toBe(layout(firstLinux(linux4, joinSynAck).options));
    expect(layout(mine(joinAck).options)).toBe(layout(firstLinux(linux4, joinAck).options));

    const keyA = ours.flatMap((s) => s.mptcp).find((o) => o.subtype === 'mpCapable' && o.receiverKey !== undefined);
    if (keyA?.subtype !== 'mpCapable') throw new Error('no third ACK');
    const a = keyA.senderKey!;
    const b = keyA.receiverKey!;
    const syn = mine(joinSyn).mptcp.find((o) => o.subtype === 'mpJoinSyn')!;
    const synAck = mine(joinSynAck).mptcp.find((o) => o.subtype === 'mpJoinSynAck')!;
    const ack = mine(joinAck).mptcp.find((o) => o.subtype === 'mpJoinAck')!;
    if (syn.subtype !== 'mpJoinSyn' || synAck.subtype !== 'mpJoinSynAck' || ack.subtype !== 'mpJoinAck') throw new Error('unreachable');
    expect(syn.token).toBe(keyToToken(b));
    expect(Buffer.from(synAck.hmac).toString('hex')).toBe(Buffer.from(joinSynAckHmac(b, a, synAck.nonce, syn.nonce)).toString('hex'));
    expect(Buffer.from(ack.hmac).toString('hex')).toBe(Buffer.from(joinAckHmac(a, b, syn.nonce, synAck.nonce)).toString('hex'));
  });

  it('DSS on data (26 + NOP NOP, 64-bit DATA_ACK and DSN) and on pure ACKs (12) matches Linux; the first DSN is IDSN+1', () => {
    const data64 = (s: Seg): boolean => s.payload > 0 && has(s, (o) => o.subtype === 'dss' && o.dataAck64 && o.mapping !== undefined);
    const ack64 = (s: Seg): boolean => pure(s) && s.mptcp.length === 1 && has(s, (o) => o.subtype === 'dss' && o.dataAck64 && o.mapping === undefined);
    expect(layout(mine(data64).options)).toBe(layout(firstLinux(linux4, data64).options));
    expect(layout(mine(ack64).options)).toBe(layout(firstLinux(linux4, ack64).options));
    const keys = ours.flatMap((s) => s.mptcp).find((o) => o.subtype === 'mpCapable' && o.receiverKey !== undefined);
    if (keys?.subtype !== 'mpCapable') throw new Error('no third ACK');
    const serverFirst = ours.filter((s) => !fromClient(s)).flatMap((s) => s.mptcp).find((o) => o.subtype === 'dss' && o.mapping !== undefined);
    if (serverFirst?.subtype !== 'dss') throw new Error('no server mapping');
    expect(serverFirst.mapping!.dsn).toBe((keyToIdsn(keys.receiverKey!) + 1n) & ((1n << 64n) - 1n));
  });

  it('a 32-bit DATA_ACK until the peer has sent a 64-bit DSN, like Linux', () => {
    // The client's MP_CAPABLE data counts as a 64-bit DSN (Linux mpc_map): the server acks with 64 bits at once.
    const firstServerAck = ours.filter((s) => !fromClient(s)).flatMap((s) => s.mptcp).find((o) => o.subtype === 'dss' && o.dataAck !== undefined);
    expect(firstServerAck?.subtype === 'dss' && firstServerAck.dataAck64).toBe(true);
    // Once the server's first mapping (64-bit DSN) went out, the client's DATA_ACKs are 64 bits.
    const serverMapping = ours.findIndex((s) => !fromClient(s) && has(s, (o) => o.subtype === 'dss' && o.mapping !== undefined));
    const clientAcksAfter = ours.slice(serverMapping + 20).filter(fromClient).flatMap((s) => s.mptcp).filter((o) => o.subtype === 'dss' && o.dataAck !== undefined);
    expect(clientAcksAfter.length).toBeGreaterThan(0);
    expect(clientAcksAfter.every((o) => o.subtype === 'dss' && o.dataAck64)).toBe(true);
    // A server that sends no data sends no DSN: the client's DATA_ACKs stay 32 bits,
    // its data segments laid out as Linux's.
    const seen: Seg[] = [];
    const p = mptcpPair({ seed: 'ack-width', paths: [{ params: { delayMs: 5 }, ipv6: false }] });
    p.net.onTrace((e) => {
      const s = e.kind === 'sent' ? segment(e.packet) : undefined;
      if (s) seen.push(s);
    });
    const t = mptcpTransfer(p, { clientData: randomBytes(200_000, 'w1'), endAfter: false });
    expect(p.net.runUntil(() => t.server()?.receivedBytes === 200_000, 30_000)).toBe(true);
    expect(seen.some((s) => !fromClient(s) && has(s, (o) => o.subtype === 'dss' && o.mapping !== undefined))).toBe(false);
    const client = seen.filter(fromClient);
    const clientAcks = client.flatMap((s) => s.mptcp).filter((o) => o.subtype === 'dss' && o.dataAck !== undefined);
    expect(clientAcks.length).toBeGreaterThan(0);
    expect(clientAcks.some((o) => o.subtype === 'dss' && o.dataAck64)).toBe(false);
    const linuxClient = firstLinux(linux4, (s) => s.payload > 0 && has(s, (o) => o.subtype === 'dss' && !o.dataAck64));
    const ourClient = client.find((s) => s.payload > 0 && has(s, (o) => o.subtype === 'dss' && o.mapping !== undefined))!;
    expect(layout(ourClient.options)).toBe(layout(linuxClient.options));
  });

  it('ADD_ADDR (16, HMAC right) and its echo (8) match Linux', () => {
    const announce = (s: Seg): boolean => has(s, (o) => o.subtype === 'addAddr' && !o.echo);
    const echo = (s: Seg): boolean => has(s, (o) => o.subtype === 'addAddr' && o.echo);
    expect(layout(mine(announce).options)).toBe(layout(firstLinux(linux4, announce).options));
    expect(layout(mine(echo).options)).toBe(layout(firstLinux(linux4, echo).options));
    const keys = ours.flatMap((s) => s.mptcp).find((o) => o.subtype === 'mpCapable' && o.receiverKey !== undefined);
    const add = mine(announce).mptcp.find((o) => o.subtype === 'addAddr')!;
    if (keys?.subtype !== 'mpCapable' || add.subtype !== 'addAddr') throw new Error('unreachable');
    expect(Buffer.from(add.hmac!).toString('hex')).toBe(Buffer.from(addAddrHmac(keys.receiverKey!, keys.senderKey!, add.addressId, add.address, 0)).toString('hex'));
  });

  it('DATA_FIN: a pure ACK with DSS F, mapping SSN 0 / length 1 (26 + NOP NOP)', () => {
    const fin = mine((s) => pure(s) && has(s, (o) => o.subtype === 'dss' && o.dataFin && o.mapping?.dataLength === 1));
    expect(layout(fin.options)).toBe('nop nop 8/10 mptcp/26/201f nop nop');
    const dss = fin.mptcp.find((o) => o.subtype === 'dss')!;
    expect(dss.subtype === 'dss' && dss.mapping!.subflowSeq).toBe(0);
  });

  it('checksums: A flag from the SYN, MP_CAPABLE 24 with data, DSS 28 with checksum, like Linux with checksum_enabled', () => {
    const seen: Seg[] = [];
    const p = mptcpPair({ seed: 'csum-bytes', paths: [{ params: { delayMs: 5 }, ipv6: false }], clientConfig: { mptcp: { checksum: true } } });
    p.net.onTrace((e) => {
      if (e.kind !== 'sent') return;
      const s = segment(e.packet);
      if (s) seen.push(s);
    });
    const t = mptcpTransfer(p, { clientData: randomBytes(50_000, 'c1'), serverData: randomBytes(50_000, 'c2') });
    expect(p.net.runUntil(() => t.client.closed && t.server()?.closed === true, 30_000)).toBe(true);
    const pick = (list: Seg[], pred: (s: Seg) => boolean): string => layout(list.find(pred)!.options);
    const syn = (s: Seg): boolean => isSyn(s) && s.mptcp.length > 0;
    const synAck = (s: Seg): boolean => isSynAck(s) && s.mptcp.length > 0;
    const third = (s: Seg): boolean => pure(s) && has(s, (o) => o.subtype === 'mpCapable' && o.receiverKey !== undefined);
    const data24 = (s: Seg): boolean => s.payload > 0 && has(s, (o) => o.subtype === 'mpCapable' && o.checksum !== undefined);
    const dss28 = (s: Seg): boolean => s.payload > 0 && has(s, (o) => o.subtype === 'dss' && o.dataAck64 && o.mapping?.checksum !== undefined);
    for (const pred of [syn, synAck, third, data24, dss28]) expect(pick(seen, pred)).toBe(pick(linuxCsum, pred));
  });
});
