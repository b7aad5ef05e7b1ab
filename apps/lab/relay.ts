// A path's impairment relay: runs inside a router namespace, owns the router's relay TUN
// devices (`rc`, `rs`), and gives back every packet the kernel routes into them after the
// impairment model has had its say (dropped, delayed, duplicated, reordered). A packet
// written back enters the kernel as received on the same TUN and is forwarded by the main
// table, so the relay never needs to know addresses or routes.
//
// Each TUN is one direction of the path (the lab diverts traffic by ingress side), with its
// own model and its own random draws: `--delay 20ms` holds each direction 20 ms.
//
//   node build/apps/lab/relay.js --control <unix socket> <tun> [<tun> ...]
//
// The TUNs have no virtio header and no offloads, so the kernel segments before handing
// packets over and the model sees (and drops) real packets, never 64 KiB super-packets.

import { rmSync } from 'node:fs';
import { openTun, type TunDevice } from '../../tun/device.js';
import { ImpairedLink } from '../../tun/impaired-link.js';
import type { ImpairmentParams } from '../../tun/impairment.js';
import { serveRelayControl, type RelayParams, type RelayReply, type RelayRequest } from './relay-control.js';

/** Relay TUN MTU: large enough that a path with a raised MTU is never cut by the relay. */
const RELAY_MTU = 65535;

interface Direction {
  device: TunDevice;
  link: ImpairedLink;
}

function parseArgs(argv: string[]): { control: string; tuns: string[] } {
  const i = argv.indexOf('--control');
  const control = i >= 0 ? argv[i + 1] : undefined;
  const tuns = argv.filter((_, k) => k !== i && k !== i + 1);
  if (!control || tuns.length === 0) {
    process.stderr.write('usage: relay --control <socket> <tun> [<tun> ...]\n');
    process.exit(2);
  }
  return { control, tuns };
}

/** Only the fields the relay applies; anything else in a request is ignored. */
function modelParams(p: RelayParams): Partial<ImpairmentParams> {
  return {
    delayMs: Number(p.delayMs),
    jitterMs: Number(p.jitterMs),
    lossRate: Number(p.lossRate),
    reorderRate: Number(p.reorderRate),
    duplicateRate: Number(p.duplicateRate),
  };
}

function openDirection(name: string): Direction {
  const device = openTun({ name, vnetHeader: false, mtu: RELAY_MTU, up: true });
  // Impair on the way in, give back unimpaired: the rx model decides when a packet "arrives".
  const link = new ImpairedLink(device, {});
  link.onReceive((batch) => {
    for (const p of batch) link.send(p.packet);
  });
  device.onError = (err) => {
    process.stderr.write(`relay: ${name}: ${err.message}\n`);
    process.exit(1);
  };
  return { device, link };
}

function main(): void {
  const { control, tuns } = parseArgs(process.argv.slice(2));
  const directions = new Map<string, Direction>(tuns.map((t) => [t, openDirection(t)]));
  let current: RelayParams = { delayMs: 0, jitterMs: 0, lossRate: 0, reorderRate: 0, duplicateRate: 0 };

  const answer = (req: RelayRequest): RelayReply => {
    if (req.op === 'set') {
      const params = modelParams(req.params);
      // Every direction gets the same values, so a refusal (RangeError) comes at the first.
      for (const d of directions.values()) d.link.setParams({ rx: params });
      current = params as RelayParams;
    } else if (req.op !== 'stats') {
      return { ok: false, error: `unknown op ${JSON.stringify((req as { op?: unknown }).op)}` };
    }
    const stats: NonNullable<RelayReply['stats']> = {};
    for (const [name, d] of directions) stats[name] = { ...d.link.rx.stats, pending: d.link.pending.rx, holdDropped: d.link.holdDropped.rx };
    return { ok: true, params: current, stats };
  };

  const server = serveRelayControl(control, answer, () => process.stdout.write(`relay: ${tuns.join(', ')} ready on ${control}\n`));

  const stop = (): void => {
    server.close();
    rmSync(control, { force: true });
    void Promise.all([...directions.values()].map((d) => d.link.close())).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
