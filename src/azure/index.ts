/**
 * `credential-actor/azure`: a provider or a pool as an `@azure/core-auth` `TokenCredential`.
 *
 * @packageDocumentation
 */
export { toTokenCredential } from './token-credential.js';
export { tokenCredentialMint } from './token-credential-mint.js';
export type { AzureTokenSource, TokenCredentialMintOptions } from './token-credential-mint.js';
export type { AzureAccessToken, AzureGetTokenOptions, AzureTokenCredential, PoolTokenCredentialOptions, ProviderTokenCredentialOptions } from './token-credential.js';
export { azureKey, parseAzureKey } from './azure-key.js';
export type { AzureTokenRequest } from './azure-key.js';
export { AzureAuthenticationError } from './authentication-error.js';
export { AzureCredentialUnavailableError } from './credential-unavailable-error.js';
