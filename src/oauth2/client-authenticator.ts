import * as oauth from 'oauth4webapi';
import { CredentialError } from '../../machines/credential-error.js';
import type { Secret } from '../../machines/secret.js';
import { describeShape } from '../describe-shape.js';
import { secretOption } from './endpoint.js';
import type { ClientAuthentication } from './client-authentication.js';

/** Where a token request goes, for the client authentication to address its assertion. */
export interface AuthenticationContext {
  readonly tokenEndpoint: URL;
  readonly issuer: string;
  readonly signal: AbortSignal;
}

/** How a mint authenticates at each request, from its `clientSecret` and `clientAuthentication` options. */
export type ClientAuthenticator = (context: AuthenticationContext) => Promise<oauth.ClientAuth>;

/**
 * The one reading of a mint's `clientSecret` and `clientAuthentication`, for every OAuth mint:
 * a named method with its secret, or a {@link ClientAuthentication}. `defaultMethod` is what a
 * client with a secret and no method uses; `secretRequired` refuses a client with neither (a
 * confidential-only grant).
 */
export function clientAuthenticatorOption(
  owner: string,
  options: { readonly clientSecret?: unknown; readonly clientAuthentication?: unknown; readonly fetch?: unknown },
  secretRequired: boolean,
): ClientAuthenticator {
  const method = options.clientAuthentication;
  if (typeof method === 'object' && method !== null && authenticators.has(method as ClientAuthentication)) {
    if (options.clientSecret !== undefined) throw new CredentialError('INVALID_CONFIG', `${owner}: give clientSecret or a ${(method as ClientAuthentication).method} clientAuthentication, not both`);
    return authenticators.get(method as ClientAuthentication)!;
  }
  if (method !== undefined && !(typeof method === 'string' && SECRET_METHODS.includes(method))) {
    throw new CredentialError(
      'INVALID_CONFIG',
      `${owner}: clientAuthentication must be ${SECRET_METHODS.map((name) => `'${name}'`).join(', ')}, privateKeyJwt(…) or clientAssertion(…), got ${describeShape(method)}`,
    );
  }
  if (method === 'tls_client_auth' || method === 'self_signed_tls_client_auth') {
    // the certificate the connection presents is the proof: a fetch that presents one is needed
    if (options.clientSecret !== undefined)
      throw new CredentialError('INVALID_CONFIG', `${owner}: clientAuthentication '${method}' proves the client by its TLS certificate; it sends no clientSecret`);
    if (typeof options.fetch !== 'function') {
      throw new CredentialError('INVALID_CONFIG', `${owner}: clientAuthentication '${method}' needs fetch, one that presents the client certificate (mutualTlsFetch from credential-actor/fetch)`);
    }
    return () => Promise.resolve(oauth.TlsClientAuth());
  }
  if (method === 'none') {
    if (options.clientSecret !== undefined) throw new CredentialError('INVALID_CONFIG', `${owner}: clientAuthentication 'none' is for a public client; it sends no clientSecret`);
    if (secretRequired) throw new CredentialError('INVALID_CONFIG', `${owner}: this grant is for confidential clients; clientAuthentication 'none' cannot use it`);
    return () => Promise.resolve(oauth.None());
  }
  if (options.clientSecret === undefined) {
    if (method !== undefined) throw new CredentialError('INVALID_CONFIG', `${owner}: clientAuthentication '${String(method)}' needs clientSecret`);
    if (secretRequired) throw new CredentialError('INVALID_CONFIG', `${owner}: clientSecret or clientAuthentication (privateKeyJwt(…), clientAssertion(…)) is required`);
    return () => Promise.resolve(oauth.None());
  }
  const secret: Secret = secretOption(owner, 'clientSecret', options.clientSecret);
  if (method === 'client_secret_post') return () => Promise.resolve(oauth.ClientSecretPost(secret.reveal()));
  if (method === 'client_secret_jwt') {
    return (context) => Promise.resolve(oauth.ClientSecretJwt(secret.reveal(), { [oauth.modifyAssertion]: (_header, payload) => void (payload.aud = context.tokenEndpoint.href) }));
  }
  return () => Promise.resolve(oauth.ClientSecretBasic(secret.reveal()));
}

const SECRET_METHODS: readonly string[] = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'none'];

/** Each {@link ClientAuthentication} made by `privateKeyJwt` or `clientAssertion`, and how it authenticates: the only way in, so no look-alike object is taken. */
const authenticators = new WeakMap<ClientAuthentication, ClientAuthenticator>();

/** Records how a {@link ClientAuthentication} just made authenticates. */
export function registerAuthenticator(made: ClientAuthentication, authenticator: ClientAuthenticator): void {
  authenticators.set(made, authenticator);
}
