// The hook through which a layer above TCP rides on a connection without TCP knowing it:
// MPTCP (RFC 8684) builds its subflows this way. TCP calls the extension at fixed points
// and otherwise runs unchanged; an extension never sees or changes TCP's own state except
// through these calls and the connection's public methods.
//
// What each call is for (MPTCP's use in brackets):
// - outgoingOptions: extra options on SYN, SYN-ACK, the third ACK and every later segment,
//   in the room left after timestamps (SACK blocks get what remains after the extension)
//   [MP_CAPABLE, MP_JOIN, DSS with DATA_ACK and mappings, ADD_ADDR, MP_PRIO ...];
// - incomingSegment: every received segment's options, SYN and SYN-ACK included, with a
//   veto [fallback decisions, MP_JOIN HMAC check, MP_FASTCLOSE, DSS processing];
// - onPayload: in-order payload with its subflow sequence numbers, instead of the
//   connection's receive queue [data-level reassembly];
// - receiveWindow: the window to advertise [RFC 8684 3.3.4 shared connection window];
// - the connection's writeMapped() tags bytes so every (re)transmission of them reports
//   the same tag [DSS mapping of subflow bytes to data sequence numbers];
// - the connection's destroy(error, { resetOptions }) sends a RST with options [MP_TCPRST];
// - the connection's sendAck() asks for an ACK-only segment now [DATA_ACK, ADD_ADDR];
// - onReset: the options of a RST that closes the connection [MP_FASTCLOSE, MP_TCPRST];
// - congestionController: the controller to use [coupled LIA/OLIA per subflow];
// - continuation: first transmissions whose later segments need fewer options, so carry
//   more payload [a DSS mapping rides on its first segment only, RFC 8684 3.3].

import type { TcpOption } from '../wire/tcp-options.js';
import type { CongestionController } from './congestion/controller.js';
import type { ReceivedSegment } from './received-segment.js';
import type { TcpState } from './state.js';

/** Which segment the options are for. */
export type OutgoingKind =
  /** Our SYN (active open). */
  | 'syn'
  /** Our SYN-ACK (passive open, or simultaneous open). */
  | 'syn-ack'
  /** The ACK that completes our active open (RFC 9293 3.5 "third ACK"). */
  | 'handshake-ack'
  /** Any later segment, with or without payload. */
  | 'segment'
  /** A RST we send (only when destroy() was given resetOptions; TCP's own RSTs carry none). */
  | 'reset';

/** The tag of the bytes a segment carries, when they were written with writeMapped(). */
export interface SegmentMapping {
  /** The tag passed to writeMapped() for the write these bytes belong to. */
  tag: number;
  /** Subflow sequence number of the first byte of that write. */
  seq: number;
  /** Bytes in that write. */
  length: number;
}

/**
 * One outgoing segment (for a GSO super-segment: the whole of it; every wire segment cut
 * from it carries the same options). Read-only and reused: copy what you keep.
 */
export interface OutgoingSegment {
  kind: OutgoingKind;
  seq: number;
  ack: number;
  flags: number;
  /** Payload bytes (all of the super-segment). */
  payloadLength: number;
  /** The payload (or SYN/FIN) was sent before. */
  retransmission: boolean;
  /** Set when the payload came from writeMapped(); a segment never spans two writes' tags. */
  mapping: SegmentMapping | undefined;
}

/** What continuation() allows for a first transmission (TCP keeps the object only during the send). */
export interface Continuation {
  /** The first wire segment needs outgoingOptions() (and is cut at the usual MSS); false: none does. */
  lead: boolean;
  /** Options of the other wire segments, instead of outgoingOptions(): fewer bytes than dataOptionSpace. */
  options: readonly TcpOption[];
}

/** What incomingSegment decides. */
export type IncomingVerdict =
  /** Go on with TCP processing. */
  | 'accept'
  /** Discard this segment silently (TCP processing stops here). */
  | 'drop'
  /** Reset the connection: TCP sends a RST with resetOptions() and closes with ECONNABORTED. */
  | 'reset';

export interface TcpExtension {
  /**
   * Option bytes to keep free on data segments (the MSS is lowered by it, so a full
   * segment still fits the path MTU with the extension's options).
   */
  readonly dataOptionSpace?: number;

  /** Options for `seg`; `room` bytes are free after TCP's own options (timestamps, MSS...). */
  outgoingOptions?(seg: OutgoingSegment, room: number): readonly TcpOption[] | undefined;

  /**
   * For a first transmission of payload at `seq`: whether its wire segments after the first
   * (or all of them) can go with fewer options than outgoingOptions() gives, each carrying
   * dataOptionSpace less those options' bytes more payload; undefined: every segment gets
   * outgoingOptions(), as without this hook.
   */
  continuation?(seq: number): Continuation | undefined;

  /**
   * A received segment that passed TCP's sequence, RST and SYN checks (RFC 9293 3.10.7.4
   * first to fourth), or a SYN-ACK in SYN_SENT before it is acted on. The payload and
   * options are views into the packet, valid during the call only.
   */
  incomingSegment?(seg: ReceivedSegment, state: TcpState): IncomingVerdict;

  /**
   * When present, in-order payload goes here instead of the receive queue; `data` now
   * belongs to the extension. `seq` is the subflow sequence number of its first byte.
   */
  onPayload?(seq: number, data: Uint8Array): void;

  /** When present and not undefined: the free receive space (bytes) to advertise instead of the connection's own. */
  receiveWindow?(): number | undefined;

  /**
   * An acceptable RST is about to close the connection (in SYN_SENT, or in order in a
   * synchronized state); its options are views valid during the call [MP_FASTCLOSE,
   * MP_TCPRST reason].
   */
  onReset?(seg: ReceivedSegment): void;

  /** Options for a RST the extension asked for with 'reset'. */
  resetOptions?(): readonly TcpOption[] | undefined;

  /**
   * The congestion controller for this connection instead of the configured one [MPTCP's
   * coupled LIA/OLIA, RFC 6356: one per subflow, linked through the MPTCP connection].
   */
  congestionController?(mss: number): CongestionController | undefined;

  /** The connection changed state (TCP's own events follow through the handler). */
  onStateChange?(state: TcpState): void;

  /**
   * The retransmission timer fired and the connection goes on (RFC 6298 5.4-5.6) [MPTCP
   * sends this subflow's unacknowledged data on another one at once].
   */
  onRetransmissionTimeout?(now: number): void;
}
