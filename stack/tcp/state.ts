// The connection states of RFC 9293 3.3.2 (figure 5). LISTEN belongs to TcpListener; a
// TcpConnection goes through the other ten.

export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN_SENT'
  | 'SYN_RECEIVED'
  | 'ESTABLISHED'
  | 'FIN_WAIT_1'
  | 'FIN_WAIT_2'
  | 'CLOSE_WAIT'
  | 'CLOSING'
  | 'LAST_ACK'
  | 'TIME_WAIT';

/** RFC 9293 3.10.7.4: the states where both sides' sequence numbers are known. */
export function isSynchronized(s: TcpState): boolean {
  return s !== 'CLOSED' && s !== 'LISTEN' && s !== 'SYN_SENT';
}

/** States in which data from the peer is still accepted (RFC 9293 3.10.7.4 seventh step). */
export function acceptsData(s: TcpState): boolean {
  return s === 'ESTABLISHED' || s === 'FIN_WAIT_1' || s === 'FIN_WAIT_2' || s === 'SYN_RECEIVED';
}

/** States in which the application may still queue data (before end()). */
export function canSend(s: TcpState): boolean {
  return s === 'SYN_SENT' || s === 'SYN_RECEIVED' || s === 'ESTABLISHED' || s === 'CLOSE_WAIT';
}

/** Our FIN has been queued: FIN_WAIT_1 and later on our side. */
export function finQueuedIn(s: TcpState): boolean {
  return s === 'FIN_WAIT_1' || s === 'FIN_WAIT_2' || s === 'CLOSING' || s === 'LAST_ACK' || s === 'TIME_WAIT';
}
