/**
 * Seeded random schedules against the real pool: requests for a few keys, aborts, invalidations,
 * mints settled every way (a token, an issuer failure, a `Retry-After`, a key's own refusal, a
 * token already expired, garbage), time moving (timer by timer, or an event loop stalled past its
 * timers), and `stop()` at the end. After every step the invariants of issue 17 are checked. A
 * second family replays one schedule against a pool key and a provider and compares every outcome.
 *
 * Reproducible: a fixed seed (POOL_SEED), and a CI-sized count (POOL_SCHEDULES for longer runs).
 */
import { describe, expect, it } from 'vitest';
import { createCredentialPool, createCredentialProvider, type AuthToken, type CredentialPool, type CredentialProvider, type MintedToken } from '../../src/index.js';
import { credentialScenarios, ManualClock, type CredentialScenario } from '../../src/testing/index.js';
import { flush } from '../helpers.js';

const SCHEDULES = Number(process.env.POOL_SCHEDULES ?? 200);
const SEED = Number(process.env.POOL_SEED ?? 20_261_130);
const STEPS = 40;
const START = 1_700_000_000_000;
const KEYS = ['a', 'b', 'c', 'd'];
const MAX_MINTS_IN_FLIGHT = 2;

/** mulberry32: a small seeded generator, so that a failing schedule can be replayed from its seed. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return { next, int: (below: number) => Math.floor(next() * below), pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]! };
}

type Settle = 'token' | 'issuerFailure' | 'retryAfter' | 'keyFailure' | 'expired' | 'garbage';
type Step =
  | { type: 'request'; key: string; abortable: boolean }
  | { type: 'settle'; outcome: Settle; lifetimeMs: number }
  | { type: 'abort' }
  | { type: 'invalidate'; key: string }
  | { type: 'advance'; ms: number }
  | { type: 'stall'; ms: number };

function schedule(seed: number, { keys, outcomes }: { keys: readonly string[]; outcomes: readonly Settle[] }): Step[] {
  const rng = random(seed);
  const steps: Step[] = [{ type: 'request', key: keys[0]!, abortable: false }];
  for (let index = 1; index < STEPS; index++) {
    const roll = rng.int(100);
    if (roll < 30) steps.push({ type: 'request', key: rng.pick(keys), abortable: rng.int(4) === 0 });
    else if (roll < 55) steps.push({ type: 'settle', outcome: rng.pick(outcomes), lifetimeMs: 500 + rng.int(4_000) });
    else if (roll < 60) steps.push({ type: 'abort' });
    else if (roll < 64) steps.push({ type: 'invalidate', key: rng.pick(keys) });
    else if (roll < 92) steps.push({ type: 'advance', ms: rng.int(1_500) });
    else steps.push({ type: 'stall', ms: rng.int(2_000) });
  }
  return steps;
}

/** What a failure says about itself: the test's classifier reads it. */
function failure(outcome: 'issuerFailure' | 'retryAfter' | 'keyFailure'): Error {
  if (outcome === 'keyFailure') return Object.assign(new Error('invalid_client'), { status: 401 });
  if (outcome === 'retryAfter') return Object.assign(new Error('slow down'), { status: 429, retryAfterMs: 2_500 });
  return Object.assign(new Error('issuer down'), { status: 503 });
}

interface MintCall {
  readonly key: string;
  readonly at: number;
  readonly signal: AbortSignal;
  settled: boolean;
  resolve(token: MintedToken): void;
  reject(error: unknown): void;
}

interface Request {
  readonly key: string;
  readonly at: number;
  readonly controller: AbortController | null;
  result: { ok: true; token: AuthToken } | { ok: false; error: unknown } | null;
  settledAt: number | null;
}

/** Drives one subject (a pool's key, or a provider) through a schedule, recording what it saw. */
class Driver {
  readonly clock = new ManualClock(START);
  readonly calls: MintCall[] = [];
  readonly requests: Request[] = [];
  readonly mint = (key: string, { signal }: { signal: AbortSignal }) =>
    new Promise<MintedToken>((resolve, reject) => {
      const call: MintCall = {
        key,
        at: this.clock.now(),
        signal,
        settled: false,
        resolve: (token) => {
          call.settled = true;
          resolve(token);
        },
        reject: (error) => {
          call.settled = true;
          reject(error);
        },
      };
      this.calls.push(call);
      this.onCall(call);
    });
  #secrets = 0;

  constructor(private readonly onCall: (call: MintCall) => void = () => {}) {}

  live(): MintCall[] {
    return this.calls.filter((call) => !call.settled && !call.signal.aborted);
  }

  track(key: string, abortable: boolean, ask: (signal: AbortSignal | undefined) => Promise<AuthToken>): void {
    const controller = abortable ? new AbortController() : null;
    const request: Request = { key, at: this.clock.now(), controller, result: null, settledAt: null };
    this.requests.push(request);
    ask(controller?.signal).then(
      (token) => {
        request.result = { ok: true, token };
        request.settledAt = this.clock.now();
      },
      (error: unknown) => {
        request.result = { ok: false, error };
        request.settledAt = this.clock.now();
      },
    );
  }

  async step(step: Step, subject: { ask(key: string, signal: AbortSignal | undefined): Promise<AuthToken>; invalidate(key: string): void }): Promise<void> {
    switch (step.type) {
      case 'request':
        this.track(step.key, step.abortable, (signal) => subject.ask(step.key, signal));
        break;
      case 'settle': {
        const call = this.live()[0];
        if (call === undefined) break;
        const now = this.clock.now();
        if (step.outcome === 'token') call.resolve({ secret: `s${++this.#secrets}`, expiresAt: now + step.lifetimeMs });
        else if (step.outcome === 'expired') call.resolve({ secret: `s${++this.#secrets}`, expiresAt: now });
        else if (step.outcome === 'garbage') call.resolve({ secret: '', expiresAt: now + step.lifetimeMs });
        else call.reject(failure(step.outcome));
        break;
      }
      case 'abort':
        this.requests.find((request) => request.result === null && request.controller !== null && !request.controller.signal.aborted)?.controller!.abort(new Error('caller gave up'));
        break;
      case 'invalidate':
        subject.invalidate(step.key);
        break;
      case 'advance':
        await this.clock.advanceAsync(step.ms);
        break;
      case 'stall':
        this.clock.skip(step.ms); // the event loop was blocked: the reading leaps, the timers are late
        await this.clock.advanceAsync(0);
        break;
    }
    await flush();
  }

  /** The outcome of every request and when it came, comparable across subjects. */
  outcomes(): string[] {
    return this.requests.map(({ result, settledAt }) => {
      if (result === null) return 'pending';
      const at = `@${(settledAt ?? START) - START}`;
      if (result.ok) return `ok ${result.token.secret.reveal()} ${at}`;
      const { code, message } = result.error as { code?: string; message?: string };
      return `error ${code ?? message} ${at}`;
    });
  }
}

const classifyFailure = (error: unknown) => ((error as { status?: number }).status === 401 ? 'key' : 'issuer');

/** Options both a pool and a provider take, for {@link keyAndProvider}. */
interface ComparedOptions {
  readonly refresh: 'on-demand' | 'proactive';
  readonly breakerThreshold: number;
  readonly mintTimeoutMs: number;
  readonly refreshFloorMs: number;
  readonly invalidateMinIntervalMs: number;
  readonly classifyFailure: (error: unknown) => 'key' | 'issuer';
  /** Every token's jitter sample. */
  readonly jitter: number;
  readonly refreshAt?: number;
  readonly breakerCooldownMs?: number;
  readonly maxRetryAfterMs?: number;
}

/**
 * Runs `steps` against a pool's key `k` (resting whenever nothing happens) and against a provider
 * (never resting), each on its own clock from the same start; returns both drivers and how many
 * times the key woke from rest. The provider's first request is its construction.
 */
async function keyAndProvider(steps: readonly Step[], { jitter, classifyFailure: classify, ...options }: ComparedOptions): Promise<{ pool: Driver; provider: Driver; woken: number }> {
  const viaPool = new Driver();
  const pool = createCredentialPool({ mint: viaPool.mint, clock: viaPool.clock, idleTimeoutMs: Infinity, jitter: () => jitter, classifyFailure: classify, ...options });
  const poolSubject = {
    ask: (key: string, signal: AbortSignal | undefined) => pool.currentToken(key, signal === undefined ? undefined : { signal }),
    invalidate: (key: string) => void pool.invalidate(key),
  };
  const viaProvider = new Driver();
  let provider: CredentialProvider | null = null;
  let starting: Promise<CredentialProvider> | null = null;
  const providerSubject = {
    ask: (_key: string, signal: AbortSignal | undefined) => {
      if (provider !== null) return provider.currentToken(signal === undefined ? undefined : { signal });
      // a provider's first request is its construction; requests meanwhile wait for it
      starting ??= createCredentialProvider({ mint: (context) => viaProvider.mint('k', context), clock: viaProvider.clock, jitter: () => jitter, ...options }).then((made) => (provider = made));
      return starting.then((made) => made.currentToken());
    },
    invalidate: () => void provider?.invalidate(),
  };
  let woken = 0;
  for (const step of steps) {
    const constructing = provider === null;
    // while the provider is being constructed there is nothing to abort or invalidate, and no signal to pass
    if (constructing && (step.type === 'abort' || step.type === 'invalidate')) continue;
    const shared: Step = step.type === 'request' && constructing ? { ...step, abortable: false } : step;
    const restedBefore = pool.toJSON().resting;
    await viaPool.step(shared, poolSubject);
    await viaProvider.step(shared, providerSubject);
    if (restedBefore > pool.toJSON().resting) woken++;
  }
  await pool.stop();
  await (provider as CredentialProvider | null)?.stop();
  return { pool: viaPool, provider: viaProvider, woken };
}

/**
 * A generated scenario's world (`credential-actor/testing`: the shortest paths to every state and
 * transition of the credential statechart) as steps for the drivers: time moves to each action,
 * requests may be given up, and the mint settles as the scenario says. Failures are the issuer's
 * (on demand) or the key's own (proactive: its backoff reads the failure count, the pool's issuer
 * breaker's for a key); a Retry-After is left out, as it opens a breaker of a different scope.
 */
function stepsOfScenario(scenario: CredentialScenario): Step[] {
  const proactive = scenario.refresh === 'proactive';
  // the construction: the provider's first request, and the mint that lands the scenario's first token
  const steps: Step[] = [
    { type: 'request', key: 'k', abortable: false },
    { type: 'settle', outcome: 'token', lifetimeMs: scenario.model.lifetimeMs },
  ];
  let now = scenario.model.startMs;
  let requests = 1;
  for (const { world } of scenario.steps) {
    if (world.at > now) steps.push({ type: 'advance', ms: world.at - now });
    now = Math.max(now, world.at);
    switch (world.kind) {
      case 'request':
        steps.push({ type: 'request', key: 'k', abortable: true });
        requests++;
        break;
      case 'mintResolves':
        steps.push({ type: 'settle', outcome: 'token', lifetimeMs: world.expiresAt - world.at });
        break;
      case 'mintLandsExpired':
        steps.push({ type: 'settle', outcome: 'expired', lifetimeMs: 0 });
        break;
      case 'mintFails':
        steps.push({ type: 'settle', outcome: proactive ? 'keyFailure' : 'issuerFailure', lifetimeMs: 0 });
        break;
      case 'waitersGiveUp':
        // every caller still waiting gives up (an abort with no one waiting does nothing)
        for (let index = 0; index < requests; index++) steps.push({ type: 'abort' });
        break;
      case 'upstreamRefuses':
        // a caller is served, the upstream refuses the token, the caller reports it and asks again
        steps.push({ type: 'request', key: 'k', abortable: true }, { type: 'invalidate', key: 'k' }, { type: 'request', key: 'k', abortable: true });
        requests += 2;
        break;
      case 'upstreamRefusesLate':
        steps.push({ type: 'invalidate', key: 'k' });
        break;
      default:
        // a timer: time has moved to it; a shared mint's phase or a mint's step: nothing for the key or the provider to do
        break;
    }
  }
  return steps;
}

describe('the pool on seeded random schedules', () => {
  it(`keeps its invariants on ${SCHEDULES} schedules of ${STEPS} steps`, async () => {
    let steps = 0;
    for (let run = 0; run < SCHEDULES; run++) {
      const seed = SEED + run;
      const rng = random(seed ^ 0x5bd1e995);
      const refresh = rng.pick(['on-demand', 'proactive'] as const);
      const mintTimeoutMs = rng.pick([700, 3_000, Infinity]);
      let pool: CredentialPool;
      /** The mints let through in the current half-open period (by the breaker's changes). */
      let probes: MintCall[] = [];
      /** Invariants broken at a mint's call, checked after the step (a throw there would be the mint's failure). */
      const broken: string[] = [];
      const driver = new Driver((call) => {
        const { value, context } = pool.actor.getSnapshot();
        const where = `mint for ${call.key} at ${call.at - START}`;
        if (stopped) broken.push(`${where}: reached the user's mint after stop()`);
        if (value.issuer === 'open') broken.push(`${where}: reached the issuer while its breaker was open`);
        if (value.issuer === 'halfOpen') {
          if (!context.probing) broken.push(`${where}: passed a half-open breaker without being its probe`);
          // one probe at a time: an earlier probe of this period may only have been abandoned (aborted)
          if (probes.some((probe) => !probe.signal.aborted)) broken.push(`${where}: a second probe while the first was at the issuer`);
          probes.push(call);
        }
      });
      let stopped = false;
      pool = createCredentialPool({
        mint: driver.mint,
        clock: driver.clock,
        maxKeys: 3,
        maxMintsInFlight: MAX_MINTS_IN_FLIGHT,
        breakerThreshold: 2,
        breakerCooldownMs: 1_000,
        maxRetryAfterMs: 4_000,
        mintTimeoutMs,
        refresh,
        refreshFloorMs: 0,
        invalidateMinIntervalMs: 0,
        idleTimeoutMs: 20_000,
        classifyFailure,
      });
      pool.on('issuer.breaker.changed', ({ to }) => {
        if (to === 'halfOpen') probes = [];
      });
      if (process.env.POOL_TRACE) {
        pool.on('issuer.breaker.changed', (e) => console.log('  issuer', JSON.stringify(e), driver.clock.now() - START));
        pool.on('refresh.failed', (e) => console.log('  failed', e.key, (e.error as { code?: string; message?: string }).code ?? (e.error as Error).message, driver.clock.now() - START));
        pool.on('refresh.succeeded', (e) => console.log('  ok', e.key, driver.clock.now() - START));
      }
      const subject = {
        ask: (key: string, signal: AbortSignal | undefined) => pool.currentToken(key, signal === undefined ? undefined : { signal }),
        invalidate: (key: string) => void pool.invalidate(key),
      };
      for (const step of schedule(seed, { keys: KEYS, outcomes: ['token', 'token', 'issuerFailure', 'retryAfter', 'keyFailure', 'expired', 'garbage'] })) {
        const issuerBefore = pool.toJSON().issuer;
        const settled = step.type === 'settle' ? driver.live()[0] : undefined;
        await driver.step(step, subject);
        steps++;
        if (process.env.POOL_TRACE)
          console.log(
            steps,
            JSON.stringify(step),
            driver.clock.now() - START,
            JSON.stringify(pool.toJSON().issuer),
            [...pool.keys()].join(','),
            driver.calls.map((c) => `${c.key}@${c.at - START}${c.settled ? 's' : c.signal.aborted ? 'x' : '*'}`).join(' '),
          );
        const where = `seed ${seed}, step ${steps}: ${JSON.stringify(step)}`;
        expect(broken, where).toEqual([]);
        const live = driver.live();
        expect(live.length, `${where}: at most maxMintsInFlight mints in flight`).toBeLessThanOrEqual(MAX_MINTS_IN_FLIGHT);
        expect(new Set(live.map((call) => call.key)).size, `${where}: at most one mint in flight per key`).toBe(live.length);
        const { mintsInFlight } = pool.toJSON();
        expect(pool.actor.getSnapshot().value.mints, `${where}: the mints region pictures the permits`).toBe(mintsInFlight >= MAX_MINTS_IN_FLIGHT ? 'atCap' : 'belowCap');
        // what the gate reads from the statechart without asking its state again
        const { value: poolValue, context: poolContext } = pool.actor.getSnapshot();
        expect(poolContext.probing && poolValue.issuer !== 'halfOpen', `${where}: a probe is marked out only while half-open`).toBe(false);
        expect(poolContext.openUntil !== null, `${where}: openUntil is kept exactly while open`).toBe(poolValue.issuer === 'open');
        if (settled !== undefined && step.type === 'settle' && step.outcome === 'keyFailure' && issuerBefore.breaker === 'closed') {
          expect(pool.toJSON().issuer, `${where}: a key's own failure never counts against the issuer`).toMatchObject({ breaker: 'closed', consecutiveFailures: 0 });
        }
        for (const request of driver.requests) {
          if (request.result?.ok !== true) continue;
          const { expiresAt } = request.result.token;
          expect(expiresAt === null || request.at < expiresAt, `${where}: no token served at or past its expiry`).toBe(true);
        }
      }
      const callsBeforeStop = driver.calls.length;
      await pool.stop();
      stopped = true;
      await driver.clock.advanceAsync(60_000);
      await flush();
      expect(driver.calls.length, `seed ${seed}: no mint after stop()`).toBe(callsBeforeStop);
      expect(broken, `seed ${seed}`).toEqual([]);
      expect(
        driver.outcomes().filter((outcome) => outcome === 'pending'),
        `seed ${seed}: every caller settles`,
      ).toEqual([]);
      expect(driver.clock.pendingTimers, `seed ${seed}: no timer left`).toBe(0);
    }
    expect(steps).toBe(SCHEDULES * STEPS);
  });

  it(`a pool key and a provider agree on ${SCHEDULES} schedules when the issuer breaker is not involved (the key resting and waking, the provider never)`, async () => {
    let compared = 0;
    // how often the key woke from rest, by refresh mode: the comparison is of a key that rests against one that never does
    const wokenFromRest = { 'on-demand': 0, proactive: 0 };
    for (let run = 0; run < SCHEDULES; run++) {
      const seed = SEED + 100_000 + run;
      const rng = random(seed ^ 0x27d4eb2f);
      const refresh = rng.pick(['on-demand', 'proactive'] as const);
      // A timeout or an issuer failure counts against a provider's own breaker but, for a pool key,
      // against the pool's issuer breaker: with breakers that never open they differ only in
      // proactive mode's backoff (which reads the key's failure count), so proactive schedules keep to
      // a key's own failures.
      const proactive = refresh === 'proactive';
      const options = {
        refresh,
        breakerThreshold: 1_000,
        mintTimeoutMs: proactive ? Infinity : rng.pick([700, 3_000]),
        refreshFloorMs: 0,
        invalidateMinIntervalMs: 0,
        classifyFailure,
      };
      const outcomes: Settle[] = proactive ? ['token', 'token', 'keyFailure', 'expired', 'garbage'] : ['token', 'token', 'issuerFailure', 'keyFailure', 'expired', 'garbage'];
      const steps = schedule(seed, { keys: ['k'], outcomes });
      // the provider's construction is its first request, and a provider whose first mint fails is
      // never made (a pool key is): the first mint lands at once
      steps.splice(1, 0, { type: 'settle', outcome: 'token', lifetimeMs: 4_000 });

      // a jitter sample in every token's refresh instant: a key woken from rest must keep it, not compute it again
      const jitter = rng.pick([0.15, 0.35]);
      const { woken, pool, provider } = await keyAndProvider(steps, { ...options, jitter });
      wokenFromRest[refresh] += woken;
      const where = `seed ${seed} (${refresh})`;
      expect(pool.outcomes(), `${where}: what every caller got`).toEqual(provider.outcomes());
      expect(
        pool.calls.map((call) => call.at),
        `${where}: when the issuer was asked`,
      ).toEqual(provider.calls.map((call) => call.at));
      compared++;
    }
    expect(compared).toBe(SCHEDULES);
    expect(wokenFromRest['on-demand'], 'on-demand keys woke from rest').toBeGreaterThan(SCHEDULES / 4);
    expect(wokenFromRest.proactive, 'proactive keys woke from rest').toBeGreaterThan(SCHEDULES / 4);
  });

  it('a pool key and a provider agree on every path generated from the credential statechart (the key resting and waking, the provider never)', async () => {
    const scenarios = credentialScenarios();
    const wokenFromRest = { 'on-demand': 0, proactive: 0 };
    for (const scenario of scenarios) {
      const { policy } = scenario.model;
      const proactive = scenario.refresh === 'proactive';
      const { woken, pool, provider } = await keyAndProvider(stepsOfScenario(scenario), {
        refresh: scenario.refresh,
        refreshAt: policy.refreshAt,
        refreshFloorMs: policy.refreshFloorMs,
        // breakers that never open: a provider's is its own, a key's the pool's (see the random schedules above)
        breakerThreshold: 1_000,
        breakerCooldownMs: policy.breakerCooldownMs,
        mintTimeoutMs: proactive ? Infinity : policy.mintTimeoutMs,
        invalidateMinIntervalMs: 0,
        maxRetryAfterMs: policy.maxRetryAfterMs,
        classifyFailure,
        jitter: 0,
      });
      wokenFromRest[scenario.refresh] += woken;
      expect(pool.outcomes(), `${scenario.name}: what every caller got`).toEqual(provider.outcomes());
      expect(
        pool.calls.map((call) => call.at),
        `${scenario.name}: when the issuer was asked`,
      ).toEqual(provider.calls.map((call) => call.at));
    }
    console.log(`${scenarios.length} generated paths: the key woke from rest ${wokenFromRest['on-demand']} times on demand, ${wokenFromRest.proactive} proactive`);
    expect(wokenFromRest['on-demand'], 'on-demand keys woke from rest').toBeGreaterThan(0);
    expect(wokenFromRest.proactive, 'proactive keys woke from rest').toBeGreaterThan(0);
  });
});
