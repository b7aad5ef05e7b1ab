// The kernel-captured golden packets of test/fixtures/*.pcap (made by scripts/capture-golden),
// for the golden, pcap and fuzz tests.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPcap, type PcapRecord } from '../../tun/pcap.js';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface FixturePacket extends PcapRecord {
  file: string;
  /** 1-based, as tshark and tcpdump number frames (non-IP records not counted). */
  index: number;
}

export function fixtureFiles(): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.pcap'))
    .sort();
}

export function fixturePackets(file: string): FixturePacket[] {
  // A plain Uint8Array, not a Buffer: Buffer#slice would share memory where tests expect a copy.
  const parsed = readPcap(new Uint8Array(readFileSync(join(FIXTURE_DIR, file))));
  if (!parsed.ok) throw new Error(`${file}: ${parsed.code} ${parsed.message}`);
  return parsed.value.records.map((r, i) => ({ ...r, file, index: i + 1 }));
}

/** Every packet of every fixture, in file order. */
export function allFixturePackets(): FixturePacket[] {
  return fixtureFiles().flatMap(fixturePackets);
}
