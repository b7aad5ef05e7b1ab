// Path impairment. An unimpaired path is plain kernel forwarding in its router. Delay,
// jitter, loss, reordering and duplication divert the path through the user-space relay:
//
//   ip rule iif bc lookup 211  ->  table 211: default dev rc  ->  relay  ->  back into rc  ->  main table -> bs
//   ip rule iif bs lookup 212  ->  table 212: default dev rs  ->  relay  ->  back into rs  ->  main table -> bc
//
// so every packet crossing the router, from any host, meets the model once per direction.
// Packets the relay writes back arrive with iif rc/rs, which no rule diverts. The rate is
// tbf on the router's egress bridges (kernel speed, no relay needed). Clearing removes the
// rules and the qdiscs: the path is plain forwarding again (an idle relay stays, so the
// next change needs no start).

import { openSync, closeSync, readFileSync, statSync, existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkImpairmentParams } from '../../tun/impairment.js';
import { IMPAIR_RULE_PREF, IMPAIR_TABLE, RELAY_TUN, ROUTER_BRIDGE, otherSide, type LabPath, type Side } from './topology.js';
import { inNamespace, ipBatch, isAlive, run, sleep, spawnDetached } from './run.js';
import { relayRequest, type RelayParams, type RelayReply } from './relay-control.js';
import { relaySocket, stateDir, type LabState, type PathImpairment } from './state.js';
import { nodeCommand } from '../node-command.js';

const SIDES: readonly Side[] = ['client', 'server'];
const RELAY_TXQUEUELEN = 10_000;

/** True when the path needs the relay (anything but a pure rate limit). */
export function needsRelay(imp: PathImpairment): boolean {
  return imp.delayMs > 0 || imp.jitterMs > 0 || imp.lossRate > 0 || imp.reorderRate > 0 || imp.duplicateRate > 0;
}

function relayParams(imp: PathImpairment): RelayParams {
  return {
    delayMs: imp.delayMs,
    jitterMs: imp.jitterMs,
    lossRate: imp.lossRate,
    reorderRate: imp.reorderRate,
    duplicateRate: imp.duplicateRate,
  };
}

// This file runs either from the sources (vitest: <root>/apps/lab) or from <root>/build/apps/lab.
const HERE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUNNING_BUILT = basename(HERE_ROOT) === 'build';
const SOURCE_ROOT = RUNNING_BUILT ? dirname(HERE_ROOT) : HERE_ROOT;
const RELAY_SOURCE = 'apps/lab/relay.ts';

/**
 * The relay runs as its own process from the compiled build (Node 20 cannot run TypeScript).
 * Run from the sources (vitest) the lab uses build/, refusing a build older than the sources
 * the relay is made of.
 */
export function relayScript(): string {
  const script = builtFile(RELAY_SOURCE);
  if (!existsSync(script)) throw new Error(`${script} is missing: build first (npx tsc -p tsconfig.json)`);
  const stale = RUNNING_BUILT ? [] : staleRelaySources();
  if (stale.length) throw new Error(`build/ is older than ${stale.join(', ')}: rebuild (npx tsc -p tsconfig.json)`);
  return script;
}

function builtFile(source: string): string {
  return join(SOURCE_ROOT, 'build', source.replace(/\.ts$/, '.js'));
}

/**
 * The relay's source files (it and everything it imports, followed through relative
 * imports) whose compiled file is missing or older. Empty when build/ runs the current code.
 */
export function staleRelaySources(): string[] {
  const stale: string[] = [];
  const seen = new Set<string>();
  const visit = (source: string): void => {
    if (seen.has(source)) return;
    seen.add(source);
    const path = join(SOURCE_ROOT, source);
    const built = builtFile(source);
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(path).mtimeMs) stale.push(source);
    const text = readFileSync(path, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      visit(relative(SOURCE_ROOT, resolve(SOURCE_ROOT, dirname(source), `${m[1]}.ts`)));
    }
  };
  visit(RELAY_SOURCE);
  return stale;
}

/** Starts the path's relay unless it already runs; returns its pid once it answers. */
export async function ensureRelay(prefix: string, path: LabPath, pid: number | undefined): Promise<number> {
  const socket = relaySocket(prefix, path.name);
  if (pid && isAlive(pid)) {
    try {
      await relayRequest(socket, { op: 'stats' });
      return pid;
    } catch {
      // Alive but deaf: replaced below.
    }
  }
  const log = join(stateDir(prefix), `relay-${path.name}.log`);
  const fd = openSync(log, 'a');
  let started: number;
  try {
    const argv = nodeCommand(relayScript(), '--control', socket, ...SIDES.map((s) => RELAY_TUN[s]));
    started = spawnDetached(inNamespace(path.router, argv), fd);
  } finally {
    closeSync(fd);
  }
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await relayRequest(socket, { op: 'stats' }, 1000);
      return started;
    } catch (err) {
      if (!isAlive(started) || Date.now() > deadline) {
        const tail = readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
        throw new Error(`relay for ${path.name} did not start (${(err as Error).message}); ${log}:\n${tail}`);
      }
      await sleep(50);
    }
  }
}

const FAMILIES = ['-4', '-6'] as const;

/** How many diversion rules the router has now, per family. */
async function diversionRules(router: string): Promise<Record<(typeof FAMILIES)[number], number>> {
  const count = async (family: string): Promise<number> => {
    const { stdout } = await run(['ip', '-n', router, family, '-j', 'rule', 'show']);
    return (JSON.parse(stdout) as { priority?: number }[]).filter((r) => r.priority === IMPAIR_RULE_PREF).length;
  };
  return { '-4': await count('-4'), '-6': await count('-6') };
}

async function divert(path: LabPath, on: boolean): Promise<void> {
  const present = await diversionRules(path.router);
  const wanted = on ? SIDES.length : 0;
  if (FAMILIES.every((f) => present[f] === wanted)) return;
  // Remove whatever is there (a partial set from an interrupted run), then add the full set.
  for (const family of FAMILIES) {
    for (let i = 0; i < present[family]; i++) {
      await run(['ip', '-n', path.router, family, 'rule', 'del', 'pref', String(IMPAIR_RULE_PREF)]);
    }
  }
  if (!on) return;
  const lines: string[] = [];
  for (const side of SIDES) {
    const tun = RELAY_TUN[side];
    const table = IMPAIR_TABLE[side];
    // The TUN's queue toward the relay absorbs the relay's scheduling stalls (a Node process
    // on a busy machine); the default 500 packets overflows within milliseconds of a burst.
    lines.push(`link set ${tun} txqueuelen ${RELAY_TXQUEUELEN}`);
    lines.push(`route replace default dev ${tun} table ${table}`, `-6 route replace default dev ${tun} table ${table}`);
    lines.push(`rule add iif ${ROUTER_BRIDGE[side]} lookup ${table} pref ${IMPAIR_RULE_PREF}`);
    lines.push(`-6 rule add iif ${ROUTER_BRIDGE[side]} lookup ${table} pref ${IMPAIR_RULE_PREF}`);
  }
  await ipBatch(path.router, lines);
}

/** tbf sizes for a rate: 4 ms of bursting (at least a few full packets), up to 100 ms of queue. */
function tbfArgs(rateBitsPerSecond: number): string[] {
  const bytesPerSecond = rateBitsPerSecond / 8;
  const burst = Math.max(16 * 1024, Math.ceil(bytesPerSecond * 0.004));
  const limit = Math.max(2 * burst, Math.ceil(bytesPerSecond * 0.1));
  return ['tbf', 'rate', `${Math.round(rateBitsPerSecond)}bit`, 'burst', String(burst), 'limit', String(limit)];
}

async function setRate(path: LabPath, rateBitsPerSecond: number): Promise<void> {
  for (const side of SIDES) {
    // Traffic that entered from `side` leaves through the other side's bridge.
    const egress = ROUTER_BRIDGE[otherSide(side)];
    if (rateBitsPerSecond > 0) {
      await run(['tc', '-n', path.router, 'qdisc', 'replace', 'dev', egress, 'root', ...tbfArgs(rateBitsPerSecond)]);
    } else {
      await run(['tc', '-n', path.router, 'qdisc', 'del', 'dev', egress, 'root'], { allowFail: true });
    }
  }
}

/**
 * Makes the path's impairment `imp` (replacing the previous one) and records it in `state`
 * (the caller writes the state). The relay is started on first need and reconfigured in place.
 */
export async function applyImpairment(state: LabState, path: LabPath, imp: PathImpairment): Promise<void> {
  checkImpairmentParams(imp);
  const relay = needsRelay(imp);
  let pid = state.relayPids[path.name];
  if (relay) {
    pid = await ensureRelay(state.prefix, path, pid);
    state.relayPids[path.name] = pid;
  }
  // Parameters first, then the rules: the first diverted packet already meets the new model.
  if (pid && isAlive(pid)) await relayRequest(relaySocket(state.prefix, path.name), { op: 'set', params: relayParams(imp) });
  await divert(path, relay);
  await setRate(path, imp.rateBitsPerSecond);
  state.impairments[path.name] = { ...imp };
}

/** The relay's counters for a path, when its relay runs. */
export async function relayStats(prefix: string, pathName: string, pid: number | undefined): Promise<RelayReply | undefined> {
  if (!pid || !isAlive(pid)) return undefined;
  try {
    return await relayRequest(relaySocket(prefix, pathName), { op: 'stats' }, 1000);
  } catch {
    return undefined;
  }
}
