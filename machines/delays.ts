import type { CredentialContext } from './credential.types.js';
import { msUntil } from './policy.js';

/** The statechart's named delays. */
export type CredentialDelay = 'untilRefreshDue' | 'untilExpiry' | 'untilCooldownEnds' | 'mintTimeout' | 'untilRetry';

/**
 * The only place the statechart reads a clock: turning the deadlines in its context into timer
 * durations from `now()`. A deadline already past gives 0; no deadline gives `Infinity`, which the
 * provider's timer adapter never arms.
 *
 * @example
 * ```ts
 * credentialMachine.provide({ delays: deadlineDelays(() => clock.now()) });
 * ```
 */
export function deadlineDelays(now: () => number): Record<CredentialDelay, (args: { context: CredentialContext }) => number> {
  return {
    untilRefreshDue: ({ context }) => msUntil(context.refreshDueAt, now()),
    untilExpiry: ({ context }) => msUntil(context.token.expiresAt, now()),
    untilCooldownEnds: ({ context }) => msUntil(context.openUntil, now()),
    mintTimeout: ({ context }) => context.policy.mintTimeoutMs,
    untilRetry: ({ context }) => msUntil(context.retryAt, now()),
  };
}
