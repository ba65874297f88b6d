import { requireOption } from '../check-options.js';
import type { Mint } from '../mint.js';
import { tokenGrantMint, type TokenRequestOptions } from './token-grant.js';
import { tokenInputOption, type TokenInput } from './token-input.js';

/** Options of {@link tokenExchangeMint}. */
export interface TokenExchangeOptions extends TokenRequestOptions {
  /** The token to exchange, read afresh at every mint: a function, `{ file }`, another provider (its current token), or a fixed string. */
  subjectToken: TokenInput;
  /** What the subject token is (default `urn:ietf:params:oauth:token-type:access_token`; e.g. `…:jwt`, `…:id_token`). */
  subjectTokenType?: string;
  /** The party acting for the subject (delegation), read afresh at every mint. */
  actorToken?: TokenInput;
  /** What the actor token is (required with `actorToken`). */
  actorTokenType?: string;
  /** The kind of token wanted back (`requested_token_type`). */
  requestedTokenType?: string;
}

/**
 * Builds a `mint` for OAuth 2.0 Token Exchange (RFC 8693): trades a token the service holds (the
 * subject token, e.g. another provider's, or a workload's identity token) for one for another
 * `audience` or `resource`, optionally on behalf of an actor. The subject and actor tokens are
 * read afresh at every mint, so a subject token from another provider is always its current one.
 * The answer's `issued_token_type` may be any type; the token is served as its `token_type` names
 * it (`N_A` for a token that is not an access token). Everything else is as {@link clientCredentialsMint}.
 *
 * @example
 * ```ts
 * const downstream = await createCredentialProvider({
 *   mint: tokenExchangeMint({
 *     issuer: 'https://login.example.com',
 *     clientId: 'gateway',
 *     clientSecret: process.env.CLIENT_SECRET!,
 *     subjectToken: upstreamProvider,
 *     audience: 'https://ledger.example.com',
 *   }),
 * });
 * ```
 */
export function tokenExchangeMint(options: TokenExchangeOptions): Mint {
  const owner = 'tokenExchangeMint';
  const given = (options ?? {}) as Partial<TokenExchangeOptions>;
  const subject = tokenInputOption(owner, 'subjectToken', given.subjectToken);
  const actor = given.actorToken === undefined ? undefined : tokenInputOption(owner, 'actorToken', given.actorToken);
  const { subjectTokenType = ACCESS_TOKEN_TYPE, actorTokenType, requestedTokenType } = given;
  for (const [name, value] of [
    ['subjectTokenType', subjectTokenType],
    ['actorTokenType', actorTokenType],
    ['requestedTokenType', requestedTokenType],
  ] as const) {
    requireOption(owner, name, value === undefined || (typeof value === 'string' && value.length > 0), 'must be a non-empty string (a token type URI)', value);
  }
  requireOption(owner, 'actorTokenType', (actor === undefined) === (actorTokenType === undefined), 'goes with actorToken: give both or neither', actorTokenType);
  return tokenGrantMint(options, {
    owner,
    ownOptions: ['subjectToken', 'subjectTokenType', 'actorToken', 'actorTokenType', 'requestedTokenType'],
    grantType: TOKEN_EXCHANGE_GRANT,
    clientRequired: false,
    otherTokenTypes: ['n_a'],
    parameters: async (signal) => ({
      subject_token: (await subject(signal)).reveal(),
      subject_token_type: subjectTokenType,
      ...(actor === undefined ? {} : { actor_token: (await actor(signal)).reveal(), actor_token_type: actorTokenType! }),
      ...(requestedTokenType === undefined ? {} : { requested_token_type: requestedTokenType }),
    }),
  });
}

const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
