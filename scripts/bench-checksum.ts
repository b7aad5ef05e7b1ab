// Micro-benchmark of the Internet checksum over 64 KiB buffers (the largest IP packet,
// and a GSO super-packet's size), printing GB/s. Run: scripts/bench-checksum [seconds].

import { onesComplementSum } from '../stack/wire/checksum.js';

const SIZE = 64 * 1024;
const seconds = Number(process.argv[2] ?? '2');

function bench(label: string, bytes: Uint8Array, offset: number, length: number): void {
  let sink = 0;
  // Warm up so the optimizing compiler has run before timing.
  for (let i = 0; i < 2000; i++) sink += onesComplementSum(bytes, offset, length);
  let iterations = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) sink += onesComplementSum(bytes, offset, length);
    iterations += 1000;
    now = process.hrtime.bigint();
  }
  const elapsedNs = Number(now - start);
  const gbps = (iterations * length) / elapsedNs;
  const nsPerSum = elapsedNs / iterations;
  console.log(`${label.padEnd(36)} ${gbps.toFixed(2)} GB/s  ${nsPerSum.toFixed(1)} ns/sum  (${iterations} sums, sink ${sink})`);
}

const buffer = new Uint8Array(SIZE + 8);
for (let i = 0; i < buffer.length; i++) buffer[i] = (i * 131 + 7) & 0xff;
bench('64 KiB, aligned', buffer, 0, SIZE);
bench('64 KiB - 1, offset 1 (unaligned)', buffer, 1, SIZE - 1);
bench('1500 B, aligned', buffer, 0, 1500);
bench('128 B', buffer, 0, 128);
bench('40 B (a TCP header with options)', buffer, 0, 40);
bench('20 B (an IPv4 header)', buffer, 0, 20);
