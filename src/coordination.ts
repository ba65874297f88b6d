import type { Clock } from './clock.js';
import type { ExclusiveMint, Mint } from './mint.js';
import type { Secret, SecretValue } from '../machines/secret.js';

/** The policy a shared mint needs to keep the issuer's load one fleet's, not one process's. */
export interface SharedMintPolicy {
  /** Issuer failures across the fleet that open the fleet's breaker. */
  readonly breakerThreshold: number;
  /** How long the fleet's open breaker keeps every process from the issuer (ms). */
  readonly breakerCooldownMs: number;
  /** The longest an issuer's `Retry-After` keeps the fleet away (ms). */
  readonly maxRetryAfterMs: number;
  /** The provider's own bound on a mint (ms): a lease must outlive it. */
  readonly mintTimeoutMs: number;
  /** The provider's clock: a shared token's local deadline is read off it, never off another host's. */
  readonly now: () => number;
  /** The provider's clock, whose timers (unref'd, chunked past 2^31-1 ms by `armTimer`) a coordination arms too. Default: the system clock. */
  readonly clock?: Clock;
}

/**
 * How processes share one credential: given the key of a credential and the process's own mint,
 * returns the mint the provider runs instead, which adopts a token another process already shares,
 * or mints under a lease and shares the result. The core library ships none; `credential-actor/redis`
 * ships `redisCoordination`. Without one (the default), a provider is alone with its issuer.
 *
 * @example
 * ```ts
 * const provider = await createCredentialProvider({ mint, coordination: redisCoordination({ client, subscriber, encryptionKey }), sharedKey });
 * ```
 */
export interface Coordination {
  /**
   * The mint to run for `sharedKey` (a key that names exactly one credential: see
   * `credentialKey` in `credential-actor/redis`).
   */
  share<T extends SecretValue<T>>(sharedKey: string, mint: Mint<T>, policy: SharedMintPolicy): Mint<T>;
  /** Throws `INVALID_CONFIG` if the coordination cannot work with `policy`; called at construction (a pool shares lazily, per key). */
  check?(policy: SharedMintPolicy): void;
  /**
   * Replaces the refresh token of `sharedKey` (an exclusive mint's) with a new sign-in's, for every
   * process or tab sharing it. A provider's `signIn()` calls it; without it, the mint's own `signIn`.
   */
  signIn?(sharedKey: string, mint: ExclusiveMint<SecretValue>, refreshToken: Secret, policy: SharedMintPolicy): Promise<void>;
}

/** Whether `value` can be used as a {@link Coordination}. */
export function isCoordination(value: unknown): value is Coordination {
  return typeof value === 'object' && value !== null && typeof (value as { share?: unknown }).share === 'function';
}
