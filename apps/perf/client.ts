// The client side of an iperf3 test (iperf_client_api.c): connect the control connection
// and send the cookie, then follow the server's states: PARAM_EXCHANGE (send parameters),
// CREATE_STREAMS (open the data connections, each with the cookie), TEST_START (clocks),
// TEST_RUNNING (move data) until time or bytes run out, TEST_END (ours), EXCHANGE_RESULTS
// (send ours, read the server's), DISPLAY_RESULTS (close the streams, report, IPERF_DONE).

import { ControlChannel, PerfError } from './control-channel.js';
import { State, checkResults, encodeCookie, iperfErrorText, makeCookie, parametersOf, stateName, type TestSettings } from './protocol.js';
import type { PerfReport } from './report.js';
import { PerfSession } from './session.js';
import type { TextReport } from './text-report.js';
import type { PerfSocket, PerfTransport } from './transport.js';

/** The iperf3 version we announce in the parameters (client_version). */
const CLIENT_VERSION = '3.12';

export interface ClientOptions {
  host: string;
  port: number;
  settings: TestSettings;
  transport: PerfTransport;
  /** Human-readable output as iperf3 prints it. */
  text?: TextReport | undefined;
  /** Keep every interval in the report (default true). */
  collectIntervals?: boolean;
}

/**
 * Runs one test against an iperf3-compatible server. Resolves with the report; a failed test
 * resolves too, with `report.error` set (like iperf3's JSON), so callers print it either way.
 */
export async function runClient(opts: ClientOptions): Promise<PerfReport> {
  const { host, port, settings, transport, text } = opts;
  const cookie = makeCookie();
  let failure: Error | undefined;
  let testEnded = false;
  let running = false;
  let endWanted = false;
  let durationTimer: NodeJS.Timeout | undefined;

  const session = new PerfSession({
    role: 'client',
    settings,
    transport,
    cookie,
    peer: { host, port },
    text,
    collectIntervals: opts.collectIntervals ?? true,
    onLimitReached: () => endTest(),
    onStreamError: (err) => fail(new PerfError('ESTREAM', `data stream failed: ${err.message}`)),
  });
  text?.connecting(host, port, settings.reverse);

  let control: ControlChannel | undefined;
  const fail = (err: Error): void => {
    failure ??= err;
    control?.socket.destroy(err);
  };
  /** The test is over on our side: stop, take the last sample, tell the server (TEST_END). */
  const endTest = (): void => {
    if (!running) {
      endWanted = true;
      return;
    }
    if (testEnded) return;
    testEnded = true;
    clearTimeout(durationTimer);
    session.finish();
    control?.writeState(State.TEST_END);
  };

  try {
    const socket = await connectTo(transport, host, port);
    socket.setNoDelay?.(true);
    control = new ControlChannel(socket);
    socket.write(encodeCookie(cookie));
    for (;;) {
      const state = await control.readState();
      switch (state) {
        case State.PARAM_EXCHANGE:
          control.writeJson(parametersOf(settings, CLIENT_VERSION));
          break;
        case State.CREATE_STREAMS:
          // One at a time, so the server accepts them in our order and both number them alike.
          for (let i = 0; i < settings.parallel; i++) {
            const data = await connectTo(transport, host, port);
            data.write(encodeCookie(cookie));
            session.addStream(data);
          }
          break;
        case State.TEST_START:
          session.start();
          if (settings.durationSeconds > 0) {
            durationTimer = setTimeout(endTest, (settings.durationSeconds + settings.omitSeconds) * 1000);
          }
          break;
        case State.TEST_RUNNING:
          running = true;
          session.run();
          if (endWanted) endTest();
          break;
        case State.EXCHANGE_RESULTS: {
          control.writeJson(session.results());
          const peer = checkResults(await control.readJson());
          if (!peer.ok) throw new PerfError('EPROTO', `bad results from the server: ${peer.message}`);
          const applied = session.applyPeerResults(peer.value);
          if (!applied.ok) throw new PerfError('EPROTO', applied.message);
          break;
        }
        case State.DISPLAY_RESULTS:
          session.closeStreams();
          session.conclude();
          control.writeState(State.IPERF_DONE);
          control.close();
          text?.done();
          return session.report;
        case State.IPERF_DONE:
          break;
        case State.SERVER_TERMINATE:
          throw new PerfError('ESERVERTERM', 'the server has terminated');
        case State.ACCESS_DENIED:
          throw new PerfError('EACCESSDENIED', iperfErrorText(121));
        case State.SERVER_ERROR: {
          const { iperfError, errno } = await control.readErrorNumbers();
          throw new PerfError('ESERVERERROR', `server error: ${iperfErrorText(iperfError)}${errno ? ` (errno ${errno})` : ''}`);
        }
        default:
          throw new PerfError('EPROTO', `received an unknown control message (${stateName(state)})`);
      }
    }
  } catch (err) {
    const e = failure ?? (err as Error);
    clearTimeout(durationTimer);
    session.abort();
    control?.socket.destroy();
    session.report.error = e.message;
    text?.error(e.message);
    return session.report;
  }
}

/** transport.connect with iperf3's wording on failure; the Node code (ECONNREFUSED, ...) is kept. */
async function connectTo(transport: PerfTransport, host: string, port: number): Promise<PerfSocket> {
  try {
    return await transport.connect(host, port);
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new PerfError(e.code ?? 'ECONNECT', `unable to connect to server ${host} port ${port}: ${e.message}`);
  }
}
