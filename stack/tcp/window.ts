// Window management on both sides of a connection:
// - the receive window we advertise: receiver silly-window avoidance (RFC 9293 3.8.6.2.2,
//   RFC 1122 4.2.3.3), never moving the right edge back (RFC 9293 3.8.6.2.2, RFC 7323
//   2.4), rounding to the window scale;
// - the window scale to offer for a buffer size (RFC 7323 2.2-2.3);
// - how much the sender may put in a segment now: sender silly-window avoidance and
//   Nagle's algorithm (RFC 1122 4.2.3.4, RFC 896).

import { seqAdd, seqGt, seqSub } from './seq.js';

/** RFC 7323 2.3: the largest shift allowed. */
export const MAX_WINDOW_SCALE = 14;
const MAX_FIELD = 0xffff;

/** RFC 7323 2.3: the smallest shift for which a 16-bit window field can describe `maxBuffer` bytes. */
export function chooseWindowScale(maxBuffer: number): number {
  let shift = 0;
  while (shift < MAX_WINDOW_SCALE && maxBuffer > MAX_FIELD * 2 ** shift) shift++;
  return shift;
}

export class ReceiveWindow {
  /** RCV.NXT + RCV.WND as last advertised; undefined before the first advertisement. */
  rightEdge: number | undefined = undefined;

  /** `scale`: our receive window shift (0 until scaling is agreed, and on SYNs: RFC 7323 2.2). */
  constructor(public scale: number) {}

  /**
   * The window field for the next segment. `freeSpace`: buffer bytes not holding data;
   * `bufferSize`: the whole receive buffer; `mss`: the MSS we announced.
   */
  advertise(rcvNxt: number, freeSpace: number, bufferSize: number, mss: number): number {
    const offered = this.offered(rcvNxt);
    let wnd = Math.max(freeSpace, 0);
    // RFC 1122 4.2.3.3: move the right edge only by a worthwhile amount, min(buffer/2,
    // MSS); otherwise keep the edge where it was, which is also never a shrink.
    if (this.rightEdge !== undefined && wnd - offered < Math.min(bufferSize / 2, mss)) wnd = offered;
    const unit = 2 ** this.scale;
    let field = Math.min(Math.floor(wnd / unit), MAX_FIELD);
    // Rounding down to the scale unit must not pull the edge back either.
    if (field * unit < offered) field = Math.min(Math.ceil(offered / unit), MAX_FIELD);
    this.rightEdge = seqAdd(rcvNxt, field * unit);
    return field;
  }

  /**
   * The window field when the window is a shared one (an MPTCP subflow: RFC 8684 3.3.4 says
   * the field is relative to the DATA_ACK, and every subflow offers the same connection-level
   * window). `window`: bytes beyond the DATA_ACK. The field rounds down so no subflow offers
   * more than the connection can hold (Linux mptcp_set_rwin); the connection-level edge
   * already never shrinks. Our own right edge, used only for the acceptability test, grows
   * and never moves back.
   */
  advertiseShared(rcvNxt: number, window: number): number {
    const field = Math.min(Math.floor(Math.max(window, 0) / 2 ** this.scale), MAX_FIELD);
    const edge = seqAdd(rcvNxt, field * 2 ** this.scale);
    if (this.rightEdge === undefined || seqGt(edge, this.rightEdge)) this.rightEdge = edge;
    return field;
  }

  /**
   * After the application read data: is the window now worth an unsolicited update? As
   * Linux tcp_cleanup_rbuf: only while the offered window is at most half the buffer and the
   * update at least doubles it, and (RFC 1122 4.2.3.3) moves the right edge by at least
   * min(buffer/2, MSS). A window still half open needs no update of its own: the sender is
   * not held back, and the next ACK carries the new edge; an update per read would cost a
   * packet per read at high rates.
   */
  shouldUpdate(rcvNxt: number, freeSpace: number, bufferSize: number, mss: number): boolean {
    const offered = this.offered(rcvNxt);
    if (2 * offered > bufferSize) return false;
    return freeSpace >= 2 * offered && freeSpace - offered >= Math.min(bufferSize / 2, mss);
  }

  /** Bytes the peer may still send under the last advertisement. */
  private offered(rcvNxt: number): number {
    return this.rightEdge === undefined ? 0 : Math.max(seqSub(this.rightEdge, rcvNxt), 0);
  }
}

export interface SendCheck {
  /** Unsent bytes queued by the application (D in RFC 1122 4.2.3.4). */
  queued: number;
  /** Bytes the send and congestion windows admit now (U). */
  usable: number;
  /** Effective send MSS. */
  mss: number;
  /** The largest window the peer has offered (Max(SND.WND)). */
  maxSndWnd: number;
  /** Data is in flight (SND.NXT > SND.UNA). */
  unacked: boolean;
  /** Nagle's algorithm is on (the socket did not ask for noDelay). */
  nagle: boolean;
  /** The application holds data back (cork / MSG_MORE): only full segments go. */
  corked?: boolean;
}

/**
 * RFC 1122 4.2.3.4 sender SWS avoidance with Nagle: how many bytes to put in the next
 * segment now (0: wait for an ACK, a window update, or the override timer). Every write
 * of a stream socket counts as pushed, as in Linux and Node.
 */
export function bytesToSend(c: SendCheck): number {
  const n = Math.min(c.queued, c.usable);
  if (n >= c.mss) return c.mss;
  if (n <= 0 || c.corked) return 0;
  // Nagle (RFC 896): one small segment in flight at a time.
  if (c.nagle && c.unacked) return 0;
  // Everything queued fits, or a good share (Fs = 1/2) of the largest window seen.
  if (c.queued <= c.usable || n >= c.maxSndWnd / 2) return n;
  return 0;
}
