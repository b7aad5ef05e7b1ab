// What a running lab remembers between processes: `lab up` writes it, `status`, `impair`,
// `link` and `down` (possibly from another process) read it. Everything lives under
// /run/namestack/<prefix>/ (tmpfs: a reboot forgets it together with the namespaces).

import { mkdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_IMPAIRMENT, type ImpairmentParams } from '../../tun/impairment.js';

export const RUN_ROOT = '/run/namestack';

const PATH_IMPAIRMENT_FIELDS = ['delayMs', 'jitterMs', 'lossRate', 'reorderRate', 'duplicateRate', 'rateBitsPerSecond'] as const;

/**
 * Path impairment as the lab stores and shows it: the model's fields (tun/impairment.ts),
 * each applied to each direction on its own; the rate is enforced by tbf. All 0 = none.
 */
export type PathImpairment = Pick<ImpairmentParams, (typeof PATH_IMPAIRMENT_FIELDS)[number]>;

export const NO_IMPAIRMENT: Readonly<PathImpairment> = Object.fromEntries(
  PATH_IMPAIRMENT_FIELDS.map((k) => [k, DEFAULT_IMPAIRMENT[k]]),
) as PathImpairment;

export interface LabState {
  version: 1;
  prefix: string;
  pathCount: number;
  /** Pid of dnsmasq in the dns namespace. */
  dnsmasqPid: number;
  /** Pid of each path's relay, once the path was first impaired. */
  relayPids: Record<string, number>;
  /** Current impairment per path. */
  impairments: Record<string, PathImpairment>;
  /** Pid of the namestack daemon per namestack host, when the lab started one. */
  daemonPids: Record<string, number>;
}

export function stateDir(prefix: string): string {
  return join(RUN_ROOT, prefix);
}

export function stateFile(prefix: string): string {
  return join(stateDir(prefix), 'state.json');
}

export function relaySocket(prefix: string, path: string): string {
  return join(stateDir(prefix), `relay-${path}.sock`);
}

export function controlSocket(prefix: string, host: string): string {
  return join(stateDir(prefix), `${host}.sock`);
}

export function daemonConfigFile(prefix: string, host: string): string {
  return join(stateDir(prefix), `${host}.json`);
}

export function readState(prefix: string): LabState | undefined {
  try {
    const s = JSON.parse(readFileSync(stateFile(prefix), 'utf8')) as LabState;
    return s.version === 1 && s.prefix === prefix ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Written to a temporary file and renamed, so a reader never sees half a state. */
export function writeState(state: LabState): void {
  mkdirSync(stateDir(state.prefix), { recursive: true });
  const tmp = `${stateFile(state.prefix)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, stateFile(state.prefix));
}

/** Removes the lab's directory, and /run/namestack itself when no other lab is left. */
export function removeStateDir(prefix: string): void {
  rmSync(stateDir(prefix), { recursive: true, force: true });
  removeIfEmpty(RUN_ROOT);
}

export function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty (another lab) or already gone.
  }
}
