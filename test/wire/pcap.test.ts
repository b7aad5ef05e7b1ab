// tun/pcap.ts: what PcapWriter writes, readPcap reads back, and tshark reads as well-formed;
// readPcap strips every link header tcpdump writes and survives hostile files.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../stack/random.js';
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_RAW,
  openPcapFile,
  PcapWriter,
  readPcap,
  type PcapWriterOptions,
} from '../../tun/pcap.js';
import { allFixturePackets, fixturePackets } from './fixtures.js';
import { errorCode, hex, toHex, unwrap } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'namestack-pcap-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Everything a PcapWriter emits, concatenated. */
function writeToBytes(packets: { at: number; data: Uint8Array }[], opts?: PcapWriterOptions): Buffer {
  const chunks: Uint8Array[] = [];
  const w = new PcapWriter((c) => chunks.push(c), opts);
  for (const p of packets) w.writePacket(p.at, p.data);
  return Buffer.concat(chunks);
}

// An IPv4 packet (ICMP echo request 10.0.0.1 -> 10.0.0.2) used inside hand-made frames.
const IPV4 = hex('4500001c00014000400126e00a0000010a000002 0800f7fe00010000');
const IPV6_HEAD = hex('6000000000003b40' + '20010db8000000000000000000000001' + '20010db8000000000000000000000002');

describe('PcapWriter + readPcap', () => {
  it('round-trips packets and microsecond timestamps, link type raw IP by default', () => {
    const packets = [
      { at: 1_700_000_000_123.456, data: IPV4 },
      { at: 1_700_000_001_000, data: IPV6_HEAD },
    ];
    const bytes = writeToBytes(packets);
    expect(toHex(bytes.subarray(0, 4))).toBe('d4c3b2a1'); // little-endian microsecond magic
    const read = unwrap(readPcap(bytes));
    expect(read.linkType).toBe(LINKTYPE_RAW);
    expect(read.skipped).toBe(0);
    expect(read.records.map((r) => toHex(r.data))).toEqual(packets.map((p) => toHex(p.data)));
    expect(read.records[0]!.timestampMs).toBeCloseTo(1_700_000_000_123.456, 3);
    expect(read.records[1]!.timestampMs).toBe(1_700_000_001_000);
  });

  it('writes nanosecond timestamps on request', () => {
    const bytes = writeToBytes([{ at: 5_000.000123, data: IPV4 }], { nanosecond: true });
    expect(toHex(bytes.subarray(0, 4))).toBe('4d3cb2a1');
    expect(unwrap(readPcap(bytes)).records[0]!.timestampMs).toBeCloseTo(5_000.000123, 6);
  });

  it('cuts packets at the snap length and keeps the original length', () => {
    const big = new Uint8Array(3000);
    big.set(IPV4);
    const rec = unwrap(readPcap(writeToBytes([{ at: 0, data: big }], { snapLength: 100 }))).records[0]!;
    expect(rec.data.length).toBe(100);
    expect(rec.originalLength).toBe(3000);
  });

  it('reads big-endian files', () => {
    const le = writeToBytes([{ at: 1234.5, data: IPV4 }], { linkType: LINKTYPE_RAW });
    const be = Buffer.from(le);
    // Swap every 32-bit header field (and the two 16-bit version fields) to big-endian.
    const swap32 = (at: number) => be.writeUInt32BE(le.readUInt32LE(at), at);
    [0, 8, 12, 16, 20, 24, 28, 32, 36].forEach(swap32);
    be.writeUInt16BE(2, 4);
    be.writeUInt16BE(4, 6);
    const read = unwrap(readPcap(be));
    expect(toHex(read.records[0]!.data)).toBe(toHex(IPV4));
    expect(read.records[0]!.timestampMs).toBe(1234.5);
  });

  it('writes a file that tcpdump reads back', () => {
    const file = join(tmp, 'roundtrip.pcap');
    const w = openPcapFile(file);
    for (const p of fixturePackets('tcp-ipv4.pcap').slice(0, 5)) w.writePacket(p.timestampMs, p.data);
    w.close();
    const read = unwrap(readPcap(readFileSync(file)));
    expect(read.records.map((r) => toHex(r.data))).toEqual(fixturePackets('tcp-ipv4.pcap').slice(0, 5).map((p) => toHex(p.data)));
  });
});

describe('readPcap link types', () => {
  const frame = (linkType: number, ...frames: Uint8Array[]) =>
    unwrap(readPcap(writeToBytes(frames.map((data) => ({ at: 0, data })), { linkType })));

  it('strips Ethernet, with 802.1Q and 802.1ad tags, and skips ARP', () => {
    const macs = '020000000001020000000002';
    const read = frame(
      LINKTYPE_ETHERNET,
      Buffer.concat([hex(macs + '0800'), IPV4]),
      Buffer.concat([hex(macs + '88a80064' + '810000c8' + '86dd'), IPV6_HEAD]),
      hex(macs + '0806' + '0001080006040001'),
    );
    expect(read.records.map((r) => toHex(r.data))).toEqual([toHex(IPV4), toHex(IPV6_HEAD)]);
    expect(read.skipped).toBe(1);
  });

  it('strips Linux cooked headers v1 (SLL) and v2 (SLL2, tcpdump -i any)', () => {
    const sll = hex('0000' + '0001' + '0006' + '020000000001' + '0000' + '0800');
    expect(toHex(frame(LINKTYPE_LINUX_SLL, Buffer.concat([sll, IPV4])).records[0]!.data)).toBe(toHex(IPV4));
    const sll2 = hex('86dd' + '0000' + '00000002' + '0001' + '00' + '06' + '0200000000010000');
    expect(toHex(frame(LINKTYPE_LINUX_SLL2, Buffer.concat([sll2, IPV6_HEAD])).records[0]!.data)).toBe(toHex(IPV6_HEAD));
  });

  it('reads the kernel fixtures in both link types tcpdump chose', () => {
    expect(unwrap(readPcap(readFileSync(new URL('../fixtures/tcp-ipv4.pcap', import.meta.url)))).linkType).toBe(LINKTYPE_ETHERNET);
    expect(unwrap(readPcap(readFileSync(new URL('../fixtures/mptcp-ipv4.pcap', import.meta.url)))).linkType).toBe(LINKTYPE_LINUX_SLL2);
    for (const p of fixturePackets('mptcp-ipv4.pcap')) expect(p.data[0]! >> 4).toBe(4);
  });
});

describe('readPcap on bad files', () => {
  const good = writeToBytes([{ at: 0, data: IPV4 }]);

  it('rejects pcapng with UNSUPPORTED', () => {
    const shb = hex('0a0d0d0a 1c000000 4d3c2b1a 01000000 ffffffffffffffff 1c000000');
    const r = readPcap(shb);
    expect(errorCode(r)).toBe('UNSUPPORTED');
    expect(r.ok ? '' : r.message).toMatch(/pcapng/);
  });

  it('rejects unknown magic, unknown link type, cut records and absurd lengths', () => {
    expect(errorCode(readPcap(hex('00112233'.repeat(6))))).toBe('BAD_VERSION');
    expect(errorCode(readPcap(good.subarray(0, 10)))).toBe('TRUNCATED');
    expect(errorCode(readPcap(writeToBytes([], { linkType: 9999 })))).toBe('UNSUPPORTED');
    expect(errorCode(readPcap(good.subarray(0, good.length - 1)))).toBe('TRUNCATED');
    expect(errorCode(readPcap(good.subarray(0, 24 + 8)))).toBe('TRUNCATED');
    const huge = Buffer.from(good);
    huge.writeUInt32LE(0x7fffffff, 24 + 8);
    expect(errorCode(readPcap(huge))).toBe('BAD_LENGTH');
  });

  it('never throws on mutated files', () => {
    const rng = seededRandom('pcap-mutations');
    const base = Buffer.concat([writeToBytes(fixturePackets('mptcp-ipv4.pcap').slice(0, 4).map((p) => ({ at: 0, data: p.data })), { linkType: LINKTYPE_RAW })]);
    for (let i = 0; i < 5000; i++) {
      const m = Buffer.from(base.subarray(0, rng.uint32() % (base.length + 1)));
      for (let k = rng.uint32() % 8; k > 0 && m.length > 0; k--) m[rng.uint32() % m.length] = rng.uint32() & 0xff;
      // The link type byte picks a stripper: give each one a chance.
      if (m.length > 20 && i % 4 === 0) m[20] = [1, 101, 113, 228, 229, 276 & 0xff][i % 6]!;
      expect(() => readPcap(m)).not.toThrow();
    }
  });
});

describe('tshark on what PcapWriter writes', () => {
  it('reads every fixture packet written through openPcapFile without a malformed packet or an error', () => {
    // tshark is installed by scripts/setup; a missing tshark is a failure, not a skip.
    const version = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
    expect(version.error, 'tshark must be on PATH (scripts/setup installs it)').toBeUndefined();
    const file = join(tmp, 'fixtures.pcap');
    const packets = allFixturePackets();
    const w = openPcapFile(file);
    for (const p of packets) w.writePacket(p.timestampMs, p.data);
    w.close();

    const summary = spawnSync('tshark', ['-r', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(summary.status, summary.stderr).toBe(0);
    expect(summary.stdout.trim().split('\n')).toHaveLength(packets.length);

    const detail = execFileSync('tshark', ['-r', file, '-V'], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
    expect(detail).toContain('Multipath Transmission Control Protocol');
    expect(detail).toContain('Raw packet data');
    expect(detail).not.toContain('Malformed');
    expect(detail).not.toContain('[Expert Info (Error');
  });
});
