import { isDeepStrictEqualish } from './equal.js';
import { checkOptions } from '../../check-options.js';
import { CredentialError } from '../../../machines/credential-error.js';
import { describeShape } from '../../describe-shape.js';
import type { InspectionEvent } from 'xstate';
import { credentialMachine, type CredentialMachine } from '../../../machines/credential.machine.js';
import type { AuthToken, MintedToken } from '../../auth-token.js';
import { createCredentialProviderWith, type CredentialProvider, type TokenSource } from '../../provider.js';
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

/**
 * The provider did not do what the scenario says (or your code made calls the scenario does not
 * expect): a `CredentialError` with code `SCENARIO_MISMATCH`, its message naming the scenario and step.
 */
export class ScenarioMismatch extends CredentialError {
  override name = 'ScenarioMismatch';

  /** @internal Thrown by {@link replayScenario}. */
  constructor(message: string) {
    super('SCENARIO_MISMATCH', message);
  }
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
  if (typeof scenario !== 'object' || scenario === null || typeof scenario.model !== 'object' || !Array.isArray(scenario.steps)) {
    throw new CredentialError('INVALID_ARGUMENT', `replayScenario: scenario must be one of credentialScenarios(), got ${describeShape(scenario)}`);
  }
  const replay = new Replay<T>(scenario, options.onRequest ?? (defaultRequest as unknown as (context: RequestContext) => T | Promise<T>));
  const provider = await replay.startProvider(options.machine ?? credentialMachine);
  try {
    for (const [index, step] of scenario.steps.entries()) await replay.run(index, step);
    await replay.stop();
  } finally {
    await provider.stop();
  }
  return replay.result();
}

/** A mint the replay started: settled by the scenario's steps. */
interface ScriptedMint {
  resolve(token: MintedToken): void;
  reject(error: unknown): void;
  readonly signal: AbortSignal;
  readonly phase: MintContext['phase'];
  readonly step: MintContext['step'];
}

/** One replay: the provider under test, its clock and mints, what the user's code did, and the checks after each step. */
class Replay<T> {
  readonly #scenario: CredentialScenario;
  readonly #onRequest: (context: RequestContext) => T | Promise<T>;
  readonly #clock: ManualClock;
  readonly #mints: ScriptedMint[] = [];
  /** Every token minted, by secret, and the ones the upstream refuses. */
  readonly #minted = new Map<string, number | null>();
  readonly #refused = new Set<string>();
  readonly #reports = { succeeded: 0, failed: 0, breaker: [] as string[] };
  readonly #calls: TrackedCall[] = [];
  readonly #requests: TrackedRequest<T>[] = [];
  readonly #trail: string[] = [];
  /** The outcome each call must come to, once decided; a call not yet decided must still be waiting. */
  readonly #expectedCalls = new Map<number, TokenCallOutcome>();
  readonly #transitions = new Set<string>();
  readonly #states = new Set<string>();
  #provider!: CredentialProvider;

  constructor(scenario: CredentialScenario, onRequest: (context: RequestContext) => T | Promise<T>) {
    this.#scenario = scenario;
    this.#onRequest = onRequest;
    this.#clock = new ManualClock(scenario.model.startMs);
  }

  /** The provider on the scenario's policy, its first token minted as the model says. */
  async startProvider(machine: CredentialMachine): Promise<CredentialProvider> {
    const { model } = this.#scenario;
    const inspect = (event: InspectionEvent) => {
      if (event.type !== '@xstate.microstep') return;
      for (const transition of event._transitions) this.#transitions.add(transitionKey(transition));
      const value = (event.snapshot as unknown as { value: Record<string, string> }).value;
      for (const [region, child] of Object.entries(value)) this.#states.add(`credential.${region}`).add(`credential.${region}.${child}`);
    };
    const mint = ({ signal, phase, step }: MintContext) => new Promise<MintedToken>((resolve, reject) => this.#mints.push({ resolve, reject, signal, phase, step }));
    const { breakerCounts: _breakerCounts, ...policy } = model.policy;
    const pending = createCredentialProviderWith(machine, { mint, clock: this.#clock, inspect, ...policy });
    this.#mintToken('model-token-0', model.startMs + model.lifetimeMs);
    const provider = await pending;
    provider.on('refresh.succeeded', () => this.#reports.succeeded++);
    provider.on('refresh.failed', () => this.#reports.failed++);
    provider.on('breaker.changed', ({ from, to }) => this.#reports.breaker.push(`${from}->${to}`));
    this.#provider = provider;
    return provider;
  }

  /** One step: what the world does, then every check of the provider's side against what the scenario expects. */
  async run(index: number, { world, expect }: CredentialScenario['steps'][number]): Promise<void> {
    this.#trail.push(describeWorld(world));
    const before = this.#mints.length;
    this.#apply(index, world);
    await settle();
    this.#checkRunaways();
    for (const { call, outcome } of expect.tokenCalls) this.#expectedCalls.set(call, outcome);
    const actual = this.#provider.actor.getSnapshot();
    if (!isDeepStrictEqualish(actual.value, expect.state)) {
      const hint = world.kind === 'upstreamRefuses' ? ' (after a 401, does your code invalidate(token) and retry once?)' : '';
      this.#mismatch(`state ${JSON.stringify(actual.value)}, the scenario says ${JSON.stringify(expect.state)}${hint}`);
    }
    const clock = this.#clock;
    if (clock.now() !== expect.now) this.#mismatch(`clock at ${clock.now()}, the scenario says ${expect.now}`);
    if (this.#mints.length - 1 !== expect.mintsStarted) this.#mismatch(`${this.#mints.length - 1} mints started, the scenario says ${expect.mintsStarted}`);
    if (this.#mints.length > before !== expect.startsMint) this.#mismatch(expect.startsMint ? 'no mint started' : 'a mint started');
    if (actual.context.token.expiresAt !== expect.cachedTokenExpiresAt) {
      this.#mismatch(`cached token expires at ${actual.context.token.expiresAt}, the scenario says ${expect.cachedTokenExpiresAt}`);
    }
    if (!isDeepStrictEqualish(this.#reports, expect.reports)) {
      this.#mismatch(`reporters saw ${JSON.stringify(this.#reports)}, the scenario implies ${JSON.stringify(expect.reports)}`);
    }
    this.#checkCalls();
  }

  /** Every scenario ends with stop(): waiting calls are refused, the mint is aborted, no timer is left. */
  async stop(): Promise<void> {
    this.#trail.push('stop()');
    const minting = this.#provider.actor.getSnapshot().value.flight === 'minting';
    await this.#provider.stop();
    await settle();
    for (const [number, outcome] of this.#expectedCalls) if (outcome.status === 'waiting') this.#expectedCalls.set(number, { status: 'rejected', reason: 'STOPPED' });
    this.#checkCalls();
    if (this.#clock.pendingTimers !== 0) this.#mismatch(`${this.#clock.pendingTimers} timers left after stop()`);
    if (minting && !this.#mints.at(-1)!.signal.aborted) this.#mismatch('the mint in flight was not aborted');
  }

  result(): ReplayResult<T> {
    return {
      scenario: this.#scenario.name,
      requests: this.#requests.map(({ step, at, result, upstream, tokenCalls, invalidations }) => ({ step, at, result, upstream, tokenCalls, invalidations })),
      transitions: this.#transitions,
      states: this.#states,
    };
  }

  /** What the world does at one step. */
  #apply(index: number, world: CredentialScenario['steps'][number]['world']): void {
    const clock = this.#clock;
    switch (world.kind) {
      case 'request':
        if (world.at > clock.now()) clock.skip(world.at - clock.now());
        this.#startRequest(index);
        break;
      case 'upstreamRefuses':
        this.#refused.add(this.#cachedToken().secret.reveal());
        this.#startRequest(index);
        break;
      case 'upstreamRefusesLate': {
        const token = this.#cachedToken();
        this.#refused.add(token.secret.reveal());
        if (!this.#provider.invalidate(token)) this.#mismatch('invalidate() of the refused token returned false');
        break;
      }
      case 'waitersGiveUp':
        for (const request of this.#requests) request.controller.abort(ABORT_REASON);
        break;
      case 'mintResolves':
      case 'mintLandsExpired':
      case 'mintFails': {
        const next = clock.nextTimerAt();
        if (next !== null && next <= world.at) this.#mismatch(`a timer at ${next} would fire before the mint settles at ${world.at}`);
        if (this.#mints.length === 0) this.#mismatch('no mint was started');
        clock.advance(world.at - clock.now());
        if (world.kind === 'mintResolves') this.#mintToken(`model-token@${world.at}#${this.#mints.length}`, world.expiresAt);
        else if (world.kind === 'mintLandsExpired') this.#mintToken(`model-token@${world.at}#${this.#mints.length}`, world.at);
        else this.#mints.at(-1)!.reject(Object.assign(new Error('model mint failure'), world.retryAfterMs === undefined ? {} : { retryAfterMs: world.retryAfterMs }));
        break;
      }
      case 'timer':
        if (!clock.runNext()) this.#mismatch(`no timer armed for ${world.timer}`);
        break;
      case 'mintPhase': {
        const reporting = this.#mints.at(-1)?.phase ?? this.#mismatch('the mint in flight was given no phase callback');
        reporting(world.phase);
        break;
      }
      case 'mintStep': {
        const saying = this.#mints.at(-1)?.step ?? this.#mismatch('the mint in flight was given no step callback');
        saying(world.step);
        break;
      }
    }
  }

  #cachedToken(): AuthToken {
    return this.#provider.actor.getSnapshot().context.token as AuthToken;
  }

  #mintToken(secret: string, expiresAt: number | null): void {
    this.#minted.set(secret, expiresAt);
    this.#mints.at(-1)!.resolve({ secret, expiresAt });
  }

  #mismatch(message: string): never {
    const trail = this.#trail;
    throw new ScenarioMismatch(`${this.#scenario.name}\n  at step ${trail.length} (${trail.at(-1) ?? 'start'}): ${message}\n  steps: ${trail.join(' → ')}`);
  }

  /** A caller asks: the user's `onRequest` runs with a context that tracks what it does. */
  #startRequest(step: number): void {
    const request: TrackedRequest<T> = {
      step,
      at: this.#clock.now(),
      controller: new AbortController(),
      upstream: [],
      tokenCalls: 0,
      invalidations: 0,
      runaway: null,
      result: { status: 'pending' },
    };
    this.#requests.push(request);
    let returned: Promise<T>;
    try {
      returned = Promise.resolve(this.#onRequest(this.#contextFor(request)));
    } catch (error) {
      returned = Promise.reject(error);
    }
    returned.then(
      (value) => (request.result = { status: 'fulfilled', value }),
      (reason: unknown) => (request.result = { status: 'rejected', reason }),
    );
  }

  /** What `onRequest` is handed for `request`: the provider, the upstream and its `fetch`, each call counted. */
  #contextFor(request: TrackedRequest<T>): RequestContext {
    const runaway = (what: string): boolean => {
      if (request.tokenCalls + request.upstream.length <= MAX_CALLS_PER_REQUEST) return false;
      request.runaway ??= `request #${this.#requests.indexOf(request) + 1} made ${what} more than ${MAX_CALLS_PER_REQUEST} times: stopped as a runaway loop`;
      return true;
    };
    const upstream: RequestContext['upstream'] = (token) => {
      const secret = typeof token === 'string' ? token : token instanceof Secret ? token.reveal() : token?.secret.reveal();
      const now = this.#clock.now();
      const known = secret !== undefined && this.#minted.has(secret);
      const expiresAt = known ? this.#minted.get(secret!)! : null;
      const expired = known && expiresAt !== null && now >= expiresAt;
      const status = !known || expired || this.#refused.has(secret!) ? 401 : 200;
      request.upstream.push({ at: now, status, expired, unknownToken: !known });
      if (runaway('upstream requests')) return { status: 401 };
      return { status };
    };
    return {
      provider: {
        currentToken: (callOptions) => {
          request.tokenCalls++;
          if (callOptions?.rejected !== undefined) request.invalidations++;
          // A runaway loop is parked (never settles) rather than spun forever.
          if (runaway('currentToken() calls')) return new Promise<never>(() => {});
          const call: TrackedCall = { number: this.#calls.length + 1, settled: null };
          this.#calls.push(call);
          const signal = callOptions?.signal === undefined ? request.controller.signal : AbortSignal.any([callOptions.signal, request.controller.signal]);
          const promise = this.#provider.currentToken({ ...callOptions, signal });
          promise.then(
            (token) => (call.settled = { ok: true, token }),
            (error: unknown) => (call.settled = { ok: false, error }),
          );
          return promise;
        },
        invalidate: (token) => {
          request.invalidations++;
          return this.#provider.invalidate(token);
        },
      },
      upstream,
      fetch: async (_input, init) => {
        const authorization = new Headers(init?.headers).get('authorization');
        const { status } = upstream(authorization?.replace(/^Bearer\s+/i, '') ?? null);
        return new Response(null, { status });
      },
      signal: request.controller.signal,
      now: () => this.#clock.now(),
    };
  }

  #checkRunaways(): void {
    for (const request of this.#requests) if (request.runaway !== null) this.#mismatch(request.runaway);
  }

  #checkCalls(): void {
    this.#checkRunaways();
    if (this.#calls.length !== this.#expectedCalls.size) {
      this.#mismatch(`${this.#calls.length} currentToken() calls so far, the scenario expects ${this.#expectedCalls.size} (does your code ask once per request, and retry once after a 401?)`);
    }
    for (const call of this.#calls) {
      const problem = disagreement(call, this.#expectedCalls.get(call.number)!);
      if (problem !== null) this.#mismatch(`currentToken() call #${call.number}: ${problem}`);
    }
  }
}

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
