import { CredentialError } from '../../machines/credential-error.js';
import { Secret } from '../../machines/secret.js';
import { checkOptions, requireOption } from '../check-options.js';
import { describeShape } from '../describe-shape.js';
import { describeError } from '../inspection.js';
import type { Mint } from '../mint.js';
import type { AzureAccessToken, AzureGetTokenOptions } from './token-credential.js';

/** Any Azure `TokenCredential`, as `@azure/identity` makes them, declared here so this entry point needs no Azure package to type-check. */
export interface AzureTokenSource {
  getToken(
    scopes: string | string[],
    options?: AzureGetTokenOptions & { abortSignal?: AbortSignal },
  ): Promise<(Pick<AzureAccessToken, 'token' | 'expiresOnTimestamp'> & { refreshAfterTimestamp?: number; tokenType?: string }) | null>;
}

/** Options of {@link tokenCredentialMint}. */
export interface TokenCredentialMintOptions {
  /** The scopes to ask for (e.g. `['https://vault.azure.net/.default']`). */
  scopes: readonly string[];
  /** The tenant to ask in, for a credential that can ask in several. */
  tenantId?: string;
}

/**
 * A mint from any Azure `TokenCredential`: `DefaultAzureCredential`, `ManagedIdentityCredential`,
 * `WorkloadIdentityCredential`, a `ClientCertificateCredential`. Each mint calls `getToken` with
 * the provider's signal and a claims challenge's `claims`; the token's expiry and `refreshAfterTimestamp`
 * (the SDK's refresh hint) travel with it. Under a `coordination` (Redis), a fleet of processes on
 * one host then asks the managed-identity endpoint once per refresh window instead of once per
 * process (sixty processes drove it into 429s: azure-sdk-for-python #17787), and a failing endpoint
 * meets the breaker while the valid token is served. Fails with `MINT_FAILED`, the SDK's error
 * (`CredentialUnavailableError`, `AuthenticationError`) named, kept as a redacted `cause`.
 *
 * The credential's own cache (MSAL's) may answer a mint with the token it holds until its own
 * refresh time; a claims challenge always goes to the endpoint.
 *
 * @example
 * ```ts
 * const provider = await createCredentialProvider({
 *   mint: tokenCredentialMint(new ManagedIdentityCredential(), { scopes: ['https://vault.azure.net/.default'] }),
 *   coordination, sharedKey: 'azure:vault',
 * });
 * ```
 */
export function tokenCredentialMint(credential: AzureTokenSource, options: TokenCredentialMintOptions): Mint {
  const owner = 'tokenCredentialMint';
  requireOption(owner, 'credential', typeof (credential as { getToken?: unknown } | null)?.getToken === 'function', 'must be an Azure TokenCredential (with getToken)', credential);
  checkOptions(options, { owner, known: ['scopes', 'tenantId'] });
  const { scopes, tenantId } = options;
  if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((scope) => typeof scope === 'string' && scope.length > 0)) {
    throw new CredentialError('INVALID_CONFIG', `${owner}: scopes must be a non-empty array of strings, e.g. ['https://vault.azure.net/.default'], got ${describeShape(scopes)}`);
  }
  requireOption(owner, 'tenantId', tenantId === undefined || (typeof tenantId === 'string' && tenantId.length > 0), 'must be a non-empty string', tenantId);
  return async ({ signal, claims }) => {
    let answer: Awaited<ReturnType<AzureTokenSource['getToken']>>;
    try {
      answer = await credential.getToken([...scopes], { abortSignal: signal, ...(claims === undefined ? {} : { claims }), ...(tenantId === undefined ? {} : { tenantId }) });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new CredentialError('MINT_FAILED', `the Azure credential could not get a token: ${error instanceof Error ? `${error.name}: ${error.message}` : 'it rejected with a non-error'}`, {
        cause: describeError(error),
      });
    }
    if (answer === null || typeof answer?.token !== 'string' || answer.token.length === 0) throw new CredentialError('MINT_FAILED', 'the Azure credential returned no token');
    const { expiresOnTimestamp, refreshAfterTimestamp, tokenType } = answer;
    if (typeof expiresOnTimestamp !== 'number' || !Number.isFinite(expiresOnTimestamp)) throw new CredentialError('MINT_FAILED', 'the Azure credential returned a token with no expiresOnTimestamp');
    return {
      secret: new Secret(answer.token),
      expiresAt: expiresOnTimestamp,
      ...(typeof refreshAfterTimestamp === 'number' && Number.isFinite(refreshAfterTimestamp) ? { refreshAfter: refreshAfterTimestamp } : {}),
      ...(typeof tokenType === 'string' && tokenType.length > 0 ? { tokenType } : {}),
    };
  };
}
