// Micro-benchmark of the TCP/MPTCP header codec on the per-packet path: ns per operation
// for parse, view reads and emit of segments the kernel sends in bulk transfers.
// Run: scripts/bench-tcp-codec [seconds per case].

import { emitTcp, parseTcp, TcpView, type TcpRepr } from '../stack/wire/tcp.js';

const seconds = Number(process.argv[2] ?? '1');
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const src = Uint8Array.of(10, 77, 0, 1);
const dst = Uint8Array.of(10, 77, 0, 2);

function segment(header: string, payloadLength: number): Uint8Array {
  const h = hex(header);
  const s = new Uint8Array(h.length + payloadLength);
  s.set(h);
  return s;
}

// Headers as Linux sends them in a bulk transfer (see test/wire/tcp.test.ts for the captures).
const plain = segment('a88e13880aa9e4be015f6c0f8018003fe0640000 0101080aaeb3315bca3f5e99', 1448);
const sack = segment('138eba6aaf5d679bebb18477b01000450dbb0000 0101080ab1a781505ff649f50101050aebb1885febb18c47', 0);
const dss = segment(
  '138ab646ace772e4c7640e8ef018003f6ba00000 0101080a4000f743a750db811e1a200fef79f38cedefc31e1df9bc51bfcbf4c00000000100140101',
  1428,
);
const dssAck = segment('b646138ac7640e8eace772f8b010003feb200000 0101080aa750db814000f7431e0c20031df9bc51bfcbf4d4', 0);

// Timed in CPU time of this process (process.cpuUsage), so that other processes sharing
// the cores do not inflate the figures.
function bench(label: string, op: () => number): void {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += op();
  let iterations = 0;
  const start = process.cpuUsage();
  let usedUs = 0;
  while (usedUs < seconds * 1e6) {
    for (let i = 0; i < 10_000; i++) sink += op();
    iterations += 10_000;
    const used = process.cpuUsage(start);
    usedUs = used.user + used.system;
  }
  const ns = (usedUs * 1000) / iterations;
  console.log(`${label.padEnd(52)} ${ns.toFixed(0).padStart(5)} ns  (${(1000 / ns).toFixed(2)} M/s, sink ${sink & 1})`);
}

function reprOf(bytes: Uint8Array): { repr: TcpRepr; payload: Uint8Array } {
  const parsed = parseTcp(bytes);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}

bench('TcpView.wrap + all header getters', () => {
  const v = (TcpView.wrap(plain) as { value: TcpView }).value;
  return v.srcPort + v.dstPort + v.seq + v.ack + v.flags + v.window + v.checksum + v.payloadLength;
});
bench('parseTcp: NOP NOP TS (plain TCP data)', () => (parseTcp(plain).ok ? 1 : 0));
bench('parseTcp: NOP NOP TS NOP NOP SACK(1)', () => (parseTcp(sack).ok ? 1 : 0));
bench('parseTcp: TS + DSS 64-bit ack + 64-bit mapping', () => (parseTcp(dss).ok ? 1 : 0));
bench('parseTcp: TS + DSS 64-bit ack only', () => (parseTcp(dssAck).ok ? 1 : 0));

const out = new Uint8Array(2048);
for (const [label, bytes] of [
  ['plain', plain],
  ['DSS', dss],
] as const) {
  const { repr, payload } = reprOf(bytes);
  bench(`emitTcp ${label}, header only, partial checksum`, () =>
    emitTcp(repr, undefined, payload.length, out, 0, { mode: 'partial', src, dst }),
  );
  bench(`emitTcp ${label}, ${payload.length} B payload in place, full checksum`, () =>
    emitTcp(repr, undefined, payload.length, out, 0, { mode: 'full', src, dst }),
  );
}
