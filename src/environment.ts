import { fromPromise } from 'xstate';
import type { CredentialMachine } from '../machines/credential.machine.js';
import type { MintInput, MintOutput } from '../machines/credential.types.js';
import { deadlineDelays } from '../machines/delays.js';
import type { Clock } from './clock.js';
import { runMint, type Mint } from './mint.js';

/** What one provider's statechart needs from outside: its clock, its mint and its jitter source. */
export interface ProviderEnvironment {
  readonly clock: Clock;
  readonly mint: Mint;
  readonly jitter: () => number;
}

/**
 * Each running provider's environment, keyed by the timer clock its actor was created with. XState
 * hands that same object to the root actor and to every child it invokes (`actor.clock`), and both
 * the machine's delays and its mint actor are handed their actor, so one machine, provided once,
 * serves every provider: a per-provider `.provide()` would copy the whole machine definition
 * (about 30 KB) for each.
 */
const environments = new WeakMap<object, ProviderEnvironment>();
const runnableMachines = new WeakMap<CredentialMachine, CredentialMachine>();

/**
 * Registers a provider's environment under the timer clock its actor will be created with (so it
 * is there while the actor computes its initial state, in its constructor).
 *
 * @example
 * ```ts
 * const timers = timersOn(clock);
 * registerEnvironment(timers, { clock, mint, jitter });
 * createActor(runnable(credentialMachine), { input, clock: timers }).start();
 * ```
 */
export function registerEnvironment(timerClock: object, environment: ProviderEnvironment): void {
  environments.set(timerClock, environment);
}

function environmentOf(actor: object): ProviderEnvironment {
  const environment = environments.get((actor as { clock?: object }).clock ?? {});
  if (environment === undefined) throw new Error('credential-actor: the actor runs on no registered provider clock');
  return environment;
}

/**
 * `machine` with its clock-reading delays and its `mint` actor implemented against the registered
 * environment of whichever provider runs it; built once per machine and shared.
 *
 * @example
 * ```ts
 * createActor(runnable(credentialMachine), { input, clock: timers });
 * ```
 */
export function runnable(machine: CredentialMachine): CredentialMachine {
  let provided = runnableMachines.get(machine);
  if (provided === undefined) {
    provided = machine.provide({
      actors: {
        mint: fromPromise<MintOutput, MintInput>(({ signal, self }) => {
          const { mint, clock, jitter } = environmentOf(self);
          return runMint(mint, signal, clock, jitter);
        }),
      },
      delays: deadlineDelays((actor) => environmentOf(actor).clock.now()),
    });
    runnableMachines.set(machine, provided);
  }
  return provided;
}
