// Happy Eyeballs races on a virtual clock: DNS answers and connection outcomes are events
// at chosen times, and the race's own timers fire when it asks. The scenarios are the
// thesis's chapter 6 (P = 0, P = 1 with IPv6 slow, P = -1 with IPv4 slow, IPv6 blackholed)
// and RFC 8305's (resolution delay, interleaving, attempt delay).

import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type EyeballsConfig } from '../../stack/config.js';
import { PreferenceTable, updatePreference } from '../../stack/eyeballs/preference.js';
import { HappyEyeballsRace, type FamilyAnswer, type RaceOutcome } from '../../stack/eyeballs/race.js';
import { formatAddress, parseAddress, type IpAddress, type IpFamily } from '../../stack/wire/address.js';
import { dnsWorld } from '../dns/dns-sim.js';

const V6 = ['fd00:1:2::20', 'fd00:2:2::20'];
const V4 = ['198.19.1.20', '198.19.2.20'];

/** How a connection attempt to an address ends: after `ms`, connected or failed; or never. */
type Fate = { ms: number; ok: boolean } | 'never';

interface Scenario {
  p?: number;
  config?: Partial<EyeballsConfig>;
  /** DNS answers: family, time, addresses (or an error code). */
  answers: { family: IpFamily; at: number; addresses?: string[]; code?: string }[];
  /** Fate of an attempt, by address text. */
  fate: (address: string) => Fate;
  keepOtherFamily?: boolean;
  preferences?: PreferenceTable;
  until?: number;
}

function race(s: Scenario) {
  const config: EyeballsConfig = { ...DEFAULT_CONFIG.eyeballs, ...s.config };
  const preferences = s.preferences ?? new PreferenceTable(config);
  if (s.p !== undefined) preferences.set('bob.lab.test', s.p);
  const events: { at: number; seq: number; run: () => void }[] = [];
  let seq = 0;
  const at = (time: number, run: () => void) => events.push({ at: time, seq: seq++, run });
  const log: string[] = [];
  let outcome: RaceOutcome | undefined;
  let nextId = 1;
  const owner = {
    startAttempt(address: IpAddress, now: number): number {
      const id = nextId++;
      const text = formatAddress(address);
      log.push(`${now} start ${text}`);
      const fate = s.fate(text);
      if (fate !== 'never') at(now + fate.ms, () => (fate.ok ? r.attemptSucceeded(id, clock) : r.attemptFailed(id, 'ECONNREFUSED', clock)));
      return id;
    },
    cancel(id: number, now: number) {
      log.push(`${now} cancel ${formatAddress(r.record.attempts.find((a) => a.id === id)!.address)}`);
    },
    finished(o: RaceOutcome, now: number) {
      outcome = o;
      log.push(`${now} ${o.ok ? `won ${formatAddress(o.winner.address)}` : `failed ${o.code}`}`);
    },
    extraConnected(a: { address: IpAddress }, now: number) {
      log.push(`${now} extra ${formatAddress(a.address)}`);
    },
  };
  let clock = 0;
  const r = new HappyEyeballsRace(owner, config, preferences, { destination: 'bob.lab.test', keepOtherFamily: s.keepOtherFamily ?? false }, 0);
  for (const a of s.answers) {
    const answer: FamilyAnswer = a.addresses ? { ok: true, addresses: a.addresses.map((t) => parseAddress(t)!) } : { ok: false, code: a.code! };
    at(a.at, () => r.onAnswer(a.family, answer, clock));
  }
  const until = s.until ?? 10_000;
  for (;;) {
    events.sort((x, y) => x.at - y.at || x.seq - y.seq);
    const timer = r.nextTimeout();
    const next = events[0];
    if (timer !== undefined && (!next || timer < next.at) && timer <= until) {
      expect(timer).toBeGreaterThanOrEqual(clock);
      clock = timer;
      r.onTimeout(clock);
    } else if (next && next.at <= until) {
      events.shift();
      clock = next.at;
      next.run();
    } else break;
  }
  return { log, outcome, record: r.record, preferences, race: r };
}

const both = (at = 0) => [
  { family: 6 as const, at, addresses: [V6[0]!] },
  { family: 4 as const, at, addresses: [V4[0]!] },
];
const byFamily = (v6: Fate, v4: Fate) => (address: string): Fate => (address.includes(':') ? v6 : v4);

describe("the thesis's P (Table 2)", () => {
  it('updates P like the C module: +1/-1 toward the winner, halved toward 0 (truncating) against it', () => {
    expect([0, 1, 5, -1, -5].map((p) => updatePreference(p, 6))).toEqual([1, 2, 6, 0, -2]);
    expect([0, -1, -5, 1, 5].map((p) => updatePreference(p, 4))).toEqual([-1, -2, -6, 0, 2]);
  });

  it('keeps P per destination, bounded in size and value', () => {
    const t = new PreferenceTable({ ...DEFAULT_CONFIG.eyeballs, preferenceCacheSize: 2, maxPreference: 3, initialPreference: 0 });
    expect(t.learn('a', 6)).toBe(1);
    expect(t.learn('b', 4)).toBe(-1);
    t.learn('a', 6);
    t.learn('c', 6);
    expect([t.get('a'), t.get('b'), t.get('c'), t.size]).toEqual([2, 0, 1, 2]); // b was the least recently raced
    for (let i = 0; i < 10; i++) t.learn('a', 6);
    expect(t.get('a')).toBe(3);
  });
});

describe("chapter 6 scenarios", () => {
  it('P = 0: both families at once, IPv6 an instant first; the winner moves P to +1 (or -1)', () => {
    const v6wins = race({ p: 0, answers: both(), fate: byFamily({ ms: 1, ok: true }, { ms: 1, ok: true }) });
    expect(v6wins.log).toEqual(['0 start fd00:1:2::20', '0 start 198.19.1.20', '1 cancel 198.19.1.20', '1 won fd00:1:2::20']);
    expect(v6wins.record).toMatchObject({ preferenceBefore: 0, preferenceAfter: 1, firstFamily: 6, mode: 'preference' });
    const v4wins = race({ p: 0, answers: both(), fate: byFamily({ ms: 5, ok: true }, { ms: 1, ok: true }) });
    expect(v4wins.log.slice(2)).toEqual(['1 cancel fd00:1:2::20', '1 won 198.19.1.20']);
    expect(v4wins.record.preferenceAfter).toBe(-1);
  });

  it('P = 1, IPv6 1000 ms slower: IPv6 first, IPv4 10 ms later, IPv4 wins, P halves to 0', () => {
    const r = race({ p: 1, answers: both(), fate: byFamily({ ms: 1001, ok: true }, { ms: 1, ok: true }) });
    expect(r.log).toEqual(['0 start fd00:1:2::20', '10 start 198.19.1.20', '11 cancel fd00:1:2::20', '11 won 198.19.1.20']);
    expect(r.record).toMatchObject({ preferenceBefore: 1, preferenceAfter: 0 });
    expect(r.preferences.get('bob.lab.test')).toBe(0);
    expect(r.record.attempts.map((a) => [a.startedAt, a.outcome])).toEqual([
      [0, 'cancelled'],
      [10, 'won'],
    ]);
  });

  it('P = -1, IPv4 1000 ms slower: the mirror image', () => {
    const r = race({ p: -1, answers: both(), fate: byFamily({ ms: 1, ok: true }, { ms: 1001, ok: true }) });
    expect(r.log).toEqual(['0 start 198.19.1.20', '10 start fd00:1:2::20', '11 cancel 198.19.1.20', '11 won fd00:1:2::20']);
    expect(r.record).toMatchObject({ preferenceBefore: -1, preferenceAfter: 0, firstFamily: 4 });
  });

  it('P = 1 with both paths healthy: IPv6 connects before IPv4 is due, and P grows', () => {
    const r = race({ p: 1, answers: both(), fate: byFamily({ ms: 1, ok: true }, { ms: 1, ok: true }) });
    expect(r.log).toEqual(['0 start fd00:1:2::20', '1 won fd00:1:2::20']);
    expect(r.record.preferenceAfter).toBe(2);
  });

  it('IPv6 blackholed: P learns IPv4, and the next race starts with IPv4 and never needs IPv6', () => {
    const preferences = new PreferenceTable(DEFAULT_CONFIG.eyeballs);
    const fate = byFamily('never', { ms: 1, ok: true });
    const first = race({ answers: both(), fate, preferences });
    expect(first.log).toEqual(['0 start fd00:1:2::20', '0 start 198.19.1.20', '1 cancel fd00:1:2::20', '1 won 198.19.1.20']);
    const second = race({ answers: both(), fate, preferences });
    expect(second.log).toEqual(['0 start 198.19.1.20', '1 won 198.19.1.20']);
    expect([first.record.preferenceAfter, second.record.preferenceAfter]).toEqual([-1, -2]);
    // A learned IPv6 preference of 5: IPv4 after 50 ms, then P = 2.
    const learned = race({ p: 5, answers: both(), fate });
    expect(learned.log).toEqual(['0 start fd00:1:2::20', '50 start 198.19.1.20', '51 cancel fd00:1:2::20', '51 won 198.19.1.20']);
    expect(learned.record.preferenceAfter).toBe(2);
  });

  it('IPv6 blackholed with plain RFC 8305: IPv4 after the 250 ms attempt delay, P untouched', () => {
    const r = race({ p: 3, config: { usePreference: false }, answers: both(), fate: byFamily('never', { ms: 1, ok: true }) });
    expect(r.log).toEqual(['0 start fd00:1:2::20', '250 start 198.19.1.20', '251 cancel fd00:1:2::20', '251 won 198.19.1.20']);
    expect(r.record).toMatchObject({ mode: 'rfc8305', preferenceBefore: 3, preferenceAfter: 3 });
  });
});

describe('RFC 8305 ordering and timing', () => {
  const all = [
    { family: 6 as const, at: 0, addresses: V6 },
    { family: 4 as const, at: 0, addresses: V4 },
  ];

  it('interleaves the families (First Address Family Count 1), 250 ms apart, earlier attempts running on', () => {
    const r = race({ config: { usePreference: false }, answers: all, fate: () => 'never' });
    expect(r.log).toEqual(['0 start fd00:1:2::20', '250 start 198.19.1.20', '500 start fd00:2:2::20', '750 start 198.19.2.20']);
    expect(r.record.attempts.every((a) => a.outcome === 'running')).toBe(true);
    expect(r.outcome).toBeUndefined();
  });

  it('with P the families first attempts are |P| x 10 ms apart, further ones 250 ms', () => {
    const r = race({ p: 3, answers: all, fate: () => 'never' });
    expect(r.log).toEqual(['0 start fd00:1:2::20', '30 start 198.19.1.20', '280 start fd00:2:2::20', '530 start 198.19.2.20']);
  });

  it('a failed attempt starts the next at once; when all fail the race fails with the last error', () => {
    const r = race({ config: { usePreference: false }, answers: all, fate: (a) => ({ ms: a === V6[0] ? 5 : 2000, ok: false }) });
    expect(r.log).toEqual(['0 start fd00:1:2::20', '5 start 198.19.1.20', '255 start fd00:2:2::20', '505 start 198.19.2.20', '2505 failed ECONNREFUSED']);
    expect(r.outcome).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
    expect(r.record.finishedAt).toBe(2505);
  });

  it('honours the attempt delay bounds of RFC 8305 5 (10 ms to 2 s)', () => {
    const fast = race({ config: { usePreference: false, attemptDelayMs: 1 }, answers: all, fate: () => 'never' });
    expect(fast.log.map((l) => Number(l.split(' ')[0]))).toEqual([0, 10, 20, 30]);
    const slow = race({ config: { usePreference: false, attemptDelayMs: 60_000 }, answers: all, fate: () => 'never' });
    expect(slow.log.map((l) => Number(l.split(' ')[0]))).toEqual([0, 2000, 4000, 6000]);
  });

  it('resolution delay: an A answer waits up to 50 ms for the AAAA, which then goes first', () => {
    const soon = race({
      config: { usePreference: false },
      answers: [
        { family: 4, at: 0, addresses: [V4[0]!] },
        { family: 6, at: 20, addresses: [V6[0]!] },
      ],
      fate: () => 'never',
    });
    expect(soon.log).toEqual(['20 start fd00:1:2::20', '270 start 198.19.1.20']);
    const late = race({
      config: { usePreference: false },
      answers: [
        { family: 4, at: 0, addresses: [V4[0]!] },
        { family: 6, at: 80, addresses: [V6[0]!] },
      ],
      fate: () => 'never',
    });
    expect(late.log).toEqual(['50 start 198.19.1.20', '300 start fd00:1:2::20']);
    // With P = 0 the late AAAA's address goes at once: P sets the gap between the families.
    const lateP = race({
      p: 0,
      answers: [
        { family: 4, at: 0, addresses: [V4[0]!] },
        { family: 6, at: 80, addresses: [V6[0]!] },
      ],
      fate: () => 'never',
    });
    expect(lateP.log).toEqual(['50 start 198.19.1.20', '80 start fd00:1:2::20']);
  });

  it('resolution delay ends when the AAAA answer says there is none; P is not learned from a one-family race', () => {
    const r = race({
      p: 4,
      answers: [
        { family: 4, at: 0, addresses: [V4[0]!] },
        { family: 6, at: 20, code: 'ENODATA' },
      ],
      fate: () => ({ ms: 1, ok: true }),
    });
    expect(r.log).toEqual(['20 start 198.19.1.20', '21 won 198.19.1.20']);
    expect(r.record.preferenceAfter).toBe(4);
  });

  it('under P < 0 the wait is for the A answer instead', () => {
    const r = race({
      p: -2,
      answers: [
        { family: 6, at: 0, addresses: [V6[0]!] },
        { family: 4, at: 30, addresses: [V4[0]!] },
      ],
      fate: () => 'never',
    });
    expect(r.log).toEqual(['30 start 198.19.1.20', '50 start fd00:1:2::20']);
  });

  it('fails with ENOTFOUND when both lookups fail, without any attempt', () => {
    const r = race({
      answers: [
        { family: 6, at: 0, code: 'ENODATA' },
        { family: 4, at: 3, code: 'ENOTFOUND' },
      ],
      fate: () => 'never',
    });
    expect(r.log).toEqual(['3 failed ENOTFOUND']);
  });
});

describe('losers', () => {
  it('MPTCP: keeps the other family running instead of resetting it, and reports it when it connects', () => {
    const r = race({ p: 0, keepOtherFamily: true, answers: both(), fate: byFamily({ ms: 1, ok: true }, { ms: 3, ok: true }) });
    expect(r.log).toEqual(['0 start fd00:1:2::20', '0 start 198.19.1.20', '1 won fd00:1:2::20', '3 extra 198.19.1.20']);
    expect(r.outcome).toMatchObject({ ok: true, kept: [{ family: 4 }] });
    expect(r.record.attempts.map((a) => a.outcome)).toEqual(['won', 'extra']);
    expect([r.race.settled, r.race.nextTimeout()]).toEqual([true, undefined]);
  });

  it('resets a kept attempt that has not connected keepOtherFamilyWaitMs after the win, then needs no timer', () => {
    const r = race({ p: 0, keepOtherFamily: true, config: { keepOtherFamilyWaitMs: 500 }, answers: both(), fate: byFamily({ ms: 1, ok: true }, 'never') });
    expect(r.log).toEqual(['0 start fd00:1:2::20', '0 start 198.19.1.20', '1 won fd00:1:2::20', '501 cancel 198.19.1.20']);
    expect(r.record.attempts.map((a) => [a.outcome, a.endedAt])).toEqual([['won', 1], ['cancelled', 501]]);
    expect([r.race.settled, r.race.nextTimeout()]).toEqual([true, undefined]);
  });

  it('dropKept resets the kept attempt at once (a winner that cannot take a subflow)', () => {
    const r = race({ p: 0, keepOtherFamily: true, answers: both(), fate: byFamily({ ms: 1, ok: true }, 'never'), until: 5 });
    expect(r.race.settled).toBe(false);
    r.race.dropKept(5);
    expect(r.log.slice(-1)).toEqual(['5 cancel 198.19.1.20']);
    expect(r.race.settled).toBe(true);
  });

  it('keeps only one attempt of the other family and resets the rest', () => {
    const r = race({
      p: 0,
      keepOtherFamily: true,
      config: { attemptDelayMs: 10 },
      answers: [
        { family: 6, at: 0, addresses: V6 },
        { family: 4, at: 0, addresses: V4 },
      ],
      fate: (a) => (a === V6[1] ? { ms: 1, ok: true } : 'never'),
      until: 1000,
    });
    expect(r.log).toEqual([
      '0 start fd00:1:2::20',
      '0 start 198.19.1.20',
      '10 start fd00:2:2::20',
      '11 cancel fd00:1:2::20',
      '11 won fd00:2:2::20',
    ]);
    expect(r.record.attempts.map((a) => a.outcome)).toEqual(['cancelled', 'kept', 'won']);
  });

  it('accepts an outcome reported from inside startAttempt (a connect that fails at once)', () => {
    const config = DEFAULT_CONFIG.eyeballs;
    const log: string[] = [];
    let id = 0;
    const r: HappyEyeballsRace = new HappyEyeballsRace(
      {
        startAttempt: (address, now) => {
          const mine = ++id;
          if (address.length === 16) r.attemptFailed(mine, 'ENETUNREACH', now);
          else r.attemptSucceeded(mine, now);
          log.push(`start ${formatAddress(address)}`);
          return mine;
        },
        cancel: () => log.push('cancel'),
        finished: (o) => log.push(o.ok ? `won ${formatAddress(o.winner.address)}` : o.code),
      },
      { ...config, usePreference: false },
      new PreferenceTable(config),
      { destination: 'bob.lab.test' },
      0,
    );
    r.onAnswer(4, { ok: true, addresses: [parseAddress(V4[0]!)!] }, 0);
    r.onAnswer(6, { ok: true, addresses: [parseAddress(V6[0]!)!] }, 0);
    expect(log).toEqual(['start fd00:1:2::20', 'start 198.19.1.20', 'won 198.19.1.20']);
    expect(r.record.attempts.map((a) => [a.outcome, a.code])).toEqual([
      ['failed', 'ENETUNREACH'],
      ['won', undefined],
    ]);
  });
});

describe('wired to the resolver on the simulated network', () => {
  it('lookupBoth feeds the race, which runs on the Host as a timer client (the way the socket layer wires it)', () => {
    const w = dnsWorld({
      zone: { 'bob.lab.test': { A: V4, AAAA: V6, ttl: 60 } },
      config: { eyeballs: { initialPreference: 2 } },
    });
    const started: [number, string][] = [];
    let outcome: RaceOutcome | undefined;
    const race = new HappyEyeballsRace(
      {
        // The attempt's number (1, 2, ...) is its id.
        startAttempt: (address, now) => started.push([now, formatAddress(address)]),
        cancel: () => {},
        finished: (o) => (outcome = o),
      },
      w.client.config.eyeballs,
      new PreferenceTable(w.client.config.eyeballs),
      { destination: 'bob.lab.test' },
      w.net.now,
    );
    const removeTimer = w.client.addTimerClient(race);
    w.resolver.lookupBoth('bob.lab.test', w.net.now, (family, r, at) => race.onAnswer(family, r, at));
    w.net.run(300);
    // Both answers at 10 ms (5 ms path); IPv6 first, IPv4 2 x 10 ms later, the second IPv6 250 ms after that.
    expect(started).toEqual([
      [10, 'fd00:1:2::20'],
      [30, '198.19.1.20'],
      [280, 'fd00:2:2::20'],
    ]);
    race.attemptSucceeded(2, w.net.now);
    expect(outcome).toMatchObject({ ok: true, winner: { family: 4 }, record: { preferenceBefore: 2, preferenceAfter: 1 } });
    expect(race.nextTimeout()).toBeUndefined();
    removeTimer();
  });
});
