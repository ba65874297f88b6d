import { createActor, fromPromise, type Actor, type InspectionEvent, type Observer } from 'xstate';
import type { CredentialMachine } from '../machines/credential.machine.js';
import type { CredentialInput, MintInput, MintOutput, SharedMintPhase } from '../machines/credential.types.js';
import type { PoolMachine } from '../machines/pool.machine.js';
import type { PoolPolicy } from '../machines/pool.types.js';
import { ActorClock } from './actor-clock.js';
import type { Clock } from './clock.js';
import { runMint, type MintAttemptSetup } from './mint.js';

/**
 * How a statechart reaches what it needs from outside.
 * - Time: XState's own `clock` option, an {@link ActorClock} on the provider's or pool's clock. XState
 *   arms the statechart's timers on it, and hands it to the delays as `self.clock` (the public
 *   `Actor.clock`), where the statecharts' own delays read the time (`actorNow`).
 * - A credential's mints: the setup every attempt runs with (see {@link runMint}) is registered with
 *   its actor in {@link attemptSetups} when the actor is created, and the `mint` actor looks it up
 *   by the actor it was invoked from (its `parent`).
 *
 * Why not `.provide()` per provider: one machine, provided once, serves every provider and every
 * pool key; a per-provider `.provide()` would copy the whole machine definition (about 30 KB) for
 * each, and a pool of 10,000 keys would carry 300 MB of them.
 */

/** Every credential actor's mint attempt setup, by actor (an actor that is dropped takes its entry with it). */
const attemptSetups = new WeakMap<object, MintAttemptSetup>();

/**
 * Creates (not starts) a credential actor: the credential statechart with its timers on `clock`
 * and its mints running with `attempt`.
 *
 * @example
 * ```ts
 * const actor = createCredentialActor(credentialMachine, { input, clock, attempt });
 * actor.start();
 * ```
 */
export function createCredentialActor(
  machine: CredentialMachine,
  options: { readonly input: CredentialInput; readonly clock: Clock; readonly attempt: MintAttemptSetup; readonly inspect?: Observer<InspectionEvent> },
): Actor<CredentialMachine> {
  const { input, clock, attempt, inspect } = options;
  const actor = createActor(runnable(machine), { input, clock: new ActorClock(clock), ...(inspect === undefined ? {} : { inspect }) });
  // before it starts: no mint is invoked while the actor is created, only once it runs
  attemptSetups.set(actor, attempt);
  return actor;
}

/**
 * Creates (not starts) a pool's actor: the pool statechart with its timer on `clock`.
 *
 * @example
 * ```ts
 * const actor = createPoolActor(poolMachine, { policy, clock });
 * actor.start();
 * ```
 */
export function createPoolActor(machine: PoolMachine, options: { readonly policy: PoolPolicy; readonly clock: Clock; readonly inspect?: Observer<InspectionEvent> }): Actor<PoolMachine> {
  const { policy, inspect } = options;
  return createActor(machine, { input: { policy }, clock: new ActorClock(options.clock), ...(inspect === undefined ? {} : { inspect }) });
}

const runnableMachines = new WeakMap<CredentialMachine, CredentialMachine>();

/**
 * `machine` with its `mint` actor running with the attempt setup of whichever actor invoked it;
 * built once per machine and shared.
 */
function runnable(machine: CredentialMachine): CredentialMachine {
  let provided = runnableMachines.get(machine);
  if (provided === undefined) {
    provided = machine.provide({
      actors: {
        mint: fromPromise<MintOutput, MintInput>(({ signal, input }) => {
          const { parent, attempt, startedAt } = input;
          const setup = parent === undefined ? undefined : attemptSetups.get(parent);
          if (setup === undefined) throw new Error('credential-actor: the actor was not created by createCredentialActor');
          // a shared mint may report after its attempt was given up or the provider stopped (a tab
          // closed mid-grant): nobody is listening for this attempt any more
          const phase = (reached: SharedMintPhase) => {
            if (!signal.aborted) parent?.send({ type: 'mint.phase', phase: reached, attempt });
          };
          const step = (doing: string) => {
            if (!signal.aborted) parent?.send({ type: 'mint.step', step: String(doing), attempt });
          };
          return runMint(setup, { signal, startedAt, phase, step });
        }),
      },
    });
    runnableMachines.set(machine, provided);
  }
  return provided;
}
