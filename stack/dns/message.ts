// DNS messages for the stub resolver (RFC 1035 4), built and read with dns-packet, and
// what an answer means for one question: the CNAME chain (RFC 1034 3.6.2), the addresses
// at its end, the TTL, and negative answers with their cache time (RFC 2308).
//
// dns-packet reads with Buffer methods (readUInt16BE and friends), so a received datagram
// is wrapped in a Buffer view (no copy) for it; that is the one reason this file imports
// node:buffer. dns-packet throws on malformed input: decodeResponse catches that, so a
// hostile datagram is a counted drop, never an exception.

import { Buffer } from 'node:buffer';
import dnsPacket from 'dns-packet';
import { parseAddress, type IpAddress } from '../wire/address.js';
import { readU16 } from '../wire/bytes.js';

export type QueryType = 'A' | 'AAAA' | 'ANY';

export const DNS_PORT = 53;

/** One query datagram: recursion desired, class IN, an EDNS(0) OPT record when ednsUdpSize > 0 (RFC 6891 6.1.2). */
export function encodeQuery(id: number, name: string, type: QueryType, ednsUdpSize: number): Uint8Array {
  const packet: dnsPacket.Packet = {
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    // @types/dns-packet leaves ANY (255) out of RecordType; dns-packet encodes it.
    questions: [{ type: type as dnsPacket.RecordType, name, class: 'IN' }],
  };
  if (ednsUdpSize > 0) {
    packet.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: ednsUdpSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }];
  }
  return dnsPacket.encode(packet);
}

/** The parts of a response the resolver looks at. */
export interface DnsResponse {
  id: number;
  truncated: boolean;
  /** RFC 1035 4.1.1 RCODE as dns-packet names it: NOERROR, NXDOMAIN, SERVFAIL, ... */
  rcode: string;
  questions: { name: string; type: string; class: string }[];
  answers: dnsPacket.Answer[];
  authorities: dnsPacket.Answer[];
}

/** The response in `bytes`, or undefined when it does not parse or is not a response (QR clear). */
export function decodeResponse(bytes: Uint8Array): DnsResponse | undefined {
  // RFC 1035 4.1.1: QR is the top bit of byte 2. And counts that cannot fit the bytes (a
  // question takes at least 5 bytes, a record 11) are refused before dns-packet allocates
  // arrays for up to 65535 entries per section.
  if (bytes.length < 12 || (bytes[2]! & 0x80) === 0) return undefined;
  const records = readU16(bytes, 6) + readU16(bytes, 8) + readU16(bytes, 10);
  if (12 + readU16(bytes, 4) * 5 + records * 11 > bytes.length) return undefined;
  let p: dnsPacket.DecodedPacket;
  try {
    p = dnsPacket.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch {
    return undefined;
  }
  // dns-packet reads fixed-size record data (A, AAAA, SOA numbers) without checking RDLENGTH
  // or the end of the buffer: a message cut short inside a record "decodes" past its end.
  if (dnsPacket.decode.bytes > bytes.length) return undefined;
  if (p.type !== 'response' || p.id === undefined) return undefined;
  return {
    id: p.id,
    truncated: p.flag_tc,
    rcode: (p as unknown as { rcode: string }).rcode,
    questions: (p.questions ?? []).map((q) => ({ name: q.name, type: q.type, class: q.class ?? 'IN' })),
    answers: p.answers ?? [],
    authorities: p.authorities ?? [],
  };
}

/** A name as dns-packet gives it, in the form names are compared in (RFC 4343: case-insensitive). */
export function comparableName(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

/** Whether the response asks exactly our question (RFC 5452 9.1 checks the question, ID, addresses and port). */
export function answersQuestion(r: DnsResponse, name: string, type: QueryType): boolean {
  if (r.questions.length !== 1) return false;
  const q = r.questions[0]!;
  return q.type === type && q.class === 'IN' && comparableName(q.name) === name;
}

/** What a NOERROR or NXDOMAIN response says about a question. TTLs in seconds. */
export type Interpretation =
  | { kind: 'addresses'; canonicalName: string; addresses: IpAddress[]; ttl: number }
  /** The chain ends in a name whose records the response does not hold: ask for the target. `chain` ends with it. */
  | { kind: 'cname'; target: string; chain: string[]; ttl: number }
  /** NXDOMAIN or NODATA; negativeTtl from the SOA (RFC 2308 5), undefined without one. */
  | { kind: 'negative'; code: 'ENOTFOUND' | 'ENODATA'; canonicalName: string; negativeTtl: number | undefined; ttl: number }
  | { kind: 'bad'; message: string };

/** RFC 2181 8: a TTL with the top bit set is read as zero. */
function ttlOf(a: dnsPacket.Answer): number {
  const t = (a as { ttl?: number }).ttl ?? 0;
  return t > 0x7fffffff ? 0 : t;
}

/** The data of a record (OPT pseudo-records have none). */
function dataOf(a: dnsPacket.Answer): unknown {
  return (a as { data?: unknown }).data;
}

function recordFamily(type: string): 4 | 6 | undefined {
  return type === 'A' ? 4 : type === 'AAAA' ? 6 : undefined;
}

/**
 * Follows the CNAME chain from `name` through the answer section and collects the `type`
 * records of the last name (A and AAAA for ANY). `earlier` are the names a chase went
 * through before `name`: the whole chain has at most `maxChain` links and no name twice.
 * Records for other names, and A/AAAA data that is not an address, are ignored.
 */
export function interpret(r: DnsResponse, name: string, type: QueryType, maxChain: number, earlier: readonly string[] = []): Interpretation {
  const chain = [...earlier, name];
  let current = name;
  let ttl = Infinity;
  for (;;) {
    const cname = r.answers.find((a) => a.type === 'CNAME' && comparableName(a.name) === current);
    if (!cname) break;
    const target = comparableName(String(dataOf(cname)));
    if (chain.includes(target)) return { kind: 'bad', message: `CNAME loop at ${target}` };
    if (chain.length > maxChain) return { kind: 'bad', message: `CNAME chain of more than ${maxChain} links` };
    chain.push(target);
    ttl = Math.min(ttl, ttlOf(cname));
    current = target;
  }
  const addresses: IpAddress[] = [];
  let rrsetTtl = Infinity;
  for (const a of r.answers) {
    const family = recordFamily(a.type);
    if (family === undefined || (type !== 'ANY' && a.type !== type) || comparableName(a.name) !== current) continue;
    const data = dataOf(a);
    const address = typeof data === 'string' ? parseAddress(data) : undefined;
    if (!address || (address.length === 4) !== (family === 4)) continue;
    addresses.push(address);
    rrsetTtl = Math.min(rrsetTtl, ttlOf(a));
  }
  if (addresses.length > 0) return { kind: 'addresses', canonicalName: current, addresses, ttl: Math.min(ttl, rrsetTtl) };
  const chainTtl = ttl === Infinity ? 0 : ttl;
  const soa = r.authorities.find((a) => a.type === 'SOA');
  // RFC 2308 2.1 / 2.2: NXDOMAIN and NODATA (NOERROR with an SOA) are about the end of the
  // chain. NOERROR with a chain but neither records nor SOA: the target is still to be asked
  // (RFC 1034 5.3.3).
  if (r.rcode === 'NOERROR' && current !== name && !soa) return { kind: 'cname', target: current, chain, ttl: chainTtl };
  const minimum = (soa && (dataOf(soa) as dnsPacket.SoaData | undefined))?.minimum;
  const negativeTtl = soa ? Math.min(ttlOf(soa), typeof minimum === 'number' ? minimum : 0) : undefined;
  return {
    kind: 'negative',
    code: r.rcode === 'NXDOMAIN' ? 'ENOTFOUND' : 'ENODATA',
    canonicalName: current,
    negativeTtl: negativeTtl === undefined || current === name ? negativeTtl : Math.min(negativeTtl, chainTtl),
    ttl: chainTtl,
  };
}
