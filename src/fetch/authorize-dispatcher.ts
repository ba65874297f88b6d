import { CredentialError } from '../../machines/credential-error.js';
import type { AuthToken } from '../../machines/credential.types.js';
import { describeShape } from '../describe-shape.js';
import { checkRequestAuthorization } from './request-options.js';
import type { TokenSource } from '../provider.js';
import { credentialHeaders, isDPoPBound, refusalFrom, type Refusal } from './authorized-fetch.js';
import { isDPoPKey, rememberNonce, type DPoPKey } from '../dpop.js';

/** What undici hands an interceptor: the request's options (the part read here). */
export interface DispatchOptionsLike {
  readonly origin?: string | URL;
  readonly path: string;
  readonly method: string;
  readonly headers?: Record<string, string | string[] | undefined> | string[] | null;
  readonly body?: unknown;
  readonly [option: string]: unknown;
}

/** undici's dispatch function: `(options, handler) => boolean`, of undici's own option and handler types. */
export type DispatchLike<Options extends object = DispatchOptionsLike, Handler extends object = object> = (options: Options, handler: Handler) => boolean;

/**
 * An undici interceptor: give it to `dispatcher.compose()`. Generic over undici's own option and
 * handler types, so it fits the undici the app uses without this package depending on it.
 */
export type DispatcherInterceptor = <Options extends object, Handler extends object>(dispatch: DispatchLike<Options, Handler>) => DispatchLike<Options, Handler>;

/** Where a request's token comes from: one source, or one chosen per request from its origin, path and method (a pool's key: `pool.source(key)`). */
export type DispatcherTokenSourceFor = TokenSource<string> | ((request: { readonly origin: string; readonly path: string; readonly method: string }) => TokenSource<string>);

/** Options of {@link authorizeDispatcher}. */
export interface AuthorizeDispatcherOptions {
  /** The DPoP key the mint binds its tokens to (`dpopKey()`): a DPoP-bound token is sent with a proof of it per request. */
  readonly dpop?: DPoPKey;
}

/**
 * An interceptor for undici's dispatcher (`agent.compose(authorizeDispatcher(provider))`), with
 * `authorizedFetch`'s rules inside undici's own request life cycle: the header added from
 * `currentToken()`; a refusal of the token (RFC 6750: `invalid_token`, a bare 401,
 * `insufficient_claims` with its claims) held back from the caller, a newer token asked for
 * (`currentToken({ rejected })`: one mint however many requests were refused) and the request sent
 * once more; a second refusal, or one whose source answers `TOKEN_REFUSED`, reaches the caller as
 * it came. A body undici reads as it sends (a stream, an async iterable: what undici's `fetch`
 * hands the dispatcher for any body) is not sent again: the refusal reaches the caller and the
 * token is invalidated. A source that cannot give a token fails the request with its
 * `CredentialError`, nothing sent. With `{ dpop }`, a DPoP-bound token is sent as `Authorization:
 * DPoP` with a proof per send, and a `use_dpop_nonce` refusal is sent once more with the server's
 * new nonce. Needs undici 7 or later (an optional peer dependency).
 *
 * @example
 * ```ts
 * import { Agent, request } from 'undici';
 * const agent = new Agent().compose(authorizeDispatcher(provider));
 * const { statusCode, body } = await request('https://api.example/orders', { dispatcher: agent });
 * ```
 */
export function authorizeDispatcher(source: DispatcherTokenSourceFor, options: AuthorizeDispatcherOptions = {}): DispatcherInterceptor {
  const { dpop } = options ?? {};
  checkRequestAuthorization('authorizeDispatcher', source, dpop, 'the request');
  const sourceIsFunction = typeof source === 'function';
  return <Options extends object, Handler extends object>(dispatch: DispatchLike<Options, Handler>) =>
    (given: Options, handler: Handler) => {
      const options = given as unknown as DispatchOptionsLike;
      const origin = String(options.origin ?? '');
      const tokens = sourceIsFunction ? source({ origin, path: options.path, method: options.method }) : source;
      const controller = new ControllerProxy();
      const send = (withHeaders: DispatchOptionsLike, attempt: NewApiHandler) => dispatch(withHeaders as unknown as Options, attempt as unknown as Handler);
      void loadDecorator().then(
        (Decorator) => authorize(send, options, new Decorator(handler), tokens, controller, dpop),
        (error: unknown) => fail(handler as NewApiHandler, controller, error),
      );
      return true;
    };
}

/** The new undici handler API (`onRequestStart`, `onResponseStart`, ...), which `DecoratorHandler` gives every handler. */
interface NewApiHandler {
  onRequestStart?(controller: ControllerLike, context: unknown): void;
  onRequestUpgrade?(controller: ControllerLike, statusCode: number, headers: Record<string, unknown>, socket: unknown): void;
  onResponseStart?(controller: ControllerLike, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void;
  onResponseData?(controller: ControllerLike, chunk: Uint8Array): void;
  onResponseEnd?(controller: ControllerLike, trailers: Record<string, unknown>): void;
  onResponseError?(controller: ControllerLike, error: unknown): void;
}

interface ControllerLike {
  pause(): void;
  resume(): void;
  abort(reason: unknown): void;
  readonly aborted: boolean;
  readonly paused: boolean;
  readonly reason: unknown;
}

/**
 * The one controller the caller's handler sees for the whole exchange (both sends): it forwards to
 * the connection of the send in flight, and keeps an abort that came before any (the token wait).
 */
class ControllerProxy implements ControllerLike {
  #target: ControllerLike | null = null;
  #paused = false;
  #reason: unknown = null;
  #aborted = false;

  set target(target: ControllerLike) {
    this.#target = target;
    if (this.#aborted) target.abort(this.#reason);
    else if (this.#paused) target.pause();
  }
  pause(): void {
    this.#paused = true;
    this.#target?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.#target?.resume();
  }
  abort(reason: unknown): void {
    this.#aborted = true;
    this.#reason = reason;
    this.#target?.abort(reason);
  }
  get aborted(): boolean {
    return this.#aborted || (this.#target?.aborted ?? false);
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): unknown {
    return this.#target?.reason ?? this.#reason;
  }
}

/** A refusal held back from the caller: its answer, to hand over whole if it is not sent again. */
interface HeldRefusal {
  readonly refusal: Refusal;
  /** The refusal carried a nonce this key had not had from that origin. */
  readonly freshNonce: boolean;
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly statusMessage: string | undefined;
  readonly chunks: Uint8Array[];
}

async function authorize(
  dispatch: (options: DispatchOptionsLike, handler: NewApiHandler) => boolean,
  options: DispatchOptionsLike,
  downstream: NewApiHandler,
  tokens: TokenSource<string>,
  controller: ControllerProxy,
  dpop: DPoPKey | undefined,
): Promise<void> {
  downstream.onRequestStart?.(controller, {});
  let token: AuthToken<string>;
  try {
    token = await tokens.currentToken();
  } catch (error) {
    fail(downstream, controller, error);
    return;
  }
  if (controller.aborted) return fail(downstream, controller, controller.reason);
  const replayable = isReplayable(options.body);
  const url = new URL(options.path, String(options.origin ?? 'http://invalid.invalid')).href;
  const send = async (with_: AuthToken<string>, onRefusal: ((held: HeldRefusal) => void) | null) => {
    let headers: Record<string, string | string[] | undefined>;
    try {
      headers = { ...headersObject(options.headers), ...(await credentialHeaders(with_, dpop, options.method, url)) };
    } catch (error) {
      fail(downstream, controller, error);
      return;
    }
    if (controller.aborted) return fail(downstream, controller, controller.reason);
    const bound = dpop !== undefined && isDPoPBound(with_);
    const nonceOf = bound ? (answer: Record<string, string | string[] | undefined>) => rememberNonce(dpop, url, [answer['dpop-nonce'] ?? []].flat()[0]) : null;
    dispatch({ ...options, headers }, attemptHandler(downstream, controller, onRefusal, bound ? 'dpop' : 'bearer', nonceOf));
  };
  void send(token, (held) => {
    if (held.refusal.useNonce === true) {
      // the token is good; the proof lacked the server's new nonce: once more with it, if new and the body can be sent again
      if (!held.freshNonce || !replayable) return deliver(downstream, controller, held);
      return void send(token, null);
    }
    if (!replayable) {
      tokens.invalidate(token, held.refusal.claims === undefined ? undefined : { claims: held.refusal.claims });
      return deliver(downstream, controller, held);
    }
    tokens.currentToken({ rejected: token, ...(held.refusal.claims === undefined ? {} : { claims: held.refusal.claims }) }).then(
      (newer) => (controller.aborted ? fail(downstream, controller, controller.reason) : void send(newer, null)),
      (error: unknown) => {
        // the upstream refuses what the issuer mints: its refusal is the answer, not a loop of mints
        if (error instanceof CredentialError && error.code === 'TOKEN_REFUSED') deliver(downstream, controller, held);
        else fail(downstream, controller, error);
      },
    );
  });
}

/** One send's handler: passes everything to the caller's, except a refusal it is told to hold (`onRefusal`). */
function attemptHandler(
  downstream: NewApiHandler,
  controller: ControllerProxy,
  onRefusal: ((held: HeldRefusal) => void) | null,
  scheme: 'bearer' | 'dpop',
  nonceOf: ((headers: Record<string, string | string[] | undefined>) => boolean) | null,
): NewApiHandler {
  let held: HeldRefusal | null = null;
  return {
    onRequestStart: (connection) => {
      controller.target = connection;
    },
    onRequestUpgrade: (_connection, statusCode, headers, socket) => downstream.onRequestUpgrade?.(controller, statusCode, headers, socket),
    onResponseStart: (_connection, statusCode, headers, statusMessage) => {
      const freshNonce = nonceOf?.(headers) ?? false;
      const challenge = headers['www-authenticate'];
      const refusal = onRefusal === null ? null : refusalFrom(statusCode, challenge === undefined ? null : [challenge].flat().join(', '), scheme);
      if (refusal !== null) held = { refusal, freshNonce, statusCode, headers, statusMessage, chunks: [] };
      else downstream.onResponseStart?.(controller, statusCode, headers, statusMessage);
    },
    onResponseData: (_connection, chunk) => {
      if (held !== null) held.chunks.push(chunk);
      else downstream.onResponseData?.(controller, chunk);
    },
    onResponseEnd: (_connection, trailers) => {
      if (held !== null) onRefusal!(held);
      else downstream.onResponseEnd?.(controller, trailers);
    },
    onResponseError: (_connection, error) => downstream.onResponseError?.(controller, error),
  };
}

/** Hands a held refusal to the caller as it came. */
function deliver(downstream: NewApiHandler, controller: ControllerProxy, held: HeldRefusal): void {
  downstream.onResponseStart?.(controller, held.statusCode, held.headers, held.statusMessage);
  for (const chunk of held.chunks) downstream.onResponseData?.(controller, chunk);
  downstream.onResponseEnd?.(controller, {});
}

function fail(downstream: NewApiHandler, controller: ControllerProxy, error: unknown): void {
  downstream.onResponseError?.(controller, error);
}

/** A body undici can send twice: none, text or bytes. A stream or an async iterable is read as it is sent. */
function isReplayable(body: unknown): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer;
}

/** undici's request headers (an object, or a flat list of names and values) as an object. */
function headersObject(headers: DispatchOptionsLike['headers']): Record<string, string | string[] | undefined> {
  if (headers === undefined || headers === null) return {};
  if (!Array.isArray(headers)) {
    // the caller's own Authorization header is replaced, whatever its case
    return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
  }
  const object: Record<string, string> = {};
  for (let index = 0; index + 1 < headers.length; index += 2) if (headers[index]!.toLowerCase() !== 'authorization') object[headers[index]!] = headers[index + 1]!;
  return object;
}

type DecoratorClass = new (handler: object) => NewApiHandler;
let decorator: Promise<DecoratorClass> | undefined;

/** undici's `DecoratorHandler`, which gives any handler (old or new API) the new API: loaded from the undici the app uses. */
function loadDecorator(): Promise<DecoratorClass> {
  const specifier = 'undici'; // a variable: bundlers and browsers never resolve it
  return (decorator ??= (import(specifier) as Promise<{ DecoratorHandler?: DecoratorClass }>).then(
    ({ DecoratorHandler }) => {
      if (DecoratorHandler === undefined) throw new CredentialError('UNCONFIGURED', 'authorizeDispatcher needs undici 7 or later');
      return DecoratorHandler;
    },
    () => {
      throw new CredentialError('UNCONFIGURED', 'authorizeDispatcher needs the undici package: npm install undici');
    },
  ));
}
