/**
 * `browserCoordination` in Node, whose `BroadcastChannel` connects the channel objects of one
 * process as a browser connects the tabs of one origin: each "tab" is a coordination and a provider
 * of its own, on one ManualClock, with a Web Locks stand-in whose locks a "crashed" tab gives up as
 * a browser does. The real thing, in Chromium against oidc-provider, is `test/browser-tabs.test.ts`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCredentialProvider, CredentialError, type CredentialProvider, type ExclusiveMint, type MintContext, type MintedToken } from '../src/index.js';
import { browserCoordination, type LockManagerLike } from '../src/browser/index.js';
import { ManualClock } from '../src/testing/index.js';
import { outcome } from './helpers.js';

const HOUR = 3_600_000;

/** Web Locks for one origin: exclusive, first come first served, a waiter's signal withdraws it; a crashed tab's locks are released. */
class OriginLocks {
  readonly #tails = new Map<string, Promise<void>>();
  /** How many callbacks ran under each lock at once, at most (must stay 1). */
  maxHeld = 0;
  #held = 0;

  tab(): LockManagerLike & { crash(): void } {
    const releases = new Set<() => void>();
    return {
      request: <T>(name: string, options: { signal?: AbortSignal }, callback: () => Promise<T>) =>
        new Promise<T>((resolve, reject) => {
          const previous = this.#tails.get(name) ?? Promise.resolve();
          let release!: () => void;
          const mine = new Promise<void>((done) => (release = done));
          this.#tails.set(name, previous.then(() => mine));
          let withdrawn = false;
          const signal = options.signal;
          const onAbort = () => {
            withdrawn = true;
            reject(signal!.reason);
          };
          signal?.addEventListener('abort', onAbort, { once: true });
          void previous.then(async () => {
            signal?.removeEventListener('abort', onAbort);
            if (withdrawn) return release();
            releases.add(release);
            this.maxHeld = Math.max(this.maxHeld, ++this.#held);
            const settle = () => {
              if (!releases.delete(release)) return;
              this.#held--;
              release();
            };
            callback().then(
              (value) => (settle(), resolve(value)),
              (error: unknown) => (settle(), reject(error)),
            );
            // a crashed tab's callback never settles: crash() releases its lock as the browser does
            releasesOnCrash.set(release, settle);
          });
        }),
      crash: () => {
        for (const release of [...releases]) releasesOnCrash.get(release)?.();
      },
    };
  }
}
const releasesOnCrash = new Map<() => void, () => void>();

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Lets BroadcastChannel deliveries (macrotasks in Node) and what they cause run. */
async function settle(rounds = 5): Promise<void> {
  for (let index = 0; index < rounds; index++) await new Promise((resolve) => setTimeout(resolve, 2));
}

/** An issuer counting its grants; `hang` makes the next one never answer. */
function issuer(clock: ManualClock, lifetimeMs = HOUR) {
  const state = { minted: 0, hang: false };
  const mint = async ({ signal }: MintContext): Promise<MintedToken> => {
    if (state.hang) return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    state.minted++;
    return { secret: `token-${state.minted}`, expiresAt: clock.now() + lifetimeMs };
  };
  return { state, mint };
}

async function openTab(locks: OriginLocks, clock: ManualClock, mint: (context: MintContext) => Promise<MintedToken>, options: { namespace?: string } = {}) {
  const tabLocks = locks.tab();
  const coordination = browserCoordination({ namespace: options.namespace ?? 'test', locks: tabLocks, adoptWaitMs: 50 });
  cleanups.push(() => coordination.close());
  const constructing = createCredentialProvider({ mint, clock, coordination, sharedKey: 'orders', firstMint: 'lazy', mintTimeoutMs: 5_000 });
  const provider = await constructing;
  cleanups.push(() => provider.stop());
  return { provider, coordination, crash: tabLocks.crash };
}

/** A currentToken() that lets the adoption wait (a ManualClock timer) and the channel run. */
async function tokenOf(provider: CredentialProvider, clock: ManualClock): Promise<string> {
  const pending = provider.currentToken();
  pending.catch(() => {}); // awaited below: this only keeps a rejection from counting as unhandled meanwhile
  for (let index = 0; index < 20; index++) {
    await settle(1);
    await clock.advanceAsync(10);
  }
  return (await pending).secret.reveal();
}

describe('browserCoordination between tabs (BroadcastChannel in Node, Web Locks stand-in)', () => {
  it('a tab opened later adopts the live tab’s token without minting', async () => {
    const clock = new ManualClock(Date.parse('2026-12-01T00:00:00Z'));
    const locks = new OriginLocks();
    const { state, mint } = issuer(clock);
    const first = await openTab(locks, clock, mint);
    expect(await tokenOf(first.provider, clock)).toBe('token-1');
    const late = await openTab(locks, clock, mint);
    expect(await tokenOf(late.provider, clock)).toBe('token-1');
    expect(state.minted).toBe(1);
  });

  it('four tabs whose tokens fall due together: one mint, the others adopt it under the lock', async () => {
    const clock = new ManualClock(Date.parse('2026-12-01T00:00:00Z'));
    const locks = new OriginLocks();
    const { state, mint } = issuer(clock, 60_000);
    const tabs = [];
    for (let index = 0; index < 4; index++) tabs.push(await openTab(locks, clock, mint));
    for (const tab of tabs) await tokenOf(tab.provider, clock);
    expect(state.minted).toBe(1);
    clock.set(clock.now() + 61_000); // every tab's token expired
    const tokens = await Promise.all(tabs.map((tab) => tokenOf(tab.provider, clock)));
    expect(new Set(tokens)).toEqual(new Set(['token-2']));
    expect(state.minted).toBe(2);
    expect(locks.maxHeld).toBe(1);
  });

  it('the control: the same tabs without the coordination mint once each', async () => {
    const clock = new ManualClock(Date.parse('2026-12-01T00:00:00Z'));
    const { state, mint } = issuer(clock);
    for (let index = 0; index < 4; index++) {
      const provider = await createCredentialProvider({ mint, clock });
      cleanups.push(() => provider.stop());
    }
    expect(state.minted).toBe(4);
  });

  describe('a rotating refresh token (an exclusive mint)', () => {
    /** An issuer with rotation and reuse detection: each refresh token is good once; a reused one revokes the family. */
    function rotatingIssuer(clock: ManualClock) {
      const state = { grants: 0, reused: 0, revoked: false, current: 'rt-0', used: new Set<string>(), hang: false, hung: 0 };
      const mintFor = (initial: string): ExclusiveMint =>
        Object.assign(
          async ({ signal, state: shared }: MintContext): Promise<MintedToken> => {
            const presented = shared ?? initial;
            if (state.hang) {
              state.hung++;
              state.used.add(presented); // it reached the issuer, which spent it; the answer never comes back
              return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
            }
            if (state.used.has(presented) || state.revoked) {
              state.reused++;
              state.revoked = true;
              throw new Error('invalid_grant: refresh token reused; family revoked');
            }
            state.used.add(presented);
            state.grants++;
            state.current = `rt-${state.grants}`;
            return { secret: `at-${state.grants}`, expiresAt: clock.now() + 60_000, state: state.current };
          },
          { exclusive: true as const },
        );
      return { state, mintFor };
    }

    it('one grant per rotation across tabs, each with the newest refresh token, none reused', async () => {
      const clock = new ManualClock(Date.parse('2026-12-01T00:00:00Z'));
      const locks = new OriginLocks();
      const { state, mintFor } = rotatingIssuer(clock);
      const tabs = [];
      // every tab starts from the refresh token the user signed in with
      for (let index = 0; index < 3; index++) tabs.push(await openTab(locks, clock, mintFor('rt-0')));
      for (const tab of tabs) await tokenOf(tab.provider, clock);
      for (let round = 0; round < 3; round++) {
        clock.set(clock.now() + 61_000);
        await Promise.all(tabs.map((tab) => tokenOf(tab.provider, clock)));
      }
      expect(state.grants).toBe(4);
      expect(state.reused).toBe(0);
      expect(state.revoked).toBe(false);
    });

    it('a tab closed mid-grant: no other tab replays its refresh token; the next caller is told to sign in again', async () => {
      const clock = new ManualClock(Date.parse('2026-12-01T00:00:00Z'));
      const locks = new OriginLocks();
      const { state, mintFor } = rotatingIssuer(clock);
      const a = await openTab(locks, clock, mintFor('rt-0'));
      const b = await openTab(locks, clock, mintFor('rt-0'));
      await tokenOf(a.provider, clock);
      await tokenOf(b.provider, clock);
      expect(state.grants).toBe(1);
      clock.set(clock.now() + 61_000);
      state.hang = true;
      const hung = a.provider.currentToken();
      hung.catch(() => {});
      // a takes the lock, asks the live tabs (adoptWaitMs on the clock), announces its grant, sends it
      for (let step = 0; step < 50 && state.hung === 0; step++) {
        await settle(1);
        await clock.advanceAsync(10);
      }
      expect(state.hung).toBe(1);
      a.crash(); // the browser releases a crashed tab's locks; a says nothing more
      a.coordination.close();
      state.hang = false;
      const result = await outcome(tokenOf(b.provider, clock));
      expect(result.ok).toBe(false);
      expect((result as { error: CredentialError }).error).toMatchObject({ code: 'REFRESH_TOKEN_UNUSABLE' });
      expect((result as { error: CredentialError }).error.message).toMatch(/sign in again/);
      // the issuer was not asked: no breaker opens on it, every later caller hears the same
      for (let call = 0; call < 5; call++) expect(await outcome(tokenOf(b.provider, clock))).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
      expect(b.provider.toJSON().breaker).toBe('closed');
      expect(state.reused).toBe(0);
      expect(state.revoked).toBe(false);
    });
  });

  it('falls back to a provider per tab without Web Locks, and says so once', async () => {
    const coordination = browserCoordination({ locks: undefined, channel: undefined });
    const heard: string[] = [];
    coordination.on('coordination.fallback', ({ reason }) => heard.push(reason));
    expect(coordination.mode).toBe('per-tab'); // Node has BroadcastChannel, not navigator.locks
    const clock = new ManualClock(0);
    const { state, mint } = issuer(clock);
    const providers = await Promise.all([1, 2].map(() => createCredentialProvider({ mint, clock, coordination, sharedKey: 'orders' })));
    cleanups.push(() => Promise.all(providers.map((provider) => provider.stop())));
    await settle(1);
    expect(state.minted).toBe(2);
    expect(heard).toEqual(['no navigator.locks: each tab mints alone']);
  });

  it('refuses bad options at construction', () => {
    expect(() => browserCoordination({ adoptWaitMs: -1 })).toThrow(/adoptWaitMs must be a finite number >= 0/);
    expect(() => browserCoordination({ persist: 'yes' as never })).toThrow(/persist must be a boolean/);
    expect(() => browserCoordination({ namspace: 'x' } as never)).toThrow(/did you mean namespace/);
  });
});
