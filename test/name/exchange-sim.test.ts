// The name exchange through real Hosts on the simulated network: the options go out in a
// destination options header built by the Host, the receiving Host parses them and hands
// them to the transport, a Host that knows nothing of names processes the packet as if
// they were absent, and tshark reads the capture without complaint.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../stack/config.js';
import { Host, type InboundPacket } from '../../stack/ip/host.js';
import { NameExchange } from '../../stack/name/exchange.js';
import { readNameOptions } from '../../stack/name/name-option.js';
import { PcapWriter } from '../../tun/pcap.js';
import { SimNetwork } from '../sim/network.js';
import { addr, toHex, unwrap } from '../wire/helpers.js';

/** RFC 3692 experimental protocol number: a toy transport that only carries a label. */
const PROTO = 253;
const ALICE = 'fd00:1:1::10';
const CAROL = 'fd00:1:2::21';
const tmp = mkdtempSync(join(tmpdir(), 'nst-names-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function host(net: SimNetwork, name: string, address: string): { host: Host; ifIndex: number } {
  const h = new Host({ name, random: net.random(name) });
  const ifIndex = h.addInterface({ name: 'eth0', mtu: 1500 });
  h.addAddress(ifIndex, address, 32); // one on-link prefix for both lab sides
  net.addHost(h);
  return { host: h, ifIndex };
}

/** Sends `label` as the toy transport's payload, with the exchange's extensions if any. */
function send(from: Host, to: string, label: string, exchange: NameExchange | undefined, now: number): void {
  const payload = new TextEncoder().encode(label);
  const ext = exchange?.extensionsFor();
  const r = from.send({ dst: addr(to), protocol: PROTO, l4Length: payload.length, writeL4: (out, at) => out.set(payload, at), ...(ext && { ipv6Extensions: ext }) }, now);
  expect(r.ok).toBe(true);
}

describe('names on the wire between two Hosts', () => {
  it('alice -> carol: names on the first packet each way, none after; the capture decodes cleanly', () => {
    const net = new SimNetwork('names');
    const alice = host(net, 'alice', ALICE);
    const carol = host(net, 'carol', CAROL);
    const path = net.connect({ host: alice.host, ifIndex: alice.ifIndex }, { host: carol.host, ifIndex: carol.ifIndex }, { delayMs: 1 });
    const chunks: Uint8Array[] = [];
    net.attachPcap(path, new PcapWriter((c) => chunks.push(c.slice())), 'sent');
    const packets: Uint8Array[] = [];
    net.onTrace((e) => e.kind === 'sent' && packets.push(e.packet.slice()));

    const client = unwrap(NameExchange.initiator({ family: 6, transport: 'stream', localName: 'alice.lab.test', peerName: 'carol.lab.test' }, DEFAULT_CONFIG.name));
    const server = unwrap(NameExchange.responder({ family: 6, transport: 'stream', localNames: ['carol.lab.test'], peerFilter: '*' }, DEFAULT_CONFIG.name));
    const seen: string[] = [];
    const handler = (me: string, exchange: NameExchange, reply: (label: string, now: number) => void) => ({
      input(p: InboundPacket, now: number) {
        const label = new TextDecoder().decode(p.l4);
        const v = exchange.onPacket(p.ipv6Extensions, p.src);
        const names = readNameOptions(p.ipv6Extensions);
        seen.push(`${me} got ${label} ${names.present ? `[${names.sourceName} -> ${names.destinationName}]` : '[]'} ${v.verdict}`);
        reply(label, now);
      },
    });
    alice.host.registerTransport(PROTO, handler('alice', client, (label, now) => label === 'syn-ack' && send(alice.host, CAROL, 'ack', client, now)));
    carol.host.registerTransport(PROTO, handler('carol', server, (label, now) => label === 'syn' && send(carol.host, ALICE, 'syn-ack', server, now)));

    send(alice.host, CAROL, 'syn', client, 0);
    net.run(100);
    expect(seen).toEqual([
      'carol got syn [alice.lab.test -> carol.lab.test] accept',
      'alice got syn-ack [carol.lab.test -> alice.lab.test] accept',
      'carol got ack [] accept',
    ]);
    expect([client.state, server.state, server.peerName, client.peerName]).toEqual(['done', 'done', 'alice.lab.test', 'carol.lab.test']);

    // The first packet, byte for byte (docs/wire-names.md shows it): IPv6 header, destination
    // options (next header 253, 40 bytes: 0x11 alice.lab.test, 0x12 carol.lab.test, PadN), "syn".
    expect(toHex(packets[0]!)).toBe(
      '60000000002b3c40' + 'fd000001000100000000000000000010' + 'fd000001000200000000000000000021' +
        'fd04' + '1110' + '05616c696365036c6162047465737400' + '1210' + '056361726f6c036c6162047465737400' + '0100' +
        '73796e',
    );
    expect(packets[2]!.length).toBe(40 + 3); // the ack: no options any more

    const file = join(tmp, 'names.pcap');
    writeFileSync(file, Buffer.concat(chunks));
    const tshark = spawnSync('tshark', ['-r', file, '-V'], { encoding: 'utf8' });
    expect(tshark.status).toBe(0);
    expect(tshark.stdout).not.toMatch(/[Mm]alformed|Expert Info \(Error/);
    // tshark knows neither option: it shows them as unknown options with their bytes, and the packet goes on.
    expect(tshark.stdout).toMatch(/Destination Options for IPv6/);
    expect(tshark.stdout.match(/Type: Unknown \(0x11\)/g)).toHaveLength(2);
    expect(tshark.stdout.match(/Type: Unknown \(0x12\)/g)).toHaveLength(2);
  });

  it('a Host without the name layer delivers the packet as if the options were absent (RFC 8200 4.2 skip)', () => {
    const net = new SimNetwork('legacy');
    const alice = host(net, 'alice', ALICE);
    const bob = host(net, 'bob', 'fd00:1:2::20');
    net.connect({ host: alice.host, ifIndex: alice.ifIndex }, { host: bob.host, ifIndex: bob.ifIndex });
    const got: string[] = [];
    bob.host.registerTransport(PROTO, { input: (p) => void got.push(new TextDecoder().decode(p.l4)) });
    const client = unwrap(NameExchange.initiator({ family: 6, transport: 'stream', localName: 'alice.lab.test', peerName: 'bob.lab.test' }, DEFAULT_CONFIG.name));
    send(alice.host, 'fd00:1:2::20', 'syn', client, 0);
    net.run(10);
    expect(got).toEqual(['syn']);
    expect(bob.host.counters.rxDropped.ipv6Option).toBe(0);
  });
});
