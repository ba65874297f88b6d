/**
 * Test helpers for apps that embed credential-actor: a clock you move by hand.
 *
 * @module credential-actor/testing
 */
export { ManualClock } from './testing/manual-clock.js';
