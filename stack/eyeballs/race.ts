// One Happy Eyeballs race (RFC 8305 with the thesis's P), as a pure state machine. The
// owner (the socket layer) feeds it the AAAA and A answers as they arrive and the outcome
// of every connection attempt; the race tells the owner when to start an attempt, which
// losers to cancel, and when it is over. Time only comes in as `now`; the race is a timer
// client (add it to the Host, or drive nextTimeout/onTimeout yourself).
//
// Order and timing:
// - RFC 8305 3: when the A answer comes first, wait up to resolutionDelayMs for the AAAA
//   (for the A when P < 0 makes IPv4 the first family); the first family's answer starts
//   the race at once.
// - RFC 8305 4: families interleave, firstAddressFamilyCount addresses of the first family
//   before the other's first; within a family, the DNS order. Addresses that arrive later
//   join the queue of their family.
// - The gap before an attempt (RFC 8305 5): attemptDelayMs after the previous attempt
//   started, clamped to [10, 2000] ms. With P (eyeballs.usePreference) the first family
//   follows the sign of P (IPv6 for P = 0) and the other family's first attempt comes
//   |P| x preferenceUnitMs after the first attempt instead: P replaces the delay between
//   the families' first attempts; RFC 8305's delay still separates all further ones. A
//   failed attempt lets the next one start at once.
// - Earlier attempts keep running when the next starts (not Node's abort at 250 ms); the
//   first to connect wins, the others are cancelled. With keepOtherFamily (MPTCP) the
//   earliest running attempt of the other family is kept instead, and reported when it
//   connects, so the owner can put its path on the winner's connection; one that has not
//   connected keepOtherFamilyWaitMs after the win is cancelled (the race stays a timer
//   client until then: `settled`).
// - P is learned (Table 2) only from races in which both families had addresses, and only
//   with usePreference: a race IPv4 won because there was no AAAA says nothing about IPv6.

import type { EyeballsConfig } from '../config.js';
import type { TimerClient } from '../ip/host.js';
import { familyOf, type IpAddress, type IpFamily } from '../wire/address.js';
import type { PreferenceTable } from './preference.js';

/** An AAAA or A answer as the race needs it (a DnsResult fits). */
export type FamilyAnswer = { ok: true; addresses: readonly IpAddress[] } | { ok: false; code: string };

export type AttemptOutcome = 'running' | 'won' | 'failed' | 'cancelled' | 'kept' | 'extra';

export interface AttemptRecord {
  id: number;
  address: IpAddress;
  family: IpFamily;
  startedAt: number;
  endedAt?: number;
  /** running; won; failed; cancelled (a loser, reset); kept (the other family, running on for MPTCP); extra (a kept attempt that connected). */
  outcome: AttemptOutcome;
  code?: string;
  /** An extra attempt: whether the owner made its path a subflow of the winner's connection. */
  joined?: boolean;
}

/** Everything about one race, for stats: live while kept attempts run on. */
export interface RaceRecord {
  destination: string;
  startedAt: number;
  /** 'preference': the thesis's P; 'rfc8305': plain RFC 8305 delays. */
  mode: 'preference' | 'rfc8305';
  preferenceBefore: number;
  preferenceAfter: number;
  /** The family the race started with. */
  firstFamily: IpFamily;
  answers: { family: IpFamily; at: number; addresses?: number; code?: string }[];
  attempts: AttemptRecord[];
  winner?: AttemptRecord;
  finishedAt?: number;
  /** Why the race failed. */
  code?: string;
}

export type RaceOutcome =
  | { ok: true; winner: AttemptRecord; kept: AttemptRecord[]; record: RaceRecord }
  | { ok: false; code: string; record: RaceRecord };

export interface RaceOwner {
  /** Starts a connection attempt to `address`; returns the id the race will use for it. */
  startAttempt(address: IpAddress, now: number): number;
  /** Resets attempt `id`: it lost. */
  cancel(id: number, now: number): void;
  /** The race is over: a winner (with kept attempts of the other family), or every attempt and lookup failed. */
  finished(outcome: RaceOutcome, now: number): void;
  /** A kept attempt connected after the winner (keepOtherFamily): the owner may make it an extra subflow. */
  extraConnected?(attempt: AttemptRecord, now: number): void;
}

export interface RaceOptions {
  /** The destination name: P is kept per name. */
  destination: string;
  /** Keep the other family's attempt when this one wins (the transport is MPTCP). */
  keepOtherFamily?: boolean;
}

/** RFC 8305 5: the Connection Attempt Delay MUST NOT be below 10 ms and SHOULD NOT exceed 2 s. */
export function attemptDelay(config: EyeballsConfig): number {
  return Math.max(10, Math.min(2000, config.attemptDelayMs));
}

export class HappyEyeballsRace implements TimerClient {
  readonly record: RaceRecord;
  private readonly queue: Record<IpFamily, IpAddress[]> = { 4: [], 6: [] };
  private readonly answered: Record<IpFamily, FamilyAnswer | undefined> = { 4: undefined, 6: undefined };
  private readonly byId = new Map<number, AttemptRecord>();
  private readonly first: IpFamily;
  private readonly usePreference: boolean;
  private resolutionDeadline: number | undefined;
  /** When kept attempts that have not connected are cancelled. */
  private keptDeadline: number | undefined;
  private started = false;
  private done = false;
  /** When the next attempt may start (Infinity until the race has started). */
  private nextDue = Infinity;
  private readonly hadAddresses: Record<IpFamily, boolean> = { 4: false, 6: false };
  /** Outcomes reported while owner.startAttempt runs, before its id is known. */
  private starting: { id: number; code?: string; now: number }[] | undefined;

  constructor(
    private readonly owner: RaceOwner,
    private readonly config: EyeballsConfig,
    private readonly preferences: PreferenceTable,
    private readonly opts: RaceOptions,
    now: number,
  ) {
    this.usePreference = config.usePreference;
    const p = preferences.get(opts.destination);
    this.first = this.usePreference && p < 0 ? 4 : 6;
    this.record = {
      destination: opts.destination,
      startedAt: now,
      mode: this.usePreference ? 'preference' : 'rfc8305',
      preferenceBefore: p,
      preferenceAfter: p,
      firstFamily: this.first,
      answers: [],
      attempts: [],
    };
  }

  get finished(): boolean {
    return this.done;
  }

  /** Over, and no kept attempt left waiting: the race needs no more events or timers. */
  get settled(): boolean {
    return this.done && !this.record.attempts.some((a) => a.outcome === 'kept');
  }

  /** The AAAA (family 6) or A (family 4) answer. A second answer for a family is ignored. */
  onAnswer(family: IpFamily, answer: FamilyAnswer, now: number): void {
    if (this.answered[family] || this.done) return;
    this.answered[family] = answer;
    const addresses = answer.ok ? answer.addresses.filter((a) => familyOf(a) === family) : [];
    this.record.answers.push(answer.ok ? { family, at: now, addresses: addresses.length } : { family, at: now, code: answer.code });
    this.queue[family].push(...addresses);
    if (addresses.length > 0) this.hadAddresses[family] = true;
    if (!this.started) {
      if (family === this.first || this.answered[this.first]) this.begin(now);
      else if (addresses.length > 0) this.resolutionDeadline = now + this.config.resolutionDelayMs;
    } else {
      this.schedule(now);
    }
    this.step(now);
  }

  attemptSucceeded(id: number, now: number): void {
    if (this.starting && !this.byId.has(id)) return void this.starting.push({ id, now });
    const a = this.byId.get(id);
    if (!a || a.outcome === 'failed' || a.outcome === 'cancelled') return;
    if (this.record.winner) {
      if (a.outcome === 'kept') {
        this.end(a, 'extra', now);
        this.owner.extraConnected?.(a, now);
      }
      return;
    }
    this.end(a, 'won', now);
    this.record.winner = a;
    if (this.usePreference && this.hadAddresses[4] && this.hadAddresses[6]) {
      this.record.preferenceAfter = this.preferences.learn(this.opts.destination, a.family);
    }
    let keep: AttemptRecord | undefined;
    for (const other of this.record.attempts) {
      if (other.outcome !== 'running') continue;
      if (this.opts.keepOtherFamily && !keep && other.family !== a.family) {
        keep = other;
        other.outcome = 'kept';
        continue;
      }
      this.end(other, 'cancelled', now);
      this.owner.cancel(other.id, now);
    }
    if (keep) this.keptDeadline = now + this.config.keepOtherFamilyWaitMs;
    this.finish({ ok: true, winner: a, kept: keep ? [keep] : [], record: this.record }, now);
  }

  attemptFailed(id: number, code: string, now: number): void {
    if (this.starting && !this.byId.has(id)) return void this.starting.push({ id, code, now });
    const a = this.byId.get(id);
    if (!a || (a.outcome !== 'running' && a.outcome !== 'kept')) return;
    this.end(a, 'failed', now);
    a.code = code;
    if (this.done) return;
    // RFC 8305 5: a failed attempt does not wait out the delay: the next one starts now.
    this.nextDue = Math.min(this.nextDue, now);
    this.step(now);
  }

  /** Cancels the kept attempts (the winner cannot take another subflow, or waited long enough). */
  dropKept(now: number): void {
    this.keptDeadline = undefined;
    for (const a of this.record.attempts) {
      if (a.outcome !== 'kept') continue;
      this.end(a, 'cancelled', now);
      this.owner.cancel(a.id, now);
    }
  }

  /** The owner gives up (the application closed the socket): every running attempt is cancelled. */
  abort(now: number): void {
    if (this.done) return void this.dropKept(now);
    for (const a of this.record.attempts) {
      if (a.outcome !== 'running') continue;
      this.end(a, 'cancelled', now);
      this.owner.cancel(a.id, now);
    }
    this.finish({ ok: false, code: 'ECANCELED', record: this.record }, now);
  }

  nextTimeout(): number | undefined {
    if (this.done) return this.settled ? undefined : this.keptDeadline;
    if (!this.started) return this.resolutionDeadline;
    return this.nextCandidate() && this.nextDue !== Infinity ? this.nextDue : undefined;
  }

  onTimeout(now: number): void {
    if (this.done) {
      if (this.keptDeadline !== undefined && now >= this.keptDeadline) this.dropKept(now);
      return;
    }
    if (!this.started) {
      if (this.resolutionDeadline !== undefined && now >= this.resolutionDeadline) this.begin(now);
    }
    this.step(now);
  }

  // ---- internals ---------------------------------------------------------------------------

  private begin(now: number): void {
    this.started = true;
    this.resolutionDeadline = undefined;
    this.nextDue = now;
  }

  /** Starts every attempt that is due, then checks whether the race is lost. */
  private step(now: number): void {
    while (!this.done && this.started && this.nextDue <= now) {
      const family = this.nextCandidate();
      if (family === undefined) break;
      const address = this.queue[family].shift()!;
      const a: AttemptRecord = { id: -1, address, family, startedAt: now, outcome: 'running' };
      this.record.attempts.push(a);
      this.starting = [];
      a.id = this.owner.startAttempt(address, now);
      this.byId.set(a.id, a);
      const early = this.starting;
      this.starting = undefined;
      this.schedule(now);
      // Outcomes the owner reported before startAttempt returned (a connect that failed at once).
      for (const e of early) {
        if (e.code === undefined) this.attemptSucceeded(e.id, e.now);
        else this.attemptFailed(e.id, e.code, e.now);
      }
    }
    this.checkLost(now);
  }

  /** The family of the next attempt (RFC 8305 4 interleaving), undefined when no address waits. */
  private nextCandidate(): IpFamily | undefined {
    const attempts = this.record.attempts;
    let family: IpFamily;
    if (attempts.length < this.config.firstAddressFamilyCount) family = this.first;
    else family = attempts[attempts.length - 1]!.family === 6 ? 4 : 6;
    if (this.queue[family].length > 0) return family;
    const alternative: IpFamily = family === 6 ? 4 : 6;
    return this.queue[alternative].length > 0 ? alternative : undefined;
  }

  /** Sets when the next attempt is due, after the latest start. */
  private schedule(now: number): void {
    const attempts = this.record.attempts;
    const last = attempts[attempts.length - 1];
    const family = this.nextCandidate();
    if (!last || family === undefined) return;
    let due: number;
    const opposite = attempts.find((a) => a.family !== family);
    if (this.usePreference && opposite && !attempts.some((a) => a.family === family)) {
      // P sets the gap between the two families' first attempts, whichever answer came first.
      due = opposite.startedAt + Math.abs(this.record.preferenceBefore) * this.config.preferenceUnitMs;
    } else {
      due = last.startedAt + attemptDelay(this.config);
    }
    this.nextDue = last.outcome === 'failed' ? Math.min(due, now) : due;
  }

  /** Every lookup answered, no address left, nothing running: the race is lost. */
  private checkLost(now: number): void {
    if (this.done || !this.answered[4] || !this.answered[6]) return;
    if (this.queue[4].length > 0 || this.queue[6].length > 0) return;
    if (this.record.attempts.some((a) => a.outcome === 'running')) return;
    const failed = [...this.record.attempts].reverse().find((a) => a.outcome === 'failed');
    this.finish({ ok: false, code: failed?.code ?? this.lookupCode(), record: this.record }, now);
  }

  /** Why there was no address: NXDOMAIN if either lookup said so, else the first real error. */
  private lookupCode(): string {
    const codes = [this.answered[6], this.answered[4]].map((a) => (a && !a.ok ? a.code : 'ENODATA'));
    return codes.find((c) => c === 'ENOTFOUND') ?? codes.find((c) => c !== 'ENODATA') ?? 'ENODATA';
  }

  private end(a: AttemptRecord, outcome: AttemptOutcome, now: number): void {
    a.outcome = outcome;
    a.endedAt = now;
  }

  private finish(outcome: RaceOutcome, now: number): void {
    this.done = true;
    this.record.finishedAt = now;
    if (!outcome.ok) this.record.code = outcome.code;
    this.owner.finished(outcome, now);
  }
}
