// A minimal ACK clock for congestion-controller tests: each round the sender puts a
// window of data in flight and the ACKs come back spread evenly over one RTT.

import type { CongestionController } from '../../stack/tcp/congestion/controller.js';

export const MSS = 1000;

export interface SimState {
  now: number;
  /** SND.NXT */
  sndNxt: number;
  /** cumulative ACK */
  ack: number;
}

export function newSim(now = 0): SimState {
  return { now, sndNxt: 1, ack: 1 };
}

export interface RoundOptions {
  rttMs: number;
  /** Segments covered by each ACK (2 = delayed ACKs). */
  segsPerAck?: number;
  /** RTT sample reported with each ACK (default rttMs). */
  rttSampleMs?: number;
  /** Send at most this many bytes this round (app-limited when below cwnd). */
  sendBytes?: number;
  appLimited?: boolean;
}

/** One round trip: send min(cwnd, sendBytes), receive the ACKs; returns the bytes sent. */
export function round(cc: CongestionController, st: SimState, o: RoundOptions): number {
  const mss = MSS;
  const flight = Math.max(mss, Math.min(Math.floor(cc.cwnd / mss) * mss, o.sendBytes ?? Infinity));
  const start = st.now;
  st.sndNxt += flight;
  const per = (o.segsPerAck ?? 1) * mss;
  const n = Math.max(1, Math.ceil(flight / per));
  let acked = 0;
  for (let i = 0; i < n; i++) {
    const bytes = Math.min(per, flight - acked);
    acked += bytes;
    st.ack += bytes;
    cc.onAck({
      now: start + (o.rttMs * (i + 1)) / n,
      ackedBytes: bytes,
      mss,
      inFlight: o.sendBytes === undefined ? Math.max(cc.cwnd, flight) : flight,
      srttMs: o.rttMs,
      rttSampleMs: o.rttSampleMs ?? o.rttMs,
      ackNumber: st.ack,
      // ACK clocking: each ACK releases as much new data as it acknowledges.
      sndNxt: st.sndNxt + acked,
      appLimited: o.appLimited ?? false,
    });
  }
  st.now = start + o.rttMs;
  return flight;
}

/** A loss detected now with the whole window in flight. */
export function lose(cc: CongestionController, st: SimState): void {
  cc.onCongestionEvent({ now: st.now, mss: MSS, flightSize: cc.cwnd, kind: 'fast-retransmit' });
  cc.onRecoveryExit(st.now);
}
