import * as oauth from 'oauth4webapi';
import { CredentialError } from '../../machines/credential-error.js';
import { describeShape } from '../describe-shape.js';
import { checkOptions, requireOption } from '../check-options.js';
import { registerAuthenticator, type AuthenticationContext, type ClientAuthenticator } from './client-authenticator.js';
import { certificateThumbprint, signingKeyOption, type PrivateKeyInput, type SigningAlgorithm } from './signing-key.js';
import { tokenInputOption, type TokenInput } from './token-input.js';

/**
 * How a client proves who it is at the token endpoint without sending a shared secret: made by
 * {@link privateKeyJwt} or {@link clientAssertion}, and given to a mint as `clientAuthentication`.
 * It shows only its method and key id: the key stays inside, non-extractable.
 */
export interface ClientAuthentication {
  /** `private_key_jwt`: an assertion signed here; `client_assertion`: one read from elsewhere (workload identity federation). */
  readonly method: 'private_key_jwt' | 'client_assertion';
  /** The `kid` the assertion names, if any. */
  readonly keyId?: string;
}

/**
 * The methods a mint's `clientAuthentication` takes by name (the `client_secret_*` ones use
 * `clientSecret`; the TLS ones, RFC 8705, the certificate the mint's `fetch` presents), or a
 * {@link ClientAuthentication}.
 */
export type ClientAuthenticationOption = 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'tls_client_auth' | 'self_signed_tls_client_auth' | 'none' | ClientAuthentication;

/** Who a client assertion is addressed to (`aud`). */
export type AssertionAudience = 'tokenEndpoint' | 'issuer' | (string & {});

/** Options of {@link privateKeyJwt}. */
export interface PrivateKeyJwtOptions {
  /** The client's private key: a `CryptoKey` (kept as is), a private JWK or PEM text (imported non-extractable at the first mint). */
  privateKey: PrivateKeyInput;
  /** The key's id at the issuer, sent as the assertion's `kid`. */
  keyId?: string;
  /**
   * The certificate the issuer knows the key by (PEM): its SHA-256 thumbprint is sent as the
   * assertion's `x5t#S256` header, as Entra ID's certificate credentials expect.
   */
  certificate?: string;
  /** The algorithm, when the key does not imply it (an RSA key signs RS256 unless told, e.g. `PS256`). */
  algorithm?: SigningAlgorithm;
  /**
   * The assertion's `aud`: `'tokenEndpoint'` (the default; what Entra ID and Okta require, and
   * oidc-provider and Keycloak accept), `'issuer'` (Auth0's tenant URL), or a URL of your own.
   */
  audience?: AssertionAudience;
}

/**
 * `private_key_jwt` (RFC 7523, OpenID Connect Core 9): each token request carries a short JWT
 * (60 s, a fresh `jti`) signed with the client's private key, so no shared secret ever travels.
 * Give it to any OAuth mint as `clientAuthentication`.
 *
 * @example
 * ```ts
 * const mint = clientCredentialsMint({
 *   issuer: 'https://login.example.com',
 *   clientId: 'billing-service',
 *   clientAuthentication: privateKeyJwt({ privateKey: readFileSync('client.key', 'utf8'), keyId: 'billing-2026' }),
 *   scopes: ['invoices:read'],
 * });
 * ```
 */
export function privateKeyJwt(options: PrivateKeyJwtOptions): ClientAuthentication {
  const owner = 'privateKeyJwt';
  checkOptions(options, { owner, known: ['privateKey', 'keyId', 'certificate', 'algorithm', 'audience'] });
  const importKey = signingKeyOption(owner, 'privateKey', options.privateKey, options.algorithm);
  const { keyId, certificate } = options;
  requireOption(owner, 'keyId', keyId === undefined || (typeof keyId === 'string' && keyId.length > 0), 'must be a non-empty string', keyId);
  requireOption(
    owner,
    'certificate',
    certificate === undefined || (typeof certificate === 'string' && certificate.includes('-----BEGIN CERTIFICATE-----')),
    'must be PEM text (-----BEGIN CERTIFICATE-----)',
    certificate,
  );
  const audience = audienceOption(owner, options.audience);
  // imported once, at the first mint; a failure is tried again at the next
  let prepared: Promise<{ key: CryptoKey; thumbprint: string | undefined }> | undefined;
  const prepare = () =>
    (prepared ??= Promise.all([importKey(), certificate === undefined ? undefined : certificateThumbprint(certificate)]).then(
      ([key, thumbprint]) => ({ key, thumbprint }),
      (error: unknown) => {
        prepared = undefined;
        throw error;
      },
    ));
  return describe({ method: 'private_key_jwt', ...(keyId === undefined ? {} : { keyId }) }, async (context) => {
    const { key, thumbprint } = await prepare();
    return oauth.PrivateKeyJwt(
      { key, ...(keyId === undefined ? {} : { kid: keyId }) },
      {
        [oauth.modifyAssertion]: (header, payload) => {
          if (thumbprint !== undefined) header['x5t#S256'] = thumbprint;
          payload.aud = audienceFor(audience, context);
        },
      },
    );
  });
}

/** Options of {@link clientAssertion}. */
export interface ClientAssertionOptions {
  /** The assertion's type (default `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`). */
  assertionType?: string;
}

/**
 * A client assertion made elsewhere and read afresh at every mint: workload identity federation,
 * where the platform hands the workload a short-lived signed token (Kubernetes' projected
 * service-account token, Entra ID's `AZURE_FEDERATED_TOKEN_FILE`, a GitHub Actions OIDC token) and
 * the issuer trusts it as the client's proof. `source` is a function, `{ file }` or another provider
 * (see {@link TokenInput}). A source that fails fails that mint with `MINT_FAILED`, naming the file.
 *
 * @example
 * ```ts
 * const mint = clientCredentialsMint({
 *   tokenEndpoint: `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/token`,
 *   clientId: process.env.AZURE_CLIENT_ID!,
 *   clientAuthentication: clientAssertion({ file: process.env.AZURE_FEDERATED_TOKEN_FILE! }),
 *   scopes: ['https://vault.azure.net/.default'],
 * });
 * ```
 */
export function clientAssertion(source: TokenInput, options: ClientAssertionOptions = {}): ClientAuthentication {
  const owner = 'clientAssertion';
  const read = tokenInputOption(owner, 'source', source);
  checkOptions(options, { owner, known: ['assertionType'] });
  const { assertionType = JWT_BEARER_ASSERTION } = options;
  requireOption(owner, 'assertionType', typeof assertionType === 'string' && assertionType.length > 0, 'must be a non-empty string', assertionType);
  return describe({ method: 'client_assertion' }, async ({ signal }) => {
    const assertion = await read(signal);
    return (_as, client, body) => {
      body.set('client_id', client.client_id);
      body.set('client_assertion_type', assertionType);
      body.set('client_assertion', assertion.reveal());
    };
  });
}

function describe(description: ClientAuthentication, authenticator: ClientAuthenticator): ClientAuthentication {
  const made = Object.freeze({ ...description });
  registerAuthenticator(made, authenticator);
  return made;
}

function audienceOption(owner: string, value: unknown): AssertionAudience {
  if (value === undefined) return 'tokenEndpoint';
  if (value === 'tokenEndpoint' || value === 'issuer' || (typeof value === 'string' && URL.canParse(value))) return value;
  throw new CredentialError('INVALID_CONFIG', `${owner}: audience must be 'tokenEndpoint', 'issuer' or a URL, got ${describeShape(value)}`);
}

function audienceFor(audience: AssertionAudience, context: AuthenticationContext): string {
  if (audience === 'tokenEndpoint') return context.tokenEndpoint.href;
  if (audience === 'issuer') return context.issuer;
  return audience;
}

const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
