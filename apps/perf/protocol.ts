// iperf3's wire protocol (esnet/iperf 3.12, src/iperf_api.h, iperf_api.c, iperf_util.c):
// constants, the cookie, and the two JSON messages with their validators. No I/O here.
//
// A test runs over one control connection and N data connections to the same server port.
// Every connection starts with the client's 37-byte cookie (36 characters from a base-32
// alphabet and a NUL). On the control connection the server then drives the test with
// one-byte state messages (a signed char) and both sides exchange two JSON objects, each
// framed by a 4-byte big-endian length: the client's parameters and, at the end, each
// side's per-stream results.

import { randomBytes } from 'node:crypto';

/** iperf3's default port (iperf.h PORT). */
export const DEFAULT_PORT = 5201;
/** ASCII UUID-sized cookie, NUL included (iperf.h COOKIE_SIZE). */
export const COOKIE_SIZE = 37;
/** Default TCP block: what each write sends (iperf_api.h DEFAULT_TCP_BLKSIZE). */
export const DEFAULT_TCP_BLOCK_SIZE = 128 * 1024;
/** Largest block iperf3 accepts (iperf.h MAX_BLOCKSIZE). */
export const MAX_BLOCK_SIZE = 1024 * 1024;
/** Most parallel streams iperf3 accepts (iperf.h MAX_STREAMS). */
export const MAX_STREAMS = 128;
/** Longest test iperf3 accepts, seconds (iperf.h MAX_TIME). */
export const MAX_TIME = 86400;
/** Rate-limit timer period, microseconds (iperf_api.h DEFAULT_PACING_TIMER). */
export const DEFAULT_PACING_TIMER_US = 1000;
/** Default test length when neither bytes nor blocks are given, seconds. */
export const DEFAULT_DURATION = 10;
/**
 * Longest JSON message we accept. iperf3 allocates whatever the length field says; a result
 * message with N streams is about 150 N bytes, so 1 MiB is far above any honest peer.
 */
export const MAX_JSON_LENGTH = 1024 * 1024;

/** Control-connection states (iperf_api.h); each travels as one signed byte. */
export const State = {
  TEST_START: 1,
  TEST_RUNNING: 2,
  RESULT_REQUEST: 3,
  TEST_END: 4,
  STREAM_BEGIN: 5,
  STREAM_RUNNING: 6,
  STREAM_END: 7,
  ALL_STREAMS_END: 8,
  PARAM_EXCHANGE: 9,
  CREATE_STREAMS: 10,
  SERVER_TERMINATE: 11,
  CLIENT_TERMINATE: 12,
  EXCHANGE_RESULTS: 13,
  DISPLAY_RESULTS: 14,
  IPERF_START: 15,
  IPERF_DONE: 16,
  ACCESS_DENIED: -1,
  SERVER_ERROR: -2,
} as const;

const STATE_NAMES = new Map<number, string>(Object.entries(State).map(([name, value]) => [value, name]));

export function stateName(state: number): string {
  return STATE_NAMES.get(state) ?? `unknown state ${state}`;
}

/**
 * iperf3 error numbers (iperf_api.h) that a SERVER_ERROR message carries and that we send or
 * explain. The message text is iperf_error.c's.
 */
export const IperfError = {
  IEDURATION: 5,
  IENUMSTREAMS: 6,
  IEBLOCKSIZE: 7,
  IEUNIMP: 13,
  IEPROTOCOL: 131,
  IERECVPARAMS: 114,
  IEACCESSDENIED: 121,
} as const;

const ERROR_TEXT = new Map<number, string>([
  [IperfError.IEDURATION, `test duration too long (maximum = ${MAX_TIME} seconds)`],
  [IperfError.IENUMSTREAMS, `number of parallel streams too large (maximum = ${MAX_STREAMS})`],
  [IperfError.IEBLOCKSIZE, `block size too large (maximum = ${MAX_BLOCK_SIZE} bytes)`],
  [IperfError.IEUNIMP, 'not implemented yet'],
  [IperfError.IEPROTOCOL, 'protocol does not exist'],
  [IperfError.IERECVPARAMS, 'unable to receive parameters from client'],
  [IperfError.IEACCESSDENIED, 'the server is busy running a test. try again later'],
]);

export function iperfErrorText(code: number): string {
  return ERROR_TEXT.get(code) ?? `iperf3 error ${code}`;
}

const COOKIE_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** A fresh cookie as iperf_util.c make_cookie builds it: 36 random base-32 characters. */
export function makeCookie(): string {
  const random = randomBytes(COOKIE_SIZE - 1);
  let cookie = '';
  // 256 is a multiple of 32, so the modulo keeps every character equally likely.
  for (const b of random) cookie += COOKIE_ALPHABET[b % COOKIE_ALPHABET.length];
  return cookie;
}

/** The cookie as sent: its characters and the terminating NUL. */
export function encodeCookie(cookie: string): Buffer {
  const out = Buffer.alloc(COOKIE_SIZE);
  out.write(cookie, 0, COOKIE_SIZE - 1, 'latin1');
  return out;
}

/** The cookie a peer sent, up to its NUL (iperf3 compares with strcmp). */
export function decodeCookie(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString('latin1');
}

/** One signed state byte. */
export function encodeState(state: number): Buffer {
  return Buffer.from([state & 0xff]);
}

export function decodeState(byte: number): number {
  return byte > 127 ? byte - 256 : byte;
}

/** A JSON message: 4-byte big-endian length, then the compact JSON text (iperf_api.c JSON_write). */
export function encodeJson(message: object): Buffer {
  const text = Buffer.from(JSON.stringify(message), 'utf8');
  const out = Buffer.allocUnsafe(4 + text.length);
  out.writeUInt32BE(text.length, 0);
  text.copy(out, 4);
  return out;
}

/** The client's test parameters as send_parameters writes them (the subset namestack uses). */
export interface TestParameters {
  tcp?: true;
  udp?: true;
  sctp?: true;
  omit: number;
  /** Seconds; 0 when the test ends by bytes or blocks. */
  time: number;
  /** Bytes to send (0: end by time). */
  num: number;
  blockcount: number;
  parallel: number;
  reverse?: true;
  bidirectional?: true;
  /** Block (write) size. */
  len?: number;
  /** Target rate per stream, bit/s. */
  bandwidth?: number;
  /** Rate-limit timer period, microseconds. */
  pacing_timer?: number;
  nodelay?: true;
  MSS?: number;
  window?: number;
  congestion?: string;
  title?: string;
  extra_data?: string;
  get_server_output?: number;
  client_version: string;
}

/** Test settings after validation, as both roles use them. */
export interface TestSettings {
  omitSeconds: number;
  durationSeconds: number;
  bytes: number;
  blocks: number;
  parallel: number;
  reverse: boolean;
  blockSize: number;
  /** Bit/s per stream, 0 = unlimited. */
  rate: number;
  pacingTimerUs: number;
  noDelay: boolean;
  /** TCP congestion control both ends should use (iperf3 -C), e.g. 'cubic'; unset: the system's. */
  congestion?: string;
}

/** iperf3 3.12's client defaults: one stream, 10 s, 128 KiB writes, no rate limit. */
export const DEFAULT_SETTINGS: Readonly<TestSettings> = {
  omitSeconds: 0,
  durationSeconds: DEFAULT_DURATION,
  bytes: 0,
  blocks: 0,
  parallel: 1,
  reverse: false,
  blockSize: DEFAULT_TCP_BLOCK_SIZE,
  rate: 0,
  pacingTimerUs: DEFAULT_PACING_TIMER_US,
  noDelay: false,
};

export function parametersOf(s: TestSettings, clientVersion: string): TestParameters {
  return {
    tcp: true,
    omit: s.omitSeconds,
    time: s.durationSeconds,
    num: s.bytes,
    blockcount: s.blocks,
    parallel: s.parallel,
    ...(s.reverse && { reverse: true as const }),
    ...(s.noDelay && { nodelay: true as const }),
    len: s.blockSize,
    ...(s.rate > 0 && { bandwidth: s.rate }),
    pacing_timer: s.pacingTimerUs,
    ...(s.congestion !== undefined && { congestion: s.congestion }),
    client_version: clientVersion,
  };
}

/** A congestion-control name as Linux spells them (tcp_cong.c: at most 15 characters). */
export const CONGESTION_NAME = /^[a-z0-9_]{1,15}$/;

export type Checked<T> = { ok: true; value: T } | { ok: false; code: number; message: string };

function isCount(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
}

/**
 * Validates a client's parameter message (get_parameters); never throws. Unknown keys are
 * ignored as iperf3 ignores them; options namestack cannot honour are refused with the
 * error number iperf3 would print.
 */
export function checkParameters(value: unknown): Checked<TestSettings> {
  const bad = (code: number, message: string): Checked<TestSettings> => ({ ok: false, code, message });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad(IperfError.IERECVPARAMS, 'parameters are not a JSON object');
  const p = value as Record<string, unknown>;
  if (p.udp !== undefined || p.sctp !== undefined) return bad(IperfError.IEPROTOCOL, 'only TCP tests are supported');
  if (p.bidirectional !== undefined) return bad(IperfError.IEUNIMP, 'bidirectional tests are not supported');
  if (!isCount(p.time ?? 0, MAX_TIME)) return bad(IperfError.IEDURATION, 'bad "time"');
  if (!isCount(p.omit ?? 0, MAX_TIME)) return bad(IperfError.IERECVPARAMS, 'bad "omit"');
  if (!isCount(p.num ?? 0, Number.MAX_SAFE_INTEGER)) return bad(IperfError.IERECVPARAMS, 'bad "num"');
  if (!isCount(p.blockcount ?? 0, Number.MAX_SAFE_INTEGER)) return bad(IperfError.IERECVPARAMS, 'bad "blockcount"');
  const parallel = p.parallel ?? 1;
  if (!isCount(parallel, MAX_STREAMS) || parallel < 1) return bad(IperfError.IENUMSTREAMS, 'bad "parallel"');
  const len = p.len ?? DEFAULT_TCP_BLOCK_SIZE;
  if (!isCount(len, MAX_BLOCK_SIZE) || len < 1) return bad(IperfError.IEBLOCKSIZE, 'bad "len"');
  if (!isCount(p.bandwidth ?? 0, Number.MAX_SAFE_INTEGER)) return bad(IperfError.IERECVPARAMS, 'bad "bandwidth"');
  const pacing = p.pacing_timer ?? DEFAULT_PACING_TIMER_US;
  // Below 100 us a JavaScript timer cannot keep up; above 10 s pacing means nothing.
  if (!isCount(pacing, 10_000_000)) return bad(IperfError.IERECVPARAMS, 'bad "pacing_timer"');
  // Linux names congestion controls in at most 15 characters (TCP_CA_NAME_MAX 16 with the NUL).
  if (p.congestion !== undefined && !(typeof p.congestion === 'string' && CONGESTION_NAME.test(p.congestion))) return bad(IperfError.IERECVPARAMS, 'bad "congestion"');
  return {
    ok: true,
    value: {
      omitSeconds: (p.omit as number | undefined) ?? 0,
      durationSeconds: (p.time as number | undefined) ?? 0,
      bytes: (p.num as number | undefined) ?? 0,
      blocks: (p.blockcount as number | undefined) ?? 0,
      parallel,
      reverse: p.reverse !== undefined,
      blockSize: len,
      rate: (p.bandwidth as number | undefined) ?? 0,
      pacingTimerUs: Math.max(100, pacing),
      noDelay: p.nodelay !== undefined,
      ...(p.congestion !== undefined && { congestion: p.congestion as string }),
    },
  };
}

/** One stream's entry in a results message (send_results). */
export interface StreamResult {
  id: number;
  bytes: number;
  /** -1 when this side did not send or cannot count retransmissions. */
  retransmits: number;
  jitter: number;
  errors: number;
  packets: number;
  /** Seconds since the stream's start: always 0. */
  start_time: number;
  /** Seconds from the stream's start to its last statistics sample. */
  end_time: number;
}

export interface ResultsMessage {
  cpu_util_total: number;
  cpu_util_user: number;
  cpu_util_system: number;
  /** 1: retransmits are counted; 0: not; -1: this side only received. */
  sender_has_retransmits: number;
  congestion_used?: string;
  streams: StreamResult[];
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Validates the peer's results (get_results); never throws. */
export function checkResults(value: unknown): Checked<ResultsMessage> {
  const bad = (message: string): Checked<ResultsMessage> => ({ ok: false, code: IperfError.IERECVPARAMS, message });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('results are not a JSON object');
  const r = value as Record<string, unknown>;
  for (const key of ['cpu_util_total', 'cpu_util_user', 'cpu_util_system', 'sender_has_retransmits'] as const) {
    if (!isNumber(r[key])) return bad(`results lack "${key}"`);
  }
  if (!Array.isArray(r.streams) || r.streams.length > MAX_STREAMS * 2) return bad('results lack "streams"');
  const streams: StreamResult[] = [];
  for (const s of r.streams as unknown[]) {
    if (typeof s !== 'object' || s === null) return bad('a stream result is not an object');
    const e = s as Record<string, unknown>;
    if (!isNumber(e.id) || !isNumber(e.bytes) || !isNumber(e.retransmits) || !isNumber(e.jitter) || !isNumber(e.errors) || !isNumber(e.packets)) {
      return bad('a stream result lacks a field');
    }
    streams.push({
      id: e.id,
      bytes: e.bytes,
      retransmits: e.retransmits,
      jitter: e.jitter,
      errors: e.errors,
      packets: e.packets,
      // Servers before 3.2 sent no times (get_results falls back to its own).
      start_time: isNumber(e.start_time) ? e.start_time : 0,
      end_time: isNumber(e.end_time) ? e.end_time : 0,
    });
  }
  return {
    ok: true,
    value: {
      cpu_util_total: r.cpu_util_total as number,
      cpu_util_user: r.cpu_util_user as number,
      cpu_util_system: r.cpu_util_system as number,
      sender_has_retransmits: r.sender_has_retransmits as number,
      ...(typeof r.congestion_used === 'string' && { congestion_used: r.congestion_used.slice(0, 64) }),
      streams,
    },
  };
}

/** Stream ids as iperf_add_stream numbers them: 1, then 3, 4, 5, ... (a quirk kept for compatibility). */
export function streamId(index: number): number {
  return index === 0 ? 1 : index + 2;
}
