// The thesis's exchange rules (section 2.4) as traces: what each side puts on its packets
// and what it makes of the packets it receives.

import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type NameConfig } from '../../stack/config.js';
import { NameExchange, type InitiatorOptions, type ResponderOptions } from '../../stack/name/exchange.js';
import { nameOptionsHeader, readNameOptions } from '../../stack/name/name-option.js';
import type { Ipv6ExtensionHeader } from '../../stack/wire/ipv6-ext.js';
import { addr, hex, unwrap } from '../wire/helpers.js';

const ALICE6 = addr('fd00:1:1::10');
const DAVE6 = addr('fd00:1:1::11');
const ALICE4 = addr('198.18.1.10');
const config: NameConfig = DEFAULT_CONFIG.name;

function initiator(opts: Partial<InitiatorOptions> = {}, cfg: NameConfig = config): NameExchange {
  return unwrap(NameExchange.initiator({ family: 6, transport: 'stream', localName: 'alice.lab.test', peerName: 'carol.lab.test', ...opts }, cfg));
}

function responder(opts: Partial<ResponderOptions> = {}, cfg: NameConfig = config): NameExchange {
  return unwrap(NameExchange.responder({ family: 6, transport: 'stream', localNames: ['carol.lab.test'], peerFilter: '*', ...opts }, cfg));
}

/** What a packet sent with these extensions says (as the receiver's name layer reads it). */
function names(extensions: Ipv6ExtensionHeader[] | undefined) {
  return extensions && readNameOptions(extensions);
}

const NO_NAMES: Ipv6ExtensionHeader[] = [];

describe('name exchange over a handshake (thesis figure 4)', () => {
  it('SYN and SYN-ACK carry both names, the third packet none, and both sides stop', () => {
    const host = initiator();
    const peer = responder();
    const syn = host.extensionsFor();
    expect(names(syn)).toEqual({ present: true, sourceName: 'alice.lab.test', destinationName: 'carol.lab.test' });
    expect(peer.onPacket(syn!, ALICE6)).toEqual({ verdict: 'accept', peerName: 'alice.lab.test', localName: 'carol.lab.test' });
    expect(peer.state).toBe('sending');

    const synAck = peer.extensionsFor();
    expect(names(synAck)).toEqual({ present: true, sourceName: 'carol.lab.test', destinationName: 'alice.lab.test' });
    expect(host.onPacket(synAck!, addr('fd00:1:2::21'))).toEqual({ verdict: 'accept', peerName: 'carol.lab.test', localName: 'alice.lab.test' });
    expect(host.state).toBe('done');

    expect(host.extensionsFor()).toBeUndefined(); // the ACK: the acknowledgement of the peer's names
    expect(peer.extensionsFor()).toEqual(synAck); // a packet the peer sends before that ACK arrives
    peer.onPacket(NO_NAMES, ALICE6);
    expect(peer.state).toBe('done');
    expect(peer.extensionsFor()).toBeUndefined();
    expect(host.stats).toMatchObject({ namedPacketsSent: 1, namedPacketsReceived: 1 });
    expect(peer.stats).toMatchObject({ namedPacketsSent: 2, namedPacketsReceived: 1 });
  });

  it('keeps the names on every retransmitted SYN, up to N packets, then gives the peer up as legacy', () => {
    const host = initiator({}, { ...config, exchangePackets: 3 });
    const sent = [1, 2, 3, 4, 5].map(() => host.extensionsFor() !== undefined);
    expect(sent).toEqual([true, true, true, false, false]);
    expect(host.state).toBe('legacy');
    expect(host.overhead).toBe(40);
  });

  it('a legacy peer (the kernel) answers without names: the initiator stops after N and the connection goes on', () => {
    const host = initiator();
    for (let i = 0; i < 8; i++) {
      expect(host.extensionsFor()).toBeDefined();
      expect(host.onPacket(NO_NAMES, addr('fd00:1:2::20'))).toEqual({ verdict: 'accept', localName: 'alice.lab.test' });
    }
    expect(host.extensionsFor()).toBeUndefined();
    expect(host.state).toBe('legacy');
    expect(host.peerName).toBeUndefined();
  });

  it('a responder whose first packet has no names is legacy and never sends names', () => {
    const peer = responder();
    expect(peer.onPacket(NO_NAMES, ALICE6)).toEqual({ verdict: 'accept', localName: 'carol.lab.test' });
    expect(peer.state).toBe('legacy');
    expect(peer.extensionsFor()).toBeUndefined();
  });

  it('a responder stops after N packets even if the initiator never stops sending names', () => {
    const peer = responder({}, { ...config, exchangePackets: 2 });
    const syn = initiator().extensionsFor()!;
    peer.onPacket(syn, ALICE6);
    const out = [1, 2, 3].map(() => {
      peer.onPacket(syn, ALICE6);
      return peer.extensionsFor() !== undefined;
    });
    expect(out).toEqual([true, true, false]);
    expect(peer.state).toBe('done');
  });
});

describe('refusal (the original module dropped such SYNs)', () => {
  it('refuses a destination name that is not one of ours, and every packet after it', () => {
    const peer = responder();
    const wrong = initiator({ peerName: 'bob.lab.test' }).extensionsFor()!;
    expect(peer.onPacket(wrong, ALICE6)).toEqual({ verdict: 'refuse', reason: 'destinationName' });
    expect(peer.onPacket(wrong, ALICE6).verdict).toBe('refuse');
    expect(peer.state).toBe('refused');
    expect(peer.extensionsFor()).toBeUndefined();
  });

  it('compares names without regard to case', () => {
    const peer = responder({ localNames: ['CAROL.lab.test.'] });
    expect(peer.onPacket(initiator({ peerName: 'Carol.Lab.Test' }).extensionsFor()!, ALICE6).verdict).toBe('accept');
  });

  it("applies the listener's peer filter: only that source name, and no unnamed peer", () => {
    const fromAlice = initiator().extensionsFor()!;
    const fromDave = initiator({ localName: 'dave.lab.test' }).extensionsFor()!;
    expect(responder({ peerFilter: 'alice.lab.test' }).onPacket(fromAlice, ALICE6).verdict).toBe('accept');
    expect(responder({ peerFilter: 'alice.lab.test' }).onPacket(fromDave, DAVE6)).toEqual({ verdict: 'refuse', reason: 'peerFilter' });
    expect(responder({ peerFilter: 'alice.lab.test' }).onPacket(NO_NAMES, ALICE6)).toEqual({ verdict: 'refuse', reason: 'peerFilter' });
    expect(responder({ peerFilter: '*' }).onPacket(fromDave, DAVE6)).toMatchObject({ verdict: 'accept', peerName: 'dave.lab.test' });
  });

  it('a host without names accepts any destination name, and answers with the name it was asked for', () => {
    const peer = responder({ localNames: [] });
    expect(peer.onPacket(initiator({ peerName: 'whoever.example' }).extensionsFor()!, ALICE6)).toMatchObject({ verdict: 'accept', localName: 'whoever.example' });
    expect(names(peer.extensionsFor())).toMatchObject({ sourceName: 'whoever.example', destinationName: 'alice.lab.test' });
  });

  it('treats malformed name options as no names: counted, neither refusing nor acknowledging', () => {
    const garbage: Ipv6ExtensionHeader[] = [{ kind: 'destinationOptions', options: [{ type: 0x12, data: hex('03626f62') }] }];
    const peer = responder();
    expect(peer.onPacket(garbage, ALICE6)).toEqual({ verdict: 'accept', localName: 'carol.lab.test' });
    expect(peer.state).toBe('legacy');
    const host = initiator();
    host.extensionsFor();
    host.onPacket(garbage, addr('fd00:1:2::21'));
    expect(host.state).toBe('sending');
    expect([peer.stats.malformed, host.stats.malformed]).toEqual([1, 1]);
  });

  it('ignores a different source name once the peer is known (names do not change mid-connection)', () => {
    const peer = responder();
    peer.onPacket(initiator().extensionsFor()!, ALICE6);
    expect(peer.onPacket(initiator({ localName: 'mallory.example' }).extensionsFor()!, ALICE6).peerName).toBe('alice.lab.test');
    expect(peer.stats.mismatched).toBe(1);
  });
});

describe('families and datagrams', () => {
  it('carries no names over IPv4: both sides are legacy from the start', () => {
    const host = initiator({ family: 4 });
    expect(host.state).toBe('legacy');
    expect(host.extensionsFor()).toBeUndefined();
    expect(host.overhead).toBe(0);
    const peer = responder({ family: 4, peerFilter: 'alice.lab.test' });
    // Names can only be read on IPv6; over IPv4 a peer filter cannot be met.
    expect(peer.onPacket(initiator().extensionsFor()!, ALICE4)).toEqual({ verdict: 'refuse', reason: 'peerFilter' });
  });

  it('dgram: the initiator sends names on every datagram until the names come back, past N', () => {
    const host = initiator({ transport: 'dgram' }, { ...config, exchangePackets: 2 });
    for (let i = 0; i < 20; i++) expect(host.extensionsFor()).toBeDefined();
    const peer = responder({ transport: 'dgram' }, { ...config, exchangePackets: 2 });
    peer.onPacket(host.extensionsFor()!, ALICE6);
    host.onPacket(peer.extensionsFor()!, addr('fd00:1:2::21'));
    expect(host.extensionsFor()).toBeUndefined();
    expect(host.stats.namedPacketsSent).toBe(21);
  });

  it('dgram with dgramUntilAcknowledged off stops after N like a stream', () => {
    const host = initiator({ transport: 'dgram' }, { ...config, exchangePackets: 2, dgramUntilAcknowledged: false });
    expect([1, 2, 3].map(() => host.extensionsFor() !== undefined)).toEqual([true, true, false]);
  });

  it('refuses invalid names when created, never later', () => {
    expect(NameExchange.initiator({ family: 6, transport: 'stream', peerName: 'no_such name' }, config).ok).toBe(false);
    expect(NameExchange.responder({ family: 6, transport: 'stream', localNames: ['a..b'], peerFilter: '*' }, config).ok).toBe(false);
    expect(NameExchange.responder({ family: 6, transport: 'stream', localNames: [], peerFilter: '-x' }, config).ok).toBe(false);
    // Only a destination name: a host without a name of its own.
    const anonymous = unwrap(NameExchange.initiator({ family: 6, transport: 'stream', peerName: 'carol.lab.test' }, config));
    expect(names(anonymous.extensionsFor())).toEqual({ present: true, destinationName: 'carol.lab.test' });
    expect(unwrap(nameOptionsHeader(undefined, 'carol.lab.test')).options.length).toBeGreaterThan(0);
  });
});
