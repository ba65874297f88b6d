/**
 * `credential-actor/redis`: one token and one mint per refresh window across a fleet of processes,
 * on the app's own Redis clients (`redis` v5/v6 or `ioredis`). The core library depends on no
 * Redis client; this entry only on Node's `crypto`.
 *
 * @module credential-actor/redis
 */
export { redisCoordination, RedisCoordination } from './redis-coordination.js';
export type { CoordinationEvent, RedisCoordinationOptions } from './redis-coordination.js';
export { credentialKey } from './credential-key.js';
export type { CredentialKeyParts } from './credential-key.js';
export { FleetBreakerOpenError } from './fleet-breaker-open-error.js';
export { TokenSealer } from '../sealed-token.js';
export type { EncryptionKey, SealedContent } from '../sealed-token.js';
export type { RedisClient, RedisConnection } from './redis-client.js';
