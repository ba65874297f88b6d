import { CredentialError } from '../../machines/credential-error.js';
import type { AuthToken } from '../../machines/credential.types.js';
import { describeShape } from '../describe-shape.js';
import { checkRequestAuthorization } from './request-options.js';
import type { TokenSource } from '../provider.js';
import { credentialHeaders, isDPoPBound, refusalFrom } from './authorized-fetch.js';
import { isDPoPKey, rememberNonce, type DPoPKey } from '../dpop.js';
import { RequestNotReplayableError } from './request-not-replayable-error.js';

/** What `authorizeAxios` reads and writes of an axios request config (axios 1.x). */
export interface AxiosRequestConfigLike {
  url?: string;
  baseURL?: string;
  method?: string;
  headers?: unknown;
  data?: unknown;
  signal?: unknown;
}

/** What `authorizeAxios` reads of an axios response. */
export interface AxiosResponseLike {
  readonly status: number;
  readonly headers: unknown;
}

/**
 * What `authorizeAxios` needs of an axios instance: its interceptors, and `request` to send a request
 * again. `C` is the instance's own request config type (axios' `InternalAxiosRequestConfig`), `R` its response type.
 */
export interface AxiosInstanceLike<C extends AxiosRequestConfigLike = AxiosRequestConfigLike, R extends AxiosResponseLike = AxiosResponseLike> {
  readonly interceptors: {
    readonly request: { use(onFulfilled: (config: C) => C | Promise<C>): number; eject(id: number): void };
    readonly response: { use(onFulfilled: (response: R) => R | Promise<R>, onRejected: (error: unknown) => unknown): number; eject(id: number): void };
  };
  request(config: NoInfer<C>): Promise<unknown>;
}

/** Where an axios request's token comes from: one source, or one chosen per request (`pool.source(key)`). */
export type AxiosTokenSourceFor<C extends AxiosRequestConfigLike = AxiosRequestConfigLike> = TokenSource<string> | ((config: C) => TokenSource<string>);

/** Options of {@link authorizeAxios}. */
export interface AuthorizeAxiosOptions {
  /** The DPoP key the mint binds its tokens to (`dpopKey()`): a DPoP-bound token is sent with a proof of it per request. */
  readonly dpop?: DPoPKey;
}

/** What a request sent through the interceptors was sent with: its source and its token. */
type Sent = { readonly tokens: TokenSource<string>; readonly token: AuthToken<string> };
/**
 * Marks the one more send. A plain property, because axios copies a config's own properties into the
 * config of `instance.request(config)` (a symbol or the object itself would not reach it).
 */
const RETRIED = 'credentialActorRetried';
type Tracked = AxiosRequestConfigLike & { [RETRIED]?: boolean };

/**
 * `authorizedFetch`'s rules for an axios instance: a request interceptor adds the token
 * (`Authorization: Bearer ...`, the wait for it bounded by the request's `signal`), and a response
 * interceptor reads a refusal as RFC 6750 writes it (a 401 with `invalid_token`, or with no Bearer
 * error; `insufficient_claims` with its claims), asks for a token newer than the refused one (one
 * mint however many requests were refused with it) and sends the request once more with
 * `instance.request`. A request whose `data` is a stream is not sent again: its token is invalidated
 * and the call rejects with `RequestNotReplayableError` (the axios response in `response`). Returns
 * the function that takes both interceptors off. With `{ dpop }`, a DPoP-bound token is sent as
 * `Authorization: DPoP` with a proof per request, and a `use_dpop_nonce` refusal sends the request
 * once more with the server's new nonce.
 *
 * @example
 * ```ts
 * const api = axios.create({ baseURL: 'https://api.example.com' });
 * const detach = authorizeAxios(api, provider);
 * await api.get('/orders', { signal: AbortSignal.timeout(5_000) });
 * ```
 */
export function authorizeAxios<C extends AxiosRequestConfigLike, R extends AxiosResponseLike>(
  instance: AxiosInstanceLike<C, R>,
  source: AxiosTokenSourceFor<C>,
  options: AuthorizeAxiosOptions = {},
): () => void {
  const { dpop } = options ?? {};
  checkRequestAuthorization('authorizeAxios', source, dpop, 'the request config');
  const sourceIsFunction = typeof source === 'function';
  if (typeof instance?.interceptors?.request?.use !== 'function' || typeof instance.request !== 'function') {
    throw new CredentialError('INVALID_CONFIG', `authorizeAxios: instance must be an axios instance (interceptors and request), got ${describeShape(instance)}`);
  }
  // the config object axios hands the request interceptor is the one its error carries back
  const sentWith = new WeakMap<object, Sent>();
  const onRequest = async (config: C): Promise<C> => {
    const tokens = sourceIsFunction ? source(config) : source;
    const signal = signalOf(config);
    // the one more send asks as any request does: it gets the token that replaced the refused one
    const token = await tokens.currentToken(signal === undefined ? undefined : { signal });
    sentWith.set(config, { tokens, token });
    for (const [name, value] of Object.entries(await credentialHeaders(token, dpop, (config.method ?? 'get').toUpperCase(), absoluteUrl(config)))) setHeader(config, name, value);
    return config;
  };
  const onRefused = async (error: unknown): Promise<unknown> => {
    const { config, response } = (error ?? {}) as { config?: C & Tracked; response?: AxiosResponseLike };
    const sent = config === undefined ? undefined : sentWith.get(config);
    if (config === undefined || response === undefined || sent === undefined || config[RETRIED] === true) throw error;
    const bound = dpop !== undefined && isDPoPBound(sent.token);
    const freshNonce = bound && rememberNonce(dpop, absoluteUrl(config), headerOf(response.headers, 'dpop-nonce'));
    const refusal = refusalFrom(response.status, headerOf(response.headers, 'www-authenticate'), bound ? 'dpop' : 'bearer');
    if (refusal === null) throw error;
    if (refusal.useNonce === true) {
      // the token is good; the proof lacked the server's new nonce: once more, with a proof that carries it
      if (!freshNonce || isStream(config.data)) throw error;
      config[RETRIED] = true;
      return instance.request(config);
    }
    const claims = refusal.claims === undefined ? {} : { claims: refusal.claims };
    if (isStream(config.data)) {
      sent.tokens.invalidate(sent.token, refusal.claims === undefined ? undefined : claims);
      throw new RequestNotReplayableError(response, { method: (config.method ?? 'get').toUpperCase(), url: absoluteUrl(config) });
    }
    const signal = signalOf(config);
    try {
      await sent.tokens.currentToken({ ...(signal === undefined ? {} : { signal }), rejected: sent.token, ...claims });
    } catch (refused) {
      // the upstream refuses what the issuer mints: its refusal is the answer, not a loop of mints
      if (refused instanceof CredentialError && refused.code === 'TOKEN_REFUSED') throw error;
      throw refused;
    }
    config[RETRIED] = true;
    return instance.request(config);
  };
  const requestId = instance.interceptors.request.use(onRequest);
  const onAnswered = (response: R): R => {
    // a DPoP server may give a new nonce on any answer: kept for the next proofs to its origin
    const config = (response as { config?: C }).config;
    const sent = config === undefined ? undefined : sentWith.get(config);
    if (dpop !== undefined && config !== undefined && sent !== undefined && isDPoPBound(sent.token)) rememberNonce(dpop, absoluteUrl(config), headerOf(response.headers, 'dpop-nonce'));
    return response;
  };
  const responseId = instance.interceptors.response.use(onAnswered, onRefused);
  return () => {
    instance.interceptors.request.eject(requestId);
    instance.interceptors.response.eject(responseId);
  };
}

function signalOf(config: AxiosRequestConfigLike): AbortSignal | undefined {
  return typeof AbortSignal !== 'undefined' && config.signal instanceof AbortSignal ? config.signal : undefined;
}

/** Sets a header on axios' `AxiosHeaders` (its `set`), or on a plain object. */
function setHeader(config: AxiosRequestConfigLike, name: string, value: string): void {
  const headers = config.headers;
  if (typeof headers === 'object' && headers !== null && typeof (headers as { set?: unknown }).set === 'function') {
    (headers as { set(name: string, value: string): void }).set(name, value);
    return;
  }
  config.headers = { ...(typeof headers === 'object' && headers !== null ? headers : {}), [name]: value };
}

function headerOf(headers: unknown, name: string): string | null {
  if (typeof headers !== 'object' || headers === null) return null;
  const value = typeof (headers as { get?: unknown }).get === 'function' ? (headers as { get(name: string): unknown }).get(name) : (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : Array.isArray(value) ? value.join(', ') : null;
}

/** A body read as it is sent: a Node stream (`pipe`) or a web `ReadableStream`. */
function isStream(data: unknown): boolean {
  if (typeof data !== 'object' || data === null) return false;
  return typeof (data as { pipe?: unknown }).pipe === 'function' || (typeof ReadableStream !== 'undefined' && data instanceof ReadableStream);
}

function absoluteUrl(config: AxiosRequestConfigLike): string {
  try {
    return new URL(config.url ?? '', config.baseURL).href;
  } catch {
    return 'http://invalid.invalid/';
  }
}
