import { CredentialError } from '../../machines/credential-error.js';

/**
 * The credential cannot serve this request at all: it was stopped (`STOPPED`), or it serves other
 * scopes or another tenant (`INVALID_ARGUMENT`). A `CredentialError` like every error the library makes. Named `CredentialUnavailableError`, as `@azure/identity` names it, so that a
 * `ChainedTokenCredential` moves on to its next credential instead of failing the request.
 *
 * @example
 * ```ts
 * const credential = new ChainedTokenCredential(toTokenCredential(provider, { scopes }), new DefaultAzureCredential());
 * ```
 */
export class AzureCredentialUnavailableError extends CredentialError {
  /**
   * @param message why; names the scopes or tenant asked for, never a token.
   * @param code `STOPPED` for a stopped source; `INVALID_ARGUMENT` (the default) for scopes or a tenant it does not serve.
   * @example
   * ```ts
   * throw new AzureCredentialUnavailableError('the credential was stopped', 'STOPPED');
   * ```
   */
  constructor(message: string, code: 'STOPPED' | 'INVALID_ARGUMENT' = 'INVALID_ARGUMENT') {
    super(code, message);
    this.name = 'CredentialUnavailableError';
  }
}
