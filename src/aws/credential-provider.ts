import { CredentialError } from '../../machines/credential-error.js';
import type { AuthToken } from '../auth-token.js';
import { checkOptions } from '../check-options.js';
import { describeShape } from '../describe-shape.js';
import type { CredentialPool } from '../pool/pool.js';
import { CredentialProvider } from '../provider.js';
import type { AwsKeys } from './aws-keys.js';

/** What the SDK gets: `@aws-sdk/types`' `AwsCredentialIdentity`, declared here so this entry point needs no AWS package to type-check. */
export interface AwsCredentialIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** When the keys expire; absent for keys that never do. */
  readonly expiration?: Date;
}

/**
 * An AWS SDK v3 credential provider (`AwsCredentialIdentityProvider`), marked `memoized` so that
 * the SDK calls it for every request instead of caching its answer until five minutes before expiry.
 */
export interface AwsCredentialProvider {
  (options?: { readonly forceRefresh?: boolean; readonly [property: string]: unknown }): Promise<AwsCredentialIdentity>;
  /** Tells the SDK not to wrap it in its own cache: this library's provider is the cache. */
  readonly memoized: true;
}

/** Options of {@link toAwsCredentialProvider} for a pool. */
export interface PoolAwsCredentialOptions {
  /** The pool key whose keys this provider serves (one role, one account: one key). */
  key: string;
}

/**
 * An AWS SDK v3 credential provider served by a provider, or by one key of a pool, whose secret is
 * an {@link AwsKeys} triple. Pass it as a client's `credentials`.
 *
 * The SDK caches a credential provider's answer and asks again only within five minutes of its
 * `expiration`. This one is marked `memoized`, which the SDK takes to mean "already cached": it asks
 * on every request, and this library's hot path answers (a resolved promise). So the policy alone
 * decides when keys are refreshed (`refreshAt`, `refreshFloorMs`, the breaker), a replaced or
 * invalidated key is used from the next request on, and an open breaker is seen by the request,
 * never hidden behind keys the SDK kept. `forceRefresh` (the SDK asks after the keys were refused)
 * invalidates the cached keys, within `invalidateMinIntervalMs`, and waits for new ones.
 *
 * @example
 * ```ts
 * const keys = await createCredentialProvider({ mint: assumeRoleMint({ roleArn, roleSessionName: 'orders' }) });
 * const s3 = new S3Client({ region: 'eu-west-1', credentials: toAwsCredentialProvider(keys) });
 * ```
 */
export function toAwsCredentialProvider(source: CredentialProvider<AwsKeys>): AwsCredentialProvider;
/** With a pool: the keys of one pool key. */
export function toAwsCredentialProvider(source: CredentialPool<AwsKeys>, options: PoolAwsCredentialOptions): AwsCredentialProvider;
export function toAwsCredentialProvider(source: CredentialProvider<AwsKeys> | CredentialPool<AwsKeys>, options?: PoolAwsCredentialOptions): AwsCredentialProvider {
  let currentToken: () => Promise<AuthToken<AwsKeys>>;
  let invalidate: (token: AuthToken<AwsKeys>) => boolean;
  if (source instanceof CredentialProvider) {
    if (options !== undefined) checkOptions(options, { owner: 'toAwsCredentialProvider', known: [] });
    currentToken = () => source.currentToken();
    invalidate = (token) => source.invalidate(token);
  } else {
    checkOptions(options, { owner: 'toAwsCredentialProvider', known: ['key'] });
    const key = options?.key;
    if (typeof key !== 'string' || key.length === 0) {
      throw new CredentialError('INVALID_CONFIG', `toAwsCredentialProvider: with a pool, key must be a non-empty string, got ${describeShape(key)}`);
    }
    const pool = source as CredentialPool<AwsKeys>;
    currentToken = () => pool.currentToken(key);
    invalidate = (token) => pool.invalidate(key, token);
  }
  // The hot path returns one settled promise per token, derived once from the provider's own
  // (which is the same promise for every caller of a token): no await, no allocation, one tick.
  let served: Promise<AuthToken<AwsKeys>> | null = null;
  let identity: Promise<AwsCredentialIdentity> | null = null;
  const identityOf = (token: Promise<AuthToken<AwsKeys>>): Promise<AwsCredentialIdentity> => {
    if (token !== served) {
      served = token;
      identity = token.then(toIdentity);
    }
    return identity!;
  };
  const forced = async (): Promise<AwsCredentialIdentity> => {
    if (invalidate(await currentToken())) await currentToken();
    return identityOf(currentToken());
  };
  const provide = (request?: { readonly forceRefresh?: boolean }): Promise<AwsCredentialIdentity> => (request?.forceRefresh === true ? forced() : identityOf(currentToken()));
  return Object.assign(provide, { memoized: true as const });
}

function toIdentity(token: AuthToken<AwsKeys>): AwsCredentialIdentity {
  const { accessKeyId, secretAccessKey, sessionToken } = token.secret.reveal();
  if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string' || typeof sessionToken !== 'string') {
    throw new CredentialError('INVALID_TOKEN', 'the credential is not an AWS key triple: its secret needs the parts accessKeyId, secretAccessKey and sessionToken');
  }
  return token.expiresAt === null ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey, sessionToken, expiration: new Date(token.expiresAt) };
}
