import { CredentialError } from '../machines/credential-error.js';
import { checkOptions } from './check-options.js';
import { base64url } from './base64url.js';

/**
 * A DPoP key (RFC 9449): the key pair a client proves possession of, so that a token bound to it is
 * useless to whoever copies the token. Give the same one to the mint (`dpop` of the OAuth mints),
 * which asks for a bound token, and to `authorizedFetch(source, { dpop })`, which signs a proof for
 * every request. It shows only its algorithm: the private key is made non-extractable and never
 * leaves the process (or the tab) that made it.
 */
export interface DPoPKey {
  /** The JWS algorithm of its proofs. */
  readonly algorithm: 'ES256';
}

/** What a proof is for: one request (RFC 9449 section 4.2). */
export interface DPoPProofFor {
  /** `htm`: the request's method. */
  readonly method: string;
  /** `htu`: the request's URL (its query and fragment are left out). */
  readonly url: string | URL;
  /** The access token the request carries, for `ath`; absent at the token endpoint. */
  readonly accessToken?: string;
}

/** Options of {@link dpopKey}. */
export interface DPoPKeyOptions {
  /** The key pair to use (its private key should be non-extractable); default: an ES256 pair made at the first proof. */
  readonly keyPair?: CryptoKeyPair;
}

/**
 * Makes a DPoP key: an ES256 key pair, made non-extractable at its first proof, and the nonces
 * servers gave it (`DPoP-Nonce`), kept per origin. One key per provider: a fleet or the tabs do not
 * share it (see `docs/client-authentication.md`).
 *
 * @example
 * ```ts
 * const dpop = dpopKey();
 * const provider = await createCredentialProvider({ mint: clientCredentialsMint({ issuer, clientId, clientSecret, dpop }) });
 * const api = authorizedFetch(provider, { dpop });
 * ```
 */
export function dpopKey(options: DPoPKeyOptions = {}): DPoPKey {
  checkOptions(options, { owner: 'dpopKey', known: ['keyPair'] });
  const given = options.keyPair;
  if (given !== undefined && !isEs256Pair(given)) {
    throw new CredentialError('INVALID_CONFIG', 'dpopKey: keyPair must be an ECDSA P-256 CryptoKeyPair (ES256) whose private key can sign');
  }
  const key: DPoPKey = Object.freeze({ algorithm: 'ES256' as const });
  const state: KeyState = { nonces: new Map() };
  if (given !== undefined) state.prepared = prepare(given);
  states.set(key, state);
  return key;
}

/** Whether `value` is a key {@link dpopKey} made (a copy is not). */
export function isDPoPKey(value: unknown): value is DPoPKey {
  return typeof value === 'object' && value !== null && states.has(value as DPoPKey);
}

/**
 * A DPoP proof for one request: a JWT of type `dpop+jwt` carrying the public key, signed with the
 * private one, with `htm`, `htu`, `iat`, a fresh `jti`, `ath` (the access token's SHA-256) when the
 * request carries one, and the nonce the server last gave for that origin.
 */
export async function dpopProof(key: DPoPKey, request: DPoPProofFor): Promise<string> {
  const state = stateOf(key);
  const { privateKey, header } = await (state.prepared ??= prepare());
  const url = new URL(request.url);
  const nonce = state.nonces.get(url.origin);
  url.search = '';
  url.hash = '';
  const payload: Record<string, string | number> = { jti: crypto.randomUUID(), htm: request.method.toUpperCase(), htu: url.href, iat: Math.floor(Date.now() / 1000) };
  if (request.accessToken !== undefined) payload.ath = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(request.accessToken))));
  if (nonce !== undefined) payload.nonce = nonce;
  const input = `${header}.${base64url(new TextEncoder().encode(JSON.stringify(payload)))}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, new TextEncoder().encode(input));
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

/**
 * Keeps the nonce a server gave in its `DPoP-Nonce` header, for the next proofs to that origin; says
 * whether it is new (a refusal with `use_dpop_nonce` is worth one more send only then).
 */
export function rememberDPoPNonce(key: DPoPKey, url: string | URL, response: Response): boolean {
  return rememberNonce(key, url, response.headers.get('dpop-nonce'));
}

/** {@link rememberDPoPNonce} for a `DPoP-Nonce` header read by the caller (an axios or undici response). */
export function rememberNonce(key: DPoPKey, url: string | URL, nonce: string | null | undefined): boolean {
  if (nonce === null || nonce === undefined || nonce.length === 0 || nonce.length > 1_024) return false;
  const { nonces } = stateOf(key);
  const origin = new URL(url).origin;
  if (nonces.get(origin) === nonce) return false;
  nonces.set(origin, nonce);
  return true;
}

/** The JWK thumbprint (RFC 7638) of the key's public half: the `jkt` a bound token's `cnf` names. */
export async function dpopThumbprint(key: DPoPKey): Promise<string> {
  return (await (stateOf(key).prepared ??= prepare())).thumbprint;
}

interface PreparedKey {
  readonly privateKey: CryptoKey;
  /** The proof's JOSE header, base64url: the same for every proof of this key. */
  readonly header: string;
  readonly thumbprint: string;
}

interface KeyState {
  prepared?: Promise<PreparedKey>;
  readonly nonces: Map<string, string>;
}

const states = new WeakMap<DPoPKey, KeyState>();

function stateOf(key: DPoPKey): KeyState {
  const state = states.get(key);
  if (state === undefined) throw new CredentialError('INVALID_ARGUMENT', 'dpop must be a key made by dpopKey()');
  return state;
}

async function prepare(given?: CryptoKeyPair): Promise<PreparedKey> {
  const pair = given ?? ((await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair);
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const jwk = { crv: crv!, kty: kty!, x: x!, y: y! }; // the members RFC 7638 hashes, in its order
  const thumbprint = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(jwk)))));
  const header = base64url(new TextEncoder().encode(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })));
  return { privateKey: pair.privateKey, header, thumbprint };
}

function isEs256Pair(pair: unknown): pair is CryptoKeyPair {
  const { privateKey, publicKey } = (pair ?? {}) as Partial<CryptoKeyPair>;
  const p256 = (key: CryptoKey | undefined) => key?.algorithm.name === 'ECDSA' && (key.algorithm as EcKeyAlgorithm).namedCurve === 'P-256';
  return p256(privateKey) && p256(publicKey) && privateKey!.type === 'private' && privateKey!.usages.includes('sign');
}
