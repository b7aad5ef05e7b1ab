// Hostile bytes against every wire parser: nothing may throw, and whatever parses must
// re-encode without throwing to bytes that parse back to the same encoding.
//
// Half the inputs are random bytes (some shaped like an IP header so that they get past
// the version and length checks), half are mutations of the kernel's golden packets (bit
// flips, byte sets, truncations, extensions, insertions, edits of length fields).
// Deterministic from a seed:
//   FUZZ_ITERATIONS=10000000 npx vitest run test/wire/fuzz.test.ts   (default 100000)
//   FUZZ_SEED=other npx vitest run test/wire/fuzz.test.ts
// A failure names the seed, the iteration and the input in hex.

import { describe, expect, it } from 'vitest';
import { seededRandom, type RandomSource } from '../../stack/random.js';
import { parseIcmpv4 } from '../../stack/wire/icmpv4.js';
import { parseIcmpv6 } from '../../stack/wire/icmpv6.js';
import { Ipv4View, parseIpv4, parseIpv4Quoted } from '../../stack/wire/ipv4.js';
import { Ipv6View, parseIpv6, parseIpv6Quoted } from '../../stack/wire/ipv6.js';
import { parseMptcpOption } from '../../stack/wire/mptcp-options.js';
import { emitPacket, parsePacket, verifyPacketChecksums } from '../../stack/wire/packet.js';
import { parseTcp, TcpView } from '../../stack/wire/tcp.js';
import { parseTcpOptions } from '../../stack/wire/tcp-options.js';
import { parseUdp, UdpView } from '../../stack/wire/udp.js';
import { allFixturePackets } from './fixtures.js';
import { toHex } from './helpers.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
const SEED = process.env.FUZZ_SEED ?? 'namestack-wire-fuzz';
// The default run takes seconds; long runs get time in proportion.
const TIMEOUT_MS = 120_000 + ITERATIONS * 0.2;
const MAX_REPORTED = 5;

/** A golden packet and where its layers start, so that mutations can aim at their fields. */
interface Seed {
  bytes: Uint8Array;
  /** Offset of the transport header (after every IP header). */
  transportAt: number;
  /** Offsets of 16-bit length fields: IPv4 total length or IPv6 payload length, UDP length. */
  length16: number[];
  /** Offsets of 8-bit length bytes: TCP option lengths, IPv6 extension header lengths. */
  length8: number[];
  /** The TCP option bytes [start, end), and [offset, length) of each MPTCP option's data. */
  tcpOptions?: [number, number];
  mptcp: [number, number][];
}

function seedOf(original: Uint8Array): Seed {
  const version = original[0]! >>> 4;
  const ip = version === 4 ? parseIpv4(original) : parseIpv6(original);
  if (!ip.ok) throw new Error(`golden packet does not parse: ${ip.message}`);
  const end = ip.value.payload.byteOffset - original.byteOffset + ip.value.payload.length;
  const bytes = original.slice(0, end);
  const transportAt = ip.value.payload.byteOffset - original.byteOffset;
  const seed: Seed = { bytes, transportAt, length16: [version === 4 ? 2 : 4], length8: [], mptcp: [] };
  if (version === 6) {
    // Each extension header's length byte is its second byte.
    for (let at = 40, next = bytes[6]!; at < transportAt; ) {
      const isFragment = next === 44;
      seed.length8.push(at + 1);
      next = bytes[at]!;
      at += isFragment ? 8 : (bytes[at + 1]! + 1) * 8;
    }
  }
  const repr = ip.value.repr;
  const protocol = 'upperProtocol' in repr ? repr.upperProtocol : repr.protocol;
  if (protocol === 17) seed.length16.push(transportAt + 4);
  if (protocol === 6) {
    const optionsEnd = transportAt + (bytes[transportAt + 12]! >>> 4) * 4;
    seed.tcpOptions = [transportAt + 20, optionsEnd];
    for (let i = transportAt + 20; i < optionsEnd; ) {
      const kind = bytes[i]!;
      if (kind === 0 || kind === 1) {
        i++;
        continue;
      }
      const len = bytes[i + 1]!;
      seed.length8.push(i + 1);
      if (kind === 30) seed.mptcp.push([i + 2, len - 2]);
      i += Math.max(2, len);
    }
  }
  return seed;
}

function below(rng: RandomSource, n: number): number {
  return n <= 0 ? 0 : rng.uint32() % n;
}

/** Random bytes; two thirds of them start with a plausible IPv4 or IPv6 header. */
function randomInput(rng: RandomSource): Uint8Array {
  // Mostly short (headers), sometimes up to a full-sized packet.
  const length = rng.float() < 0.8 ? below(rng, 120) : below(rng, 1600);
  const bytes = rng.bytes(length);
  const shape = below(rng, 3);
  if (shape === 0 || length < 40) return bytes;
  const transport = [6, 17, 1, 58, 0, 44, 43, 60][below(rng, 8)]!;
  let transportAt: number;
  if (rng.float() < 0.5) {
    bytes[0] = 0x45 + (shape === 2 ? below(rng, 3) : 0);
    bytes[2] = length >>> 8;
    bytes[3] = length & 0xff;
    bytes[6] &= 0x40; // no fragment offset, so the transport parser runs
    bytes[9] = transport;
    transportAt = (bytes[0]! & 0x0f) * 4;
  } else {
    bytes[0] = 0x60 | (bytes[0]! & 0x0f);
    bytes[4] = (length - 40) >>> 8;
    bytes[5] = (length - 40) & 0xff;
    bytes[6] = transport;
    transportAt = 40;
  }
  // Shape 2 also gets a plausible transport header: UDP length, a short TCP option area.
  if (shape === 2 && transportAt + 20 <= length) {
    if (transport === 17) {
      bytes[transportAt + 4] = (length - transportAt) >>> 8;
      bytes[transportAt + 5] = (length - transportAt) & 0xff;
    }
    if (transport === 6) bytes[transportAt + 12] = ((5 + below(rng, 3)) << 4) | (bytes[transportAt + 12]! & 0x0f);
  }
  return bytes;
}

/** Sets the IP length field to the input's length, so the mutations reach the inner layers. */
function repairIpLength(b: Uint8Array): void {
  if (b.length >= 20 && b[0]! >>> 4 === 4 && b.length <= 0xffff) {
    b[2] = b.length >>> 8;
    b[3] = b.length & 0xff;
  } else if (b.length >= 40 && b[0]! >>> 4 === 6) {
    b[4] = (b.length - 40) >>> 8;
    b[5] = (b.length - 40) & 0xff;
  }
}

const INTERESTING = [0x00, 0x01, 0x02, 0x04, 0x7f, 0x80, 0xfe, 0xff];

/** One to three mutations of a golden packet. */
function mutate(rng: RandomSource, seed: Seed): Uint8Array {
  let b: Uint8Array = seed.bytes.slice();
  for (let n = 1 + below(rng, 3); n > 0; n--) {
    switch (below(rng, 8)) {
      case 0: // bit flips
        for (let k = 1 + below(rng, 4); k > 0 && b.length > 0; k--) b[below(rng, b.length)]! ^= 1 << below(rng, 8);
        break;
      case 1: // byte set, aimed at the headers half of the time
        if (b.length > 0) b[rng.float() < 0.5 ? below(rng, Math.min(b.length, seed.transportAt + 60)) : below(rng, b.length)] = INTERESTING[below(rng, 8)]!;
        break;
      case 2: // truncation
        b = b.slice(0, below(rng, b.length + 1));
        break;
      case 3: {
        // extension
        const tail = rng.bytes(1 + below(rng, 64));
        const grown = new Uint8Array(b.length + tail.length);
        grown.set(b);
        grown.set(tail, b.length);
        b = grown;
        break;
      }
      case 4: {
        // insertion or deletion inside the headers
        const at = below(rng, Math.min(b.length, seed.transportAt + 60) + 1);
        b = rng.float() < 0.5 ? concat(b.subarray(0, at), rng.bytes(1 + below(rng, 8)), b.subarray(at)) : concat(b.subarray(0, at), b.subarray(at + 1 + below(rng, 8)));
        break;
      }
      case 5: {
        // 16-bit length fields: IP length, UDP length
        const at = seed.length16[below(rng, seed.length16.length)]!;
        if (at + 1 < b.length) {
          const v = [0, 1, b.length, b.length + 1, b.length - 1, 0xffff, rng.uint32() & 0xffff][below(rng, 7)]!;
          b[at] = v >>> 8;
          b[at + 1] = v & 0xff;
        }
        break;
      }
      case 6: {
        // header length nibbles: IPv4 IHL, TCP data offset
        const at = seed.transportAt + 12;
        if (rng.float() < 0.5) {
          if (b.length > 0 && b[0]! >>> 4 === 4) b[0] = 0x40 | below(rng, 16);
        } else if (at < b.length) {
          b[at] = (below(rng, 16) << 4) | (b[at]! & 0x0f);
        }
        break;
      }
      default: {
        // 8-bit length bytes: TCP and MPTCP option lengths, IPv6 extension header lengths
        if (seed.length8.length === 0) break;
        const at = seed.length8[below(rng, seed.length8.length)]!;
        if (at < b.length) b[at] = [0, 1, 2, 3, b[at]! - 1, b[at]! + 1, 40, 255][below(rng, 8)]! & 0xff;
      }
    }
  }
  // Half the time the IP length is made consistent again (the length checks have had their turn).
  if (rng.float() < 0.5) repairIpLength(b);
  return b;
}

/** A plain Uint8Array copy (a Buffer's slice would share memory with the original). */
function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

const IP_PARSERS: ((bytes: Uint8Array) => unknown)[] = [
  parseIpv4,
  parseIpv4Quoted,
  parseIpv6,
  parseIpv6Quoted,
  (b) => readView(Ipv4View.wrap(b)),
  (b) => readView(Ipv6View.wrap(b)),
];
const TRANSPORT_PARSERS: ((bytes: Uint8Array) => unknown)[] = [
  parseTcp,
  parseUdp,
  parseIcmpv4,
  parseIcmpv6,
  (b) => readView(TcpView.wrap(b)),
  (b) => readView(UdpView.wrap(b)),
];

/** Runs every parser on `input`; throws on the first broken property. */
function exercise(input: Uint8Array, seed: Seed | undefined): void {
  // The whole-packet codec, then the re-encoding fixpoint: emit(parse(emit(parse(x)))) = emit(parse(x)).
  const parsed = parsePacket(input);
  verifyPacketChecksums(input);
  if (parsed.ok) {
    const once = emitPacket(parsed.value);
    emitPacket(parsed.value, { keepChecksums: true });
    const again = parsePacket(once);
    if (!again.ok) throw new Error(`re-encoded packet does not parse: ${again.layer} ${again.code} ${again.message}`);
    if (toHex(emitPacket(again.value)) !== toHex(once)) throw new Error('re-encoding is not stable');
  }

  // Every layer parser on its own, at the offset where its header sits in a golden packet
  // (or at 0 for random input), then on the whole input.
  const at = Math.min(seed?.transportAt ?? 0, input.length);
  for (const parse of IP_PARSERS) parse(input);
  for (const bytes of at > 0 ? [input.subarray(at), input] : [input]) {
    for (const parse of TRANSPORT_PARSERS) parse(bytes);
  }
  const [optStart, optEnd] = seed?.tcpOptions ?? [0, input.length];
  if (optStart <= input.length) parseTcpOptions(input, optStart, Math.min(optEnd, input.length) - optStart);
  for (const [offset, length] of seed?.mptcp ?? [[0, input.length] as [number, number]]) {
    if (offset <= input.length) parseMptcpOption(input, offset, Math.max(0, Math.min(length, input.length - offset)));
  }
}

/** Reads every getter of a View: none may throw once wrap accepted the bytes. */
function readView(result: { ok: boolean; value?: object }): void {
  if (!result.ok || !result.value) return;
  const view = result.value;
  let proto: object | null = Object.getPrototypeOf(view);
  while (proto && proto !== Object.prototype) {
    for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (d.get) void (view as Record<string, unknown>)[name];
    }
    proto = Object.getPrototypeOf(proto);
  }
}

function run(kind: 'random' | 'mutated', count: number): string[] {
  const rng = seededRandom(`${SEED}/${kind}`);
  const seeds = kind === 'mutated' ? allFixturePackets().map((p) => seedOf(p.data)) : [];
  const failures = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const seed = kind === 'mutated' ? seeds[below(rng, seeds.length)] : undefined;
    const input = seed ? mutate(rng, seed) : randomInput(rng);
    try {
      exercise(input, seed);
    } catch (e) {
      const err = e as Error;
      // One report per distinct failure place.
      const where = `${err.message} @ ${(err.stack ?? '').split('\n')[1]?.trim()}`;
      if (!failures.has(where) && failures.size < MAX_REPORTED) {
        failures.set(where, `FUZZ_SEED=${SEED} ${kind} iteration ${i}: ${where}\n  input ${toHex(input)}`);
      }
    }
  }
  return [...failures.values()];
}

describe(`wire fuzz (${ITERATIONS} inputs, seed ${SEED})`, () => {
  it('random bytes never make a parser or emitter throw', { timeout: TIMEOUT_MS }, () => {
    expect(run('random', Math.ceil(ITERATIONS / 2))).toEqual([]);
  });

  it('mutated kernel packets never make a parser or emitter throw, and re-encode stably', { timeout: TIMEOUT_MS }, () => {
    expect(run('mutated', Math.floor(ITERATIONS / 2))).toEqual([]);
  });
});
