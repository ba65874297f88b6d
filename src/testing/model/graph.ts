/**
 * Glue between the shipped statechart and XState's graph utilities (`xstate/graph`): which
 * events a state offers, how a state is keyed, which transitions a step takes, and the
 * inventory of every state node and transition to cover.
 *
 * Time is the one thing the graph does not know. A traversal snapshot's clock reading is carried
 * beside it (the events offered carry theirs), so the glue can offer a timer's event only when
 * that timer is the next deadline on the one clock, and key states by their deadlines relative
 * to now: two states that differ only by when they happen are the same state.
 *
 * Not exported from `credential-actor/testing`: its public face is `credentialScenarios`.
 */
import { createActor, createMachine, type AnyStateNode, type AnyTransitionDefinition, type SnapshotFrom } from 'xstate';
import { getAdjacencyMap, getShortestPaths, toDirectedGraph, type AdjacencyMap, type DirectedGraphNode, type StatePath } from 'xstate/graph';
import type { CredentialMachine } from '../../../machines/credential.machine.js';
import type { CredentialEvent, CredentialInput, SharedMintPhase } from '../../../machines/credential.types.js';
import { CredentialError } from '../../../machines/credential-error.js';
import { MintFailure } from '../../../machines/mint-failure.js';
import { isTokenUnusableAt, quietUntil } from '../../../machines/policy.js';
import type { RefreshMode, RefreshPolicy } from '../../config.js';
import { Secret } from '../../../machines/secret.js';
import { transitionKey } from './transition-key.js';

export type ModelSnapshot = SnapshotFrom<CredentialMachine>;
export type ModelPath = StatePath<ModelSnapshot, CredentialEvent>;

/** The phases a shared mint reports, in the order the model offers them. */
const SHARED_MINT_PHASES: readonly SharedMintPhase[] = ['waitingOnHolder', 'adopting', 'holdingLease'];

/** The policy and the durations a model run uses: everything its paths depend on. */
export interface ModelConfig {
  /** The clock reading the run starts at (the construction mint lands then). */
  readonly startMs: number;
  /** The life of a normal minted token. */
  readonly lifetimeMs: number;
  /** The life of a token that is due the moment it is issued (within the floor). */
  readonly shortLifetimeMs: number;
  /** Every mint settles this long after the step before it. */
  readonly settleMs: number;
  /** The `Retry-After` a failure that says when to come back carries (ms). */
  readonly retryAfterMs: number;
  /**
   * Whether the mint is shared across processes (a `coordination`): only then does it report its
   * phases, and only then does the model walk the `sharing` region's states.
   */
  readonly sharedMint: boolean;
  readonly policy: RefreshPolicy;
}

/**
 * The default durations, chosen so that no two timers of one reachable state ever share a deadline
 * (the glue checks it): with one clock, ties would make the order of two timers depend on when each
 * was armed, which the graph cannot see.
 */
export const MODEL_DEFAULTS = {
  startMs: 0,
  lifetimeMs: 1_618,
  shortLifetimeMs: 37,
  settleMs: 13,
  retryAfterMs: 5_003,
  sharedMint: true,
  policy: {
    refreshAt: 0.5,
    refreshFloorMs: 100,
    breakerThreshold: 2,
    breakerCooldownMs: 3_331,
    mintTimeoutMs: 71,
    refresh: 'on-demand',
    invalidateMinIntervalMs: 0,
    maxRetryAfterMs: 9_001,
    breakerCounts: 'all-failures',
  },
} as const satisfies ModelConfig;

/** The default model for one refresh mode. */
export function defaultModel(refresh: RefreshMode): ModelConfig {
  return { ...MODEL_DEFAULTS, policy: { ...MODEL_DEFAULTS.policy, refresh } };
}

/** The machine's input for a model run: the construction token issued at the start. */
export function modelInput(model: ModelConfig): CredentialInput {
  return {
    policy: model.policy,
    token: { secret: new Secret('model-token-0'), expiresAt: model.startMs + model.lifetimeMs },
    issuedAt: model.startMs,
    jitter: 0,
  };
}

/** What a mint step lands: a normal token, a token due on arrival, one already expired, a failure, or one that says when to come back. */
export type MintOutcome = 'token' | 'shortToken' | 'expiredToken' | 'failure' | 'retryAfterFailure';

/**
 * How an invalidation happens: a caller's request comes back 401 and the caller retries
 * (`refused`, always followed by that retry), or a response to a request sent earlier comes back
 * 401 while no token is being served silently (`refusedLate`).
 */
export type RefusalKind = 'refused' | 'refusedLate';

/** What an offered event stands for in the world, beyond its machine event. */
type EventKind = MintOutcome | RefusalKind | 'retry' | SharedMintPhase;

const eventTime = new WeakMap<object, number>();
const eventKind = new WeakMap<object, EventKind>();
/** How long after the state it was offered in an event happens. */
const eventOffset = new WeakMap<object, number>();
const snapshotTime = new WeakMap<object, number>();
/** Snapshots right after a `refused` invalidation: the caller's retry comes next. */
const retryPending = new WeakSet<object>();
type Region = 'validity' | 'breaker' | 'flight' | 'sharing';
/** When each region's current state was entered: its timer was armed then. */
const regionEnteredAt = new WeakMap<object, Record<Region, number>>();

/** The clock reading an offered event happens at. */
export function timeOfEvent(event: CredentialEvent): number {
  const at = eventTime.get(event);
  if (at === undefined) throw new Error(`event ${event.type} was not offered by the model`);
  return at;
}

/** The kind of mint outcome an offered `xstate.done/error.actor.mint` event stands for. */
export function outcomeOfEvent(event: CredentialEvent): MintOutcome | undefined {
  const kind = eventKind.get(event);
  return kind === 'token' || kind === 'shortToken' || kind === 'expiredToken' || kind === 'failure' || kind === 'retryAfterFailure' ? kind : undefined;
}

/** How an offered `token.invalidated` happens, or that a `token.requested` is the retry after a refusal. */
export function worldKindOfEvent(event: CredentialEvent): RefusalKind | 'retry' | undefined {
  const kind = eventKind.get(event);
  return kind === 'refused' || kind === 'refusedLate' || kind === 'retry' ? kind : undefined;
}

/** The clock reading a traversal snapshot was reached at. */
export function timeOfSnapshot(snapshot: ModelSnapshot): number {
  const at = snapshotTime.get(snapshot);
  if (at === undefined) throw new Error('snapshot has no clock reading');
  return at;
}

/** A timer armed in a state, by its XState event type, its deadline and when it was armed. */
export interface ArmedTimer {
  readonly type: string;
  readonly dueAt: number;
  readonly armedAt: number;
}

/** A timer's delay name: `untilExpiry` of `xstate.after.untilExpiry.credential.validity.refreshDue`. */
function timerName(timer: ArmedTimer): string {
  return timer.type.split('.')[2] ?? timer.type;
}

/** The timers a snapshot has armed, as the real actor would have them. */
export function armedTimers(snapshot: ModelSnapshot): ArmedTimer[] {
  const { value, context } = snapshot;
  const entered = regionEnteredAt.get(snapshot);
  if (entered === undefined) throw new Error('snapshot has no entry times');
  const timers: ArmedTimer[] = [];
  const arm = (delay: string, stateId: string, dueAt: number | null) => {
    const region = stateId.split('.')[0] as Region;
    if (dueAt !== null && Number.isFinite(dueAt)) {
      timers.push({ type: `xstate.after.${delay}.credential.${stateId}`, dueAt, armedAt: entered[region] });
    }
  };
  if (value.validity === 'fresh') arm('untilRefreshDue', 'validity.fresh', context.refreshDueAt);
  if (value.validity === 'refreshDue') arm('untilExpiry', 'validity.refreshDue', context.token.expiresAt);
  if (value.breaker === 'open') arm('untilCooldownEnds', 'breaker.open', context.openUntil);
  if (value.flight === 'minting') {
    arm('mintTimeout', 'flight.minting', (context.attemptStartedAt ?? 0) + context.policy.mintTimeoutMs);
  }
  if (value.flight === 'idle') arm('untilRetry', 'flight.idle', context.retryAt);
  // The order the clock fires them in: by deadline, then by arming order.
  return timers.sort((a, b) => a.dueAt - b.dueAt || a.armedAt - b.armedAt);
}

/** The model's functions for one configuration: what each state offers and how states are keyed. */
export interface Model {
  readonly config: ModelConfig;
  offeredEvents(snapshot: ModelSnapshot): CredentialEvent[];
  serializeState(snapshot: ModelSnapshot, event: CredentialEvent | undefined, previous?: ModelSnapshot): string;
}

/** Builds the model for `config`. */
export function createModel(config: ModelConfig): Model {
  /**
   * The events a state offers, each one the real provider can live through from here:
   * a caller at the current time (when the provider would tell the statechart at all), a caller
   * whose clock already reads the next deadline or the token's expiry while the timers due by then
   * are overdue, the next timer (only one: the clock fires them in deadline order), the mint's
   * outcomes (when no deadline falls before it settles), abandonment by every waiter of an on-demand
   * mint, and the upstream refusing the token.
   */
  function offeredEvents(snapshot: ModelSnapshot): CredentialEvent[] {
    const now = timeOfSnapshot(snapshot);
    const at: Offer = (event, time, kind) => {
      eventOffset.set(event, time - now);
      eventTime.set(event, time);
      if (kind !== undefined) eventKind.set(event, kind);
      return event;
    };
    // The caller whose request was refused retries at once: nothing else can happen in between.
    if (retryPending.has(snapshot)) return [at({ type: 'token.requested', now }, now, 'retry')];
    const timers = armedTimers(snapshot);
    const next = timers[0];
    const second = timers[1];
    if (next !== undefined && second !== undefined && second.dueAt === next.dueAt && second.armedAt === next.armedAt) {
      // which of two tied timers fires first depends on the order they were armed in, which the graph cannot see
      throw new CredentialError(
        'INVALID_CONFIG',
        `credentialScenarios: two timers armed together share the deadline ${next.dueAt} (${timerName(next)} and ${timerName(second)}), so the order they fire in is not defined; choose other durations (timing.lifetimeMs ${config.lifetimeMs}, timing.shortLifetimeMs ${config.shortLifetimeMs}, timing.settleMs ${config.settleMs}, the policy's times: mintTimeoutMs ${config.policy.mintTimeoutMs}, breakerCooldownMs ${config.policy.breakerCooldownMs})`,
      );
    }
    return [
      ...callers(snapshot, now, next, at),
      // the next timer only: the clock fires them in deadline order
      ...(next === undefined ? [] : [at({ type: next.type } as CredentialEvent, Math.max(now, next.dueAt))]),
      ...mintOutcomes(snapshot, now + config.settleMs, next, config, at),
      ...mintReports(snapshot, now, config, at),
      ...refusals(snapshot, now, at),
    ];
  }

  /**
   * Keys a state by what decides its future: the state value and the guard-relevant context, each
   * deadline relative to now, or `"past"` once it has passed (a guard only asks whether it has). The
   * attempt counter, absolute times and the issue instant are left out, so a state that recurs later
   * is the same state.
   */
  function serializeState(snapshot: ModelSnapshot, event: CredentialEvent | undefined, previous?: ModelSnapshot): string {
    if (!snapshotTime.has(snapshot)) {
      const now = event === undefined || previous === undefined ? config.startMs : timeOfEvent(event);
      snapshotTime.set(snapshot, now);
      if (event !== undefined && eventKind.get(event) === 'refused') retryPending.add(snapshot);
      const before = previous === undefined ? undefined : regionEnteredAt.get(previous);
      const enteredAt = (region: Region) => (before === undefined || previous!.value[region] !== snapshot.value[region] ? now : before[region]);
      regionEnteredAt.set(snapshot, {
        // a landed token re-enters `fresh` even when the value reads `fresh` before and after
        validity: event !== undefined && outcomeOfEvent(event) === 'token' ? now : enteredAt('validity'),
        breaker: enteredAt('breaker'),
        flight: enteredAt('flight'),
        sharing: enteredAt('sharing'),
      });
    }
    const now = timeOfSnapshot(snapshot);
    const { value, context } = snapshot;
    const until = (deadline: number | null) => (deadline === null ? null : deadline > now ? deadline - now : 'past');
    return JSON.stringify({
      value,
      expiresAt: until(context.token.expiresAt),
      refreshDueAt: until(context.refreshDueAt),
      tokenRejected: context.tokenRejected,
      retryPending: retryPending.has(snapshot),
      // Only whether the next failure reaches the threshold matters; half-open probes keep counting.
      consecutiveFailures: Math.min(context.consecutiveFailures, context.policy.breakerThreshold),
      openUntil: until(context.openUntil),
      retryAt: until(context.retryAt),
      attempt: value.flight === 'minting' ? { kind: context.attemptKind, timesOutIn: until((context.attemptStartedAt ?? 0) + context.policy.mintTimeoutMs) } : null,
    });
  }

  return { config, offeredEvents, serializeState };
}

/** Offers `event` at `time` (of a kind the scenarios tell apart, if any). */
type Offer = <T extends CredentialEvent>(event: T, time: number, kind?: EventKind) => T;

/**
 * A caller at the current time (when the provider would tell the statechart at all), and callers
 * whose clock already reads a later instant while the timers due by then are still overdue (a
 * blocked event loop): at the next deadline, and at the token's expiry.
 */
function callers(snapshot: ModelSnapshot, now: number, next: ArmedTimer | undefined, at: Offer): CredentialEvent[] {
  const { value, context } = snapshot;
  const providerWouldAsk = (time: number) => value.flight === 'idle' && time >= quietUntil(context, false);
  const offered: CredentialEvent[] = [];
  if (providerWouldAsk(now)) offered.push(at({ type: 'token.requested', now }, now));
  const lateInstants = new Set<number>();
  if (next !== undefined && next.dueAt > now) lateInstants.add(next.dueAt);
  const { expiresAt } = context.token;
  if (expiresAt !== null && expiresAt > now) lateInstants.add(expiresAt);
  for (const instant of lateInstants) {
    if (providerWouldAsk(instant)) offered.push(at({ type: 'token.requested', now: instant }, instant));
  }
  return offered;
}

/** The mint's outcomes, when one is in flight and no deadline falls before it settles at `settledAt`. */
function mintOutcomes(snapshot: ModelSnapshot, settledAt: number, next: ArmedTimer | undefined, config: ModelConfig, at: Offer): CredentialEvent[] {
  if (snapshot.value.flight !== 'minting' || (next !== undefined && next.dueAt <= settledAt)) return [];
  const landed = (expiry: number) => ({ token: { secret: new Secret(`model-token@${settledAt}`), expiresAt: expiry }, settledAt, jitter: 0 });
  const failed = (retryAfterMs?: number) => new MintFailure(new Error('model mint failure'), settledAt, retryAfterMs === undefined ? {} : { retryAfterMs });
  return [
    at({ type: 'xstate.done.actor.mint', actorId: 'mint', output: landed(settledAt + config.lifetimeMs) }, settledAt, 'token'),
    at({ type: 'xstate.done.actor.mint', actorId: 'mint', output: landed(settledAt + config.shortLifetimeMs) }, settledAt, 'shortToken'),
    at({ type: 'xstate.done.actor.mint', actorId: 'mint', output: landed(settledAt) }, settledAt, 'expiredToken'),
    at({ type: 'xstate.error.actor.mint', actorId: 'mint', error: failed() }, settledAt, 'failure'),
    at({ type: 'xstate.error.actor.mint', actorId: 'mint', error: failed(config.retryAfterMs) }, settledAt, 'retryAfterFailure'),
  ];
}

/**
 * What an on-demand mint in flight may report: every waiter giving up; its step (`MintContext.step`,
 * for a MINT_TIMEOUT message), once; and, shared across processes, each phase it is not in yet
 * (waiting on the lease holder, adopting, holding the lease). The step and the phases are offered
 * only with the breaker closed and no failure counted: they change nothing else, so this covers them
 * without multiplying every other minting state.
 */
function mintReports(snapshot: ModelSnapshot, now: number, config: ModelConfig, at: Offer): CredentialEvent[] {
  const { value, context } = snapshot;
  if (value.flight !== 'minting' || context.attemptKind !== 'demand') return [];
  const offered: CredentialEvent[] = [at({ type: 'mint.abandoned', attempt: context.attempt }, now)];
  if (value.breaker !== 'closed' || context.consecutiveFailures !== 0) return offered;
  if (context.attemptStep === null) offered.push(at({ type: 'mint.step', step: 'model step', attempt: context.attempt }, now));
  if (config.sharedMint) {
    for (const phase of SHARED_MINT_PHASES) {
      if (value.sharing !== phase) offered.push(at({ type: 'mint.phase', phase, attempt: context.attempt }, now, phase));
    }
  }
  return offered;
}

/**
 * The upstream refusing the token: a token served now without telling the statechart can be sent,
 * refused and retried; any other refusal is of a request sent earlier.
 */
function refusals(snapshot: ModelSnapshot, now: number, at: Offer): CredentialEvent[] {
  const { value, context } = snapshot;
  if (context.tokenRejected) return [];
  const { expiresAt } = context.token;
  const servedSilently = (expiresAt === null || now < expiresAt) && (value.flight === 'minting' || now < quietUntil(context, false));
  return [at({ type: 'token.invalidated', now }, now, servedSilently ? 'refused' : 'refusedLate')];
}

/** Traversal options shared by every graph query of one model run. */
function traversalOptions(model: Model) {
  const offeredSet = new WeakSet<object>();
  return {
    input: modelInput(model.config),
    // A safety net: a key that fails to close the state space fails fast instead of filling memory.
    limit: 50_000,
    serializeState: model.serializeState,
    events: (snapshot: ModelSnapshot) => {
      const events = model.offeredEvents(snapshot);
      for (const event of events) offeredSet.add(event);
      return events;
    },
    // XState also offers a bare `{ type }` for every event a state accepts; keep only ours.
    filterEvents: (_snapshot: ModelSnapshot, event: CredentialEvent) => offeredSet.has(event),
  };
}

/** A readable label for a transition: `source --event [guard]--> target`. */
export function describeTransition(transition: AnyTransitionDefinition): string {
  const { guard: configured } = transition;
  const guardName = typeof configured === 'string' ? configured : typeof configured === 'object' && configured !== null && 'type' in configured ? String(configured.type) : null;
  const guard = guardName === null ? '' : ` [${guardName}]`;
  const target = transition.target?.map((node: AnyStateNode) => node.id).join(',') ?? '(no target)';
  return `${(transition.source as AnyStateNode).id} --${transition.eventType || 'always'}${guard}--> ${target}`;
}

/** Every state node (but the root) and every transition of a machine, from `toDirectedGraph`. */
export function inventory(machine: CredentialMachine): { states: string[]; transitions: Map<string, string> } {
  const states: string[] = [];
  const transitions = new Map<string, string>();
  const walk = (node: DirectedGraphNode, isRoot: boolean) => {
    if (!isRoot) states.push(node.id);
    for (const edge of node.edges) transitions.set(transitionKey(edge.transition), describeTransition(edge.transition));
    for (const eventless of (node.stateNode as AnyStateNode).always ?? []) {
      transitions.set(transitionKey(eventless), describeTransition(eventless));
    }
    for (const child of node.children) walk(child, false);
  };
  walk(toDirectedGraph(machine), true);
  return { states, transitions };
}

/** A scope for running a machine's pure `transition` that reports each microstep's transitions (any machine: the pool's model uses it too). */
export function inspectingScope(onTransitions: (transitions: AnyTransitionDefinition[]) => void) {
  const probe = createActor(createMachine({}), {
    inspect: (inspection) => {
      if (inspection.type === '@xstate.microstep') onTransitions(inspection._transitions);
    },
  });
  return {
    self: probe,
    system: probe.system,
    logger: () => {},
    id: '',
    sessionId: '',
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: () => {},
  } as never;
}

/** The transitions one step takes, found by running it on the machine with an inspecting scope. */
export function transitionsOf(machine: CredentialMachine, snapshot: ModelSnapshot, event: CredentialEvent): AnyTransitionDefinition[] {
  const taken: AnyTransitionDefinition[] = [];
  machine.transition(
    snapshot,
    event,
    inspectingScope((transitions) => taken.push(...transitions)),
  );
  return taken;
}

/**
 * What an offered event is, independent of when the path reached its state: the graph keys states
 * relative to now, so a shortest path may start from a later recurrence of the initial state.
 */
function signatureOf(event: CredentialEvent): string {
  return `${event.type}|${eventOffset.get(event)}|${eventKind.get(event) ?? ''}`;
}

/** A readable name for what a caller asking at `now` gets, with the breaker's state: a generation target beside the transitions. */
function callerOutcomeTarget(after: ModelSnapshot, now: number): string {
  const { value, context } = after;
  const outcome = !isTokenUnusableAt(context, now) ? 'is served' : value.flight === 'minting' ? 'waits on a mint' : 'is refused with BREAKER_OPEN';
  return `a caller ${outcome} (breaker ${value.breaker})`;
}

/** One generated path, and the transitions it was chosen to cover. */
export interface GeneratedPath {
  readonly model: ModelConfig;
  readonly path: ModelPath;
  /** The transitions this path was chosen for (it is the shortest path to each). */
  readonly covers: string[];
}

/**
 * Replays a sequence of event signatures from the machine's real initial state, so that every
 * step's clock reading, attempt count and token are those of one consistent timeline.
 */
function materialize(machine: CredentialMachine, model: Model, signatures: readonly string[]): ModelPath {
  const scope = inspectingScope(() => {});
  let state = machine.getInitialSnapshot(scope, modelInput(model.config));
  model.serializeState(state, undefined);
  const steps: ModelPath['steps'] = [{ state, event: { type: 'xstate.init' } as never }];
  for (const signature of signatures) {
    const event = model.offeredEvents(state).find((candidate) => signatureOf(candidate) === signature);
    if (event === undefined) throw new Error(`no event ${signature} is offered after ${steps.length - 1} steps`);
    const next = machine.transition(state, event, scope);
    model.serializeState(next, event, state);
    steps.push({ state: next, event });
    state = next;
  }
  return { state, steps, weight: signatures.length };
}

/**
 * A shortest path to every transition of the machine: for each transition, the shortest path (from
 * `getShortestPaths`) to a state where some offered event takes it, plus that step (and the
 * caller's retry, when that step was a refusal), replayed from the initial state into one
 * consistent timeline.
 */
export function generatePaths(machine: CredentialMachine, config: ModelConfig): GeneratedPath[] {
  const model = createModel(config);
  const options = traversalOptions(model);
  const shortest = getShortestPaths(machine, options);
  const signaturesToState = new Map<string, string[]>();
  for (const path of shortest) {
    const signatures = path.steps.slice(1).map((step) => signatureOf(step.event));
    signaturesToState.set(model.serializeState(path.state, undefined), signatures);
  }
  const best = new Map<string, string[]>();
  // getAdjacencyMap's typing wants an ActorLogic whose emitted events are untyped; ours are typed.
  const adjacency: AdjacencyMap<ModelSnapshot, CredentialEvent> = getAdjacencyMap(machine as never, options as never);
  for (const [stateKey, { state, transitions }] of Object.entries(adjacency)) {
    const prefix = signaturesToState.get(stateKey);
    if (prefix === undefined) continue;
    for (const { event, state: next } of Object.values(transitions) as { event: CredentialEvent; state: ModelSnapshot }[]) {
      const keys = transitionsOf(machine, state, event).map(transitionKey);
      // What a caller gets is a target too: a request that changes nothing in the statechart (a
      // caller refused with BREAKER_OPEN) is a path the code under test must live through.
      if (event.type === 'token.requested' && worldKindOfEvent(event) === undefined) keys.push(callerOutcomeTarget(next, event.now));
      for (const key of keys) {
        const known = best.get(key);
        if (known === undefined || known.length > prefix.length + 1) best.set(key, [...prefix, signatureOf(event)]);
      }
    }
  }
  const bySequence = new Map<string, { signatures: string[]; covers: string[] }>();
  for (const [key, signatures] of best) {
    // A path never ends between a refusal and the caller's retry.
    const complete = signatures.at(-1)!.endsWith('|refused') ? [...signatures, 'token.requested|0|retry'] : signatures;
    const id = complete.join(' ');
    const entry = bySequence.get(id) ?? { signatures: complete, covers: [] };
    entry.covers.push(key);
    bySequence.set(id, entry);
  }
  const generated = [...bySequence.values()].map(({ signatures, covers }) => ({ model: config, path: materialize(machine, model, signatures), covers }));
  // A refused caller's retry that waits on a mint also gets the path where that mint lands, so the
  // code under test is seen completing its retry, not only being stopped while it waits.
  for (const { path } of [...generated]) {
    const signatures = path.steps.slice(1).map((step) => signatureOf(step.event));
    if (!signatures.at(-1)?.endsWith('|retry') || path.state.value.flight !== 'minting') continue;
    const landing = model.offeredEvents(path.state).find((event) => outcomeOfEvent(event) === 'token');
    if (landing === undefined) continue;
    generated.push({ model: config, path: materialize(machine, model, [...signatures, signatureOf(landing)]), covers: [] });
  }
  return generated;
}
