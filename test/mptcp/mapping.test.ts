import { describe, expect, it } from 'vitest';
import { keyToIdsn } from '../../stack/mptcp/crypto.js';
import { DsnSpace } from '../../stack/mptcp/dsn.js';
import { emitMptcpOption, parseMptcpOption, type Dss } from '../../stack/wire/mptcp-options.js';
import {
  MAX_MAPPING_LENGTH,
  mappingFromWire,
  mappingToWire,
  ReceiveMappings,
  SendMappings,
  dataFinOnlyMapping,
  infiniteMapping,
  mappingChecksumOk,
  type DataMapping,
} from '../../stack/mptcp/mapping.js';

const opts = { checksum: false, unmappedLimit: 65536, maxMappings: 16 };
const m = (dataOffset: number, subflowSeq: number, length: number, dataFin = false, checksum?: number): DataMapping => ({
  dataOffset,
  subflowSeq,
  length,
  dataFin,
  checksum,
});
const summary = (r: ReturnType<ReceiveMappings['map']>) =>
  r.ranges.map((x) => [x.chunkOffset, x.dataOffset, x.length, x.endsMapping]);

describe('ReceiveMappings', () => {
  it('maps a GSO burst whose mapping is repeated on each segment (as captured from Linux)', () => {
    // Kernel capture: one mapping (SSN 401, 1600 bytes) on a 1424-byte and a 176-byte segment.
    const rx = new ReceiveMappings({ ...opts, initialSubflowSeq: 401 });
    expect(rx.add(m(400, 401, 1600))).toEqual({ kind: 'added' });
    expect(summary(rx.map(1424))).toEqual([[0, 400, 1424, false]]);
    expect(rx.add(m(400, 401, 1600))).toEqual({ kind: 'duplicate' });
    expect(summary(rx.map(176))).toEqual([[0, 1824, 176, true]]);
    expect(rx.pendingMappings).toBe(0);
    expect(rx.nextSubflowSeq).toBe(2001);
    // a retransmission of the first segment repeats an old mapping
    expect(rx.add(m(400, 401, 1600))).toEqual({ kind: 'stale' });
  });

  it('keeps mappings that arrive ahead of their data, in subflow order', () => {
    const rx = new ReceiveMappings(opts);
    // out-of-order segments bring later mappings first; data interleaves across subflows
    expect(rx.add(m(9000, 2001, 1000)).kind).toBe('added');
    expect(rx.add(m(5000, 1001, 1000)).kind).toBe('added');
    expect(rx.add(m(0, 1, 1000)).kind).toBe('added');
    const r = rx.map(3000);
    expect(summary(r)).toEqual([
      [0, 0, 1000, true],
      [1000, 5000, 1000, true],
      [2000, 9000, 1000, true],
    ]);
    expect(r.mappedLength).toBe(3000);
  });

  it('holds data that has no mapping yet and maps it once the mapping arrives', () => {
    const rx = new ReceiveMappings(opts);
    rx.add(m(0, 1, 100));
    let r = rx.map(300);
    expect(r.mappedLength).toBe(100);
    expect(r.violation).toBeUndefined();
    rx.add(m(700, 101, 200));
    r = rx.map(200);
    expect(summary(r)).toEqual([[0, 700, 200, true]]);
  });

  it('reports a violation when unmapped data exceeds the limit (RFC 8684 3.3.1)', () => {
    const rx = new ReceiveMappings({ ...opts, unmappedLimit: 1000 });
    expect(rx.map(1000).violation).toBeUndefined();
    expect(rx.map(1001).violation).toBe('unmapped-data');
    expect(rx.nextSubflowSeq).toBe(1);
  });

  it('rejects conflicting mappings and accepts consistent overlaps without checksums', () => {
    const rx = new ReceiveMappings(opts);
    rx.add(m(0, 1, 1000));
    expect(rx.add(m(50, 1, 1000))).toEqual({ kind: 'violation', reason: 'conflict' });
    expect(rx.add(m(5000, 501, 1000))).toEqual({ kind: 'violation', reason: 'conflict' });
    // same linear relation: a resegmented retransmission may map a subset or a superset
    expect(rx.add(m(500, 501, 1000)).kind).toBe('added');
    expect(summary(rx.map(1500))).toEqual([
      [0, 0, 1000, true],
      [1000, 1000, 500, true],
    ]);
    const cs = new ReceiveMappings({ ...opts, checksum: true });
    cs.add(m(0, 1, 1000, false, 0x1234));
    expect(cs.add(m(500, 501, 1000, false, 0x4321))).toEqual({ kind: 'violation', reason: 'conflict' });
    expect(cs.add(m(0, 1, 1000, false, 0x1235))).toEqual({ kind: 'violation', reason: 'conflict' });
    expect(cs.add(m(0, 1, 1000, false, 0x1234))).toEqual({ kind: 'duplicate' });
  });

  it('requires checksums exactly when they were negotiated', () => {
    expect(new ReceiveMappings(opts).add(m(0, 1, 10, false, 0))).toEqual({ kind: 'violation', reason: 'checksum-presence' });
    expect(new ReceiveMappings({ ...opts, checksum: true }).add(m(0, 1, 10))).toEqual({
      kind: 'violation',
      reason: 'checksum-presence',
    });
  });

  it('reports the DATA_FIN of a mapping (length + 1) and of a DATA_FIN-only mapping', () => {
    const rx = new ReceiveMappings(opts);
    expect(rx.add(m(0, 1, 101, true))).toEqual({ kind: 'added', dataFinOffset: 100 });
    expect(summary(rx.map(100))).toEqual([[0, 0, 100, true]]);
    // Kernel capture: DATA_FIN alone = SSN 0, length 1, at the data offset after the data.
    expect(rx.add(dataFinOnlyMapping(2000))).toEqual({ kind: 'data-fin', dataFinOffset: 2000 });
  });

  it('maps everything linearly after an infinite mapping (fallback, RFC 8684 3.7)', () => {
    const rx = new ReceiveMappings(opts);
    rx.add(m(0, 1, 100));
    expect(rx.add(infiniteMapping(300, 201))).toEqual({ kind: 'infinite' });
    expect(rx.fallenBack).toBe(true);
    rx.add(m(100, 101, 100));
    expect(rx.add(m(9999, 301, 100))).toEqual({ kind: 'stale' });
    expect(summary(rx.map(1000))).toEqual([
      [0, 0, 100, true],
      [100, 100, 100, true],
      [200, 300, 800, false],
    ]);
    expect(summary(rx.map(10))).toEqual([[0, 1100, 10, false]]);
  });

  it('handles the 32-bit wrap of relative subflow sequence numbers', () => {
    const start = 0xffffff00;
    const rx = new ReceiveMappings({ ...opts, initialSubflowSeq: start });
    rx.add(m(10_000, (start + 0x200) >>> 0, 0x100));
    rx.add(m(9_000, start, 0x200));
    expect(summary(rx.map(0x300))).toEqual([
      [0, 9000, 0x200, true],
      [0x200, 10_000, 0x100, true],
    ]);
    expect(rx.nextSubflowSeq).toBe(0x200);
  });

  it('bounds the mappings it keeps', () => {
    const rx = new ReceiveMappings({ ...opts, maxMappings: 2 });
    rx.add(m(0, 1, 10));
    rx.add(m(10, 11, 10));
    expect(rx.add(m(20, 21, 10))).toEqual({ kind: 'violation', reason: 'too-many-mappings' });
  });
});

describe('SendMappings', () => {
  const dsn = new DsnSpace(0n);

  it('makes one mapping per chunk, split at the 16-bit length, DATA_FIN on the last', () => {
    const tx = new SendMappings({ checksum: false, dsn });
    const out = tx.add(1000, 1, 150_000, true);
    expect(out.map((x) => [x.dataOffset, x.subflowSeq, x.length, x.dataFin])).toEqual([
      [1000, 1, 65534, false],
      [66534, 65535, 65534, false],
      [132068, 131069, 18932 + 1, true],
    ]);
    expect(out.every((x) => x.length <= MAX_MAPPING_LENGTH)).toBe(true);
    expect(tx.add(0, 150_001, 65535).map((x) => x.length)).toEqual([65535]);
  });

  it('tells the segmenter which mapping a segment carries and where to cut it', () => {
    const tx = new SendMappings({ checksum: false, dsn });
    tx.add(0, 1, 1600);
    tx.add(5000, 1601, 800);
    expect(tx.mappingAt(1)).toMatchObject({ dataOffset: 0, length: 1600 });
    expect(tx.mappingAt(1425)).toMatchObject({ dataOffset: 0 });
    expect(tx.bytesToMappingEnd(1425)).toBe(176);
    expect(tx.mappingAt(1601)).toMatchObject({ dataOffset: 5000 });
    expect(tx.bytesToMappingEnd(2400)).toBe(1);
    expect(tx.mappingAt(2401)).toBeUndefined();
    expect(tx.unacknowledged()).toEqual([
      { start: 0, end: 1600 },
      { start: 5000, end: 5800 },
    ]);
    tx.acknowledge(1601);
    expect(tx.size).toBe(1);
    expect(tx.mappingAt(1)).toBeUndefined();
  });

  it('lengthens the last mapping for bytes that continue it while none of it was sent, up to 64 KiB', () => {
    const tx = new SendMappings({ checksum: false, dsn });
    tx.add(0, 1, 1000);
    // Continues both sequence spaces, nothing sent yet (SND.NXT at the mapping's start).
    expect(tx.extendLast(1000, 1001, 500, 1)).toBe(0);
    expect(tx.mappingAt(1400)).toMatchObject({ dataOffset: 0, subflowSeq: 1, length: 1500 });
    expect(tx.bytesToMappingEnd(1)).toBe(1500);
    // Not contiguous at the data level, or at the subflow level: a new mapping.
    expect(tx.extendLast(9000, 1501, 100, 1)).toBeUndefined();
    expect(tx.extendLast(1500, 1600, 100, 1)).toBeUndefined();
    // Past 64 KiB: a new mapping.
    expect(tx.extendLast(1500, 1501, MAX_MAPPING_LENGTH - 1499, 1)).toBeUndefined();
    // Once a byte of it left (SND.NXT past its start), a mapping is what the peer saw: fixed.
    expect(tx.extendLast(1500, 1501, 100, 2)).toBeUndefined();
    expect(tx.mappingAt(1)).toMatchObject({ length: 1500 });
  });

  it('never lengthens a mapping with a checksum or a DATA_FIN', () => {
    const tx = new SendMappings({ checksum: true, dsn });
    tx.add(0, 1, 10, false, [new Uint8Array(10)]);
    expect(tx.extendLast(10, 11, 10, 1)).toBeUndefined();
    const fin = new SendMappings({ checksum: false, dsn });
    fin.add(0, 1, 10, true);
    expect(fin.extendLast(10, 11, 10, 1)).toBeUndefined();
  });

  it('computes the kernel checksum, and the receiver verifies it', () => {
    // Kernel capture (checksum run): the client's 1600-byte mapping at DSN IDSN+401, SSN 401, checksum a34d.
    const space = new DsnSpace(keyToIdsn(0xcf3d26cd0e7c2dafn));
    const data = new TextEncoder().encode('namestack-mptcp-'.repeat(100));
    const tx = new SendMappings({ checksum: true, dsn: space });
    const [sent] = tx.add(400, 401, 1600, false, [data.subarray(0, 999), data.subarray(999)]);
    expect(sent!.checksum).toBe(0xa34d);
    const rx = new ReceiveMappings({ ...opts, checksum: true, initialSubflowSeq: 401 });
    expect(rx.add(sent!).kind).toBe('added');
    const r = rx.map(1600);
    expect(r.ranges[0]!.endsMapping).toBe(true);
    expect(mappingChecksumOk(r.ranges[0]!.mapping, space, [data])).toBe(true);
    const corrupt = data.slice();
    corrupt[5] = 0;
    expect(mappingChecksumOk(r.ranges[0]!.mapping, space, [corrupt])).toBe(false);
  });

  it('checksums each piece of a split chunk over its own bytes', () => {
    const tx = new SendMappings({ checksum: true, dsn });
    const data = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
    const out = tx.add(0, 1, data.length, false, [data.subarray(0, 33_333), data.subarray(33_333)]);
    expect(out.length).toBe(2);
    expect(mappingChecksumOk(out[0]!, dsn, [data.subarray(0, 65535)])).toBe(true);
    expect(mappingChecksumOk(out[1]!, dsn, [data.subarray(65535)])).toBe(true);
  });
});

describe('wire edge', () => {
  // Kernel capture (IPv4 run): client key c94910b0de10cf83, first DSS
  // 1e16 200d | DATA_ACK32 d462246d | DSN cec81cbf_ad8c0355 | SSN 1 | length 400.
  const space = new DsnSpace(keyToIdsn(0xc94910b0de10cf83n));
  const captured = Uint8Array.from(Buffer.from('1e16200dd462246dcec81cbfad8c0355000000010190', 'hex'));

  it('turns a parsed DSS into a data mapping and back into the same bytes', () => {
    const dss = parseMptcpOption(captured, 2) as Dss;
    expect(dss.subtype).toBe('dss');
    const m = mappingFromWire(dss, space, 0)!;
    expect(m).toEqual({ dataOffset: 0, subflowSeq: 1, length: 400, dataFin: false, checksum: undefined });
    const out = new Uint8Array(captured.length);
    emitMptcpOption({ ...dss, ...mappingToWire(m, space) }, out, 0);
    expect(out).toEqual(captured);
  });

  it('expands a 32-bit DSN near the expected offset', () => {
    const far = 5 * 2 ** 32 + 100;
    const dss: Dss = {
      subtype: 'dss',
      dataAck64: false,
      dsn64: false,
      dataFin: true,
      mapping: { dsn: space.toWire64(far) & 0xffffffffn, subflowSeq: 7, dataLength: 11 },
    };
    expect(mappingFromWire(dss, space, far - 1000)).toMatchObject({ dataOffset: far, length: 11, dataFin: true });
    expect(mappingFromWire({ ...dss, mapping: undefined }, space, 0)).toBeUndefined();
  });
});
