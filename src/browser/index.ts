/**
 * `credential-actor/browser`: the tabs of one origin share each credential (one mint per refresh
 * window for every tab, one refresh-token grant per rotation, none replayed), passed as the
 * `coordination` option of a provider or a pool.
 *
 * @packageDocumentation
 */
export { browserCoordination, BrowserCoordination } from './browser-coordination.js';
export type { BrowserCoordinationEvent, BrowserCoordinationOptions, BroadcastChannelLike, LockManagerLike, StorageLike } from './browser-coordination.js';
