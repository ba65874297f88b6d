import { fromPromise } from 'xstate';
import type { CredentialMachine } from '../machines/credential.machine.js';
import type { MintInput, MintOutput, SharedMintPhase } from '../machines/credential.types.js';
import { deadlineDelays, poolDeadlineDelays } from '../machines/delays.js';
import type { PoolMachine } from '../machines/pool.machine.js';
import { armTimer, disarmTimer, type Clock, type TimerClock, type TimerHandle } from './clock.js';
import { runMint, type MintAttemptSetup } from './mint.js';

/**
 * An actor's environment: what its statechart needs from outside (its clock, and for a credential
 * the setup of its mint attempts), in the one object XState already hands to the root actor and to
 * every child it invokes: the timer clock the actor was created with (`actor.clock`).
 *
 * Why ride in XState's `clock` option rather than `.provide()` per provider: one machine, provided
 * once, serves every provider and every pool key; a per-provider `.provide()` would copy the whole
 * machine definition (about 30 KB) for each, and a pool of 10,000 keys would carry 300 MB of them.
 * This relies on XState handing an actor's `clock` to the children it invokes (the `mint` actor
 * finds the environment through `self.clock`); `test/package/layout.test.ts` ("the XState behaviour the provider relies on") pins it,
 * so an XState upgrade that changes it fails loudly there rather than quietly here.
 *
 * As XState's timer clock it arms through {@link armTimer}: nothing for an infinite delay, and a
 * delay beyond 2^31-1 ms in chunks.
 *
 * @example
 * ```ts
 * const environment = new ProviderEnvironment(clock, { mint, clock, jitter, classify, mintTimeoutMs });
 * createActor(runnable(credentialMachine), { input, clock: environment }).start();
 * ```
 *
 * The base carries only the clock (the pool statechart needs no more).
 */
export class ClockEnvironment implements TimerClock {
  /** @param clock where the actor reads time and arms timers. */
  constructor(readonly clock: Clock) {}

  /** Arms `callback` after `ms` on the environment's clock, as {@link armTimer} does. */
  setTimeout(callback: () => void, ms: number): TimerHandle {
    return armTimer(this.clock, callback, ms);
  }

  /** Cancels a timer armed by {@link ClockEnvironment.setTimeout}. */
  clearTimeout(handle: TimerHandle): void {
    disarmTimer(this.clock, handle);
  }
}

/** The environment of a credential actor (a provider, or a pool's key): its clock and its mint attempts' setup. */
export class ProviderEnvironment extends ClockEnvironment {
  /**
   * @param clock where the actor reads time and arms timers.
   * @param attempt what every mint attempt of this actor runs with (see {@link runMint}).
   */
  constructor(
    clock: Clock,
    readonly attempt: MintAttemptSetup,
  ) {
    super(clock);
  }
}

function environmentOf(actor: object): ProviderEnvironment {
  const environment = (actor as { clock?: unknown }).clock;
  if (!(environment instanceof ProviderEnvironment)) throw new Error('credential-actor: the actor does not run on a provider environment');
  return environment;
}

/**
 * `machine` (the pool statechart) with its delay reading the clock of the {@link ClockEnvironment}
 * its actor runs on; built once per machine and shared.
 *
 * @example
 * ```ts
 * createActor(runnablePool(poolMachine), { input, clock: new ClockEnvironment(clock) });
 * ```
 */
export function runnablePool(machine: PoolMachine): PoolMachine {
  let provided = runnablePools.get(machine);
  if (provided === undefined) {
    provided = machine.provide({
      delays: poolDeadlineDelays((actor) => {
        const environment = (actor as { clock?: unknown }).clock;
        if (!(environment instanceof ClockEnvironment)) throw new Error('credential-actor: the actor does not run on a clock environment');
        return environment.clock.now();
      }),
    });
    runnablePools.set(machine, provided);
  }
  return provided;
}

const runnablePools = new WeakMap<PoolMachine, PoolMachine>();

const runnableMachines = new WeakMap<CredentialMachine, CredentialMachine>();

/**
 * `machine` with its clock-reading delays and its `mint` actor implemented against the
 * {@link ProviderEnvironment} of whichever actor runs it; built once per machine and shared.
 *
 * @example
 * ```ts
 * createActor(runnable(credentialMachine), { input, clock: new ProviderEnvironment(clock, attemptSetup) });
 * ```
 */
export function runnable(machine: CredentialMachine): CredentialMachine {
  let provided = runnableMachines.get(machine);
  if (provided === undefined) {
    provided = machine.provide({
      actors: {
        mint: fromPromise<MintOutput, MintInput>(({ signal, self, input }) => {
          const { parent, attempt, startedAt } = input;
          const phase =
            parent === undefined
              ? undefined
              : (reached: SharedMintPhase) => {
                  // a shared mint may report after its attempt was given up or the provider stopped (a tab
                  // closed mid-grant): nobody is listening for this attempt any more
                  if (!signal.aborted) parent.send({ type: 'mint.phase', phase: reached, attempt });
                };
          const step =
            parent === undefined
              ? undefined
              : (doing: string) => {
                  if (!signal.aborted) parent.send({ type: 'mint.step', step: String(doing), attempt });
                };
          return runMint(environmentOf(self).attempt, { signal, startedAt, phase, step });
        }),
      },
      delays: deadlineDelays((actor) => environmentOf(actor).clock.now()),
    });
    runnableMachines.set(machine, provided);
  }
  return provided;
}
