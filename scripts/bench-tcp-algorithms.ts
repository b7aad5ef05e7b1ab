// Micro-benchmark of the per-ACK and per-segment TCP algorithms (stack/tcp): ns per
// operation in the shapes a bulk transfer produces. Run: scripts/bench-tcp-algorithms [seconds per case].

import { Cubic } from '../stack/tcp/congestion/cubic.js';
import { IsnGenerator } from '../stack/tcp/isn.js';
import { Rack } from '../stack/tcp/rack.js';
import { ReassemblyQueue } from '../stack/tcp/reassembly.js';
import { SackScoreboard } from '../stack/tcp/sack-scoreboard.js';
import { SendBuffer } from '../stack/tcp/send-buffer.js';
import { SentSegments } from '../stack/tcp/sent-segments.js';
import { seqAdd } from '../stack/tcp/seq.js';
import { COOKIE_MSS_IPV4, SynCookies } from '../stack/tcp/syn-cookies.js';

const seconds = Number(process.argv[2] ?? '1');
const MSS = 1448;

// Timed in CPU time of this process, so other processes on the cores do not inflate it.
function bench(label: string, op: () => number): void {
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink += op();
  let iterations = 0;
  const start = process.cpuUsage();
  let usedUs = 0;
  while (usedUs < seconds * 1e6) {
    for (let i = 0; i < 1000; i++) sink += op();
    iterations += 1000;
    const used = process.cpuUsage(start);
    usedUs = used.user + used.system;
  }
  const ns = (usedUs * 1000) / iterations;
  console.log(`${label.padEnd(60)} ${ns.toFixed(0).padStart(6)} ns  (sink ${sink & 1})`);
}

// Scoreboard: a 1000-segment window with every 10th segment lost; each ACK SACKs one more
// segment; reset when the window is done.
{
  let sb!: SackScoreboard;
  let next = 0;
  const reset = (): void => {
    sb = new SackScoreboard(0, MSS, { dupThresh: 3, maxRanges: 1024 });
    sb.onSent(1000 * MSS);
    next = 1;
  };
  reset();
  bench('SackScoreboard.update: 1 new block, up to 100 holes', () => {
    if (next >= 1000) reset();
    if (next % 10 === 0) next++;
    const block = { start: next * MSS, end: (next + 1) * MSS };
    next++;
    return sb.update(0, [block]).deliveredBytes;
  });
  bench('SackScoreboard.pipe + nextSeg with ~100 holes', () => sb.pipe() + (sb.nextSeg(false)?.start ?? 0));
}

// Reassembly: segments arrive in pairs swapped (each second one out of order).
{
  const q = new ReassemblyQueue({ maxBytes: 1 << 24, maxSegments: 1 << 16 });
  const packet = new Uint8Array(MSS + 80);
  const payload = packet.subarray(80);
  const out: Uint8Array[] = [];
  let rcvNxt = 0xffff_0000;
  bench('ReassemblyQueue: insert out of order + takeInOrder (per segment)', () => {
    q.insert(rcvNxt, seqAdd(rcvNxt, MSS), payload);
    rcvNxt = seqAdd(rcvNxt, MSS); // the in-order one goes straight to the application
    out.length = 0;
    const n = q.takeInOrder(rcvNxt, out);
    rcvNxt = seqAdd(rcvNxt, n);
    return n;
  });
  const tiny = new ReassemblyQueue({ maxBytes: 1 << 24, maxSegments: 4096 });
  const one = new Uint8Array(1);
  let i = 0;
  bench('ReassemblyQueue: 1-byte segments, every other byte, 4096 pieces max', () => {
    if (tiny.segmentCount >= 4000) (tiny.clear(), (i = 0));
    // Insert in a scattered order so pieces go into the middle of the array.
    const pos = 2 + ((i * 7919) % 8000) * 2;
    i++;
    return tiny.insert(0, pos, one).queued;
  });
}

// Send buffer: 64 KiB writes, a segment copied out at a time, released per ACK.
{
  const sbuf = new SendBuffer(1 << 24);
  const write = new Uint8Array(65_536);
  const pkt = new Uint8Array(1600);
  let off = 0;
  bench('SendBuffer.copyRange one 1448-byte segment (+ append/release)', () => {
    if (sbuf.length - off < MSS) sbuf.append(write);
    sbuf.copyRange(off, MSS, pkt, 60);
    off += MSS;
    if (off > 32 * MSS) {
      sbuf.release(off);
      off = 0;
    }
    return pkt[60]!;
  });
}

// CUBIC per ACK in congestion avoidance.
{
  const cc = new Cubic(MSS, { initialCwndSegments: 100, hystart: false });
  cc.onCongestionEvent({ now: 0, mss: MSS, flightSize: 100 * MSS, kind: 'rack' });
  cc.onRecoveryExit(0);
  let now = 0;
  let ack = 0;
  bench('Cubic.onAck (congestion avoidance)', () => {
    now += 0.01;
    ack += MSS;
    cc.onAck({ now, ackedBytes: MSS, mss: MSS, inFlight: cc.cwnd, srttMs: 20, ackNumber: ack >>> 0, sndNxt: (ack + cc.cwnd) >>> 0 });
    if (cc.cwnd > 5000 * MSS) cc.onCongestionEvent({ now, mss: MSS, flightSize: cc.cwnd, kind: 'rack' }), cc.onRecoveryExit(now);
    return cc.cwnd;
  });
}

// RACK: 200 segments in flight, one delivery per ACK, loss detection each time.
{
  let sent = new SentSegments();
  let rack = new Rack(3);
  let seq = 0;
  let now = 0;
  const fill = (): void => {
    sent = new SentSegments();
    rack = new Rack(3);
    for (let k = 0; k < 200; k++) sent.onSent(k * MSS, (k + 1) * MSS, k * 0.05);
    seq = 0;
    now = 20;
  };
  fill();
  bench('RACK: ackTo one segment + detectLoss over 200 in flight', () => {
    if (seq >= 199) fill();
    seq++;
    now += 0.05;
    sent.ackTo(seq * MSS, (s) => rack.onDelivered(s, now, 20));
    return rack.detectLoss(sent, now, 5, () => {});
  });
}

// Keyed hashes: what a SYN costs.
{
  const secret = new Uint8Array(16).fill(7);
  const tuple = { localAddress: Uint8Array.of(10, 0, 0, 1), localPort: 80, remoteAddress: Uint8Array.of(10, 0, 0, 2), remotePort: 40_000 };
  const isn = new IsnGenerator(secret);
  const cookies = new SynCookies(secret, 128_000);
  let now = 0;
  bench('IsnGenerator.isn (SipHash-2-4)', () => isn.isn((now += 1), tuple));
  bench('SynCookies.encode', () => cookies.encode((now += 1), tuple, 12345, 1460, COOKIE_MSS_IPV4).isn);
}
