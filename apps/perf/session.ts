// What the client and the server of a test share once the control connection is up: the
// data streams, the statistics timeline (TEST_START, intervals, omit period, end), the
// results message each side sends, and the report. The protocol dialogue itself (who sends
// which state when) is in client.ts and server.ts.

import { randomFillSync } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { CpuMeter, type CpuUtilization } from './cpu.js';
import { PerfStream, type SendControl } from './data-stream.js';
import { TokenBucket } from './pacer.js';
import { IperfError, streamId, type Checked, type ResultsMessage, type TestSettings } from './protocol.js';
import { bitsPerSecond, buildEnd, type ConnectedEntry, type Interval, type IntervalStream, type IntervalTcpInfo, type PerfReport, type StreamSummary } from './report.js';
import type { TextReport } from './text-report.js';
import type { PerfSocket, PerfTransport } from './transport.js';

/** iperf3's default statistics and report interval (-i 1). */
export const STATS_INTERVAL_MS = 1000;
/** The [ID] iperf3 shows for the first data stream (its descriptor, after stdio and the control socket). */
const FIRST_REPORT_ID = 5;

export const PERF_VERSION = 'namestack perf 0.1.0 (iperf 3.12 protocol)';

export interface SessionOptions {
  role: 'client' | 'server';
  settings: TestSettings;
  transport: PerfTransport;
  cookie: string;
  /** The client's server, or the server's client (start.connecting_to / accepted_connection). */
  peer: { host: string; port: number };
  /** Human-readable output; none when the caller only wants the JSON-shaped report. */
  text?: TextReport | undefined;
  /** Keep every interval in report.intervals (as -J does); off saves memory on long tests. */
  collectIntervals: boolean;
  /** Called when the end condition is reached (bytes or blocks; time is the client's timer). */
  onLimitReached?: () => void;
  /** A data stream failed while the test ran. */
  onStreamError?: (err: Error) => void;
}

/** Per-stream statistics besides the byte counts PerfStream keeps. */
interface StreamStats {
  lastSample: number;
  prevTotalRetransmits: number;
  retransmits: number;
  maxCwnd: number;
  maxSendWindow: number;
  maxRtt: number;
  minRtt: number;
  sumRtt: number;
  countRtt: number;
  /** From the peer's results. */
  peerBytes: number;
  peerSeconds: number;
  peerRetransmits: number;
}

export class PerfSession {
  readonly report: PerfReport;
  readonly streams: PerfStream[] = [];
  private readonly stats: StreamStats[] = [];
  private readonly block: Buffer;
  /** Whether this side sends on every stream (a one-direction test). */
  readonly localSender: boolean;
  private readonly byteLimit: number;
  private reservedBytes = 0;
  private movedBytes = 0;
  private startTime = 0;
  private endTime = 0;
  private omitting = false;
  private firstIntervalPending = true;
  private senderHasRetransmits = false;
  /** The first data stream's congestion control at TEST_START (iperf3's congestion_used). */
  private congestionUsed: string | undefined;
  private peerSenderHasRetransmits = -1;
  private peerCpu = { total: 0, user: 0, system: 0 };
  private peerCongestion: string | undefined;
  private readonly cpuMeter = new CpuMeter();
  private cpu: CpuUtilization = { total: 0, user: 0, system: 0, seconds: 0 };
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  private finished = false;
  private readonly control: SendControl;

  constructor(private readonly opts: SessionOptions) {
    const s = opts.settings;
    this.localSender = opts.role === 'client' ? !s.reverse : s.reverse;
    this.byteLimit = s.bytes > 0 ? s.bytes : s.blocks > 0 ? s.blocks * s.blockSize : 0;
    // One block, filled once with random bytes (iperf3 does the same unless --repeating-payload).
    this.block = randomFillSync(Buffer.allocUnsafe(s.blockSize));
    this.control = {
      reserve: (size) => {
        if (this.byteLimit > 0 && this.reservedBytes >= this.byteLimit) return false;
        this.reservedBytes += size;
        return true;
      },
      onProgress: (bytes) => {
        this.movedBytes += bytes;
        if (this.byteLimit > 0 && this.movedBytes >= this.byteLimit && !this.omitting) this.opts.onLimitReached?.();
      },
      onError: (_stream, err) => this.opts.onStreamError?.(err),
      now: () => performance.now(),
    };
    const now = new Date();
    this.report = {
      start: {
        connected: [],
        version: PERF_VERSION,
        system_info: `${os.type()} ${os.hostname()} ${os.release()} ${os.version()} ${os.machine()}`,
        transport: opts.transport.name,
        timestamp: { time: now.toUTCString(), timesecs: Math.floor(now.getTime() / 1000) },
        ...(opts.role === 'client' ? { connecting_to: opts.peer } : { accepted_connection: opts.peer }),
        cookie: opts.cookie,
        tcp_mss_default: 0,
        target_bitrate: s.rate,
        test_start: {
          protocol: 'TCP',
          num_streams: s.parallel,
          blksize: s.blockSize,
          omit: s.omitSeconds,
          duration: s.durationSeconds,
          bytes: s.bytes,
          blocks: s.blocks,
          reverse: s.reverse ? 1 : 0,
          tos: 0,
          target_bitrate: s.rate,
        },
      },
      intervals: [],
    };
  }

  get settings(): TestSettings {
    return this.opts.settings;
  }

  get complete(): boolean {
    return this.streams.length === this.opts.settings.parallel;
  }

  /** Adds the next data connection (in the order both sides agree on: creation order). */
  addStream(socket: PerfSocket): PerfStream {
    const index = this.streams.length;
    const s = this.opts.settings;
    const bucket = s.rate > 0 && this.localSender ? new TokenBucket(s.rate, s.blockSize, performance.now()) : undefined;
    const stream = new PerfStream(streamId(index), FIRST_REPORT_ID + index, this.localSender, socket, this.block, this.control, bucket);
    if (s.noDelay) socket.setNoDelay?.(true);
    // iperf3 -C: a name this transport does not know is ignored, as an iperf3 server does (ENOENT).
    if (s.congestion !== undefined) this.opts.transport.setCongestion?.(socket, s.congestion);
    this.streams.push(stream);
    this.stats.push({
      lastSample: 0,
      prevTotalRetransmits: 0,
      retransmits: 0,
      maxCwnd: 0,
      maxSendWindow: 0,
      maxRtt: 0,
      minRtt: 0,
      sumRtt: 0,
      countRtt: 0,
      peerBytes: 0,
      peerSeconds: 0,
      peerRetransmits: -1,
    });
    const entry: ConnectedEntry = {
      socket: stream.reportId,
      local_host: plainAddress(socket.localAddress),
      local_port: socket.localPort ?? 0,
      remote_host: plainAddress(socket.remoteAddress),
      remote_port: socket.remotePort ?? 0,
    };
    this.report.start.connected.push(entry);
    this.opts.text?.connected(entry);
    return stream;
  }

  /** TEST_START: the clock starts, statistics intervals and the omit period begin. */
  start(): void {
    const now = performance.now();
    this.startTime = now;
    for (const st of this.stats) st.lastSample = now;
    const info = this.localSender ? this.tcpInfo(0) : undefined;
    this.senderHasRetransmits = info !== undefined;
    const first = this.streams[0];
    this.congestionUsed = first && this.opts.transport.congestion?.(first.socket);
    if (info) for (let i = 0; i < this.streams.length; i++) this.stats[i]!.prevTotalRetransmits = this.tcpInfo(i)?.totalRetransmits ?? 0;
    this.cpuMeter.restart();
    const s = this.opts.settings;
    this.timers.push(setInterval(() => this.sample(performance.now()), STATS_INTERVAL_MS));
    if (s.omitSeconds > 0) {
      this.omitting = true;
      this.timers.push(setTimeout(() => this.endOmit(), s.omitSeconds * 1000));
    }
    if (s.rate > 0 && this.localSender) {
      this.timers.push(setInterval(() => this.streams.forEach((st) => st.paceTick()), s.pacingTimerUs / 1000));
    }
  }

  /** TEST_RUNNING: senders start writing, receivers start counting. */
  run(): void {
    this.running = true;
    for (const st of this.streams) {
      if (st.sender) st.startSending();
      else st.counting = true;
    }
  }

  /** The end of the test on this side: stop moving bytes, take the last sample and the CPU time. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    for (const st of this.streams) {
      st.stopSending();
      st.counting = false;
    }
    if (this.running) this.sample(performance.now());
    this.endTime = performance.now();
    this.cpu = this.cpuMeter.read();
  }

  closeStreams(): void {
    for (const st of this.streams) st.close();
  }

  /** Stops every timer and stream (an aborted test). */
  abort(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.closeStreams();
  }

  /** CPU utilisation over the test (valid after finish). */
  get cpuUtilization(): CpuUtilization {
    return this.cpu;
  }

  /** Total bytes this side sent or received (after any omit period). */
  get bytesMoved(): number {
    return this.streams.reduce((sum, st) => sum + st.bytes, 0);
  }

  private ownSeconds(): number {
    return Math.max(0, (this.endTime - this.startTime) / 1000);
  }

  /** This side's results message (send_results). */
  results(): ResultsMessage {
    const seconds = this.ownSeconds();
    return {
      cpu_util_total: this.cpu.total,
      cpu_util_user: this.cpu.user,
      cpu_util_system: this.cpu.system,
      sender_has_retransmits: this.localSender ? (this.senderHasRetransmits ? 1 : 0) : -1,
      ...(this.congestionUsed !== undefined && { congestion_used: this.congestionUsed }),
      streams: this.streams.map((st, i) => ({
        id: st.id,
        bytes: st.bytes,
        retransmits: this.localSender && this.senderHasRetransmits ? this.stats[i]!.retransmits : -1,
        jitter: 0,
        errors: 0,
        packets: 0,
        start_time: 0,
        end_time: seconds,
      })),
    };
  }

  /** The peer's results (get_results): its byte counts, times, retransmissions and CPU. */
  applyPeerResults(r: ResultsMessage): Checked<true> {
    this.peerCpu = { total: r.cpu_util_total, user: r.cpu_util_user, system: r.cpu_util_system };
    this.peerSenderHasRetransmits = r.sender_has_retransmits;
    this.peerCongestion = r.congestion_used;
    for (const e of r.streams) {
      const index = this.streams.findIndex((st) => st.id === e.id);
      if (index < 0) return { ok: false, code: IperfError.IERECVPARAMS, message: `peer results name unknown stream ${e.id}` };
      const st = this.stats[index]!;
      st.peerBytes = e.bytes;
      st.peerSeconds = Math.max(0, e.end_time - e.start_time);
      st.peerRetransmits = e.retransmits;
    }
    return { ok: true, value: true };
  }

  /** Builds the end section from both sides' numbers and prints the summary. */
  conclude(): void {
    const own = this.ownSeconds();
    const peer = this.stats[0]?.peerSeconds ?? 0;
    const senderSeconds = this.localSender ? own : peer || own;
    const receiverSeconds = this.localSender ? peer || own : own;
    const retrans = this.localSender ? this.senderHasRetransmits : this.peerSenderHasRetransmits === 1;
    const streams: StreamSummary[] = this.streams.map((st, i) => {
      const x = this.stats[i]!;
      return {
        reportId: st.reportId,
        localSender: this.localSender,
        bytesSent: this.localSender ? st.bytes : x.peerBytes,
        bytesReceived: this.localSender ? x.peerBytes : st.bytes,
        retransmits: this.localSender ? x.retransmits : Math.max(0, x.peerRetransmits),
        maxCwnd: x.maxCwnd,
        maxSendWindow: x.maxSendWindow,
        maxRtt: x.maxRtt,
        minRtt: x.minRtt,
        meanRtt: x.countRtt ? Math.floor(x.sumRtt / x.countRtt) : 0,
      };
    });
    this.report.end = buildEnd({
      streams,
      senderSeconds,
      receiverSeconds,
      ownSeconds: own,
      senderHasRetransmits: retrans,
      cpu: this.cpu,
      remoteCpu: this.peerCpu,
      senderCongestion: this.localSender ? this.congestionUsed : this.peerCongestion,
      receiverCongestion: this.localSender ? this.peerCongestion : this.congestionUsed,
    });
    this.opts.text?.end(this.report.end, this.opts.role);
  }

  private tcpInfo(index: number): ReturnType<NonNullable<PerfTransport['tcpInfo']>> {
    const stream = this.streams[index];
    return stream && this.opts.transport.tcpInfo ? this.opts.transport.tcpInfo(stream.socket) : undefined;
  }

  /** The end of the omit period (iperf_reset_stats): counts and the clock restart. */
  private endOmit(): void {
    const now = performance.now();
    this.sample(now);
    this.omitting = false;
    this.startTime = now;
    this.firstIntervalPending = true;
    this.reservedBytes = Math.max(0, this.reservedBytes - this.movedBytes);
    this.movedBytes = 0;
    for (let i = 0; i < this.streams.length; i++) {
      this.streams[i]!.bytes = 0;
      this.streams[i]!.intervalBytes = 0;
      const st = this.stats[i]!;
      st.lastSample = now;
      st.retransmits = 0;
    }
    // The statistics timer restarts with the clock (tmr_reset in iperf3).
    const statsTimer = this.timers.shift();
    if (statsTimer) clearInterval(statsTimer);
    this.timers.unshift(setInterval(() => this.sample(performance.now()), STATS_INTERVAL_MS));
  }

  /** One statistics interval (iperf_stats_callback, then the interval report). */
  private sample(now: number): void {
    const streams: IntervalStream[] = [];
    let keep = false;
    for (let i = 0; i < this.streams.length; i++) {
      const st = this.streams[i]!;
      const x = this.stats[i]!;
      const seconds = (now - x.lastSample) / 1000;
      let tcp: IntervalTcpInfo | undefined;
      if (this.localSender && this.senderHasRetransmits) {
        const info = this.tcpInfo(i);
        const retransmits = info ? info.totalRetransmits - x.prevTotalRetransmits : 0;
        if (info) {
          x.prevTotalRetransmits = info.totalRetransmits;
          x.maxCwnd = Math.max(x.maxCwnd, info.cwndBytes);
          x.maxSendWindow = Math.max(x.maxSendWindow, info.sendWindowBytes);
          x.maxRtt = Math.max(x.maxRtt, info.rttUs);
          x.minRtt = x.minRtt === 0 ? info.rttUs : Math.min(x.minRtt, info.rttUs);
          x.sumRtt += info.rttUs;
          x.countRtt++;
        }
        x.retransmits += retransmits;
        tcp = {
          retransmits,
          snd_cwnd: info?.cwndBytes ?? 0,
          snd_wnd: info?.sendWindowBytes ?? 0,
          rtt: info?.rttUs ?? 0,
          rttvar: info?.rttVarUs ?? 0,
          pmtu: info?.pmtu ?? 0,
        };
      }
      const entry: IntervalStream = {
        socket: st.reportId,
        start: (x.lastSample - this.startTime) / 1000,
        end: (now - this.startTime) / 1000,
        seconds,
        bytes: st.intervalBytes,
        bits_per_second: bitsPerSecond(st.intervalBytes, seconds),
        ...tcp,
        omitted: this.omitting,
        sender: st.sender,
      };
      // iperf3 drops a trailing interval shorter than 10% of the period that moved nothing.
      if (seconds >= (STATS_INTERVAL_MS / 1000) * 0.1 || st.intervalBytes > 0) keep = true;
      st.intervalBytes = 0;
      x.lastSample = now;
      streams.push(entry);
    }
    if (!keep || streams.length === 0) return;
    const first = streams[0]!;
    const bytes = streams.reduce((sum, e) => sum + e.bytes, 0);
    const retransmits = streams.every((e) => e.retransmits !== undefined) ? streams.reduce((sum, e) => sum + (e.retransmits ?? 0), 0) : undefined;
    const interval: Interval = {
      streams,
      sum: {
        start: first.start,
        end: first.end,
        seconds: first.seconds,
        bytes,
        bits_per_second: bitsPerSecond(bytes, first.seconds),
        ...(retransmits !== undefined && { retransmits }),
        omitted: this.omitting,
        sender: this.localSender,
      },
    };
    if (this.opts.collectIntervals) this.report.intervals.push(interval);
    this.opts.text?.interval(interval, this.firstIntervalPending);
    this.firstIntervalPending = false;
  }
}

/** IPv4-mapped IPv6 addresses as plain IPv4, as iperf3 prints them (mapped_v4_to_regular_v4). */
export function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
