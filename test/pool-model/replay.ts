/**
 * Replays a generated pool path against a real `createCredentialPool` on a `ManualClock`, with a
 * scripted issuer that holds each key's mint until the path settles it. After every step it checks
 * the pool against the model: the statechart's state and context, the clock, the mints in flight,
 * the mints the issuer saw, and what each caller got. Records what the real pool's statechart did
 * (through XState's inspection) for the coverage check.
 */
import type { InspectionEvent } from 'xstate';
import { OAuthError } from '../../src/oauth2/index.js';
import { createCredentialPool, CredentialError, type AuthToken, type MintedToken } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { transitionKey } from '../../src/testing/model/transition-key.js';
import { flush } from '../helpers.js';
import { POOL_MODEL_POLICY, POOL_MODEL_RETRY_AFTER_MS, POOL_MODEL_START_MS, poolInventory, statesOf, type PoolPath, type SettleOutcome } from './world.js';

const DAY = 86_400_000;

/** What the real pool's statechart went through in one replay. */
export interface PoolReplayResult {
  readonly states: ReadonlySet<string>;
  readonly transitions: ReadonlySet<string>;
}

/** A step where the pool did not do what the model says. */
export class PoolPathMismatch extends Error {
  override readonly name = 'PoolPathMismatch';
}

interface HeldMint {
  readonly key: string;
  readonly signal: AbortSignal;
  resolve(token: MintedToken): void;
  reject(error: unknown): void;
}

interface Caller {
  readonly key: string;
  readonly controller: AbortController;
  outcome: { ok: true; token: AuthToken } | { ok: false; error: unknown } | null;
}

/** The error each failing outcome is, the way an issuer says it. */
function failureFor(outcome: Exclude<SettleOutcome, 'token'>): Error {
  if (outcome === 'keyFailure') return new OAuthError('invalid_scope', { status: 400 });
  if (outcome === 'retryAfter') return new OAuthError('temporarily_unavailable', { status: 503, retryAfterMs: POOL_MODEL_RETRY_AFTER_MS });
  return new OAuthError('server_error', { status: 503 });
}

/**
 * Replays `path`; throws {@link PoolPathMismatch} naming the step where the pool and the model part.
 *
 * @example
 * ```ts
 * for (const path of generatePoolPaths()) await replayPoolPath(path);
 * ```
 */
export async function replayPoolPath(path: PoolPath): Promise<PoolReplayResult> {
  const inventory = poolInventory();
  const states = new Set<string>();
  const transitions = new Set<string>();
  const inspect = (event: InspectionEvent) => {
    if (event.type !== '@xstate.microstep') return;
    const value = (event.snapshot as unknown as { value: Record<string, string> }).value;
    if (!('issuer' in value)) return; // a key's actor
    for (const transition of event._transitions) {
      const key = transitionKey(transition);
      if (inventory.transitions.has(key)) transitions.add(key);
    }
    for (const id of statesOf({ value } as never)) states.add(id);
  };
  const clock = new ManualClock(POOL_MODEL_START_MS);
  const held: HeldMint[] = [];
  const mint = (key: string, { signal }: { signal: AbortSignal }) => new Promise<MintedToken>((resolve, reject) => held.push({ key, signal, resolve, reject }));
  const pool = createCredentialPool({
    mint,
    clock,
    inspect,
    refresh: 'on-demand',
    breakerThreshold: POOL_MODEL_POLICY.breakerThreshold,
    breakerCooldownMs: POOL_MODEL_POLICY.breakerCooldownMs,
    maxRetryAfterMs: POOL_MODEL_POLICY.maxRetryAfterMs,
    maxMintsInFlight: POOL_MODEL_POLICY.maxMintsInFlight,
    mintTimeoutMs: 60_000,
    idleTimeoutMs: Infinity,
  });
  for (const state of statesOf(pool.actor.getSnapshot())) states.add(state);
  const callers: Caller[] = [];
  /** Callers whose mint is in flight, oldest first (the world's flights). */
  const waiting: Caller[] = [];
  let mintsSeen = 0;
  const fail = (index: number, what: string): never => {
    throw new PoolPathMismatch(`${path.name}: step ${index + 1} (${path.steps[index]!.action.type}): ${what}`);
  };
  try {
    for (const [index, { action, world }] of path.steps.entries()) {
      let asked: Caller | null = null;
      let settled: { caller: Caller; outcome: SettleOutcome | 'abandon' } | null = null;
      switch (action.type) {
        case 'lateRequest':
        case 'request': {
          if (action.type === 'lateRequest') clock.skip(world.now - clock.now());
          const key = `k${world.nextKey - 1}`;
          const caller: Caller = { key, controller: new AbortController(), outcome: null };
          pool.currentToken(key, { signal: caller.controller.signal }).then(
            (token) => (caller.outcome = { ok: true, token }),
            (error: unknown) => (caller.outcome = { ok: false, error }),
          );
          callers.push(caller);
          asked = caller;
          break;
        }
        case 'settle': {
          const caller = waiting.shift() ?? fail(index, 'no mint in flight to settle');
          const mintOf = held.find((candidate) => candidate.key === caller.key) ?? fail(index, `the issuer never saw ${caller.key}'s mint`);
          held.splice(held.indexOf(mintOf), 1);
          if (action.outcome === 'token') mintOf.resolve({ secret: `token-of-${caller.key}`, expiresAt: clock.now() + DAY });
          else mintOf.reject(failureFor(action.outcome));
          settled = { caller, outcome: action.outcome };
          break;
        }
        case 'abandon': {
          const caller = waiting.shift() ?? fail(index, 'no mint in flight to abandon');
          caller.controller.abort(new Error(`${caller.key}'s caller gave up`));
          settled = { caller, outcome: 'abandon' };
          break;
        }
        case 'cooldownEnds':
          clock.advance(world.now - clock.now());
          break;
      }
      await flush();
      await flush();

      // the statechart, against the model
      const { value, context } = pool.actor.getSnapshot();
      const expected = world.machine;
      if (JSON.stringify(value) !== JSON.stringify(expected.value)) fail(index, `state ${JSON.stringify(value)}, model ${JSON.stringify(expected.value)}`);
      for (const field of ['consecutiveFailures', 'openUntil', 'openReason', 'probing'] as const) {
        if (context[field] !== expected.context[field]) fail(index, `${field} ${String(context[field])}, model ${String(expected.context[field])}`);
      }
      if (clock.now() !== world.now) fail(index, `clock ${clock.now()}, model ${world.now}`);
      // the pool's side: permits, and what the issuer saw
      if (pool.toJSON().mintsInFlight !== world.flights.length) fail(index, `${pool.toJSON().mintsInFlight} mints in flight, model ${world.flights.length}`);
      if (asked !== null) {
        const issuerSaw = held.some((candidate) => candidate.key === asked.key);
        if (world.caller === 'waits') {
          if (!issuerSaw || asked.outcome !== null) fail(index, `${asked.key} should wait on its mint`);
          mintsSeen++;
          waiting.push(asked);
        } else {
          if (issuerSaw) fail(index, `the open issuer breaker let ${asked.key}'s mint through`);
          const refused = asked.outcome !== null && !asked.outcome.ok && asked.outcome.error instanceof CredentialError && asked.outcome.error.code === 'BREAKER_OPEN';
          if (!refused) fail(index, `${asked.key} should be refused with BREAKER_OPEN`);
        }
      }
      if (settled !== null) {
        const got = settled.caller.outcome ?? fail(index, `${settled.caller.key}'s caller is still waiting`);
        if (settled.outcome === 'token' && !(got.ok && got.token.secret.equals(`token-of-${settled.caller.key}`))) fail(index, `${settled.caller.key} should get its token`);
        if (settled.outcome !== 'token' && settled.outcome !== 'abandon' && !(!got.ok && got.error instanceof OAuthError)) {
          fail(index, `${settled.caller.key} should be rejected with the issuer's own error`);
        }
        if (settled.outcome === 'abandon' && !(!got.ok && got.error instanceof Error && got.error.message.includes('gave up'))) {
          fail(index, `${settled.caller.key}'s caller should be rejected with its own abort reason`);
        }
        if (settled.outcome === 'abandon' && !(held.find((candidate) => candidate.key === settled.caller.key)?.signal.aborted ?? false)) {
          fail(index, `the abandoned mint of ${settled.caller.key} was not aborted`);
        }
      }
      if (held.filter((candidate) => !candidate.signal.aborted).length !== world.flights.length) fail(index, 'the issuer holds a different number of live mints than the model');
    }
    const settles = path.steps.filter((step) => step.action.type === 'settle').length;
    if (held.length + settles !== mintsSeen) throw new PoolPathMismatch(`${path.name}: the issuer saw ${held.length + settles} mints, the model ${mintsSeen}`);
  } finally {
    await pool.stop();
  }
  if (clock.pendingTimers !== 0) throw new PoolPathMismatch(`${path.name}: ${clock.pendingTimers} timers left after stop()`);
  return { states, transitions };
}
