/**
 * `credential-actor/fetch`: requests made with the credential, the header added and the upstream's
 * refusals read for you. See `docs/requests.md`.
 *
 * @packageDocumentation
 */
export { authorizedFetch, type AuthorizedFetch, type AuthorizedFetchOptions, type TokenSourceFor } from './authorized-fetch.js';
export { parseChallenges, type AuthChallenge } from './bearer-challenge.js';
export { RequestNotReplayableError } from './request-not-replayable-error.js';
export type { DPoPKey } from '../dpop.js';
export { mutualTlsFetch, type MutualTlsFetch, type MutualTlsOptions } from './mutual-tls-fetch.js';
export {
  authorizeDispatcher,
  type AuthorizeDispatcherOptions,
  type DispatcherInterceptor,
  type DispatcherTokenSourceFor,
  type DispatchLike,
  type DispatchOptionsLike,
} from './authorize-dispatcher.js';
export { authorizeAxios, type AuthorizeAxiosOptions, type AxiosInstanceLike, type AxiosRequestConfigLike, type AxiosResponseLike, type AxiosTokenSourceFor } from './authorize-axios.js';
