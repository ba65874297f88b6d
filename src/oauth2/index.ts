/**
 * OAuth 2.0 mints on `oauth4webapi`: the client-credentials, JWT bearer, token-exchange and
 * rotating refresh-token grants, and the client authentication enterprise issuers require
 * (`private_key_jwt`, `client_secret_jwt`, client assertions from workload identity).
 *
 * @module credential-actor/oauth2
 */
export { clientCredentialsMint, type ClientCredentialsOptions } from './client-credentials-mint.js';
export { jwtBearerMint, type JwtBearerOptions } from './jwt-bearer-mint.js';
export { tokenExchangeMint, type TokenExchangeOptions } from './token-exchange-mint.js';
export type { TokenRequestOptions } from './token-grant.js';
export { privateKeyJwt, clientAssertion } from './client-authentication.js';
export type { ClientAuthentication, ClientAuthenticationOption, PrivateKeyJwtOptions, ClientAssertionOptions, AssertionAudience } from './client-authentication.js';
export type { PrivateKeyInput, SigningAlgorithm } from './signing-key.js';
export type { TokenInput } from './token-input.js';
export { dpopKey } from '../dpop.js';
export type { DPoPKey, DPoPKeyOptions } from '../dpop.js';
export { OAuthError } from './oauth-error.js';
export type { OAuthErrorDetails, OAuthStep } from './oauth-error.js';

export { refreshTokenMint } from './refresh-token-mint.js';
export type { RefreshTokenMint, RefreshTokenMintEvent, RefreshTokenOptions } from './refresh-token-mint.js';
export { fileStore } from './file-store.js';
export { refreshTokenMachine } from '../../machines/refresh-token.machine.js';
export type { RefreshTokenStore } from '../refresh-token-store.js';
