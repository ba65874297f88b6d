/**
 * Replays a generated path against the real provider: a `createCredentialProvider` on a
 * `ManualClock` with a scripted mint, each event turned into what an app or the world would do,
 * and after every step the provider's actor compared with the path's state and the observable
 * results compared with what the statechart's step implies.
 */
import { isDeepStrictEqual } from 'node:util';
import type { InspectionEvent } from 'xstate';
import { credentialMachine, type CredentialMachine } from '../../machines/credential.machine.js';
import type { CredentialEvent } from '../../machines/credential.types.js';
import { isTokenUnusableAt } from '../../machines/policy.js';
import type { AuthToken } from '../../src/auth-token.js';
import { CredentialError } from '../../src/credential-error.js';
import { createCredentialProviderWith } from '../../src/provider.js';
import { ManualClock } from '../../src/testing.js';
import { flush, scriptedMint } from '../helpers.js';
import { transitionKey } from '../../machines/transition-key.js';
import { MODEL, modelInput, outcomeOfEvent, timeOfEvent, timeOfSnapshot, type GeneratedPath, type ModelSnapshot } from './graph.js';

/** What replaying one path observed: the transitions and state nodes it really went through. */
export interface ReplayResult {
  readonly transitions: Set<string>;
  readonly states: Set<string>;
}

/** What a caller's request is expected to come to, from the statechart's point of view. */
type Expectation =
  | { kind: 'pending' }
  | { kind: 'served'; expiresAt: number | null }
  | { kind: 'rejected'; match: (error: unknown) => boolean; description: string };

interface Request {
  readonly controller: AbortController;
  settled: { ok: true; token: AuthToken } | { ok: false; error: unknown } | null;
  expected: Expectation;
}

export class ReplayMismatch extends Error {
  override name = 'ReplayMismatch';
}

/**
 * Replays `generated` on a provider running `machine` (the shipped one by default; a test passes a
 * deliberately broken variant). Throws a {@link ReplayMismatch} naming the step that disagreed.
 */
export async function replayPath(generated: GeneratedPath, machine: CredentialMachine = credentialMachine): Promise<ReplayResult> {
  const { path, refresh } = generated;
  const transitions = new Set<string>();
  const states = new Set<string>();
  const inspect = (event: InspectionEvent) => {
    if (event.type !== '@xstate.microstep') return;
    for (const transition of event._transitions) transitions.add(transitionKey(transition));
    const value = (event.snapshot as ModelSnapshot).value;
    for (const [region, child] of Object.entries(value)) states.add(`credential.${region}`).add(`credential.${region}.${child}`);
  };
  const clock = new ManualClock(MODEL.startMs);
  const script = scriptedMint();
  const { policy } = modelInput(refresh);
  const outcomes = { succeeded: 0, failed: 0, breaker: [] as string[] };
  const pending = createCredentialProviderWith(machine, { mint: script.mint, clock, inspect, ...policy });
  script.last.resolve({ secret: 'model-token-0', expiresAt: MODEL.startMs + MODEL.lifetimeMs });
  const provider = await pending;
  provider.on('refresh.succeeded', () => outcomes.succeeded++);
  provider.on('refresh.failed', () => outcomes.failed++);
  provider.on('breaker.changed', ({ from, to }) => outcomes.breaker.push(`${from}->${to}`));
  const expected = { succeeded: 0, failed: 0, breaker: [] as string[] };
  const requests: Request[] = [];
  const [initial, ...steps] = path.steps;
  let previous = initial!.state;
  const trail: string[] = [];
  try {
    for (const step of steps) {
      const event = step.event as CredentialEvent;
      trail.push(describeStep(event));
      await perform(event, previous, step.state);
      await flush();
      expectStep(step.state, previous, event);
      previous = step.state;
    }
    // Every path ends with stop(): waiting callers are refused, the mint is aborted, no timer is left.
    trail.push('stop()');
    await provider.stop();
    await flush();
    settlePending(rejectedWithCode('STOPPED'));
    requests.forEach((request, index) => {
      const problem = disagreement(request);
      if (problem !== null) mismatch(`request #${index + 1}: ${problem}`);
    });
    if (clock.pendingTimers !== 0) mismatch(`${clock.pendingTimers} timers left after stop()`);
    if (previous.value.flight === 'minting' && !script.last.signal.aborted) mismatch('the mint in flight was not aborted');
  } finally {
    await provider.stop();
  }
  return { transitions, states };

  async function perform(event: CredentialEvent, before: ModelSnapshot, after: ModelSnapshot): Promise<void> {
    const at = timeOfEvent(event);
    switch (event.type) {
      case 'token.requested': {
        if (at > clock.now()) clock.skip(at - clock.now());
        const request: Request = { controller: new AbortController(), settled: null, expected: { kind: 'pending' } };
        provider.currentToken({ signal: request.controller.signal }).then(
          (token) => (request.settled = { ok: true, token }),
          (error: unknown) => (request.settled = { ok: false, error }),
        );
        request.expected = expectationForRequest(after, at);
        requests.push(request);
        return;
      }
      case 'token.invalidated': {
        const invalidated = provider.invalidate();
        if (invalidated !== (after.context.tokenRejected && !before.context.tokenRejected)) {
          mismatch(`invalidate() returned ${invalidated}`);
        }
        return;
      }
      case 'mint.abandoned': {
        for (const request of requests) if (request.settled === null) request.controller.abort('model: caller gave up');
        settlePending({ kind: 'rejected', match: (error) => error === 'model: caller gave up', description: 'the abort reason' });
        return;
      }
      case 'xstate.done.actor.mint':
      case 'xstate.error.actor.mint': {
        const next = clock.nextTimerAt();
        if (next !== null && next <= at) mismatch(`a timer at ${next} would fire before the mint settles at ${at}`);
        clock.advance(at - clock.now());
        const outcome = outcomeOfEvent(event);
        if (event.type === 'xstate.done.actor.mint') {
          script.last.resolve({ secret: event.output.token.secret.reveal(), expiresAt: event.output.token.expiresAt });
        } else {
          script.last.reject(new Error('model mint failure'));
        }
        if (outcome === 'token' || outcome === 'shortToken') {
          expected.succeeded++;
          settlePending({ kind: 'served', expiresAt: after.context.token.expiresAt });
        } else {
          expected.failed++;
          settlePending(
            outcome === 'expiredToken'
              ? rejectedWithCode('MINTED_TOKEN_ALREADY_EXPIRED')
              : { kind: 'rejected', match: (error) => error instanceof Error && error.message === 'model mint failure', description: 'the mint’s own error' },
          );
        }
        return;
      }
      default: {
        if (!event.type.startsWith('xstate.after.')) mismatch(`the model offered an unexpected event ${event.type}`);
        if (!clock.runNext()) mismatch(`no timer armed for ${event.type}`);
        if (event.type.startsWith('xstate.after.mintTimeout')) {
          expected.failed++;
          settlePending(rejectedWithCode('MINT_TIMEOUT'));
        }
      }
    }
  }

  function expectStep(state: ModelSnapshot, before: ModelSnapshot, event: CredentialEvent): void {
    const actual = provider.actor.getSnapshot();
    if (!isDeepStrictEqual(actual.value, state.value)) {
      mismatch(`state ${JSON.stringify(actual.value)}, the path says ${JSON.stringify(state.value)}`);
    }
    if (clock.now() !== timeOfSnapshot(state)) mismatch(`clock at ${clock.now()}, the path says ${timeOfSnapshot(state)}`);
    if (script.count - 1 !== state.context.attempt) mismatch(`${script.count - 1} mints, the path says ${state.context.attempt}`);
    if (actual.context.token.expiresAt !== state.context.token.expiresAt) {
      mismatch(`cached token expires at ${actual.context.token.expiresAt}, the path says ${state.context.token.expiresAt}`);
    }
    if (before.value.breaker !== state.value.breaker) expected.breaker.push(`${before.value.breaker}->${state.value.breaker}`);
    if (!isDeepStrictEqual(outcomes, expected)) {
      mismatch(`reporters saw ${JSON.stringify(outcomes)}, the path implies ${JSON.stringify(expected)}`);
    }
    requests.forEach((request, index) => {
      const problem = disagreement(request);
      if (problem !== null) mismatch(`request #${index + 1}: ${problem}`);
    });
  }

  function settlePending(outcome: Expectation): void {
    for (const request of requests) if (request.expected.kind === 'pending') request.expected = outcome;
  }

  function mismatch(message: string): never {
    throw new ReplayMismatch(`${refresh} path [${trail.join(' → ')}]: ${message}`);
  }
}

/** A request made at `now` that left the statechart in `after`: served, waiting, or refused. */
function expectationForRequest(after: ModelSnapshot, now: number): Expectation {
  if (!isTokenUnusableAt(after.context, now)) return { kind: 'served', expiresAt: after.context.token.expiresAt };
  if (after.value.flight === 'minting') return { kind: 'pending' };
  return rejectedWithCode('BREAKER_OPEN');
}

function rejectedWithCode(code: CredentialError['code']): Expectation {
  return { kind: 'rejected', match: (error) => error instanceof CredentialError && error.code === code, description: code };
}

function disagreement(request: Request): string | null {
  const { expected, settled } = request;
  if (expected.kind === 'pending') return settled === null ? null : `settled (${describeSettled(settled)}) but should still wait`;
  if (settled === null) return 'still waiting';
  if (expected.kind === 'served') {
    if (!settled.ok) return `rejected with ${describeSettled(settled)}, expected a token expiring at ${expected.expiresAt}`;
    return settled.token.expiresAt === expected.expiresAt ? null : `served a token expiring at ${settled.token.expiresAt}, expected ${expected.expiresAt}`;
  }
  if (settled.ok) return `served a token, expected a rejection with ${expected.description}`;
  return expected.match(settled.error) ? null : `rejected with ${describeSettled(settled)}, expected ${expected.description}`;
}

function describeSettled(settled: NonNullable<Request['settled']>): string {
  if (settled.ok) return `token expiring at ${settled.token.expiresAt}`;
  const { error } = settled;
  return error instanceof CredentialError ? error.code : error instanceof Error ? error.message : String(error);
}

/** A short label for a step in a failure message. */
export function describeStep(event: CredentialEvent): string {
  const at = timeOfEvent(event);
  switch (event.type) {
    case 'token.requested':
      return `request@${at}`;
    case 'xstate.done.actor.mint':
      return `${outcomeOfEvent(event)}@${at}`;
    case 'xstate.error.actor.mint':
      return `failure@${at}`;
    default:
      return `${event.type.replace('xstate.after.', 'timer:').replace(/\.credential\..*$/, '')}@${at}`;
  }
}
