import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthToken } from '../../src/auth-token.js';
import type { RefreshPolicy } from '../../src/config.js';
import { CredentialError } from '../../machines/credential-error.js';
import { createCredentialProvider, type CredentialProvider } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, scriptedMint } from '../helpers.js';
import { PolicyModel, type Prediction } from '../reference/policy-model.js';

/**
 * Random schedules of requests, clock moves, mint outcomes, aborts and invalidations, run against
 * the real provider and predicted step by step by the reference model. Reproducible: a fixed seed
 * (FC_SEED) and at least 1,000 runs (FC_RUNS for longer local runs).
 */
const RUNS = Number(process.env.FC_RUNS ?? 1_000);
const SEED = Number(process.env.FC_SEED ?? 20_261_128);
const START = 1_700_000_000_000;

interface Real {
  readonly clock: ManualClock;
  readonly script: ReturnType<typeof scriptedMint>;
  readonly provider: CredentialProvider;
  readonly requests: Map<number, { controller: AbortController; requestedAt: number; settled: { ok: true; token: AuthToken } | { ok: false; error: unknown } | null }>;
  readonly reports: string[];
  readonly settledMints: Set<number>;
  readonly errors: Error[];
  nextRequestId: number;
  nextTokenId: number;
}

type Command = fc.AsyncCommand<PolicyModel, Real>;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => void process.on('unhandledRejection', onUnhandled));
afterAll(() => void process.off('unhandledRejection', onUnhandled));

function mintsInFlight(real: Real): number {
  return real.script.calls.filter((call, index) => !real.settledMints.has(index) && !call.signal.aborted).length;
}

/** Compares everything observable with the model's predictions, and the invariants. */
async function compare(model: PolicyModel, real: Real): Promise<void> {
  await flush();
  expect(real.script.count - 1, 'mints started').toBe(model.mints);
  const inFlight = mintsInFlight(real);
  expect(inFlight, 'at most one mint in flight, ever').toBeLessThanOrEqual(1);
  expect(inFlight === 1, 'a mint in flight').toBe(model.flight !== null);
  expect(real.reports, 'reporter calls in order').toEqual(model.reports);
  for (const [id, request] of real.requests) {
    const predicted = model.predictions.get(id)!;
    expect(describeReal(request.settled, real), `request #${id}`).toEqual(describePrediction(predicted));
    if (request.settled?.ok) {
      const { expiresAt } = request.settled.token;
      expect(expiresAt === null || request.requestedAt < expiresAt, 'no token served at or past its expiry').toBe(true);
    }
  }
}

function describePrediction(prediction: Prediction): string {
  if (prediction.status === 'pending') return 'pending';
  if (prediction.status === 'served') return `token-${prediction.tokenId}`;
  return prediction.reason === 'mint-error' ? `error-${prediction.errorId}` : prediction.reason;
}

function describeReal(settled: Real['requests'] extends Map<number, infer R> ? (R extends { settled: infer S } ? S : never) : never, real: Real): string {
  if (settled === null) return 'pending';
  if (settled.ok) return settled.token.secret.reveal();
  const { error } = settled;
  if (error instanceof CredentialError) return error.code;
  if (error === 'aborted by the caller') return 'aborted';
  const index = real.errors.indexOf(error as Error);
  return index >= 0 ? `error-${index}` : `unexpected ${String(error)}`;
}

class RequestCommand implements Command {
  constructor(readonly abortable: boolean) {}
  check = () => true;
  async run(model: PolicyModel, real: Real) {
    const id = real.nextRequestId++;
    const controller = new AbortController();
    const request: ReturnType<Real['requests']['get']> & object = { controller, requestedAt: real.clock.now(), settled: null };
    real.requests.set(id, request);
    real.provider.currentToken(this.abortable ? { signal: controller.signal } : undefined).then(
      (token) => (request.settled = { ok: true, token }),
      (error: unknown) => (request.settled = { ok: false, error }),
    );
    model.request(id, this.abortable);
    await compare(model, real);
  }
  toString = () => `request(${this.abortable ? 'abortable' : 'patient'})`;
}

class AdvanceCommand implements Command {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(model: PolicyModel, real: Real) {
    real.clock.advance(this.ms);
    model.advanceTo(model.now + this.ms);
    await compare(model, real);
  }
  toString = () => `advance(${this.ms})`;
}

class JumpCommand implements Command {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(model: PolicyModel, real: Real) {
    real.clock.jump(this.ms);
    model.jump(this.ms);
    await compare(model, real);
  }
  toString = () => `jump(${this.ms})`;
}

class MintSucceedsCommand implements Command {
  constructor(readonly lifetimeMs: number | null) {}
  check = (model: Readonly<PolicyModel>) => model.flight !== null;
  async run(model: PolicyModel, real: Real) {
    const tokenId = real.nextTokenId++;
    const expiresAt = this.lifetimeMs === null ? null : real.clock.now() + this.lifetimeMs;
    real.settledMints.add(real.script.count - 1);
    real.script.last.resolve({ secret: `token-${tokenId}`, expiresAt });
    model.mintSucceeds(tokenId, expiresAt);
    await compare(model, real);
  }
  toString = () => `mintSucceeds(${this.lifetimeMs})`;
}

class MintFailsCommand implements Command {
  check = (model: Readonly<PolicyModel>) => model.flight !== null;
  async run(model: PolicyModel, real: Real) {
    const error = new Error(`issuer failure ${real.errors.length}`);
    real.errors.push(error);
    real.settledMints.add(real.script.count - 1);
    real.script.last.reject(error);
    model.mintFails(real.errors.length - 1);
    await compare(model, real);
  }
  toString = () => 'mintFails';
}

class AbortCommand implements Command {
  constructor(readonly pick: number) {}
  check = (model: Readonly<PolicyModel>) => [...model.predictions.values()].some((prediction) => prediction.status === 'pending');
  async run(model: PolicyModel, real: Real) {
    const waiting = [...real.requests].filter(([id]) => model.predictions.get(id)?.status === 'pending' && model.flight?.abortable.has(id));
    if (waiting.length === 0) return;
    const [id, request] = waiting[this.pick % waiting.length]!;
    request.controller.abort('aborted by the caller');
    model.abort(id);
    await compare(model, real);
  }
  toString = () => `abort(${this.pick})`;
}

class InvalidateCommand implements Command {
  check = () => true;
  async run(model: PolicyModel, real: Real) {
    expect(real.provider.invalidate(), 'invalidate() took effect').toBe(model.invalidate());
    await compare(model, real);
  }
  toString = () => 'invalidate';
}

const quarter = fc.constantFrom(0, 0.25, 0.5, 0.75, 1);
// Proactive mode probes on its own at every cooldown end, so an outage with a zero cooldown is a
// (deliberate, documented) probe per mint timeout: the schedules keep those cycles to seconds, or a
// 600 s clock move would replay hundreds of thousands of mints.
const policyArbitrary: fc.Arbitrary<Omit<RefreshPolicy, 'breakerCounts'>> = fc
  .record({
    refresh: fc.constantFrom('on-demand' as const, 'proactive' as const),
    refreshAt: quarter,
    refreshFloorMs: fc.integer({ min: 0, max: 120_000 }),
    breakerThreshold: fc.integer({ min: 1, max: 4 }),
    breakerCooldownMs: fc.oneof(fc.constant(0), fc.integer({ min: 5_000, max: 300_000 })),
    mintTimeoutMs: fc.oneof(fc.integer({ min: 100, max: 120_000 }), fc.constant(Infinity)),
    invalidateMinIntervalMs: fc.integer({ min: 0, max: 60_000 }),
    maxRetryAfterMs: fc.constant(600_000),
  })
  .filter((policy) => policy.refresh === 'on-demand' || policy.breakerCooldownMs > 0);
// Lifetimes are multiples of 4 ms so every refresh instant (a quarter of a lifetime) is a whole millisecond.
const lifetime = fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 900_000 }).map((n) => n * 4) }, { weight: 1, arbitrary: fc.constant(null) });
const commands = fc.commands(
  [
    fc.boolean().map((abortable) => new RequestCommand(abortable)),
    fc.integer({ min: 0, max: 600_000 }).map((ms) => new AdvanceCommand(ms)),
    fc.integer({ min: 1, max: 600_000 }).map((ms) => new JumpCommand(ms)),
    lifetime.map((ms) => new MintSucceedsCommand(ms)),
    fc.constant(new MintFailsCommand()),
    fc.nat().map((pick) => new AbortCommand(pick)),
    fc.constant(new InvalidateCommand()),
  ],
  { maxCommands: 40 },
);

describe('random schedules against a reference model', () => {
  it(`agree on every result (${RUNS} runs, seed ${SEED})`, { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArbitrary,
        lifetime.filter((ms) => ms !== 0),
        commands,
        async (policy, firstLifetime, schedule) => {
          const clock = new ManualClock(START);
          const script = scriptedMint();
          const firstExpiry = firstLifetime === null ? null : START + firstLifetime;
          const pending = createCredentialProvider({ mint: script.mint, clock, ...policy });
          script.last.resolve({ secret: 'token-0', expiresAt: firstExpiry });
          const provider = await pending;
          const real: Real = {
            clock,
            script,
            provider,
            requests: new Map(),
            reports: [],
            settledMints: new Set([0]),
            errors: [],
            nextRequestId: 1,
            nextTokenId: 1,
          };
          provider.on('refresh.succeeded', () => real.reports.push('succeeded'));
          provider.on('refresh.failed', () => real.reports.push('failed'));
          provider.on('breaker.changed', ({ from, to }) => real.reports.push(`breaker:${from}->${to}`));
          const model = new PolicyModel(policy, START, firstExpiry);
          try {
            await fc.asyncModelRun(() => ({ model, real }), schedule);
            await eventuallyServes(model, real);
          } finally {
            await provider.stop();
          }
          expect(clock.pendingTimers, 'a stopped provider leaves no timer').toBe(0);
        },
      ),
      // Whatever happens, the property stops after 90 s (a healthy run takes seconds): a failure found
      // by then is reported with the counterexample shrunk so far, instead of timing the test out.
      { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: 90_000, markInterruptAsFailure: true },
    );
    expect(unhandled).toEqual([]);
  });
});

/** After whatever happened, a caller is served again once a mint succeeds. */
async function eventuallyServes(model: PolicyModel, real: Real): Promise<void> {
  for (let round = 0; round < 10; round++) {
    if (model.flight !== null) await new MintSucceedsCommand(3_600_000).run(model, real);
    const id = real.nextRequestId;
    await new RequestCommand(false).run(model, real);
    const prediction = model.predictions.get(id)!;
    if (prediction.status === 'pending') await new MintSucceedsCommand(3_600_000).run(model, real);
    if (model.predictions.get(id)!.status === 'served') return;
    await new AdvanceCommand(Math.max(1, (model.openUntil ?? model.now) - model.now)).run(model, real);
  }
  throw new Error('no caller was served again');
}
