import type { Mint } from '../mint.js';
import { tokenGrantMint, type TokenRequestOptions } from './token-grant.js';
import { tokenInputOption, type TokenInput } from './token-input.js';

/** Options of {@link jwtBearerMint}. */
export interface JwtBearerOptions extends TokenRequestOptions {
  /** The JWT the grant is made on, read afresh at every mint (a function, `{ file }`, another provider, or a fixed string). */
  assertion: TokenInput;
}

/**
 * Builds a `mint` for the JWT bearer grant (RFC 7523 section 2.1): a signed JWT (a workload's
 * identity token, another issuer's ID token, one your own service signs) is the grant itself, sent
 * as `assertion` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`. The assertion is
 * read afresh at every mint. The client authenticates if it has a method (the grant allows a client
 * that does not); everything else is as {@link clientCredentialsMint}.
 *
 * @example
 * ```ts
 * const mint = jwtBearerMint({
 *   tokenEndpoint: 'https://login.example.com/oauth2/token',
 *   clientId: 'ci-runner',
 *   assertion: { file: '/var/run/secrets/tokens/ci-token' },
 *   scopes: ['deploy'],
 * });
 * ```
 */
export function jwtBearerMint(options: JwtBearerOptions): Mint {
  const owner = 'jwtBearerMint';
  const assertion = tokenInputOption(owner, 'assertion', (options as Partial<JwtBearerOptions> | undefined)?.assertion);
  return tokenGrantMint(options, {
    owner,
    ownOptions: ['assertion'],
    grantType: JWT_BEARER_GRANT,
    clientRequired: false,
    parameters: async (signal) => ({ assertion: (await assertion(signal)).reveal() }),
  });
}

const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
