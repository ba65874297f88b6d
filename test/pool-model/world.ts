/**
 * The pool statechart's model world: what a test can do to a real pool (ask a new key for its
 * token, settle the oldest mint in flight one way or another, abandon it, let the issuer cooldown
 * run out) and which events of `poolMachine` the pool facade must send for each, given where the
 * model is. Paths through this world are generated with `xstate/graph` from the pool machine's own
 * transitions (the model advances by `poolMachine.transition`), then replayed against a real pool.
 */
import { fromTransition, getInitialSnapshot, type AnyStateNode, type SnapshotFrom } from 'xstate';
import { getShortestPaths, toDirectedGraph, type DirectedGraphNode } from 'xstate/graph';
import { poolMachine, type PoolMachine } from '../../machines/pool.machine.js';
import type { PoolEvent, PoolPolicy } from '../../machines/pool.types.js';
import { inspectingScope } from '../../src/testing/model/graph.js';
import { transitionKey } from '../../src/testing/model/transition-key.js';

export type PoolModelSnapshot = SnapshotFrom<PoolMachine>;

/** The model's policy: a threshold of 2 and a cap of 2, so every state is a few steps away. */
export const POOL_MODEL_POLICY: PoolPolicy = { breakerThreshold: 2, breakerCooldownMs: 1_000, maxRetryAfterMs: 5_000, maxMintsInFlight: 2 };
/** The `Retry-After` a `retryAfter` failure carries (ms): above the cooldown, below the cap. */
export const POOL_MODEL_RETRY_AFTER_MS = 3_000;
/** The clock reading every run starts at. */
export const POOL_MODEL_START_MS = 10_000;

/** How the oldest mint in flight ends. */
export type SettleOutcome = 'token' | 'issuerFailure' | 'retryAfter' | 'keyFailure';

/** What the test does to the pool. */
export type WorldAction =
  /** A key nobody asked for yet is asked for its token: a mint, or a refusal by the issuer breaker. */
  | { readonly type: 'request' }
  /** The issuer settles the oldest mint in flight. */
  | { readonly type: 'settle'; readonly outcome: SettleOutcome }
  /** The oldest mint's only caller gives up (its signal aborts). */
  | { readonly type: 'abandon' }
  /** Time runs to the end of the issuer cooldown: its timer fires. */
  | { readonly type: 'cooldownEnds' }
  /** The clock passes the end of the cooldown without the timer firing (a blocked event loop), and a new key asks. */
  | { readonly type: 'lateRequest' };

/** A mint in flight in the world: whose, and whether it is the issuer breaker's half-open probe. */
export interface WorldFlight {
  readonly key: string;
  readonly probe: boolean;
}

/** The world: the model statechart, the clock, the mints in flight (oldest first), and what the last action came to. */
export interface WorldState {
  readonly machine: PoolModelSnapshot;
  readonly now: number;
  readonly flights: readonly WorldFlight[];
  readonly nextKey: number;
  /** The events the last action sent the statechart, in order. */
  readonly sent: readonly PoolEvent['type'][];
  /** The transitions the last action took. */
  readonly took: readonly string[];
  /** What the last action's caller got: a mint (`waits`), `BREAKER_OPEN` (`refused`), or nothing new. */
  readonly caller: 'waits' | 'refused' | null;
}

const modelInspector = {
  /** Runs one event through the machine's pure transition, reporting the transitions it takes. */
  step(snapshot: PoolModelSnapshot, event: PoolEvent | { type: string }, took: string[]): PoolModelSnapshot {
    const scope = inspectingScope((transitions) => took.push(...transitions.map(transitionKey)));
    return snapshot.machine.transition(snapshot, event as PoolEvent, scope) as PoolModelSnapshot;
  },
};

/** The event the open state's cooldown timer sends. */
const COOLDOWN_ENDED = (poolMachine.getStateNodeById('pool.issuer.open') as AnyStateNode).after[0]!.eventType;

/** The world's starting point: a fresh pool, nothing asked; `model` is the statechart the world follows. */
export function initialWorld(model: PoolMachine = poolMachine): WorldState {
  const machine = getInitialSnapshot(model, { policy: POOL_MODEL_POLICY }) as PoolModelSnapshot;
  return { machine, now: POOL_MODEL_START_MS, flights: [], nextKey: 0, sent: [], took: [], caller: null };
}

/**
 * What an action does to the world: the events the pool facade sends its statechart for it (its
 * contract: only what changes the statechart is sent), applied to the model.
 */
export function applyAction(world: WorldState, action: WorldAction): WorldState {
  const sent: PoolEvent['type'][] = [];
  const took: string[] = [];
  let machine = world.machine;
  let now = world.now;
  let flights = [...world.flights];
  let nextKey = world.nextKey;
  let caller: WorldState['caller'] = null;
  const send = (event: PoolEvent | { type: string }) => {
    sent.push(event.type as PoolEvent['type']);
    machine = modelInspector.step(machine, event, took);
  };
  const freeAPermit = () => {
    if (machine.value.mints === 'atCap') send({ type: 'mints.available', now });
  };
  switch (action.type) {
    case 'lateRequest':
    case 'request': {
      if (action.type === 'lateRequest') now = machine.context.openUntil!;
      const key = `k${nextKey++}`;
      if (machine.value.issuer === 'open') send({ type: 'mint.requested', now });
      if (machine.value.issuer === 'open' || (machine.value.issuer === 'halfOpen' && machine.context.probing)) {
        caller = 'refused';
        break;
      }
      const probe = machine.value.issuer === 'halfOpen';
      if (probe) {
        send({ type: 'probe.started', now });
        // an earlier probe still in flight (its half-open period ended) is no longer the probe
        flights = flights.map((flight) => ({ ...flight, probe: false }));
      }
      flights.push({ key, probe });
      if (flights.length >= POOL_MODEL_POLICY.maxMintsInFlight) send({ type: 'mints.saturated', now });
      caller = 'waits';
      break;
    }
    case 'settle': {
      const [flight, ...rest] = flights;
      flights = rest;
      if (action.outcome === 'issuerFailure' || action.outcome === 'retryAfter') {
        send({ type: 'issuer.failed', at: now, retryAfterMs: action.outcome === 'retryAfter' ? POOL_MODEL_RETRY_AFTER_MS : null, key: flight!.key });
      } else if (machine.value.issuer !== 'closed' || machine.context.consecutiveFailures > 0) {
        send({ type: 'issuer.answered', at: now, key: flight!.key });
      }
      freeAPermit();
      break;
    }
    case 'abandon': {
      const [flight, ...rest] = flights;
      flights = rest;
      if (flight!.probe) send({ type: 'probe.abandoned', now });
      freeAPermit();
      break;
    }
    case 'cooldownEnds': {
      now = machine.context.openUntil!;
      send({ type: COOLDOWN_ENDED });
      break;
    }
  }
  return { machine, now, flights, nextKey, sent, took, caller };
}

/** The actions the world offers where it is: never more mints in flight than the cap (no queue in the model). */
export function offeredActions(world: WorldState): WorldAction[] {
  const actions: WorldAction[] = [];
  if (world.flights.length < POOL_MODEL_POLICY.maxMintsInFlight) actions.push({ type: 'request' });
  if (world.flights.length > 0) {
    for (const outcome of ['token', 'issuerFailure', 'retryAfter', 'keyFailure'] as const) actions.push({ type: 'settle', outcome });
    actions.push({ type: 'abandon' });
  }
  if (world.machine.value.issuer === 'open') {
    actions.push({ type: 'cooldownEnds' });
    if (world.flights.length < POOL_MODEL_POLICY.maxMintsInFlight) actions.push({ type: 'lateRequest' });
  }
  return actions;
}

/** A world's identity for the graph: where the statechart is, relative to now, and what is in flight. */
export function worldKey(world: WorldState): string {
  const { value, context } = world.machine;
  return JSON.stringify([
    value,
    // past the threshold the count only grows (the open breaker's guards do not read it)
    Math.min(context.consecutiveFailures, POOL_MODEL_POLICY.breakerThreshold),
    context.openUntil === null ? null : context.openUntil - world.now,
    context.openReason,
    context.probing,
    world.flights.map((flight) => flight.probe),
  ]);
}

/** One generated path: its actions, and the world after each. */
export interface PoolPath {
  readonly name: string;
  readonly steps: readonly { readonly action: WorldAction; readonly world: WorldState }[];
}

/**
 * Shortest paths from a fresh pool to every world state, then the fewest of them (greedily) that
 * take every transition of the pool statechart and enter every state; longest first.
 */
export function generatePoolPaths(model: PoolMachine = poolMachine): PoolPath[] {
  const worldLogic = fromTransition((world: WorldState, action: WorldAction) => applyAction(world, action), initialWorld(model));
  const paths = getShortestPaths(worldLogic, {
    events: (snapshot) => offeredActions(snapshot.context),
    serializeState: (snapshot) => worldKey(snapshot.context),
    serializeEvent: (action: WorldAction) => JSON.stringify(action),
  });
  // A shortest path to every world, and to every step out of it: a self-loop (a failure counted,
  // a probe started) is on no shortest path to a state, but must be taken.
  const candidates: PoolPath[] = paths.flatMap((path) => {
    const actions = path.steps.map((step) => step.event as WorldAction | { type: 'xstate.init' }).filter((action): action is WorldAction => action.type !== 'xstate.init');
    return [actions, ...offeredActions(path.state.context).map((next) => [...actions, next])].map((list) => pathOf(list, model));
  });
  const { transitions, states } = poolInventory(model);
  // Every transition and state, and beyond them every action the world offers in every issuer state
  // (a request refused by the open breaker, a stale probe abandoned...): what a caller can meet.
  const goalsOf = (path: PoolPath) =>
    path.steps.flatMap(({ action, world }, index) => [
      ...world.took,
      ...statesOf(world.machine),
      `${describeAction(action)}@${String((index === 0 ? initialWorld(model) : path.steps[index - 1]!.world).machine.value.issuer)}`,
    ]);
  const wanted = new Set<string>([...transitions.keys(), ...states, ...candidates.flatMap(goalsOf)]);
  const chosen: PoolPath[] = [];
  const covers = (path: PoolPath) => new Set(goalsOf(path));
  const ordered = candidates.sort((a, b) => b.steps.length - a.steps.length || a.name.localeCompare(b.name));
  while (wanted.size > 0) {
    let best: PoolPath | undefined;
    let bestGain = 0;
    for (const path of ordered) {
      const gain = [...covers(path)].filter((item) => wanted.has(item)).length;
      if (gain > bestGain || (gain === bestGain && gain > 0 && best !== undefined && path.steps.length < best.steps.length)) {
        best = path;
        bestGain = gain;
      }
    }
    if (best === undefined) break; // the rest is unreachable: the coverage check names it
    chosen.push(best);
    for (const item of covers(best)) wanted.delete(item);
  }
  return chosen;
}

/**
 * The worlds along a list of actions, worked out from a fresh pool: the graph keeps one world per
 * key, reached by whichever path found it first, so the events each action sent are computed again.
 */
export function pathOf(actions: readonly WorldAction[], model: PoolMachine = poolMachine): PoolPath {
  let world = initialWorld(model);
  const steps = actions.map((action) => {
    world = applyAction(world, action);
    return { action, world };
  });
  return { name: steps.map(({ action }) => describeAction(action)).join(' → ') || '(start)', steps };
}

/** The state nodes a snapshot is in (`pool.issuer`, `pool.issuer.open`, ...). */
export function statesOf(machine: Pick<PoolModelSnapshot, 'value'>): string[] {
  return Object.entries(machine.value as Record<string, string>).flatMap(([region, child]) => [`pool.${region}`, `pool.${region}.${child}`]);
}

/** Every state node and transition of the pool statechart, transitions keyed as coverage keys them. */
export function poolInventory(machine: PoolMachine = poolMachine): { states: string[]; transitions: Map<string, string> } {
  const states: string[] = [];
  const transitions = new Map<string, string>();
  const walk = (node: DirectedGraphNode, isRoot: boolean) => {
    if (!isRoot) states.push(node.id);
    for (const edge of node.edges) {
      const { guard: named } = edge.transition as { guard?: string | { type?: string } };
      const guard = named === undefined ? '' : ` [${typeof named === 'string' ? named : (named.type ?? 'guard')}]`;
      transitions.set(transitionKey(edge.transition), `${node.id} --${edge.transition.eventType}${guard}--> ${edge.target.id}`);
    }
    for (const child of node.children) walk(child, false);
  };
  walk(toDirectedGraph(machine), true);
  return { states, transitions };
}

/** `request`, `settle:issuerFailure`, ... */
export function describeAction(action: WorldAction): string {
  return action.type === 'settle' ? `settle:${action.outcome}` : action.type;
}
