/** What names one credential: two credentials that differ in any of these never share a token. */
export interface CredentialKeyParts {
  /** The token endpoint or issuer URL. */
  readonly issuer: string;
  readonly clientId: string;
  /** The audience or resource the token is for. */
  readonly audience?: string;
  /** Scopes, in any order (sorted here: `a b` and `b a` are one credential). */
  readonly scopes?: readonly string[];
  readonly tenant?: string;
}

/**
 * A stable string naming one credential, for `sharedKey` (a provider) or as a pool key: issuer,
 * client id, audience, sorted scopes and tenant, unambiguously joined (JSON). The Redis layer
 * stores it hashed (SHA-256), so it may be long and hold any character.
 *
 * @example
 * ```ts
 * const sharedKey = credentialKey({ issuer: 'https://login.example/token', clientId: 'orders', scopes: ['orders:read'], tenant: 't-42' });
 * ```
 */
export function credentialKey(parts: CredentialKeyParts): string {
  return JSON.stringify([
    'v1',
    parts.issuer,
    parts.clientId,
    parts.audience ?? null,
    [...new Set(parts.scopes ?? [])].sort(),
    parts.tenant ?? null,
  ]);
}
