// One received TCP segment as the state machine reads it: header fields, the payload view
// and the options the stack acts on (RFC 9293 3.1-3.2, RFC 7323, RFC 2018), decoded into
// plain fields of a reused object so the receive path allocates nothing per segment.
// The common data-segment layout NOP NOP TS (Linux, BSD, Windows) is read directly;
// any other option list goes through the codec (parseTcpOptions) once.

import { EMPTY_BYTES, readU32 } from '../wire/bytes.js';
import {
  parseTcpOptions,
  TCP_OPTION_NOP,
  TCP_OPTION_TIMESTAMPS,
  type TcpOption,
} from '../wire/tcp-options.js';
import { TCP_FIN, TCP_MIN_HEADER_LENGTH, TCP_SYN, TcpView } from '../wire/tcp.js';
import type { SeqRange } from './seq.js';

/** RFC 2018 3: at most 4 SACK blocks fit in 40 option bytes. */
const MAX_SACK_BLOCKS = 4;
const EMPTY_OPTIONS: readonly TcpOption[] = Object.freeze([]);

export class ReceivedSegment {
  /** The whole TCP segment (a view into the borrowed packet). */
  bytes: Uint8Array = EMPTY_BYTES;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  /** TcpRepr.flags: control bits and reserved bits. */
  flags = 0;
  /** The raw window field (not scaled). */
  window = 0;
  headerLength = TCP_MIN_HEADER_LENGTH;
  /** A view into the borrowed packet: copy what is kept. */
  payload: Uint8Array = EMPTY_BYTES;
  /** MSS option (RFC 9293 3.7.1), or -1. */
  mss = -1;
  /** Window scale option (RFC 7323 2.2), or -1. */
  windowScale = -1;
  sackPermitted = false;
  hasTimestamps = false;
  tsVal = 0;
  tsEcr = 0;
  /** SACK blocks as received (RFC 2018 3), reused between segments. */
  readonly sackBlocks: SeqRange[] = [];
  /** The ECN field of the IP header that carried the segment (RFC 3168 5), set by the layer. */
  ipEcn = 0;
  /** The packet was given away by the driver (InboundPacket.owned): views into it may be kept. Set by the layer. */
  owned = false;
  /** The option list could not be framed (RFC 9293 3.1 illegal length): no option was used. */
  optionsMalformed = false;
  private readonly blockPool: SeqRange[] = [];
  private parsedOptions: readonly TcpOption[] | undefined = undefined;

  /** RFC 9293 3.3.1 SEG.LEN: payload plus one for SYN and one for FIN. */
  get length(): number {
    return this.payload.length + (this.flags & TCP_SYN ? 1 : 0) + (this.flags & TCP_FIN ? 1 : 0);
  }

  get optionsBytes(): Uint8Array {
    return this.bytes.subarray(TCP_MIN_HEADER_LENGTH, this.headerLength);
  }

  /**
   * Every option as the codec decodes it (MPTCP and unknown ones included), parsed on
   * first use; empty when the list is malformed. For extensions (extension.ts).
   */
  options(): readonly TcpOption[] {
    if (this.parsedOptions === undefined) {
      const r = parseTcpOptions(this.bytes, TCP_MIN_HEADER_LENGTH, this.headerLength - TCP_MIN_HEADER_LENGTH);
      this.parsedOptions = r.ok ? r.value : EMPTY_OPTIONS;
    }
    return this.parsedOptions;
  }

  /** Reads `l4` (exactly the IP payload); false when it cannot be a TCP segment. */
  decode(l4: Uint8Array): boolean {
    const r = TcpView.wrap(l4);
    if (!r.ok) return false;
    const v = r.value;
    this.bytes = l4;
    this.srcPort = v.srcPort;
    this.dstPort = v.dstPort;
    this.seq = v.seq;
    this.ack = v.ack;
    this.flags = v.flags;
    this.window = v.window;
    this.headerLength = v.headerLength;
    this.payload = v.payloadLength > 0 ? v.payload : EMPTY_BYTES;
    this.mss = -1;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.hasTimestamps = false;
    this.tsVal = this.tsEcr = 0;
    this.sackBlocks.length = 0;
    this.optionsMalformed = false;
    this.parsedOptions = undefined;
    const n = v.optionsLength;
    if (n === 0) {
      this.parsedOptions = EMPTY_OPTIONS;
    } else if (n === 12 && l4[20] === TCP_OPTION_NOP && l4[21] === TCP_OPTION_NOP && l4[22] === TCP_OPTION_TIMESTAMPS && l4[23] === 10) {
      // RFC 7323 appendix A layout: the fast path of nearly every data segment.
      this.hasTimestamps = true;
      this.tsVal = readU32(l4, 24);
      this.tsEcr = readU32(l4, 28);
    } else {
      this.readOptions();
    }
    return true;
  }

  private readOptions(): void {
    const options = this.options();
    // A non-empty option area always decodes to at least one option, so an empty list
    // means a framing error. Linux (tcp_parse_options) stops there; we ignore the list.
    if (options.length === 0) this.optionsMalformed = true;
    for (const o of options) {
      switch (o.kind) {
        case 'mss':
          this.mss = o.mss;
          break;
        case 'windowScale':
          this.windowScale = o.shift;
          break;
        case 'sackPermitted':
          this.sackPermitted = true;
          break;
        case 'timestamps':
          this.hasTimestamps = true;
          this.tsVal = o.tsVal;
          this.tsEcr = o.tsEcr;
          break;
        case 'sack':
          for (const b of o.blocks) {
            if (this.sackBlocks.length >= MAX_SACK_BLOCKS) break;
            const slot = (this.blockPool[this.sackBlocks.length] ??= { start: 0, end: 0 });
            slot.start = b.left;
            slot.end = b.right;
            this.sackBlocks.push(slot);
          }
          break;
        default:
          break;
      }
    }
  }
}
