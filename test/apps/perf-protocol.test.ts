// The pure parts of namestack perf: iperf3's cookie and framing, the validators facing a
// hostile peer, units as iperf3 prints them, the text report's line formats, the pacer.

import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../apps/perf/pacer.js';
import {
  COOKIE_SIZE,
  IperfError,
  MAX_STREAMS,
  checkParameters,
  checkResults,
  decodeCookie,
  decodeState,
  encodeCookie,
  encodeJson,
  encodeState,
  makeCookie,
  parametersOf,
  streamId,
  State,
} from '../../apps/perf/protocol.js';
import { buildEnd, type Interval } from '../../apps/perf/report.js';
import { TextReport } from '../../apps/perf/text-report.js';
import { formatAdaptive, parseRate, parseSize, printfFixed } from '../../apps/perf/units.js';

describe('iperf3 framing', () => {
  it('makes 36-character base-32 cookies sent with a NUL', () => {
    const cookie = makeCookie();
    expect(cookie).toMatch(/^[a-z2-7]{36}$/);
    expect(makeCookie()).not.toBe(cookie);
    const wire = encodeCookie(cookie);
    expect(wire).toHaveLength(COOKIE_SIZE);
    expect(wire[36]).toBe(0);
    expect(decodeCookie(wire)).toBe(cookie);
  });

  it('sends states as signed bytes', () => {
    expect([...encodeState(State.ACCESS_DENIED)]).toEqual([0xff]);
    expect(decodeState(0xfe)).toBe(State.SERVER_ERROR);
    expect(decodeState(State.IPERF_DONE)).toBe(16);
  });

  it('frames JSON with a big-endian length', () => {
    const wire = encodeJson({ tcp: true });
    expect(wire.readUInt32BE(0)).toBe(wire.length - 4);
    expect(wire.subarray(4).toString()).toBe('{"tcp":true}');
  });

  it('numbers streams 1, 3, 4, ... like iperf_add_stream', () => {
    expect([0, 1, 2, 3].map(streamId)).toEqual([1, 3, 4, 5]);
  });
});

describe('parameter validation', () => {
  const iperf3Params = {
    tcp: true,
    omit: 0,
    time: 10,
    num: 0,
    blockcount: 0,
    parallel: 2,
    reverse: true,
    len: 131072,
    bandwidth: 1000000,
    pacing_timer: 1000,
    client_version: '3.12',
  };

  it('reads what iperf3 3.12 sends', () => {
    const r = checkParameters(iperf3Params);
    expect(r).toEqual({
      ok: true,
      value: { omitSeconds: 0, durationSeconds: 10, bytes: 0, blocks: 0, parallel: 2, reverse: true, blockSize: 131072, rate: 1e6, pacingTimerUs: 1000, noDelay: false },
    });
  });

  it('takes a congestion control name (iperf3 -C)', () => {
    const r = checkParameters({ ...iperf3Params, congestion: 'cubic' });
    expect(r.ok && r.value.congestion).toBe('cubic');
  });

  it('round-trips our own parameters', () => {
    const r = checkParameters(JSON.parse(JSON.stringify(parametersOf({ omitSeconds: 1, durationSeconds: 0, bytes: 5000, blocks: 0, parallel: 3, reverse: false, blockSize: 1000, rate: 0, pacingTimerUs: 1000, noDelay: true }, '3.12'))));
    expect(r.ok && r.value).toMatchObject({ omitSeconds: 1, bytes: 5000, parallel: 3, reverse: false, blockSize: 1000, noDelay: true });
  });

  it.each([
    [undefined, IperfError.IERECVPARAMS],
    [[1, 2], IperfError.IERECVPARAMS],
    [{ ...iperf3Params, tcp: undefined, udp: true }, IperfError.IEPROTOCOL],
    [{ ...iperf3Params, bidirectional: true }, IperfError.IEUNIMP],
    [{ ...iperf3Params, parallel: MAX_STREAMS + 1 }, IperfError.IENUMSTREAMS],
    [{ ...iperf3Params, parallel: 0 }, IperfError.IENUMSTREAMS],
    [{ ...iperf3Params, parallel: '2' }, IperfError.IENUMSTREAMS],
    [{ ...iperf3Params, len: 2 * 1024 * 1024 }, IperfError.IEBLOCKSIZE],
    [{ ...iperf3Params, len: 0 }, IperfError.IEBLOCKSIZE],
    [{ ...iperf3Params, time: 1e9 }, IperfError.IEDURATION],
    [{ ...iperf3Params, time: -1 }, IperfError.IEDURATION],
    [{ ...iperf3Params, num: 1.5 }, IperfError.IERECVPARAMS],
    [{ ...iperf3Params, bandwidth: Infinity }, IperfError.IERECVPARAMS],
    [{ ...iperf3Params, congestion: 'cubic; rm -rf /' }, IperfError.IERECVPARAMS],
    [{ ...iperf3Params, congestion: 'a'.repeat(16) }, IperfError.IERECVPARAMS],
  ])('refuses %j with error %i', (params, code) => {
    const r = checkParameters(params);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.code).toBe(code);
  });

  it('checks results field by field and bounds the stream list', () => {
    const good = { cpu_util_total: 1, cpu_util_user: 0.5, cpu_util_system: 0.5, sender_has_retransmits: -1, streams: [{ id: 1, bytes: 10, retransmits: -1, jitter: 0, errors: 0, packets: 0, start_time: 0, end_time: 1.5 }] };
    expect(checkResults(good)).toEqual({ ok: true, value: good });
    // Servers before 3.2 sent no times.
    const old = checkResults({ ...good, streams: [{ id: 1, bytes: 10, retransmits: -1, jitter: 0, errors: 0, packets: 0 }] });
    expect(old.ok && old.value.streams[0]!.end_time).toBe(0);
    expect(checkResults({ ...good, cpu_util_user: 'x' }).ok).toBe(false);
    expect(checkResults({ ...good, streams: [{ id: 1 }] }).ok).toBe(false);
    expect(checkResults({ ...good, streams: [null] }).ok).toBe(false);
    expect(checkResults({ ...good, streams: new Array(MAX_STREAMS * 2 + 1).fill(good.streams[0]) }).ok).toBe(false);
    expect(checkResults('results').ok).toBe(false);
  });
});

describe('units', () => {
  it.each([
    [0, 'bytes', '0.00 Byte'],
    [1023, 'bytes', '1023 Byte'],
    [1000 * 1024, 'bytes', '1000 KByte'],
    [785408, 'bytes', ' 767 KByte'],
    [1492123456, 'bytes', '1.39 GByte'],
    [10.5 * 1024 * 1024, 'bytes', '10.5 MByte'],
    [1.25e9, 'bits', '10.0 Gbit'],
    [1492123456, 'bits', '11.9 Gbit'],
    [50e6, 'bits', ' 400 Mbit'],
    [9.996e6 / 8, 'bits', '10.0 Mbit'],
  ] as const)('formats %d %s as %j', (value, unit, text) => {
    expect(formatAdaptive(value, unit)).toBe(text);
  });

  it('rounds exact ties to even like printf', () => {
    // printf '%.0f %.0f %.2f %.2f %.2f %.1f' 432.5 433.5 0.125 0.375 1.005 1.25
    expect([printfFixed(432.5, 0), printfFixed(433.5, 0), printfFixed(0.125, 2), printfFixed(0.375, 2), printfFixed(1.005, 2), printfFixed(1.25, 1)]).toEqual(['432', '434', '0.12', '0.38', '1.00', '1.2']);
    expect(formatAdaptive(432.5 * 2 ** 20, 'bytes')).toBe(' 432 MByte');
  });

  it('parses -n/-l in powers of 1024 and -b in powers of 1000', () => {
    expect(parseSize('128K')).toBe(131072);
    expect(parseSize('1.5M')).toBe(1572864);
    expect(parseSize('100')).toBe(100);
    expect(parseRate('100M')).toBe(100e6);
    expect(parseRate('1g')).toBe(1e9);
    expect(() => parseSize('10 MB')).toThrow(/bad size/);
    expect(() => parseRate('-1')).toThrow(/bad rate/);
  });
});

describe('text report', () => {
  function lines(f: (t: TextReport) => void): string[] {
    const out: string[] = [];
    f(new TextReport((l) => out.push(l)));
    return out;
  }

  it('prints an interval with retransmissions and cwnd in iperf3 columns', () => {
    const iv: Interval = {
      streams: [{ socket: 5, start: 0, end: 1, seconds: 1, bytes: 1492123456, bits_per_second: 0, retransmits: 7, snd_cwnd: 785408, snd_wnd: 0, rtt: 0, rttvar: 0, pmtu: 0, omitted: false, sender: true }],
      sum: { start: 0, end: 1, seconds: 1, bytes: 1492123456, bits_per_second: 0, retransmits: 7, omitted: false, sender: true },
    };
    // iperf_locale.c: report_bw_retrans_cwnd_header and report_bw_retrans_cwnd_format.
    expect(lines((t) => t.interval(iv, true))).toEqual([
      '[ ID] Interval           Transfer     Bitrate         Retr  Cwnd',
      '[  5]   0.00-1.00   sec  1.39 GBytes  11.9 Gbits/sec    7    767 KBytes       ',
    ]);
  });

  it('prints several streams with a SUM line and separators', () => {
    const stream = { socket: 5, start: 1, end: 2, seconds: 1, bytes: 50e6 / 8, bits_per_second: 0, omitted: false, sender: false };
    const iv: Interval = { streams: [stream, { ...stream, socket: 6 }], sum: { start: 1, end: 2, seconds: 1, bytes: 100e6 / 8, bits_per_second: 0, omitted: false, sender: false } };
    expect(lines((t) => t.interval(iv, false))).toEqual([
      '- - - - - - - - - - - - - - - - - - - - - - - - -',
      '[  5]   1.00-2.00   sec  5.96 MBytes  50.0 Mbits/sec                  ',
      '[  6]   1.00-2.00   sec  5.96 MBytes  50.0 Mbits/sec                  ',
      '[SUM]   1.00-2.00   sec  11.9 MBytes   100 Mbits/sec                  ',
    ]);
  });

  it('prints the summary: both sides on a client, its own side on a server', () => {
    const stream = { reportId: 5, localSender: true, bytesSent: 2.55 * 2 ** 30, bytesReceived: 2.5 * 2 ** 30, retransmits: 11, maxCwnd: 0, maxSendWindow: 0, maxRtt: 0, minRtt: 0, meanRtt: 0 };
    const end = buildEnd({
      streams: [stream],
      senderSeconds: 2,
      receiverSeconds: 2.01,
      ownSeconds: 2,
      senderHasRetransmits: true,
      cpu: { total: 0, user: 0, system: 0 },
      remoteCpu: { total: 0, user: 0, system: 0 },
    });
    expect(lines((t) => t.end(end, 'client'))).toEqual([
      '- - - - - - - - - - - - - - - - - - - - - - - - -',
      '[ ID] Interval           Transfer     Bitrate         Retr',
      '[  5]   0.00-2.00   sec  2.55 GBytes  11.0 Gbits/sec   11             sender',
      '[  5]   0.00-2.01   sec  2.50 GBytes  10.7 Gbits/sec                  receiver',
    ]);
    expect(lines((t) => t.end(end, 'server'))).toEqual([
      '- - - - - - - - - - - - - - - - - - - - - - - - -',
      '[ ID] Interval           Transfer     Bitrate         Retr',
      '[  5]   0.00-2.00   sec  2.55 GBytes  11.0 Gbits/sec   11             sender',
    ]);
  });
});

describe('pacer', () => {
  it('lets whole blocks through at the average rate, bounded after a stall', () => {
    // 8 Mbit/s = 1000 bytes per ms; blocks of 1500 bytes.
    const bucket = new TokenBucket(8e6, 1500, 0);
    let sent = 0;
    for (let t = 0; t <= 1000; t++) while (bucket.take(1500, t)) sent += 1500;
    // One second at 1000 B/ms, plus the first block sent at once.
    expect(sent).toBeGreaterThanOrEqual(1_000_000);
    expect(sent).toBeLessThanOrEqual(1_000_000 + 3000);
    // A 1 s stall fills at most 50 ms of tokens, not a second's worth.
    let burst = 0;
    while (bucket.take(1500, 2000)) burst += 1500;
    expect(burst).toBeLessThanOrEqual(50_000 + 1500);
    expect(burst).toBeGreaterThanOrEqual(50_000 - 1500);
  });
});
