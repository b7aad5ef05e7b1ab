// The control protocol's pure parts: request validation, line splitting with limits and
// leftover bytes, /etc/services parsing.

import { describe, expect, it } from 'vitest';
import { LineReader, TOO_BIG } from '../../apps/control/line-reader.js';
import { parseRequest } from '../../apps/control/protocol.js';
import { parseServices, resolvePort } from '../../apps/control/services.js';

describe('parseRequest', () => {
  it('accepts every op with its fields and drops unknown extra fields', () => {
    expect(parseRequest('{"op":"ping"}')).toEqual({ ok: true, request: { op: 'ping' } });
    expect(parseRequest('{"op":"stats","x":1}')).toEqual({ ok: true, request: { op: 'stats' } });
    expect(parseRequest('{"op":"connect","host":"fd00::1","port":"http","noDelay":true,"localAddress":"fd00::2"}')).toEqual({
      ok: true,
      request: { op: 'connect', host: 'fd00::1', port: 'http', noDelay: true, localAddress: 'fd00::2' },
    });
    expect(parseRequest('{"op":"listen","port":0,"backlog":5}')).toEqual({ ok: true, request: { op: 'listen', port: 0, backlog: 5 } });
    expect(parseRequest('{"op":"accept","id":3}')).toEqual({ ok: true, request: { op: 'accept', id: 3 } });
    expect(parseRequest('{"op":"wait","id":3}')).toEqual({ ok: true, request: { op: 'wait', id: 3 } });
  });

  it('answers bad input with EBADREQ / EBADOP naming the field', () => {
    const code = (line: string): string | undefined => {
      const r = parseRequest(line);
      return r.ok ? undefined : r.error.code;
    };
    expect(code('')).toBe('EBADREQ');
    expect(code('{')).toBe('EBADREQ');
    expect(code('null')).toBe('EBADREQ');
    expect(code('"ping"')).toBe('EBADREQ');
    expect(code('{"op":"PING"}')).toBe('EBADOP');
    expect(code('{"op":"connect","host":"","port":1}')).toBe('EBADREQ');
    expect(code(`{"op":"connect","host":"${'a'.repeat(256)}","port":1}`)).toBe('EBADREQ');
    expect(code('{"op":"connect","host":"h","port":0}')).toBe('EBADREQ');
    expect(code('{"op":"connect","host":"h","port":1.5}')).toBe('EBADREQ');
    expect(code('{"op":"connect","host":"h","port":1,"noDelay":"yes"}')).toBe('EBADREQ');
    expect(code('{"op":"listen","port":-1}')).toBe('EBADREQ');
    expect(code('{"op":"listen","port":1,"backlog":0}')).toBe('EBADREQ');
    expect(code('{"op":"accept","id":"1"}')).toBe('EBADREQ');
    expect(code('{"op":"wait","id":0}')).toBe('EBADREQ');
    const r = parseRequest('{"op":"listen","port":true}');
    expect(!r.ok && r.error.message).toMatch(/"port"/);
  });
});

describe('LineReader', () => {
  it('returns lines across chunks, strips CR, keeps the bytes after them', () => {
    const r = new LineReader(100);
    r.push(Buffer.from('{"op":'));
    expect(r.next()).toBeUndefined();
    r.push(Buffer.from('"ping"}\r\nraw\x00bytes'));
    expect(r.next()).toBe('{"op":"ping"}');
    expect(r.next()).toBeUndefined();
    expect(r.rest()).toEqual(Buffer.from('raw\x00bytes'));
    expect(r.buffered).toBe(0);
  });

  it('gives several lines from one chunk in order', () => {
    const r = new LineReader(100);
    r.push(Buffer.from('a\nbb\n\nccc'));
    expect([r.next(), r.next(), r.next(), r.next()]).toEqual(['a', 'bb', '', undefined]);
    r.push(Buffer.from('\n'));
    expect(r.next()).toBe('ccc');
  });

  it('reports TOO_BIG at the limit, newline included, whether or not the line is complete', () => {
    const ok = new LineReader(4);
    ok.push(Buffer.from('abc\n'));
    expect(ok.next()).toBe('abc');
    const long = new LineReader(4);
    long.push(Buffer.from('abcd\n'));
    expect(long.next()).toBe(TOO_BIG);
    const open = new LineReader(4);
    for (const c of 'abc') open.push(Buffer.from(c));
    expect(open.next()).toBeUndefined();
    open.push(Buffer.from('d'));
    expect(open.next()).toBe(TOO_BIG);
  });
});

describe('services', () => {
  const table = parseServices(`# comment
echo		7/tcp
echo		7/udp
http		80/tcp		www		# WorldWideWeb HTTP
bad		x/tcp
huge		70000/tcp
http		8080/tcp
`);

  it('maps names and aliases per protocol; the first entry of a name wins', () => {
    expect(resolvePort('http', 'tcp', table)).toBe(80);
    expect(resolvePort('www', 'tcp', table)).toBe(80);
    expect(resolvePort('echo', 'udp', table)).toBe(7);
    expect(resolvePort('bad', 'tcp', table)).toBeUndefined();
    expect(resolvePort('huge', 'tcp', table)).toBeUndefined();
  });

  it('takes numbers and numeric strings, with 0 only where allowed', () => {
    expect(resolvePort(443, 'tcp', table)).toBe(443);
    expect(resolvePort('443', 'tcp', table)).toBe(443);
    expect(resolvePort(0, 'tcp', table)).toBeUndefined();
    expect(resolvePort('0', 'tcp', table, 0)).toBe(0);
    expect(resolvePort(65536, 'tcp', table)).toBeUndefined();
  });

  it('reads the system file (ssh is 22 in every /etc/services)', () => {
    expect(resolvePort('ssh')).toBe(22);
  });
});
