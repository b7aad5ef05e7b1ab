// iperf3's human-readable output (iperf_locale.c formats, iperf_api.c print routines) for a
// one-direction TCP test, printed from the same records as the JSON report:
//
//   [  5]   0.00-1.00   sec  1.10 GBytes  9.42 Gbits/sec    0    512 KBytes
//
// Only the lines iperf3 prints without --verbose.

import type { ConnectedEntry, EndSection, Interval } from './report.js';
import { formatAdaptive, printfFixed } from './units.js';

export const SEPARATOR = '- - - - - - - - - - - - - - - - - - - - - - - - -';
const DASHES = '-----------------------------------------------------------';
const HEADER = '[ ID] Interval           Transfer     Bitrate';
const HEADER_RETR = `${HEADER}         Retr`;
const HEADER_RETR_CWND = `${HEADER}         Retr  Cwnd`;

function id(n: number | 'SUM'): string {
  return n === 'SUM' ? '[SUM]' : `[${String(n).padStart(3)}]`;
}

function span(start: number, end: number): string {
  return `${printfFixed(start, 2).padStart(6)}-${printfFixed(end, 2).padEnd(6)} sec`;
}

function amounts(bytes: number, seconds: number): string {
  const rate = seconds > 0 ? bytes / seconds : 0;
  return `${formatAdaptive(bytes, 'bytes')}s  ${formatAdaptive(rate, 'bits')}s/sec`;
}

/** report_bw_format and report_sum_bw_format: no retransmission column. */
function plainLine(who: number | 'SUM', start: number, end: number, bytes: number, seconds: number, tail: string): string {
  return `${id(who)} ${span(start, end)}  ${amounts(bytes, seconds)}                  ${tail}`;
}

/** report_bw_retrans_format / report_sum_bw_retrans_format. */
function retransLine(who: number | 'SUM', start: number, end: number, bytes: number, seconds: number, retransmits: number, tail: string): string {
  return `${id(who)} ${span(start, end)}  ${amounts(bytes, seconds)}  ${String(retransmits).padStart(3)}             ${tail}`;
}

export class TextReport {
  constructor(private readonly write: (line: string) => void) {}

  serverListening(port: number, testNumber: number): void {
    this.write(DASHES);
    this.write(`Server listening on ${port} (test #${testNumber})`);
    this.write(DASHES);
  }

  connecting(host: string, port: number, reverse: boolean): void {
    this.write(`Connecting to host ${host}, port ${port}`);
    if (reverse) this.write(`Reverse mode, remote host ${host} is sending`);
  }

  accepted(host: string, port: number): void {
    this.write(`Accepted connection from ${host}, port ${port}`);
  }

  connected(c: ConnectedEntry): void {
    this.write(`${id(c.socket)} local ${c.local_host} port ${c.local_port} connected to ${c.remote_host} port ${c.remote_port}`);
  }

  /**
   * One interval: per-stream lines (with Retr and Cwnd on a sender that counts
   * retransmissions), then a SUM line when there are several streams. The first interval
   * carries the column header, later ones a separator when there are several streams.
   */
  interval(iv: Interval, first: boolean): void {
    const multi = iv.streams.length > 1;
    const withRetr = iv.streams[0]?.retransmits !== undefined;
    if (first) this.write(withRetr ? HEADER_RETR_CWND : HEADER);
    else if (multi) this.write(SEPARATOR);
    for (const s of iv.streams) {
      const omitted = s.omitted ? '(omitted)' : '';
      if (s.retransmits !== undefined) {
        const cwnd = `${formatAdaptive(s.snd_cwnd ?? 0, 'bytes')}s`;
        this.write(`${id(s.socket)} ${span(s.start, s.end)}  ${amounts(s.bytes, s.seconds)}  ${String(s.retransmits).padStart(3)}   ${cwnd}       ${omitted}`);
      } else {
        this.write(plainLine(s.socket, s.start, s.end, s.bytes, s.seconds, omitted));
      }
    }
    if (multi) {
      const m = iv.sum;
      const omitted = m.omitted ? '(omitted)' : '';
      this.write(m.retransmits !== undefined ? retransLine('SUM', m.start, m.end, m.bytes, m.seconds, m.retransmits, omitted) : plainLine('SUM', m.start, m.end, m.bytes, m.seconds, omitted));
    }
  }

  /**
   * The summary (iperf_print_results): each stream's sender and receiver line and the SUM
   * lines. A server shows only its own side, as iperf3 does without --verbose.
   */
  end(end: EndSection, role: 'client' | 'server'): void {
    const multi = end.streams.length > 1;
    const withRetr = end.sum_sent.retransmits !== undefined;
    const localSender = end.sum_sent.sender;
    const showSender = role === 'client' || localSender;
    const showReceiver = role === 'client' || !localSender;
    this.write(SEPARATOR);
    this.write(withRetr ? HEADER_RETR : HEADER);
    for (const { sender: s, receiver: r } of end.streams) {
      if (showSender) {
        this.write(s.retransmits !== undefined ? retransLine(s.socket, s.start, s.end, s.bytes, s.end, s.retransmits, 'sender') : plainLine(s.socket, s.start, s.end, s.bytes, s.end, 'sender'));
      }
      if (showReceiver) this.write(plainLine(r.socket, r.start, r.end, r.bytes, r.end, 'receiver'));
    }
    if (multi) {
      const s = end.sum_sent;
      const r = end.sum_received;
      if (showSender) {
        this.write(s.retransmits !== undefined ? retransLine('SUM', s.start, s.end, s.bytes, s.end, s.retransmits, 'sender') : plainLine('SUM', s.start, s.end, s.bytes, s.end, 'sender'));
      }
      if (showReceiver) this.write(plainLine('SUM', r.start, r.end, r.bytes, r.end, 'receiver'));
    }
  }

  done(): void {
    this.write('');
    this.write('iperf Done.');
  }

  error(message: string): void {
    this.write(`iperf3: error - ${message}`);
  }
}
