import { checkOptions } from '../check-options.js';
import { CredentialError } from '../../machines/credential-error.js';

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
  checkOptions(parts, { owner: 'credentialKey', known: ['issuer', 'clientId', 'audience', 'scopes', 'tenant'], refused: { scope: "use scopes, an array of strings (e.g. scopes: ['orders:read'])" } });
  for (const name of ['issuer', 'clientId'] as const) {
    if (typeof parts[name] !== 'string' || parts[name].length === 0) throw new CredentialError('INVALID_CONFIG', `credentialKey: ${name} must be a non-empty string`);
  }
  for (const name of ['audience', 'tenant'] as const) {
    if (parts[name] !== undefined && typeof parts[name] !== 'string') throw new CredentialError('INVALID_CONFIG', `credentialKey: ${name} must be a string`);
  }
  if (parts.scopes !== undefined && !(Array.isArray(parts.scopes) && parts.scopes.every((scope) => typeof scope === 'string'))) {
    throw new CredentialError('INVALID_CONFIG', 'credentialKey: scopes must be an array of strings');
  }
  return JSON.stringify(['v1', parts.issuer, parts.clientId, parts.audience ?? null, [...new Set(parts.scopes ?? [])].sort(), parts.tenant ?? null]);
}
