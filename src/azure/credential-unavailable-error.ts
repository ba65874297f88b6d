/**
 * The credential cannot serve this request at all: it was stopped, or it serves other scopes or
 * another tenant. Named `CredentialUnavailableError`, as `@azure/identity` names it, so that a
 * `ChainedTokenCredential` moves on to its next credential instead of failing the request.
 *
 * @example
 * ```ts
 * const credential = new ChainedTokenCredential(toTokenCredential(provider, { scopes }), new DefaultAzureCredential());
 * ```
 */
export class AzureCredentialUnavailableError extends Error {
  /**
   * @param message why; names the scopes or tenant asked for, never a token.
   * @example
   * ```ts
   * throw new AzureCredentialUnavailableError('the credential was stopped');
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = 'CredentialUnavailableError';
  }
}
