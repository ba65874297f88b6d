import { CredentialProvider, type CredentialActorSetup } from '../provider.js';
import type { SecretValue } from '../../machines/secret.js';

/**
 * A pool's key: a credential actor like any provider, plus the pool's use counter at its last
 * request (the least recently used key has the smallest), kept on the object the serve reads anyway
 * rather than on an entry object of the pool's own: one allocation and one pointer chase fewer per
 * key and per request. Not exported from the package: keys are made by {@link startPoolKey} only.
 */
export class PoolKey extends CredentialProvider<SecretValue> {
  /** @internal The pool's use counter at this key's last request (the pool's to write). */
  lastUse: number;

  /** @internal Use {@link startPoolKey}. */
  constructor(setup: CredentialActorSetup, use: number) {
    super(setup);
    this.lastUse = use;
  }
}

/**
 * Starts a pool's key with no token yet (its first request mints), counting only its own failures.
 *
 * @example
 * ```ts
 * const key = startPoolKey({ machine: credentialMachine, mint, clock, config, gate }, ++uses);
 * ```
 */
export function startPoolKey(setup: Omit<CredentialActorSetup, 'breakerCounts'>, use: number): PoolKey {
  return new PoolKey({ ...setup, breakerCounts: 'key-failures' }, use);
}
