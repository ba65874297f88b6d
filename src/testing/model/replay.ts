import { isDeepStrictEqualish } from './equal.js';
import { checkOptions } from '../../check-options.js';
import { CredentialError } from '../../../machines/credential-error.js';
import { describeShape } from '../../describe-shape.js';
import type { InspectionEvent } from 'xstate';
import { credentialMachine, type CredentialMachine } from '../../../machines/credential.machine.js';
import type { AuthToken, MintedToken } from '../../auth-token.js';
import { createCredentialProviderWith, type TokenSource } from '../../provider.js';
import type { MintContext } from '../../mint.js';
import { Secret } from '../../../machines/secret.js';
import { ManualClock } from '../manual-clock.js';
import { matchesReason, describeWorld, type CredentialScenario, type TokenCallOutcome } from './scenarios.js';
import { transitionKey } from './transition-key.js';

/**
 * The provider as the user's code sees it during a replay: a {@link TokenSource}, the interface a
 * `CredentialProvider` implements too, so code typed against `TokenSource` takes both.
 * `currentToken()` joins the step's signal to yours (so "every waiter gives up" reaches it).
 */
export type ReplayedProvider = TokenSource;

/** What the upstream answered one request. */
export interface UpstreamCall {
  /** The clock reading when it was sent. */
  readonly at: number;
  /** 200, or 401 for a token the upstream refuses (refused by the scenario, expired, or unknown). */
  readonly status: 200 | 401;
  /** The token sent had expired (a defect of the code under test, whatever the upstream said). */
  readonly expired: boolean;
  /** No token was sent, or one the provider never minted. */
  readonly unknownToken: boolean;
}

/** What `onRequest` is handed at each "a caller asks" step. */
export interface RequestContext {
  /** The provider under test (use it as your code uses the real one). */
  readonly provider: ReplayedProvider;
  /** The fake upstream: send it the token (or its secret); it answers 200 or 401. */
  upstream(token: AuthToken | Secret | string | null | undefined): { status: 200 | 401 };
  /** The same upstream as a `fetch`: reads `Authorization: Bearer …` and answers with an empty `Response`. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Aborts when the scenario's waiters give up. */
  readonly signal: AbortSignal;
  /** The replay's clock reading. */
  now(): number;
}

/** Options of {@link replayScenario}. */
export interface ReplayOptions<T = unknown> {
  /**
   * Your code, called at each step where a caller asks (and where a caller's request is refused
   * upstream). Default: `currentToken()`, send it upstream, and on a 401 `invalidate(token)` and
   * retry once.
   */
  onRequest?: (context: RequestContext) => T | Promise<T>;
  /** @internal A variant of the statechart, for our own tests that prove the replay bites. */
  machine?: CredentialMachine;
}

/** What one request of your code did. */
export interface ReplayedRequest<T = unknown> {
  /** The step it was made at (index into `scenario.steps`) and the clock reading. */
  readonly step: number;
  readonly at: number;
  /** What `onRequest` returned or threw; `pending` if it had not settled when the scenario ended. */
  readonly result: { readonly status: 'fulfilled'; readonly value: T } | { readonly status: 'rejected'; readonly reason: unknown } | { readonly status: 'pending' };
  /** Every request it sent upstream. */
  readonly upstream: readonly UpstreamCall[];
  /** How many times it called `currentToken()`. */
  readonly tokenCalls: number;
  /** How many times it reported a refused token: `invalidate(token)`, or `currentToken({ rejected: token })`. */
  readonly invalidations: number;
}

/** What a replay observed. */
export interface ReplayResult<T = unknown> {
  readonly scenario: string;
  /** Your code's requests, in order. */
  readonly requests: readonly ReplayedRequest<T>[];
  /** The statechart transitions (by key) and state nodes the provider really went through. */
  readonly transitions: ReadonlySet<string>;
  readonly states: ReadonlySet<string>;
}

/** The provider did not do what the scenario says (or your code made calls the scenario does not expect). */
export class ScenarioMismatch extends Error {
  override name = 'ScenarioMismatch';
}

/** A request's calls beyond this are a runaway loop: stopped and reported. */
const MAX_CALLS_PER_REQUEST = 20;
const ABORT_REASON = 'credential-actor/testing: every waiter gave up';

interface TrackedCall {
  readonly number: number;
  settled: { ok: true; token: AuthToken } | { ok: false; error: unknown } | null;
}

interface TrackedRequest<T> {
  readonly step: number;
  readonly at: number;
  readonly controller: AbortController;
  readonly upstream: UpstreamCall[];
  tokenCalls: number;
  invalidations: number;
  runaway: string | null;
  result: ReplayedRequest<T>['result'];
}

/**
 * Drives a real provider (`createCredentialProvider` on a `ManualClock`, with a scripted mint)
 * through `scenario`: at each step where a caller asks it calls your `onRequest` instead of
 * `currentToken()`, so your wrapper is what runs; every other step it does itself (moves time, settles
 * the mint, aborts the waiters, refuses a token). After every step it checks the provider's side
 * (state, clock, mints started, cached token, reporters, and what each `currentToken()` call came to)
 * and throws a {@link ScenarioMismatch} naming the scenario and step. Ends with `stop()`: no timer may
 * be left. Returns what your code did, for your own assertions.
 *
 * @example
 * ```ts
 * const result = await replayScenario(scenario, { onRequest: ({ provider, fetch }) => fetchWithToken(provider, 'https://api', {}, fetch) });
 * expect(result.requests.flatMap((request) => request.upstream).some((call) => call.expired)).toBe(false);
 * ```
 */
export async function replayScenario<T = unknown>(scenario: CredentialScenario, options: ReplayOptions<T> = {}): Promise<ReplayResult<T>> {
  checkOptions(options, { owner: 'replayScenario', known: ['onRequest', 'machine'] });
  const onRequest = options.onRequest ?? (defaultRequest as unknown as (context: RequestContext) => T | Promise<T>);
  if (typeof scenario !== 'object' || scenario === null || typeof scenario.model !== 'object' || !Array.isArray(scenario.steps)) {
    throw new CredentialError('INVALID_ARGUMENT', `replayScenario: scenario must be one of credentialScenarios(), got ${describeShape(scenario)}`);
  }
  const { model } = scenario;
  const transitions = new Set<string>();
  const states = new Set<string>();
  const inspect = (event: InspectionEvent) => {
    if (event.type !== '@xstate.microstep') return;
    for (const transition of event._transitions) transitions.add(transitionKey(transition));
    const value = (event.snapshot as unknown as { value: Record<string, string> }).value;
    for (const [region, child] of Object.entries(value)) states.add(`credential.${region}`).add(`credential.${region}.${child}`);
  };
  const clock = new ManualClock(model.startMs);
  const mints: { resolve(token: MintedToken): void; reject(error: unknown): void; signal: AbortSignal; phase: MintContext['phase']; step: MintContext['step'] }[] = [];
  const mint = ({ signal, phase, step }: MintContext) => new Promise<MintedToken>((resolve, reject) => mints.push({ resolve, reject, signal, phase, step }));
  /** Every token minted, by secret, and the ones the upstream refuses. */
  const minted = new Map<string, number | null>();
  const refused = new Set<string>();
  const reports = { succeeded: 0, failed: 0, breaker: [] as string[] };
  const calls: TrackedCall[] = [];
  const requests: TrackedRequest<T>[] = [];
  const trail: string[] = [];
  const mismatch = (message: string): never => {
    throw new ScenarioMismatch(`${scenario.name}\n  at step ${trail.length} (${trail.at(-1) ?? 'start'}): ${message}\n  steps: ${trail.join(' → ')}`);
  };

  const mintToken = (secret: string, expiresAt: number | null) => {
    minted.set(secret, expiresAt);
    mints.at(-1)!.resolve({ secret, expiresAt });
  };
  const { breakerCounts: _breakerCounts, ...policy } = model.policy;
  const pending = createCredentialProviderWith(options.machine ?? credentialMachine, { mint, clock, inspect, ...policy });
  mintToken('model-token-0', model.startMs + model.lifetimeMs);
  const provider = await pending;
  provider.on('refresh.succeeded', () => reports.succeeded++);
  provider.on('refresh.failed', () => reports.failed++);
  provider.on('breaker.changed', ({ from, to }) => reports.breaker.push(`${from}->${to}`));

  const startRequest = (step: number) => {
    const request: TrackedRequest<T> = {
      step,
      at: clock.now(),
      controller: new AbortController(),
      upstream: [],
      tokenCalls: 0,
      invalidations: 0,
      runaway: null,
      result: { status: 'pending' },
    };
    requests.push(request);
    const runaway = (what: string): boolean => {
      if (request.tokenCalls + request.upstream.length <= MAX_CALLS_PER_REQUEST) return false;
      request.runaway ??= `request #${requests.indexOf(request) + 1} made ${what} more than ${MAX_CALLS_PER_REQUEST} times: stopped as a runaway loop`;
      return true;
    };
    const upstream: RequestContext['upstream'] = (token) => {
      const secret = typeof token === 'string' ? token : token instanceof Secret ? token.reveal() : token?.secret.reveal();
      const now = clock.now();
      const known = secret !== undefined && minted.has(secret);
      const expiresAt = known ? minted.get(secret!)! : null;
      const expired = known && expiresAt !== null && now >= expiresAt;
      const status = !known || expired || refused.has(secret!) ? 401 : 200;
      request.upstream.push({ at: now, status, expired, unknownToken: !known });
      if (runaway('upstream requests')) return { status: 401 };
      return { status };
    };
    const context: RequestContext = {
      provider: {
        currentToken: (callOptions) => {
          request.tokenCalls++;
          if (callOptions?.rejected !== undefined) request.invalidations++;
          // A runaway loop is parked (never settles) rather than spun forever.
          if (runaway('currentToken() calls')) return new Promise<never>(() => {});
          const call: TrackedCall = { number: calls.length + 1, settled: null };
          calls.push(call);
          const signal = callOptions?.signal === undefined ? request.controller.signal : AbortSignal.any([callOptions.signal, request.controller.signal]);
          const promise = provider.currentToken({ ...callOptions, signal });
          promise.then(
            (token) => (call.settled = { ok: true, token }),
            (error: unknown) => (call.settled = { ok: false, error }),
          );
          return promise;
        },
        invalidate: (token) => {
          request.invalidations++;
          return provider.invalidate(token);
        },
      },
      upstream,
      fetch: async (_input, init) => {
        const authorization = new Headers(init?.headers).get('authorization');
        const { status } = upstream(authorization?.replace(/^Bearer\s+/i, '') ?? null);
        return new Response(null, { status });
      },
      signal: request.controller.signal,
      now: () => clock.now(),
    };
    let returned: Promise<T>;
    try {
      returned = Promise.resolve(onRequest(context));
    } catch (error) {
      returned = Promise.reject(error);
    }
    returned.then(
      (value) => (request.result = { status: 'fulfilled', value }),
      (reason: unknown) => (request.result = { status: 'rejected', reason }),
    );
  };

  /** The outcome each call must come to, once decided; a call not yet decided must still be waiting. */
  const expectedCalls = new Map<number, TokenCallOutcome>();
  const checkRunaways = () => {
    for (const request of requests) if (request.runaway !== null) mismatch(request.runaway);
  };
  const checkCalls = () => {
    checkRunaways();
    if (calls.length !== expectedCalls.size) {
      mismatch(`${calls.length} currentToken() calls so far, the scenario expects ${expectedCalls.size} (does your code ask once per request, and retry once after a 401?)`);
    }
    for (const call of calls) {
      const problem = disagreement(call, expectedCalls.get(call.number)!);
      if (problem !== null) mismatch(`currentToken() call #${call.number}: ${problem}`);
    }
  };

  try {
    for (const [index, step] of scenario.steps.entries()) {
      const { world, expect } = step;
      trail.push(describeWorld(world));
      const before = mints.length;
      switch (world.kind) {
        case 'request':
          if (world.at > clock.now()) clock.skip(world.at - clock.now());
          startRequest(index);
          break;
        case 'upstreamRefuses': {
          const token = provider.actor.getSnapshot().context.token as AuthToken;
          refused.add(token.secret.reveal());
          startRequest(index);
          break;
        }
        case 'upstreamRefusesLate': {
          const token = provider.actor.getSnapshot().context.token as AuthToken;
          refused.add(token.secret.reveal());
          if (!provider.invalidate(token)) mismatch('invalidate() of the refused token returned false');
          break;
        }
        case 'waitersGiveUp':
          for (const request of requests) request.controller.abort(ABORT_REASON);
          break;
        case 'mintResolves':
        case 'mintLandsExpired':
        case 'mintFails': {
          const next = clock.nextTimerAt();
          if (next !== null && next <= world.at) mismatch(`a timer at ${next} would fire before the mint settles at ${world.at}`);
          if (mints.length === 0) mismatch('no mint was started');
          clock.advance(world.at - clock.now());
          if (world.kind === 'mintResolves') mintToken(`model-token@${world.at}#${mints.length}`, world.expiresAt);
          else if (world.kind === 'mintLandsExpired') mintToken(`model-token@${world.at}#${mints.length}`, world.at);
          else mints.at(-1)!.reject(Object.assign(new Error('model mint failure'), world.retryAfterMs === undefined ? {} : { retryAfterMs: world.retryAfterMs }));
          break;
        }
        case 'timer':
          if (!clock.runNext()) mismatch(`no timer armed for ${world.timer}`);
          break;
        case 'mintPhase': {
          const reporting = mints.at(-1)?.phase ?? mismatch('the mint in flight was given no phase callback');
          reporting(world.phase);
          break;
        }
        case 'mintStep': {
          const saying = mints.at(-1)?.step ?? mismatch('the mint in flight was given no step callback');
          saying(world.step);
          break;
        }
      }
      await settle();
      checkRunaways();
      for (const { call, outcome } of expect.tokenCalls) expectedCalls.set(call, outcome);
      const actual = provider.actor.getSnapshot();
      if (!isDeepStrictEqualish(actual.value, expect.state)) {
        const hint = world.kind === 'upstreamRefuses' ? ' (after a 401, does your code invalidate(token) and retry once?)' : '';
        mismatch(`state ${JSON.stringify(actual.value)}, the scenario says ${JSON.stringify(expect.state)}${hint}`);
      }
      if (clock.now() !== expect.now) mismatch(`clock at ${clock.now()}, the scenario says ${expect.now}`);
      if (mints.length - 1 !== expect.mintsStarted) mismatch(`${mints.length - 1} mints started, the scenario says ${expect.mintsStarted}`);
      if (mints.length > before !== expect.startsMint) mismatch(expect.startsMint ? 'no mint started' : 'a mint started');
      if (actual.context.token.expiresAt !== expect.cachedTokenExpiresAt) {
        mismatch(`cached token expires at ${actual.context.token.expiresAt}, the scenario says ${expect.cachedTokenExpiresAt}`);
      }
      if (!isDeepStrictEqualish(reports, expect.reports)) {
        mismatch(`reporters saw ${JSON.stringify(reports)}, the scenario implies ${JSON.stringify(expect.reports)}`);
      }
      checkCalls();
    }
    // Every scenario ends with stop(): waiting calls are refused, the mint is aborted, no timer is left.
    trail.push('stop()');
    const minting = provider.actor.getSnapshot().value.flight === 'minting';
    await provider.stop();
    await settle();
    for (const [number, outcome] of expectedCalls) if (outcome.status === 'waiting') expectedCalls.set(number, { status: 'rejected', reason: 'STOPPED' });
    checkCalls();
    if (clock.pendingTimers !== 0) mismatch(`${clock.pendingTimers} timers left after stop()`);
    if (minting && !mints.at(-1)!.signal.aborted) mismatch('the mint in flight was not aborted');
  } finally {
    await provider.stop();
  }
  return {
    scenario: scenario.name,
    requests: requests.map(({ step, at, result, upstream, tokenCalls, invalidations }) => ({ step, at, result, upstream, tokenCalls, invalidations })),
    transitions,
    states,
  };
}

/** The default code under test: ask, send, and on a 401 ask for a newer token (`rejected`) and retry once. */
async function defaultRequest({ provider, upstream }: RequestContext): Promise<{ status: 200 | 401 }> {
  const token = await provider.currentToken();
  const response = upstream(token);
  if (response.status !== 401) return response;
  return upstream(await provider.currentToken({ rejected: token }));
}

function disagreement(call: TrackedCall, expected: TokenCallOutcome): string | null {
  const { settled } = call;
  if (expected.status === 'waiting') return settled === null ? null : `settled (${describeSettled(settled)}) but should still wait`;
  if (settled === null) return 'still waiting';
  if (expected.status === 'served') {
    if (!settled.ok) return `rejected with ${describeSettled(settled)}, expected a token expiring at ${expected.expiresAt}`;
    return settled.token.expiresAt === expected.expiresAt ? null : `served a token expiring at ${settled.token.expiresAt}, expected ${expected.expiresAt}`;
  }
  if (settled.ok) return `served a token, expected a rejection (${expected.reason})`;
  return matchesReason(settled.error, expected.reason, ABORT_REASON) ? null : `rejected with ${describeSettled(settled)}, expected ${expected.reason}`;
}

function describeSettled(settled: NonNullable<TrackedCall['settled']>): string {
  if (settled.ok) return `token expiring at ${settled.token.expiresAt}`;
  const { error } = settled;
  if (error === ABORT_REASON) return 'aborted';
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
}

/**
 * Lets every queued promise reaction and the transitions they cause run: a few macrotask turns
 * (the user's code may chain several awaits between its calls). No wall time passes on the
 * scenario's clock.
 */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 3; turn++) await macrotask();
}

function macrotask(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => (immediate === undefined ? setTimeout(resolve, 0) : immediate(resolve)));
}
