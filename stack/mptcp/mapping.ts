// The DSS data-sequence mapping of one subflow (RFC 8684 3.3.1): which subflow bytes carry
// which connection-level bytes. Data offsets are DsnSpace offsets (numbers); subflow
// sequence numbers are the 32-bit *relative* ones of the wire (SSN 1 = first data byte),
// compared modulo 2^32 like every TCP sequence number.
//
// Receive side: mappings arrive in DSS options, possibly before or after their data and
// repeated on every segment of a GSO burst (Linux copies the skb's mapping onto each
// segment). They are kept in a small ordered list; the subflow's in-order bytes are then
// translated to data-level ranges. Send side: one mapping per chunk the scheduler hands to
// the subflow (at most 64 KiB: the data-level length is 16 bits), remembered until the
// subflow acknowledges it so a retransmitted segment carries the same mapping.

import { seqAdd, seqGeq, seqGt, seqLeq, seqLt, seqSub } from '../tcp/seq.js';
import type { Dss } from '../wire/mptcp-options.js';
import { dssChecksum } from './crypto.js';
import type { DsnSpace } from './dsn.js';

/** The mapping fields of a DSS option, with the DSN converted to a data offset (DsnSpace). */
export interface DataMapping {
  /** Data offset of the first mapped byte (of the DATA_FIN for a DATA_FIN-only mapping). */
  dataOffset: number;
  /** Relative subflow sequence number of the first mapped byte (0 for a DATA_FIN-only mapping). */
  subflowSeq: number;
  /** Data-level length as on the wire: payload bytes + 1 if DATA_FIN; 0 = infinite mapping (RFC 8684 3.7). */
  length: number;
  dataFin: boolean;
  /** The DSS checksum field, present when checksums were negotiated (RFC 8684 3.3.1). */
  checksum?: number | undefined;
}

/**
 * The mapping of a parsed DSS option as offsets. A 32-bit DSN is expanded near `expected`,
 * the receiver's DATA_ACK (RFC 8684 3.3.1). Undefined when the option has no mapping.
 */
export function mappingFromWire(dss: Dss, dsn: DsnSpace, expected: number): DataMapping | undefined {
  const w = dss.mapping;
  if (!w) return undefined;
  const dataOffset = dss.dsn64 ? dsn.fromWire64(w.dsn) : dsn.fromWire32(Number(w.dsn & 0xffffffffn), expected);
  return { dataOffset, subflowSeq: w.subflowSeq, length: w.dataLength, dataFin: dss.dataFin, checksum: w.checksum };
}

/** The DSS fields of a mapping to send; Linux always sends 64-bit DSNs (options.c: mpext->dsn64 = 1). */
export function mappingToWire(m: Readonly<DataMapping>, dsn: DsnSpace): Pick<Dss, 'mapping' | 'dsn64' | 'dataFin'> {
  const mapping: NonNullable<Dss['mapping']> = { dsn: dsn.toWire64(m.dataOffset), subflowSeq: m.subflowSeq, dataLength: m.length };
  if (m.checksum !== undefined) mapping.checksum = m.checksum;
  return { mapping, dsn64: true, dataFin: m.dataFin };
}

/** The data-level length is a 16-bit field (RFC 8684 3.3). */
export const MAX_MAPPING_LENGTH = 0xffff;

/** Payload bytes a mapping covers (its length without the DATA_FIN's sequence number). */
export function mappingPayloadLength(m: DataMapping): number {
  return m.dataFin ? m.length - 1 : m.length;
}

/** RFC 8684 3.3.3: a DATA_FIN on no data is a mapping of length 1 at subflow sequence 0. */
export function dataFinOnlyMapping(dataOffset: number): DataMapping {
  return { dataOffset, subflowSeq: 0, length: 1, dataFin: true };
}

/** RFC 8684 3.7: the infinite mapping (length 0) sent when falling back to plain TCP. */
export function infiniteMapping(dataOffset: number, subflowSeq: number): DataMapping {
  return { dataOffset, subflowSeq, length: 0, dataFin: false };
}

// ---------------------------------------------------------------------------------------
// Receive side

export type MappingViolation =
  /** A new mapping maps already-mapped subflow bytes to other data (RFC 8684 3.3.1: MUST be consistent). */
  | 'conflict'
  /** Checksum present when not negotiated or missing when negotiated (RFC 8684 3.3: all or none once negotiated; Linux MAPPING_INVALID). */
  | 'checksum-presence'
  /** More unmapped subflow data than the limit waits for a mapping (RFC 8684 3.3.1: a receive window). */
  | 'unmapped-data'
  /** More mappings pending than the table holds. */
  | 'too-many-mappings';

export type AddMappingResult =
  | { kind: 'added'; dataFinOffset?: number }
  | { kind: 'duplicate' }
  /** Covers only bytes already consumed (a retransmission's option): nothing to do. */
  | { kind: 'stale' }
  /** A DATA_FIN without data: the connection's DATA_FIN sits at this data offset. */
  | { kind: 'data-fin'; dataFinOffset: number }
  /** The peer fell back to TCP (RFC 8684 3.7): from its subflow seq on, bytes map linearly. */
  | { kind: 'infinite' }
  /** RFC 8684 3.3.1 / 3.7: the subflow must be reset (Linux: MPTCP_RST_EMPTCP) or fall back. */
  | { kind: 'violation'; reason: MappingViolation };

export interface MappedRange {
  /** Where these bytes start within the chunk passed to `map`. */
  chunkOffset: number;
  dataOffset: number;
  length: number;
  /** The mapping they belong to (for the DSS checksum and the DATA_FIN). */
  mapping: Readonly<DataMapping>;
  /** These bytes complete the mapping's payload: a checksummed mapping can now be verified. */
  endsMapping: boolean;
}

export interface MapResult {
  ranges: MappedRange[];
  /** Leading bytes of the chunk that are mapped (and consumed); the rest waits for a mapping. */
  mappedLength: number;
  violation?: MappingViolation;
}

export interface ReceiveMappingsOptions {
  /** Whether DSS checksums were negotiated: every mapping must then carry one. */
  checksum: boolean;
  /** Unmapped in-order subflow bytes tolerated before the subflow is broken (RFC 8684 3.3.1 says a receive window). */
  unmappedLimit: number;
  /** Mappings kept at most (received ahead of their data). */
  maxMappings: number;
  /** Relative subflow sequence number of the first data byte (1 for every subflow). */
  initialSubflowSeq?: number;
}

interface Entry {
  m: DataMapping;
  /** Subflow seq just past the mapped payload. */
  end: number;
}

/** The received mappings of one subflow and the translation of its in-order bytes. */
export class ReceiveMappings {
  private readonly entries: Entry[] = [];
  /** Relative subflow seq of the next in-order byte to map. */
  private next: number;
  /** Start of the infinite mapping once the peer fell back (RFC 8684 3.7). */
  private infinite: DataMapping | undefined;
  private readonly options: ReceiveMappingsOptions;

  constructor(options: ReceiveMappingsOptions) {
    this.options = options;
    this.next = options.initialSubflowSeq ?? 1;
  }

  /** Relative subflow seq of the next byte `map` expects. */
  get nextSubflowSeq(): number {
    return this.next;
  }

  get pendingMappings(): number {
    return this.entries.length;
  }

  get fallenBack(): boolean {
    return this.infinite !== undefined;
  }

  /** Record a mapping from a DSS option. */
  add(m: DataMapping): AddMappingResult {
    if (m.length === 0) {
      // RFC 8684 3.7: the infinite mapping; checksums no longer apply after fallback.
      if (!this.infinite) this.infinite = { ...m };
      return { kind: 'infinite' };
    }
    if ((m.checksum !== undefined) !== this.options.checksum) return { kind: 'violation', reason: 'checksum-presence' };
    const payload = mappingPayloadLength(m);
    // Linux get_mapping_status: a DATA_FIN of length 1 carries no data, whatever its SSN.
    if (payload === 0) return m.dataFin ? { kind: 'data-fin', dataFinOffset: m.dataOffset } : { kind: 'stale' };
    const end = seqAdd(m.subflowSeq, payload);
    if (seqLeq(end, this.next)) return { kind: 'stale' };
    if (this.infinite && seqGeq(m.subflowSeq, this.infinite.subflowSeq)) return { kind: 'stale' };

    let at = this.entries.length;
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (seqLt(m.subflowSeq, e.end) && seqGt(end, e.m.subflowSeq)) {
        if (e.m.subflowSeq === m.subflowSeq && e.m.length === m.length && e.m.dataFin === m.dataFin) {
          if (e.m.dataOffset === m.dataOffset && e.m.checksum === m.checksum) return { kind: 'duplicate' };
          return { kind: 'violation', reason: 'conflict' };
        }
        // An overlapping, different mapping is only acceptable when it maps the shared bytes
        // identically and no checksum covers either mapping as a whole.
        const consistent = e.m.dataOffset - m.dataOffset === seqSub(e.m.subflowSeq, m.subflowSeq);
        if (!consistent || this.options.checksum) return { kind: 'violation', reason: 'conflict' };
      }
      if (at === this.entries.length && seqLt(m.subflowSeq, e.m.subflowSeq)) at = i;
    }
    if (this.entries.length >= this.options.maxMappings) return { kind: 'violation', reason: 'too-many-mappings' };
    this.entries.splice(at, 0, { m: { ...m }, end });
    return m.dataFin ? { kind: 'added', dataFinOffset: m.dataOffset + payload } : { kind: 'added' };
  }

  /**
   * Translate the next `length` in-order subflow bytes (starting at `nextSubflowSeq`) to
   * data-level ranges. Bytes are consumed up to the first one no mapping covers; the caller
   * keeps the rest and offers it again with later data.
   */
  map(length: number): MapResult {
    const ranges: MappedRange[] = [];
    let done = 0;
    while (done < length) {
      const seq = this.next;
      const inf = this.infinite;
      if (inf && seqGeq(seq, inf.subflowSeq)) {
        // After fallback the subflow is the data stream (RFC 8684 3.7).
        const n = length - done;
        ranges.push({
          chunkOffset: done,
          dataOffset: inf.dataOffset + seqSub(seq, inf.subflowSeq),
          length: n,
          mapping: inf,
          endsMapping: false,
        });
        done += n;
        this.next = seqAdd(seq, n);
        break;
      }
      const e = this.covering(seq);
      if (!e) break;
      let n = Math.min(length - done, seqSub(e.end, seq));
      if (inf && seqLt(inf.subflowSeq, e.end)) n = Math.min(n, seqSub(inf.subflowSeq, seq));
      ranges.push({
        chunkOffset: done,
        dataOffset: e.m.dataOffset + seqSub(seq, e.m.subflowSeq),
        length: n,
        mapping: e.m,
        endsMapping: seqAdd(seq, n) === e.end,
      });
      done += n;
      this.next = seqAdd(seq, n);
      this.prune();
    }
    const result: MapResult = { ranges, mappedLength: done };
    if (length - done > this.options.unmappedLimit) result.violation = 'unmapped-data';
    return result;
  }

  /** The entry covering `seq` that reaches furthest (overlapping consistent mappings may exist). */
  private covering(seq: number): Entry | undefined {
    let best: Entry | undefined;
    for (const e of this.entries) {
      if (seqGt(e.m.subflowSeq, seq)) break;
      if (seqGt(e.end, seq) && (!best || seqGt(e.end, best.end))) best = e;
    }
    return best;
  }

  private prune(): void {
    let drop = 0;
    while (drop < this.entries.length && seqLeq(this.entries[drop]!.end, this.next)) drop++;
    if (drop > 0) this.entries.splice(0, drop);
  }
}

/**
 * RFC 8684 3.3.1: whether a checksummed mapping's payload (all of it, in chunks) matches
 * its DSS checksum. A failure calls for MP_FAIL or a reset (RFC 8684 3.7).
 */
export function mappingChecksumOk(m: Readonly<DataMapping>, dsn: DsnSpace, payload: readonly Uint8Array[]): boolean {
  return dssChecksum(dsn.toWire64(m.dataOffset), m.subflowSeq, m.length, payload, m.checksum ?? 0) === 0;
}

// ---------------------------------------------------------------------------------------
// Send side

export interface SendMappingsOptions {
  /** Compute DSS checksums (negotiated with the peer). */
  checksum: boolean;
  /** The sender's data sequence space (the checksum pseudo-header carries the 64-bit DSN). */
  dsn: DsnSpace;
}

/**
 * The mappings of data sent on one subflow. Granularity: one mapping per chunk handed to
 * the subflow (normally one scheduler burst, which the segmenter sends as one TSO
 * super-segment or several MSS segments that all repeat the mapping, as Linux does per
 * GSO skb), split at 64 KiB. A segment must not cross a mapping boundary, since it carries
 * one DSS option: `bytesToMappingEnd` tells the segmenter where to cut.
 */
export class SendMappings {
  private readonly entries: Entry[] = [];
  private readonly options: SendMappingsOptions;

  constructor(options: SendMappingsOptions) {
    this.options = options;
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * Map `length` data bytes from `dataOffset` onto the subflow at relative seq `subflowSeq`,
   * with the DATA_FIN after them when `dataFin`. `payload` (the bytes, in chunks) is
   * needed only with checksums. Returns the new mappings (several past 64 KiB).
   */
  add(dataOffset: number, subflowSeq: number, length: number, dataFin = false, payload?: readonly Uint8Array[]): DataMapping[] {
    const out: DataMapping[] = [];
    let done = 0;
    do {
      const n = Math.min(length - done, MAX_MAPPING_LENGTH - (dataFin ? 1 : 0));
      const last = done + n === length;
      const m: DataMapping = {
        dataOffset: dataOffset + done,
        subflowSeq: seqAdd(subflowSeq, done),
        length: n + (last && dataFin ? 1 : 0),
        dataFin: last && dataFin,
      };
      if (this.options.checksum) {
        if (!payload) throw new TypeError('SendMappings.add: checksums need the payload');
        m.checksum = dssChecksum(this.options.dsn.toWire64(m.dataOffset), m.subflowSeq, m.length, sliceChunks(payload, done, n));
      }
      this.entries.push({ m, end: seqAdd(m.subflowSeq, n) });
      out.push(m);
      done += n;
    } while (done < length);
    return out;
  }

  /**
   * Lengthen the last mapping by `length` bytes when they continue it at both levels (data
   * offset and relative subflow seq), none of its bytes went out yet (`subflowSndNxt`, the
   * subflow's SND.NXT relative to its ISN, has not passed its start), it carries no DATA_FIN
   * or checksum and stays within 64 KiB. Returns its data offset (the TCP write tag), or
   * undefined when a new mapping is needed. Linux does the same (mptcp_skb_can_collapse_to):
   * a subflow whose queue fills by a few MSS per ACK would otherwise carry one short mapping,
   * and so one short segment, per write (a super-packet never spans two mappings).
   */
  extendLast(dataOffset: number, subflowSeq: number, length: number, subflowSndNxt: number): number | undefined {
    const e = this.entries[this.entries.length - 1];
    if (!e || this.options.checksum || e.m.dataFin) return undefined;
    const m = e.m;
    if (m.dataOffset + m.length !== dataOffset || e.end !== subflowSeq) return undefined;
    if (m.length + length > MAX_MAPPING_LENGTH || seqGt(subflowSndNxt, m.subflowSeq)) return undefined;
    m.length += length;
    e.end = seqAdd(e.end, length);
    return m.dataOffset;
  }

  /** The mapping to put in the DSS option of a segment starting at `subflowSeq`. */
  mappingAt(subflowSeq: number): Readonly<DataMapping> | undefined {
    return this.find(subflowSeq)?.m;
  }

  /** Bytes from `subflowSeq` to the end of its mapping: the longest segment that may start there. */
  bytesToMappingEnd(subflowSeq: number): number {
    const e = this.find(subflowSeq);
    return e ? seqSub(e.end, subflowSeq) : 0;
  }

  /** The subflow acknowledged everything before `subflowSndUna`: forget fully acked mappings. */
  acknowledge(subflowSndUna: number): void {
    let drop = 0;
    while (drop < this.entries.length && seqLeq(this.entries[drop]!.end, subflowSndUna)) drop++;
    if (drop > 0) this.entries.splice(0, drop);
  }

  /** Data-level ranges sent on this subflow and not yet acknowledged by it (for reinjection). */
  unacknowledged(): { start: number; end: number }[] {
    return this.entries.map((e) => ({ start: e.m.dataOffset, end: e.m.dataOffset + mappingPayloadLength(e.m) }));
  }

  private find(seq: number): Entry | undefined {
    // Entries are in subflow order; the segment being built is usually near the end.
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (seqGeq(seq, e.m.subflowSeq)) return seqLt(seq, e.end) ? e : undefined;
    }
    return undefined;
  }
}

/** The byte range [from, from + length) of a list of chunks, as subarrays (no copy). */
export function sliceChunks(chunks: readonly Uint8Array[], from: number, length: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  const to = from + length;
  for (const c of chunks) {
    const start = Math.max(from, pos);
    const end = Math.min(to, pos + c.length);
    if (start < end) out.push(end - start === c.length ? c : c.subarray(start - pos, end - pos));
    pos += c.length;
    if (pos >= to) break;
  }
  return out;
}
