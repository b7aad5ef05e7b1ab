// The server side of an iperf3 test (iperf_server_api.c). One listener takes the control
// connection and then the data connections of the test; every connection starts with the
// client's cookie. While a test runs, other clients are refused with ACCESS_DENIED.
// The server drives the dialogue: PARAM_EXCHANGE, CREATE_STREAMS, TEST_START, TEST_RUNNING;
// on the client's TEST_END it sends EXCHANGE_RESULTS (reads the client's results, sends
// its own) and DISPLAY_RESULTS, then waits for IPERF_DONE.

import { ControlChannel, PerfError, readPrefix } from './control-channel.js';
import { COOKIE_SIZE, MAX_TIME, State, checkParameters, checkResults, decodeCookie, encodeState, iperfErrorText, stateName } from './protocol.js';
import type { PerfReport } from './report.js';
import { PerfSession, plainAddress } from './session.js';
import type { TextReport } from './text-report.js';
import type { PerfSocket, PerfTransport } from './transport.js';

/** How long a new connection may take to send its cookie, and a client its parameters. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long the client may take to open all its data connections after CREATE_STREAMS. */
const CREATE_STREAMS_TIMEOUT_MS = 10_000;
/**
 * Extra time past the test's length before the server gives up on it (iperf3:
 * create_server_timers, 4 s "max RTT" x 10 state transitions).
 */
const GRACE_SECONDS = 40;
/** How long a refused connection may linger before it is destroyed. */
const DENY_LINGER_MS = 5_000;

export interface ServerOptions {
  port: number;
  transport: PerfTransport;
  /** Serve one test, then stop (iperf3 -1). */
  oneOff?: boolean;
  text?: TextReport | undefined;
  /** Keep every interval in the reports (default true). */
  collectIntervals?: boolean;
  /** Each finished test, successful or not. */
  onReport?: (report: PerfReport) => void;
}

export interface PerfServer {
  readonly port: number;
  /** Resolves when the server has stopped (after close(), or after one test with oneOff). */
  readonly closed: Promise<void>;
  close(): void;
}

/** A test from its control connection's cookie to IPERF_DONE. */
class ServerTest {
  phase: 'parameters' | 'create-streams' | 'running' = 'parameters';
  session: PerfSession | undefined;
  private streamsReady: (() => void) | undefined;

  constructor(
    readonly cookie: string,
    private readonly socket: PerfSocket,
    private readonly opts: ServerOptions,
  ) {}

  /** A data connection that presented our cookie during CREATE_STREAMS. */
  addStream(socket: PerfSocket): boolean {
    const session = this.session;
    if (this.phase !== 'create-streams' || !session || session.complete) return false;
    session.addStream(socket);
    if (session.complete) this.streamsReady?.();
    return true;
  }

  async run(): Promise<PerfReport | undefined> {
    const { socket, opts } = this;
    socket.setNoDelay?.(true);
    const control = new ControlChannel(socket);
    let deadline: NodeJS.Timeout | undefined;
    const timeout = (ms: number, what: string): { timer: NodeJS.Timeout; promise: Promise<never> } => {
      let timer!: NodeJS.Timeout;
      const promise = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new PerfError('ETIMEDOUT', `${what} took longer than ${ms / 1000} s`)), ms);
      });
      return { timer, promise };
    };
    const within = async <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
      const t = timeout(ms, what);
      try {
        return await Promise.race([p, t.promise]);
      } finally {
        clearTimeout(t.timer);
      }
    };
    try {
      control.writeState(State.PARAM_EXCHANGE);
      const checked = checkParameters(await within(control.readJson(), HANDSHAKE_TIMEOUT_MS, 'the parameter exchange'));
      if (!checked.ok) {
        control.writeState(State.SERVER_ERROR);
        control.writeErrorNumbers(checked.code, 0);
        control.close();
        opts.text?.error(`refused the client's test: ${checked.message} (${iperfErrorText(checked.code)})`);
        return undefined;
      }
      const settings = checked.value;
      const peer = { host: plainAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
      opts.text?.accepted(peer.host, peer.port);
      const session = new PerfSession({
        role: 'server',
        settings,
        transport: opts.transport,
        cookie: this.cookie,
        peer,
        text: opts.text,
        collectIntervals: opts.collectIntervals ?? true,
        onStreamError: (err) => socket.destroy(new PerfError('ESTREAM', `data stream failed: ${err.message}`)),
      });
      this.session = session;

      const ready = new Promise<void>((resolve) => (this.streamsReady = resolve));
      this.phase = 'create-streams';
      control.writeState(State.CREATE_STREAMS);
      await within(Promise.race([ready, control.lost]), CREATE_STREAMS_TIMEOUT_MS, 'creating the data streams');

      this.phase = 'running';
      control.writeState(State.TEST_START);
      session.start();
      control.writeState(State.TEST_RUNNING);
      session.run();
      const limit = (settings.durationSeconds || MAX_TIME) + settings.omitSeconds + GRACE_SECONDS;
      deadline = setTimeout(() => socket.destroy(new PerfError('ETIMEDOUT', `the test ran ${limit} s without ending`)), limit * 1000);

      for (;;) {
        const state = await control.readState();
        if (state === State.TEST_START) continue;
        if (state === State.CLIENT_TERMINATE) throw new PerfError('ECLIENTTERM', 'the client has terminated');
        if (state !== State.TEST_END) throw new PerfError('EPROTO', `received an unknown control message (${stateName(state)})`);
        break;
      }
      session.finish();
      session.closeStreams();
      control.writeState(State.EXCHANGE_RESULTS);
      const results = checkResults(await control.readJson());
      if (!results.ok) throw new PerfError('EPROTO', `bad results from the client: ${results.message}`);
      const applied = session.applyPeerResults(results.value);
      if (!applied.ok) throw new PerfError('EPROTO', applied.message);
      control.writeJson(session.results());
      control.writeState(State.DISPLAY_RESULTS);
      session.conclude();
      // The client answers IPERF_DONE and closes; either ends the test.
      await within(control.readState(), HANDSHAKE_TIMEOUT_MS, 'waiting for IPERF_DONE').catch(() => undefined);
      control.close();
      return session.report;
    } catch (err) {
      const session = this.session;
      const message = (err as Error).message;
      if (session) {
        session.finish();
        session.abort();
        session.report.error = message;
      }
      socket.destroy();
      opts.text?.error(message);
      return session?.report;
    } finally {
      clearTimeout(deadline);
    }
  }
}

/** Listens for iperf3 clients (iperf3 -s). */
export async function startServer(opts: ServerOptions): Promise<PerfServer> {
  let active: ServerTest | undefined;
  let testNumber = 1;
  let stopped = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));

  const deny = (socket: PerfSocket): void => {
    socket.resume();
    socket.end(encodeState(State.ACCESS_DENIED));
    setTimeout(() => socket.destroy(), DENY_LINGER_MS).unref();
  };

  const onConnection = (socket: PerfSocket): void => {
    // Errors on a connection nobody owns yet must not crash the server.
    socket.on('error', () => {});
    if (stopped || (active && active.phase !== 'create-streams')) return deny(socket);
    readPrefix(socket, COOKIE_SIZE, HANDSHAKE_TIMEOUT_MS).then(
      (prefix) => {
        const cookie = decodeCookie(prefix);
        if (active) {
          if (cookie !== active.cookie || !active.addStream(socket)) deny(socket);
          return;
        }
        if (stopped) return deny(socket);
        const test = new ServerTest(cookie, socket, opts);
        active = test;
        void test.run().then((report) => {
          active = undefined;
          if (report) opts.onReport?.(report);
          if (opts.oneOff) return stop();
          testNumber++;
          opts.text?.serverListening(listener.port, testNumber);
        });
      },
      () => socket.destroy(),
    );
  };

  const listener = await opts.transport.listen(opts.port, onConnection);
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    listener.close();
    resolveClosed();
  };
  opts.text?.serverListening(listener.port, testNumber);
  return { port: listener.port, closed, close: stop };
}
