import { credentialMachine, type CredentialMachine } from '../../../machines/credential.machine.js';
import type { CredentialEvent, SharedMintPhase } from '../../../machines/credential.types.js';
import type { CredentialDelay } from '../../../machines/delays.js';
import { isTokenUnusableAt } from '../../../machines/policy.js';
import type { RefreshMode, RefreshPolicy } from '../../config.js';
import { CredentialError } from '../../../machines/credential-error.js';
import { retryAfterOf } from '../../retry-after.js';
import { checkOptions } from '../../check-options.js';
import { defaultModel, generatePaths, inventory, outcomeOfEvent, timeOfEvent, timeOfSnapshot, worldKindOfEvent, type ModelConfig, type ModelSnapshot } from './graph.js';

/** What the world does at one step of a scenario. Times are the `ManualClock`'s readings (ms). */
export type WorldAction =
  /** A caller asks for a token (the user's code runs: `onRequest`). */
  | { readonly kind: 'request'; readonly at: number }
  /** Time moves to the next timer, which fires. */
  | { readonly kind: 'timer'; readonly timer: CredentialDelay; readonly at: number }
  /** The mint in flight resolves with a token expiring at `expiresAt` (`short`: due the moment it lands). */
  | { readonly kind: 'mintResolves'; readonly at: number; readonly expiresAt: number; readonly short: boolean }
  /** The mint in flight resolves with a token that has already expired. */
  | { readonly kind: 'mintLandsExpired'; readonly at: number }
  /** The mint in flight rejects (with `Error('model mint failure')`; with a `retryAfterMs` when the issuer said when to come back). */
  | { readonly kind: 'mintFails'; readonly at: number; readonly retryAfterMs?: number }
  /** Every caller waiting on the mint gives up (their signals abort). */
  | { readonly kind: 'waitersGiveUp'; readonly at: number }
  /** The mint in flight, shared across processes, reports where it is (it calls its `phase` callback). */
  | { readonly kind: 'mintPhase'; readonly at: number; readonly phase: SharedMintPhase }
  /** The mint in flight says what it is doing (it calls its `step` callback). */
  | { readonly kind: 'mintStep'; readonly at: number; readonly step: string }
  /**
   * A caller asks, sends the token upstream, and the upstream refuses it (401): the user's code
   * should `invalidate(token)` and retry once.
   */
  | { readonly kind: 'upstreamRefuses'; readonly at: number }
  /** A response to a request sent earlier comes back 401: the token is invalidated (by the replay). */
  | { readonly kind: 'upstreamRefusesLate'; readonly at: number };

/** What one `currentToken()` call must come to. */
export type TokenCallOutcome =
  | { readonly status: 'waiting' }
  | { readonly status: 'served'; readonly expiresAt: number | null }
  | {
      readonly status: 'rejected';
      /** A `CredentialError` code, `'mint-error'` (the mint's own error) or `'aborted'` (the caller's signal). */
      readonly reason: 'BREAKER_OPEN' | 'MINT_TIMEOUT' | 'MINTED_TOKEN_ALREADY_EXPIRED' | 'STOPPED' | 'mint-error' | 'aborted';
    };

/** What the provider must show after a step. */
export interface ProviderExpectation {
  /** The statechart's state value. */
  readonly state: { readonly validity: string; readonly breaker: string; readonly flight: string; readonly sharing: string };
  /** The clock reading. */
  readonly now: number;
  /** Mints the statechart has started (the construction mint not counted). */
  readonly mintsStarted: number;
  /** Whether this step started one. */
  readonly startsMint: boolean;
  /** The cached token's expiry. */
  readonly cachedTokenExpiresAt: number | null;
  /** `currentToken()` calls (numbered from 1 in the order they are made) whose outcome this step decides. */
  readonly tokenCalls: readonly { readonly call: number; readonly outcome: TokenCallOutcome }[];
  /** Reporters so far: refreshes that succeeded, failed, and the breaker's changes. */
  readonly reports: { readonly succeeded: number; readonly failed: number; readonly breaker: readonly string[] };
}

/** One step: what the world does, and what the provider must do. */
export interface ScenarioStep {
  readonly world: WorldAction;
  readonly expect: ProviderExpectation;
}

/** The durations and policy a scenario runs with (plain data). */
export type ScenarioModel = ModelConfig;

/** A generated scenario: plain, serializable data (snapshot it, print it, replay it). */
export interface CredentialScenario {
  /** The refresh mode, a number, and the steps in short: `on-demand #4: request@809 → timer:untilExpiry@1618`. */
  readonly name: string;
  readonly refresh: RefreshMode;
  readonly model: ScenarioModel;
  /** The statechart transitions this scenario was generated to reach (it is the shortest path to each), as `source --event [guard]--> target`. */
  readonly covers: readonly string[];
  readonly steps: readonly ScenarioStep[];
}

/** Options of {@link credentialScenarios}. */
export interface ScenarioOptions {
  /** Which refresh mode (default: both, on-demand first). */
  refresh?: RefreshMode | readonly RefreshMode[];
  /**
   * Policy overrides (default: a small policy whose timers never tie). `refresh` is set by `refresh`.
   * Durations that make two timers armed together fall due together throw a `CredentialError`
   * with code `INVALID_CONFIG` naming them: the order of the two would be undefined.
   */
  policy?: Partial<Omit<RefreshPolicy, 'refresh' | 'breakerCounts'>>;
  /** Duration overrides: a normal token's life, a short token's life, how long a mint takes, the start. */
  timing?: Partial<Pick<ModelConfig, 'startMs' | 'lifetimeMs' | 'shortLifetimeMs' | 'settleMs'>>;
  /**
   * Whether your provider shares its mint across processes (`coordination`, e.g. Redis): then the
   * scenarios also walk the `sharing` region (waiting on the lease holder, adopting, holding the
   * lease). Default `false`: without a coordination those phases never happen.
   */
  coordination?: boolean;
  /** @internal A variant of the statechart, for our own tests that prove the coverage check bites. */
  machine?: CredentialMachine;
}

/**
 * The scenarios generated from the shipped statechart's own graph: a shortest path to every state
 * and every transition, in each refresh mode asked for, as plain data. Each step says what the world
 * does and what the provider must do. Same options, same scenarios (snapshot them if you like).
 *
 * @example
 * ```ts
 * import { credentialScenarios, replayScenario } from 'credential-actor/testing';
 *
 * for (const scenario of credentialScenarios()) {
 *   test(scenario.name, () => replayScenario(scenario, { onRequest: ({ provider, fetch }) => myFetch(provider, fetch) }));
 * }
 * ```
 */
export function credentialScenarios(options: ScenarioOptions = {}): CredentialScenario[] {
  checkOptions(options, { owner: 'credentialScenarios', known: ['refresh', 'policy', 'timing', 'coordination', 'machine'] });
  const modes: readonly RefreshMode[] = options.refresh === undefined ? ['on-demand', 'proactive'] : typeof options.refresh === 'string' ? [options.refresh] : options.refresh;
  const scenarios: CredentialScenario[] = [];
  const machine = options.machine ?? credentialMachine;
  const labels = inventory(machine).transitions;
  for (const refresh of modes) {
    const base = defaultModel(refresh);
    const model: ModelConfig = { ...base, ...options.timing, sharedMint: options.coordination === true, policy: { ...base.policy, ...options.policy, refresh } };
    generatePaths(machine, model).forEach(({ path, covers }, index) => {
      const steps = toScenarioSteps(path.steps as { state: ModelSnapshot; event: CredentialEvent }[]);
      const name = `${refresh} #${index + 1}: ${steps.map((step) => describeWorld(step.world)).join(' → ')}`;
      scenarios.push({ name, refresh, model, covers: covers.map((key) => labels.get(key) ?? key), steps });
    });
  }
  return scenarios;
}

/** A short label for a world action: `request@809`, `timer:untilExpiry@1618`, `mintFails@822`. */
export function describeWorld(world: WorldAction): string {
  switch (world.kind) {
    case 'timer':
      return `timer:${world.timer}@${world.at}`;
    case 'mintResolves':
      return `${world.short ? 'mintResolvesShort' : 'mintResolves'}@${world.at}`;
    case 'mintFails':
      return `${world.retryAfterMs === undefined ? 'mintFails' : `mintFailsRetryAfter(${world.retryAfterMs})`}@${world.at}`;
    case 'mintPhase':
      return `mintPhase:${world.phase}@${world.at}`;
    case 'mintStep':
      return `mintStep:${world.step}@${world.at}`;
    default:
      return `${world.kind}@${world.at}`;
  }
}

/** The model path's steps as world actions with expectations; a refusal and the caller's retry become one step. */
function toScenarioSteps(modelSteps: readonly { state: ModelSnapshot; event: CredentialEvent }[]): ScenarioStep[] {
  const steps: ScenarioStep[] = [];
  const reports = { succeeded: 0, failed: 0, breaker: [] as string[] };
  /** Outcomes of the calls still waiting, by call number. */
  const waiting = new Set<number>();
  let calls = 0;
  let previous = modelSteps[0]!.state;
  for (let index = 1; index < modelSteps.length; index++) {
    const { event } = modelSteps[index]!;
    let { state } = modelSteps[index]!;
    const at = timeOfEvent(event);
    const decided: { call: number; outcome: TokenCallOutcome }[] = [];
    const settleWaiting = (outcome: TokenCallOutcome) => {
      for (const call of waiting) decided.push({ call, outcome });
      waiting.clear();
    };
    const ask = (after: ModelSnapshot, now: number) => {
      const call = ++calls;
      const outcome = outcomeOfRequest(after, now);
      if (outcome.status === 'waiting') waiting.add(call);
      decided.push({ call, outcome });
    };
    let world: WorldAction;
    switch (event.type) {
      case 'token.requested':
        world = { kind: 'request', at };
        ask(state, at);
        break;
      case 'token.invalidated': {
        if (worldKindOfEvent(event) === 'refused') {
          // the caller was served the cached token, the upstream refused it, and it retries at once
          world = { kind: 'upstreamRefuses', at };
          decided.push({ call: ++calls, outcome: { status: 'served', expiresAt: previous.context.token.expiresAt } });
          const retry = modelSteps[++index]!;
          if (worldKindOfEvent(retry.event) !== 'retry') throw new Error('a refusal must be followed by the caller’s retry');
          state = retry.state;
          ask(state, at);
        } else {
          world = { kind: 'upstreamRefusesLate', at };
        }
        break;
      }
      case 'mint.phase':
        world = { kind: 'mintPhase', at, phase: event.phase };
        break;
      case 'mint.step':
        world = { kind: 'mintStep', at, step: event.step };
        break;
      case 'mint.abandoned':
        world = { kind: 'waitersGiveUp', at };
        settleWaiting({ status: 'rejected', reason: 'aborted' });
        break;
      case 'xstate.done.actor.mint':
      case 'xstate.error.actor.mint': {
        const outcome = outcomeOfEvent(event);
        if (outcome === 'token' || outcome === 'shortToken') {
          world = { kind: 'mintResolves', at, expiresAt: state.context.token.expiresAt!, short: outcome === 'shortToken' };
          reports.succeeded++;
          settleWaiting({ status: 'served', expiresAt: state.context.token.expiresAt });
        } else if (outcome === 'expiredToken') {
          world = { kind: 'mintLandsExpired', at };
          reports.failed++;
          settleWaiting({ status: 'rejected', reason: 'MINTED_TOKEN_ALREADY_EXPIRED' });
        } else if (outcome === 'retryAfterFailure') {
          world = { kind: 'mintFails', at, retryAfterMs: retryAfterOf((event as { error?: { retryAfterMs?: unknown } }).error) ?? 0 };
          reports.failed++;
          settleWaiting({ status: 'rejected', reason: 'mint-error' });
        } else {
          world = { kind: 'mintFails', at };
          reports.failed++;
          settleWaiting({ status: 'rejected', reason: 'mint-error' });
        }
        break;
      }
      default: {
        const timer = event.type.replace(/^xstate\.after\./, '').split('.')[0] as CredentialDelay;
        world = { kind: 'timer', timer, at };
        if (timer === 'mintTimeout') {
          reports.failed++;
          settleWaiting({ status: 'rejected', reason: 'MINT_TIMEOUT' });
        }
      }
    }
    if (previous.value.breaker !== state.value.breaker) reports.breaker.push(`${previous.value.breaker}->${state.value.breaker}`);
    const { validity, breaker, flight, sharing } = state.value;
    steps.push({
      world,
      expect: {
        state: { validity, breaker, flight, sharing },
        now: timeOfSnapshot(state),
        mintsStarted: state.context.attempt,
        startsMint: state.context.attempt > previous.context.attempt,
        cachedTokenExpiresAt: state.context.token.expiresAt,
        tokenCalls: decided,
        reports: { succeeded: reports.succeeded, failed: reports.failed, breaker: [...reports.breaker] },
      },
    });
    previous = state;
  }
  return steps;
}

/** A request made at `now` that left the statechart in `after`: served, waiting, or refused. */
function outcomeOfRequest(after: ModelSnapshot, now: number): TokenCallOutcome {
  if (!isTokenUnusableAt(after.context, now)) return { status: 'served', expiresAt: after.context.token.expiresAt };
  if (after.value.flight === 'minting') return { status: 'waiting' };
  return { status: 'rejected', reason: 'BREAKER_OPEN' };
}

/** Whether `error` is what a {@link TokenCallOutcome} rejection reason names. */
export function matchesReason(error: unknown, reason: Extract<TokenCallOutcome, { status: 'rejected' }>['reason'], abortReason: unknown): boolean {
  if (reason === 'aborted') return error === abortReason;
  if (reason === 'mint-error') return error instanceof Error && !(error instanceof CredentialError) && error.message === 'model mint failure';
  return error instanceof CredentialError && error.code === reason;
}
