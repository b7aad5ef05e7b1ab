// The report of a test, shaped like iperf3's `-J` output (iperf_api.c: iperf_on_connect,
// connect_msg, iperf_print_intermediate, iperf_print_results), so tools that read iperf3's
// JSON read ours. The session fills it as the test runs; the text report prints from the
// same records.

export interface ConnectedEntry {
  socket: number;
  local_host: string;
  local_port: number;
  remote_host: string;
  remote_port: number;
}

export interface StartSection {
  connected: ConnectedEntry[];
  version: string;
  system_info: string;
  /** Which TCP carried the test: 'kernel' or 'namestack' (not in iperf3's output). */
  transport: string;
  timestamp: { time: string; timesecs: number };
  connecting_to?: { host: string; port: number };
  accepted_connection?: { host: string; port: number };
  cookie: string;
  tcp_mss_default: number;
  target_bitrate: number;
  test_start: {
    protocol: 'TCP';
    num_streams: number;
    blksize: number;
    omit: number;
    duration: number;
    bytes: number;
    blocks: number;
    reverse: number;
    tos: number;
    target_bitrate: number;
  };
}

/** Bytes moved over a span of the test (seconds since its start), as every iperf3 record has. */
export interface Measurement {
  start: number;
  end: number;
  seconds: number;
  bytes: number;
  bits_per_second: number;
}

/** TCP_INFO fields of an interval on the sending side (present when retransmits are known). */
export interface IntervalTcpInfo {
  retransmits: number;
  snd_cwnd: number;
  snd_wnd: number;
  rtt: number;
  rttvar: number;
  pmtu: number;
}

export type IntervalStream = { socket: number } & Measurement & Partial<IntervalTcpInfo> & { omitted: boolean; sender: boolean };

export interface IntervalSum extends Measurement {
  retransmits?: number;
  omitted: boolean;
  sender: boolean;
}

export interface Interval {
  streams: IntervalStream[];
  sum: IntervalSum;
}

export interface EndSenderEntry extends Measurement {
  socket: number;
  retransmits?: number;
  max_snd_cwnd?: number;
  max_snd_wnd?: number;
  max_rtt?: number;
  min_rtt?: number;
  mean_rtt?: number;
  sender: boolean;
}

export interface EndReceiverEntry extends Measurement {
  socket: number;
  sender: boolean;
}

export interface EndSum extends Measurement {
  retransmits?: number;
  sender: boolean;
}

export interface EndSection {
  streams: { sender: EndSenderEntry; receiver: EndReceiverEntry }[];
  sum_sent: EndSum;
  sum_received: EndSum;
  cpu_utilization_percent: {
    host_total: number;
    host_user: number;
    host_system: number;
    remote_total: number;
    remote_user: number;
    remote_system: number;
  };
  sender_tcp_congestion?: string;
  receiver_tcp_congestion?: string;
}

export interface PerfReport {
  start: StartSection;
  intervals: Interval[];
  /** Absent when the test did not reach its end. */
  end?: EndSection;
  /** Set when the test failed (iperf3 adds "error" to its JSON the same way). */
  error?: string;
}

/** Bytes over seconds as bit/s; 0 for an empty span (iperf3 prints 0 then). */
export function bitsPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? (bytes * 8) / seconds : 0;
}

/** What the session knows about one stream at the end, from both sides. */
export interface StreamSummary {
  reportId: number;
  /** Whether this side sent on the stream. */
  localSender: boolean;
  bytesSent: number;
  bytesReceived: number;
  /** Retransmissions of the sending side (ours or the peer's), when known. */
  retransmits: number;
  maxCwnd: number;
  maxSendWindow: number;
  maxRtt: number;
  minRtt: number;
  meanRtt: number;
}

export interface EndInputs {
  streams: StreamSummary[];
  /** Seconds the sending and the receiving side measured (first stream, as iperf3 does). */
  senderSeconds: number;
  receiverSeconds: number;
  /** This side's own measured seconds (iperf3's "seconds" of the receiver entry). */
  ownSeconds: number;
  senderHasRetransmits: boolean;
  cpu: { total: number; user: number; system: number };
  remoteCpu: { total: number; user: number; system: number };
  senderCongestion?: string | undefined;
  receiverCongestion?: string | undefined;
}

/** The end section as iperf_print_results builds it for a one-direction TCP test. */
export function buildEnd(inputs: EndInputs): EndSection {
  const { senderSeconds: ts, receiverSeconds: tr } = inputs;
  const retrans = inputs.senderHasRetransmits;
  let totalSent = 0;
  let totalReceived = 0;
  let totalRetransmits = 0;
  const localSender = inputs.streams[0]?.localSender ?? false;
  const streams = inputs.streams.map((s) => {
    totalSent += s.bytesSent;
    totalReceived += s.bytesReceived;
    totalRetransmits += s.retransmits;
    const sender: EndSenderEntry = {
      socket: s.reportId,
      start: 0,
      end: ts,
      seconds: ts,
      bytes: s.bytesSent,
      bits_per_second: bitsPerSecond(s.bytesSent, ts),
      ...(retrans && {
        retransmits: s.retransmits,
        max_snd_cwnd: s.maxCwnd,
        max_snd_wnd: s.maxSendWindow,
        max_rtt: s.maxRtt,
        min_rtt: s.minRtt,
        mean_rtt: s.meanRtt,
      }),
      sender: s.localSender,
    };
    const receiver: EndReceiverEntry = {
      socket: s.reportId,
      start: 0,
      end: tr,
      seconds: inputs.ownSeconds,
      bytes: s.bytesReceived,
      bits_per_second: bitsPerSecond(s.bytesReceived, tr),
      sender: s.localSender,
    };
    return { sender, receiver };
  });
  return {
    streams,
    sum_sent: {
      start: 0,
      end: ts,
      seconds: ts,
      bytes: totalSent,
      bits_per_second: bitsPerSecond(totalSent, ts),
      ...(retrans && { retransmits: totalRetransmits }),
      sender: localSender,
    },
    sum_received: { start: 0, end: tr, seconds: tr, bytes: totalReceived, bits_per_second: bitsPerSecond(totalReceived, tr), sender: localSender },
    cpu_utilization_percent: {
      host_total: inputs.cpu.total,
      host_user: inputs.cpu.user,
      host_system: inputs.cpu.system,
      remote_total: inputs.remoteCpu.total,
      remote_user: inputs.remoteCpu.user,
      remote_system: inputs.remoteCpu.system,
    },
    ...(inputs.senderCongestion !== undefined && { sender_tcp_congestion: inputs.senderCongestion }),
    ...(inputs.receiverCongestion !== undefined && { receiver_tcp_congestion: inputs.receiverCongestion }),
  };
}
