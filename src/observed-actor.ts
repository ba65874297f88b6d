import type { Actor, AnyStateMachine } from 'xstate';

/**
 * A running statechart as its owner shows it: what it is now (`getSnapshot`), its changes
 * (`subscribe`) and its emitted events (`on`), enough for `@xstate/react`'s `useSelector`, a
 * timeline or a test. Never `send` or `stop`: the provider or pool that runs it owns its life, and
 * an event sent from outside would bypass the facade's checks.
 *
 * @example
 * ```ts
 * const { value } = provider.actor.getSnapshot();
 * provider.actor.subscribe((snapshot) => console.log(snapshot.value.breaker));
 * ```
 */
export type ObservedActor<TMachine extends AnyStateMachine> = Pick<Actor<TMachine>, 'id' | 'sessionId' | 'getSnapshot' | 'subscribe' | 'on'>;
