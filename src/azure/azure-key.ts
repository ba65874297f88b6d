import { CredentialError } from '../../machines/credential-error.js';
import { describeShape } from '../describe-shape.js';

/** What an Azure SDK client asks a credential for: scopes, and perhaps a tenant. */
export interface AzureTokenRequest {
  /** The scopes, sorted and without duplicates (so one request has one key, whatever the order asked). */
  readonly scopes: readonly string[];
  /** The tenant a challenge named, or `undefined` for the credential's own. */
  readonly tenantId: string | undefined;
}

/**
 * The pool key for a token request: the tenant and the sorted scopes, in JSON. {@link parseAzureKey}
 * reads it back in the pool's mint. Scopes in another order give the same key.
 *
 * @example
 * ```ts
 * azureKey({ scopes: ['https://vault.azure.net/.default'], tenantId: 'contoso' }); // '["contoso","https://vault.azure.net/.default"]'
 * ```
 */
export function azureKey(request: { scopes: string | readonly string[]; tenantId?: string | undefined }): string {
  const scopes = [...new Set(typeof request.scopes === 'string' ? [request.scopes] : request.scopes)].sort();
  if (scopes.length === 0 || !scopes.every((scope) => typeof scope === 'string' && scope.length > 0)) {
    throw new CredentialError('INVALID_ARGUMENT', `scopes must be a non-empty string or array of non-empty strings, got ${describeShape(request.scopes)}`);
  }
  const { tenantId } = request;
  if (tenantId !== undefined && (typeof tenantId !== 'string' || tenantId.length === 0)) {
    throw new CredentialError('INVALID_ARGUMENT', `tenantId must be a non-empty string, got ${describeShape(tenantId)}`);
  }
  return JSON.stringify([tenantId ?? null, ...scopes]);
}

/**
 * The token request a key made by {@link azureKey} stands for, in the pool's mint.
 *
 * @example
 * ```ts
 * const pool = createCredentialPool({
 *   mint: (key, context) => {
 *     const { scopes, tenantId } = parseAzureKey(key);
 *     return mintFor(tenantId ?? homeTenant, scopes)(context);
 *   },
 * });
 * ```
 */
export function parseAzureKey(key: string): AzureTokenRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(key);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length < 2 || !(parsed[0] === null || typeof parsed[0] === 'string') || !parsed.slice(1).every((scope) => typeof scope === 'string')) {
    throw new CredentialError('INVALID_KEY', `not a key made by azureKey: ${describeShape(key)}`);
  }
  const [tenantId, ...scopes] = parsed as [string | null, ...string[]];
  return { scopes, tenantId: tenantId ?? undefined };
}
