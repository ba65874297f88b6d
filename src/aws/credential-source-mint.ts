import { CredentialError } from '../../machines/credential-error.js';
import { requireOption } from '../check-options.js';
import { describeError } from '../inspection.js';
import type { Mint } from '../mint.js';
import type { AwsKeys } from './aws-keys.js';

/**
 * An AWS SDK v3 credential provider, as `@aws-sdk/credential-providers` makes them
 * (`fromNodeProviderChain()`, `fromContainerMetadata()`, `fromInstanceMetadata()`, `fromSSO()`,
 * `fromTokenFile()`, `fromHttp()`), declared here so this entry point needs no AWS package to type-check.
 */
export type AwsCredentialSource = (options?: { readonly forceRefresh?: boolean }) => Promise<{
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}>;

/**
 * A mint of AWS keys from any AWS SDK credential provider: the container or instance metadata
 * endpoint, SSO, a web-identity token file, the whole Node chain. Each mint asks the source afresh
 * (`forceRefresh`, so a source the SDK memoizes does not answer from its own cache), and the keys'
 * `expiration` is the token's. Under a `coordination` (Redis), a fleet of processes on one host then
 * asks the metadata endpoint once per refresh window instead of once per process, and a failing
 * source meets the breaker while the valid keys are served. Fails with `MINT_FAILED` (the SDK's
 * error, named, as a redacted `cause`); keys without a session token (long-term keys, which never
 * expire) are refused with `MINT_FAILED`: give those to the SDK client directly.
 *
 * @example
 * ```ts
 * // fromContainerMetadata() is @aws-sdk/credential-providers' own
 * const keys = await createCredentialProvider({ mint: awsCredentialMint(fromContainerMetadata()), coordination, sharedKey: 'aws:task-role' });
 * const s3 = new S3Client({ credentials: toAwsCredentialProvider(keys) });
 * ```
 */
export function awsCredentialMint(source: AwsCredentialSource): Mint<AwsKeys> {
  requireOption('awsCredentialMint', 'source', typeof source === 'function', 'must be an AWS SDK credential provider (a function), e.g. fromNodeProviderChain()', source);
  return async ({ signal }) => {
    signal.throwIfAborted();
    let identity: Awaited<ReturnType<AwsCredentialSource>>;
    try {
      // the SDK's providers take no signal: an abandoned call is left to settle, its outcome unread
      identity = await raceWithSignal(source({ forceRefresh: true }), signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new CredentialError('MINT_FAILED', `the AWS credential provider failed: ${summary(error)}`, { cause: describeError(error) });
    }
    const { accessKeyId, secretAccessKey, sessionToken, expiration } = identity ?? {};
    if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string' || accessKeyId.length === 0 || secretAccessKey.length === 0) {
      throw new CredentialError('MINT_FAILED', 'the AWS credential provider returned no accessKeyId and secretAccessKey');
    }
    if (typeof sessionToken !== 'string' || sessionToken.length === 0) {
      throw new CredentialError('MINT_FAILED', 'the AWS credential provider returned long-term keys (no sessionToken), which never expire: give them to the SDK client directly');
    }
    const expiresAt = expiration instanceof Date && Number.isFinite(expiration.getTime()) ? expiration.getTime() : null;
    return { secret: { accessKeyId, secretAccessKey, sessionToken }, expiresAt };
  };
}

/** `work`, or the signal's reason as soon as it aborts; `work`'s later outcome is consumed. */
function raceWithSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** The SDK error's name and message (its messages name the source and the endpoint, never the keys). */
function summary(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return 'it rejected with a non-error';
}
