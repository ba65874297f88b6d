/**
 * One table of breaker cases, run against every breaker the library keeps: a provider's (the
 * credential statechart's `breaker` region), a pool's issuer breaker (the pool statechart's
 * `issuer` region, through the gate), the tabs' `TabBreaker`, and the fleet's (the coordination's
 * Lua scripts, `src/redis/scripts.ts`, run by the simulated Redis). Each case is a list of attempts
 * (a failure, perhaps with `Retry-After`, or an answer) at given instants, and what the breaker must
 * say at given instants after: whether it lets the next attempt through, and until when it is open.
 *
 * The four are one definition (`machines/breaker.ts`): the statecharts build their regions from it,
 * `TabBreaker` applies its rules, and the Lua scripts are those rules written for Redis. Where they
 * still differ, it is in how the owner keeps half-open to one probe, not in the rules: the credential
 * has one mint in flight, the pool marks its probe (`test/pool/pool-issuer-gate.test.ts`), the tabs
 * hold a Web Lock and the fleet a lease (their simulations and real-process tests). The cases of an
 * attempt sent before the breaker opened and settled after are not run against a provider: with one
 * mint in flight, it never meets them (its region leaves that transition out: `heardWhileOpen: false`).
 */
import { describe, expect, it } from 'vitest';
import { CredentialError, createCredentialPool, createCredentialProvider, type MintContext, type MintedToken } from '../../src/index.js';
import { TabBreaker } from '../../src/browser/tab-breaker.js';
import { ManualClock } from '../../src/testing/index.js';
import { PUBLISH_TOKEN, RECORD_FAILURE } from '../../src/redis/scripts.js';
import { retryAfterCooldownMs } from '../../machines/policy.js';
import { SimRedis } from '../simulation/sim-redis.js';
import { flush } from '../helpers.js';

const THRESHOLD = 3;
const COOLDOWN = 10_000;
const MAX_RETRY_AFTER = 60_000;
const MINT_TIMEOUT = 5_000;
const START = 1_000_000;

/** An attempt let through at `sentAt` (default: `at`) that fails or is answered at `at`. */
type Attempt = { readonly at: number; readonly outcome: 'failure' | 'answer'; readonly retryAfterMs?: number; readonly sentAt?: number };
type Expectation = { readonly at: number; readonly admits: boolean; readonly openUntil?: number | null };
interface BreakerCase {
  readonly name: string;
  readonly attempts: readonly Attempt[];
  readonly then: readonly Expectation[];
  /** Two attempts in flight at once: not a provider's case. */
  readonly concurrent?: true;
}

const fail = (at: number, retryAfterMs?: number): Attempt => ({ at: START + at, outcome: 'failure', ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
const answer = (at: number): Attempt => ({ at: START + at, outcome: 'answer' });
/** An attempt let through at `sentAt` that settles later, at `at`. */
const late = (sentAt: number, at: number, outcome: 'failure' | 'answer', retryAfterMs?: number): Attempt => ({
  ...(outcome === 'answer' ? answer(at) : fail(at, retryAfterMs)),
  sentAt: START + sentAt,
});
const expectAt = (at: number, admits: boolean, openUntil?: number | null): Expectation => ({
  at: START + at,
  admits,
  ...(openUntil === undefined ? {} : { openUntil: openUntil === null ? null : START + openUntil }),
});

const CASES: readonly BreakerCase[] = [
  { name: 'below the threshold it stays closed', attempts: [fail(0), fail(100)], then: [expectAt(200, true, null)] },
  {
    name: 'the threshold opens it for the cooldown, counted from the failure that reached it',
    attempts: [fail(0), fail(100), fail(200)],
    then: [expectAt(300, false, 200 + COOLDOWN), expectAt(200 + COOLDOWN - 1, false), expectAt(200 + COOLDOWN, true)],
  },
  {
    name: 'an answer resets the count',
    attempts: [fail(0), fail(100), answer(200), fail(300), fail(400)],
    then: [expectAt(500, true, null)],
  },
  {
    name: 'after the cooldown, a failed probe opens it for another cooldown',
    attempts: [fail(0), fail(100), fail(200), fail(200 + COOLDOWN)],
    then: [expectAt(201 + COOLDOWN, false, 200 + 2 * COOLDOWN), expectAt(200 + 2 * COOLDOWN, true)],
  },
  {
    name: 'after the cooldown, an answered probe closes it and clears the count',
    attempts: [fail(0), fail(100), fail(200), answer(200 + COOLDOWN), fail(300 + COOLDOWN), fail(400 + COOLDOWN)],
    then: [expectAt(500 + COOLDOWN, true, null)],
  },
  {
    name: 'a lone Retry-After opens it for what the issuer asked, not the cooldown',
    attempts: [fail(0, 7_000)],
    then: [expectAt(1, false, 7_000), expectAt(6_999, false), expectAt(7_000, true)],
  },
  { name: 'a lone Retry-After is capped by maxRetryAfterMs', attempts: [fail(0, 120_000)], then: [expectAt(1, false, MAX_RETRY_AFTER), expectAt(MAX_RETRY_AFTER, true)] },
  {
    name: 'a Retry-After on the failure that reaches the threshold: the later end wins (the cooldown)',
    attempts: [fail(0), fail(100), fail(200, 2_000)],
    then: [expectAt(300, false, 200 + COOLDOWN), expectAt(200 + COOLDOWN, true)],
  },
  {
    name: 'a Retry-After on the failure that reaches the threshold: the later end wins (the Retry-After)',
    attempts: [fail(0), fail(100), fail(200, 30_000)],
    then: [expectAt(300, false, 30_200), expectAt(30_199, false), expectAt(30_200, true)],
  },
  {
    name: 'failures count however far apart: consecutive, not recent',
    attempts: [fail(0), fail(5 * COOLDOWN), fail(20 * COOLDOWN)],
    then: [expectAt(20 * COOLDOWN + 1, false, 21 * COOLDOWN), expectAt(21 * COOLDOWN, true)],
  },
  {
    name: 'a failed probe after a lone Retry-After opens it for the cooldown, below the threshold',
    attempts: [fail(0, 7_000), fail(7_000)],
    then: [expectAt(7_001, false, 7_000 + COOLDOWN), expectAt(7_000 + COOLDOWN, true)],
  },
  {
    name: 'a failed probe with a Retry-After shorter than the cooldown opens it for the cooldown',
    attempts: [fail(0, 7_000), fail(7_000, 2_000)],
    then: [expectAt(7_001, false, 7_000 + COOLDOWN)],
  },
  {
    name: 'a failed probe with a Retry-After longer than the cooldown opens it until then',
    attempts: [fail(0), fail(100), fail(200), fail(200 + COOLDOWN, 40_000)],
    then: [expectAt(201 + COOLDOWN, false, 200 + COOLDOWN + 40_000)],
  },
  {
    name: 'a failure heard while open, of an attempt sent before it opened, changes nothing',
    concurrent: true,
    attempts: [late(0, 300, 'failure'), fail(0), fail(100), fail(200)],
    then: [expectAt(301, false, 200 + COOLDOWN), expectAt(200 + COOLDOWN, true)],
  },
  {
    name: 'a Retry-After heard while open that ends sooner changes nothing',
    concurrent: true,
    attempts: [late(0, 300, 'failure', 2_000), fail(0), fail(100), fail(200)],
    then: [expectAt(301, false, 200 + COOLDOWN), expectAt(200 + COOLDOWN, true)],
  },
  {
    name: 'a Retry-After heard while open that ends later lengthens it',
    concurrent: true,
    attempts: [late(0, 300, 'failure', 30_000), fail(0), fail(100), fail(200)],
    then: [expectAt(301, false, 30_300), expectAt(30_299, false), expectAt(30_300, true)],
  },
  {
    name: 'an answer heard while open, to an attempt sent before it opened, leaves it open',
    concurrent: true,
    attempts: [late(0, 300, 'answer'), fail(0), fail(100), fail(200)],
    then: [expectAt(301, false, 200 + COOLDOWN), expectAt(200 + COOLDOWN, true)],
  },
  {
    name: 'after an answer heard while open, the probe’s failure reopens it',
    concurrent: true,
    attempts: [late(0, 300, 'answer'), fail(0), fail(100), fail(200), fail(200 + COOLDOWN)],
    then: [expectAt(201 + COOLDOWN, false, 200 + 2 * COOLDOWN)],
  },
];

/** A breaker driven by attempts at instants, asked at instants after. */
interface BreakerUnderTest {
  /** Attempt `id` asks to go through at `at`; it must be let through. */
  send(id: number, at: number): Promise<void>;
  /** Attempt `id`, let through earlier, fails or is answered. */
  settle(id: number, attempt: Attempt): Promise<void>;
  /** Whether an attempt at `at` would be let through, and until when the breaker is open (`null`: not open). */
  ask(at: number): Promise<{ admits: boolean; openUntil: number | null }>;
  stop(): Promise<void>;
}

/** Each attempt sent at its `sentAt` and settled at its `at`, in the order of those instants (a case's order breaking ties). */
async function drive(breaker: BreakerUnderTest, attempts: readonly Attempt[]): Promise<void> {
  const steps = attempts.flatMap((attempt, id) => [
    { at: attempt.sentAt ?? attempt.at, order: 2 * id, run: () => breaker.send(id, attempt.sentAt ?? attempt.at) },
    { at: attempt.at, order: 2 * id + 1, run: () => breaker.settle(id, attempt) },
  ]);
  steps.sort((one, other) => one.at - other.at || one.order - other.order);
  for (const step of steps) await step.run();
}

const failure = (retryAfterMs?: number) => Object.assign(new Error('issuer down'), retryAfterMs === undefined ? {} : { retryAfterMs });

/** A mint the test settles: each attempt's outcome, said when the test says. */
type PendingMint = { resolve(token: MintedToken): void; reject(error: unknown): void };

/**
 * A statechart's breaker, driven on a `ManualClock`: an attempt is a request (`ask`) that must start
 * a mint, which then fails or answers with a token living `lifetimeMs`; its state is read from `state`.
 */
function statechartBreaker(setup: {
  clock: ManualClock;
  pending: PendingMint[];
  request: () => Promise<unknown>;
  lifetimeMs: number;
  state: () => { breaker: 'closed' | 'open' | 'halfOpen'; openUntil: number | null };
  stop: () => Promise<void>;
}): BreakerUnderTest {
  const { clock, pending } = setup;
  const inFlight = new Map<number, { mint: PendingMint; asked: Promise<unknown> }>();
  const moveTo = async (at: number) => {
    if (at > clock.now()) await clock.advanceAsync(at - clock.now());
    await flush();
  };
  return {
    async send(id, at) {
      await moveTo(at);
      const before = pending.length;
      const asked = setup.request().catch(() => null);
      await flush();
      if (pending.length === before) throw new Error(`the attempt at ${at - START} was not let through`);
      inFlight.set(id, { mint: pending.at(-1)!, asked });
    },
    async settle(id, { at, outcome, retryAfterMs }) {
      await moveTo(at);
      const { mint, asked } = inFlight.get(id)!;
      if (outcome === 'answer') mint.resolve({ secret: `token@${at}`, expiresAt: at + setup.lifetimeMs });
      else mint.reject(failure(retryAfterMs));
      await asked;
      await flush();
    },
    async ask(at) {
      await moveTo(at);
      const { breaker, openUntil } = setup.state();
      // open until its cooldown's end: at that instant the next request is the probe
      const open = breaker === 'open' && (openUntil === null || at < openUntil);
      return { admits: !open, openUntil: open ? openUntil : null };
    },
    stop: setup.stop,
  };
}

/** A provider's breaker: each attempt is a caller of an expired token; the mint it starts fails or answers. */
async function providerBreaker(): Promise<BreakerUnderTest> {
  const clock = new ManualClock(START);
  const pending: PendingMint[] = [];
  const provider = await createCredentialProvider({
    mint: () => new Promise<MintedToken>((resolve, reject) => pending.push({ resolve, reject })),
    clock,
    firstMint: 'lazy',
    breakerThreshold: THRESHOLD,
    breakerCooldownMs: COOLDOWN,
    maxRetryAfterMs: MAX_RETRY_AFTER,
    mintTimeoutMs: MINT_TIMEOUT,
  });
  // a token that has expired by the next attempt, so that each attempt mints
  return statechartBreaker({ clock, pending, request: () => provider.currentToken(), lifetimeMs: 1, state: () => provider.toJSON(), stop: () => provider.stop() });
}

/** A pool's issuer breaker: each attempt is a new key's first request; its mint fails or answers. */
async function poolBreaker(): Promise<BreakerUnderTest> {
  const clock = new ManualClock(START);
  const pending: PendingMint[] = [];
  const pool = await createCredentialPool({
    mint: (_key: string, _context: MintContext) => new Promise<MintedToken>((resolve, reject) => pending.push({ resolve, reject })),
    clock,
    breakerThreshold: THRESHOLD,
    breakerCooldownMs: COOLDOWN,
    maxRetryAfterMs: MAX_RETRY_AFTER,
    mintTimeoutMs: MINT_TIMEOUT,
  });
  let keys = 0;
  return statechartBreaker({ clock, pending, request: () => pool.currentToken(`key-${++keys}`), lifetimeMs: 60 * 60_000, state: () => pool.toJSON().issuer, stop: () => pool.stop() });
}

/** The tabs' breaker, as each tab applies the failures and answers the tabs announce. */
async function tabBreaker(): Promise<BreakerUnderTest> {
  const breaker = new TabBreaker();
  const policy = { breakerThreshold: THRESHOLD, breakerCooldownMs: COOLDOWN, maxRetryAfterMs: MAX_RETRY_AFTER, mintTimeoutMs: MINT_TIMEOUT, now: () => 0 };
  const ask = async (at: number) => {
    try {
      breaker.refuseIfOpen(at);
      return { admits: true, openUntil: null };
    } catch (error) {
      if (!(error instanceof CredentialError) || error.code !== 'BREAKER_OPEN') throw error;
      return { admits: false, openUntil: (error as CredentialError & { openUntil: number | null }).openUntil };
    }
  };
  return {
    async send(_id, at) {
      if (!(await ask(at)).admits) throw new Error(`the attempt at ${at - START} was not let through`);
    },
    async settle(id, { at, outcome, retryAfterMs }) {
      if (outcome === 'answer') breaker.answered(at);
      else breaker.failed(`failure-${id}`, at, retryAfterMs ?? null, policy);
    },
    ask,
    stop: async () => {},
  };
}

/**
 * The fleet's breaker: the coordination's own Lua scripts, run by the simulated Redis (`fengari`)
 * on a `ManualClock`, called as the lease holder calls them: `RECORD_FAILURE` for a failure (its
 * `Retry-After` capped first, as the coordination does), `PUBLISH_TOKEN` for an answer; the breaker
 * is open while its key lives.
 */
async function fleetBreaker(): Promise<BreakerUnderTest> {
  const clock = new ManualClock(START);
  const redis = new SimRedis(clock);
  const keys = ['token', 'lease', 'fence', 'failures', 'open', 'record'];
  const policy = { breakerThreshold: THRESHOLD, breakerCooldownMs: COOLDOWN, maxRetryAfterMs: MAX_RETRY_AFTER, mintTimeoutMs: MINT_TIMEOUT };
  const fences = new Map<number, number>();
  let fence = 0;
  const moveTo = (at: number) => {
    if (at > clock.now()) clock.set(at);
  };
  const ask = async (at: number) => {
    moveTo(at);
    const ttl = Number(redis.evaluate("return redis.call('PTTL', KEYS[5])", keys, []));
    return ttl > 0 ? { admits: false, openUntil: at + ttl } : { admits: true, openUntil: null };
  };
  return {
    async send(id, at) {
      if (!(await ask(at)).admits) throw new Error(`the attempt at ${at - START} was not let through`);
      fences.set(id, ++fence);
    },
    async settle(id, { at, outcome, retryAfterMs }) {
      moveTo(at);
      const its = fences.get(id)!;
      const owner = `process/1:${its}`;
      if (outcome === 'answer') {
        redis.evaluate(PUBLISH_TOKEN, keys, [owner, String(its), `${its}:sealed`, '0', 'channel', 'credential', '', '']);
      } else {
        const openFor = retryAfterMs === undefined ? -1 : retryAfterCooldownMs(policy, retryAfterMs, false);
        redis.evaluate(RECORD_FAILURE, keys, [owner, String(THRESHOLD), String(COOLDOWN), String(openFor), 'channel', 'credential']);
      }
    },
    ask,
    stop: async () => {},
  };
}

const IMPLEMENTATIONS = [
  ['a provider (credential statechart)', providerBreaker],
  ['a pool’s issuer breaker (pool statechart)', poolBreaker],
  ['the tabs’ breaker (TabBreaker)', tabBreaker],
  ['the fleet’s breaker (the Lua scripts, on the simulated Redis)', fleetBreaker],
] as const;

describe.each(IMPLEMENTATIONS)('the breaker table, against %s', (_name, make) => {
  const cases = make === providerBreaker ? CASES.filter((breakerCase) => breakerCase.concurrent !== true) : CASES;
  it.each(cases.map((breakerCase) => [breakerCase.name, breakerCase] as const))('%s', async (_caseName, breakerCase) => {
    const breaker = await make();
    try {
      await drive(breaker, breakerCase.attempts);
      for (const expected of breakerCase.then) {
        const said = await breaker.ask(expected.at);
        expect(said.admits, `admits at ${expected.at - START}`).toBe(expected.admits);
        if (expected.openUntil !== undefined) expect(said.openUntil, `open until, asked at ${expected.at - START}`).toBe(expected.openUntil);
      }
    } finally {
      await breaker.stop();
    }
  });
});
