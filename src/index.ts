/**
 * credential-actor: a short-lived credential, always ready, as a live XState statechart.
 *
 * @module credential-actor
 */
export { createCredentialProvider, CredentialProvider } from './provider.js';
export type { CredentialProviderOptions, CredentialProviderState, CredentialReporters, CurrentTokenOptions, InvalidateOptions, TokenSource } from './provider.js';
export type { ExclusiveMint, Mint, MintContext } from './mint.js';
export type { RefreshTokenGrant } from './refresh-token-grant.js';
export type { RefreshTokenStore } from './refresh-token-store.js';
export type { RefreshTokenMachine } from '../machines/refresh-token.machine.js';
export type { GrantInFlight, GrantRefusal, RefreshTokenContext, RefreshTokenEvent, RefreshTokenRecord, RefreshTokenStatus } from '../machines/refresh-token.types.js';
export type { Coordination, SharedMintPolicy } from './coordination.js';
export type { AuthToken, MintedToken, SecretValue } from './auth-token.js';
export { Secret } from '../machines/secret.js';
export { createCredentialPool, CredentialPool } from './pool/pool.js';
export type { CredentialPoolOptions, CredentialPoolState, KeyedEvent, KeyMint, KeyRemovedEvent, PoolEmittedEvent } from './pool/pool.js';
export { poolMachine } from '../machines/pool.machine.js';
export type { PoolMachine } from '../machines/pool.machine.js';
export type { IssuerBreakerChangedEvent, PoolContext, PoolPolicy } from '../machines/pool.types.js';
export { defaultClassifyFailure } from './classify-failure.js';
export type { FailureBlame } from './classify-failure.js';
export { parseRetryAfter, retryAfterOf } from './retry-after.js';
export { CredentialError, isCredentialError } from '../machines/credential-error.js';
export type { CredentialErrorCode } from '../machines/credential-error.js';
export { BreakerOpenError } from './breaker-open-error.js';
export type { BreakerOpenDetails, BreakerScope } from './breaker-open-error.js';
export { refreshDueAt } from '../machines/policy.js';
export type { RefreshTiming } from '../machines/policy.js';
export { defaultRefreshConfig } from './config.js';
export type { RefreshConfig, RefreshMode, RefreshPolicy } from './config.js';
export { systemClock, MAX_TIMER_DELAY_MS } from './clock.js';
export type { Clock, TimerClock, TimerHandle } from './clock.js';
export { ActorClock } from './actor-clock.js';
export { credentialMachine } from '../machines/credential.machine.js';
export type { CredentialMachine } from '../machines/credential.machine.js';
export type { BreakerChangedEvent, BreakerState, CredentialContext, CredentialEmittedEvent, CredentialEvent, RefreshFailedEvent, RefreshSucceededEvent } from '../machines/credential.types.js';
