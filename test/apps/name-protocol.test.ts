// The control protocol's name-based requests (docs/control-protocol.md "Names"): open by
// peer name and service, listen by service with names; the address-based forms unchanged.

import { describe, expect, it } from 'vitest';
import { parseRequest } from '../../apps/control/protocol.js';

describe('name-based control requests', () => {
  it('open: peer name and service, optional local name, transport and noDelay', () => {
    expect(parseRequest('{"op":"open","peerName":"carol.lab.test","service":"echo"}')).toEqual({ ok: true, request: { op: 'open', peerName: 'carol.lab.test', service: 'echo' } });
    expect(parseRequest('{"op":"open","peerName":"carol.lab.test","service":7,"localName":"alice.lab.test","transport":"stream","noDelay":true}')).toEqual({
      ok: true,
      request: { op: 'open', peerName: 'carol.lab.test', service: 7, localName: 'alice.lab.test', transport: 'stream', noDelay: true },
    });
    expect(parseRequest('{"op":"open","service":7}')).toMatchObject({ ok: false, error: { code: 'EBADREQ', message: expect.stringMatching(/peerName/) } });
    expect(parseRequest('{"op":"open","peerName":"x","service":0}')).toMatchObject({ ok: false, error: { code: 'EBADREQ' } });
    expect(parseRequest(`{"op":"open","peerName":"${'a'.repeat(300)}","service":7}`)).toMatchObject({ ok: false, error: { code: 'EBADREQ' } });
  });

  it('listen: `service` (with names) is the name-based form, `port` alone the address-based one', () => {
    expect(parseRequest('{"op":"listen","service":"echo"}')).toEqual({ ok: true, request: { op: 'listen', port: 'echo', names: {} } });
    expect(parseRequest('{"op":"listen","service":7,"localName":"carol.lab.test","peerName":"*","requireVerified":true}')).toEqual({
      ok: true,
      request: { op: 'listen', port: 7, names: { localName: 'carol.lab.test', peerName: '*', requireVerified: true } },
    });
    expect(parseRequest('{"op":"listen","port":7}')).toEqual({ ok: true, request: { op: 'listen', port: 7 } });
    expect(parseRequest('{"op":"listen","port":7,"service":7}')).toMatchObject({ ok: false, error: { code: 'EBADREQ' } });
    expect(parseRequest('{"op":"listen","service":7,"requireVerified":"yes"}')).toMatchObject({ ok: false, error: { code: 'EBADREQ', message: expect.stringMatching(/requireVerified/) } });
  });
});
