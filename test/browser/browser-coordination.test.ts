/**
 * `browserCoordination` in Node, whose `BroadcastChannel` connects the channel objects of one
 * process as a browser connects the tabs of one origin: each "tab" is a coordination and a provider
 * of its own, on one ManualClock, with a Web Locks stand-in whose locks a "crashed" tab gives up as
 * a browser does. The real thing, in Chromium against oidc-provider, is `test/browser/browser-tabs.test.ts`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCredentialProvider, type CredentialProvider, type Mint, type MintContext, type MintedToken } from '../../src/index.js';
import { refreshTokenMint } from '../../src/oauth2/index.js';
import { rotatingIssuer, type RotatingIssuer } from '../fakes/rotating-issuer.js';
import { browserCoordination, type LockManagerLike } from '../../src/browser/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { outcome } from '../helpers.js';

const HOUR = 3_600_000;

/**
 * Web Locks for one origin, as this coordination asks for them (`ifAvailable`: granted at once if
 * free, else the callback gets `null`); a crashed tab's locks are released, as a browser does.
 */
class OriginLocks {
  readonly #held = new Map<string, () => void>();
  /** How many callbacks ran under each lock at once, at most (must stay 1). */
  maxHeld = 0;

  tab(): LockManagerLike & { crash(): void } {
    const mine = new Set<string>();
    return {
      request: async <T>(name: string, _options: { ifAvailable: true }, callback: (lock: unknown) => Promise<T>): Promise<T> => {
        if (this.#held.has(name)) return callback(null);
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          this.#held.delete(name);
          mine.delete(name);
        };
        this.#held.set(name, release);
        mine.add(name);
        this.maxHeld = Math.max(this.maxHeld, this.#held.size);
        try {
          return await callback({ name });
        } finally {
          release();
        }
      },
      // a crashed tab's callback never settles: the browser releases its locks
      crash: () => {
        for (const name of [...mine]) this.#held.get(name)?.();
      },
    };
  }
}

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

async function openTab(locks: OriginLocks, clock: ManualClock, mint: Mint, options: { namespace?: string; refresh?: 'proactive' } = {}) {
  const tabLocks = locks.tab();
  const coordination = browserCoordination({ namespace: options.namespace ?? 'test', locks: tabLocks, adoptWaitMs: 50 });
  cleanups.push(() => coordination.close());
  const constructing = createCredentialProvider({
    mint,
    clock,
    coordination,
    sharedKey: 'orders',
    firstMint: 'lazy',
    mintTimeoutMs: 5_000,
    ...(options.refresh === undefined ? {} : { refresh: options.refresh }),
  });
  const provider = await constructing;
  cleanups.push(() => provider.stop());
  return { provider, coordination, crash: tabLocks.crash };
}

/** Runs the clock forward in steps of `stepMs`, letting the channel and the tabs run between steps, until `condition` holds (at most `maxMs`). */
async function runUntil(clock: ManualClock, condition: () => boolean, maxMs: number, stepMs = 10): Promise<void> {
  for (let elapsed = 0; !condition() && elapsed <= maxMs; elapsed += stepMs) {
    await settle(1);
    await clock.advanceAsync(stepMs);
  }
  await settle(1);
}

/** The outcome of `promise` once the clock has run until it settled (at most `maxMs`). */
async function outcomeWithin<T>(promise: Promise<T>, clock: ManualClock, maxMs: number, stepMs = 50) {
  let settled = false;
  const result = outcome(promise).finally(() => (settled = true));
  await runUntil(clock, () => settled, maxMs, stepMs);
  return result;
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

  it('a token that expires when the one it replaces did (an issuer that rounds its issue time) is still adopted, not minted again by every tab', async () => {
    // Issuers write `exp` from an issue time in whole units: two tokens issued within one unit
    // expire together. The later one is still the one to hold; telling them apart by expiry alone
    // made every tab mint in turn under the lock (4 grants a window in Chromium, 44 for 20 windows).
    const minute = 60_000;
    const clock = new ManualClock(Date.parse('2026-12-01T00:00:10Z'));
    const locks = new OriginLocks();
    const state = { minted: 0 };
    const mint = async (): Promise<MintedToken> => ({ secret: `token-${++state.minted}`, expiresAt: Math.floor(clock.now() / minute) * minute + minute });
    const tabs = [];
    for (let index = 0; index < 4; index++) tabs.push(await openTab(locks, clock, mint, { refresh: 'proactive' }));
    for (const tab of tabs) await tokenOf(tab.provider, clock);
    expect(state.minted).toBe(1);
    // due at 80% of the 50 s it had: 00:00:50, when the next token still expires at 00:01:00
    await runUntil(clock, () => state.minted >= 2, 45_000, 100);
    await runUntil(clock, () => false, 2_000, 100);
    expect(clock.now()).toBeLessThan(Date.parse('2026-12-01T00:00:58Z'));
    expect(state.minted).toBe(2);
    expect(new Set(await Promise.all(tabs.map((tab) => tokenOf(tab.provider, clock))))).toEqual(new Set(['token-2']));
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

  describe('a rotating refresh token (refreshTokenMint against an issuer with reuse detection)', () => {
    const mintFor = (issuer: RotatingIssuer, clock: ManualClock, refreshToken: string) =>
      refreshTokenMint({ tokenEndpoint: 'https://login.example/oauth/token', clientId: 'spa', refreshToken, fetch: issuer.fetch, clock });

    it('one grant per rotation across tabs, each with the newest refresh token, none reused', async () => {
      const clock = new ManualClock(Date.parse('2026-12-01T00:00:00Z'));
      const locks = new OriginLocks();
      const issuer = rotatingIssuer({ clock, accessTokenTtlSeconds: 60 });
      const signedIn = issuer.signIn();
      const tabs = [];
      // every tab starts from the refresh token the user signed in with
      for (let index = 0; index < 3; index++) tabs.push(await openTab(locks, clock, mintFor(issuer, clock, signedIn)));
      for (const tab of tabs) await tokenOf(tab.provider, clock);
      for (let round = 0; round < 3; round++) {
        clock.set(clock.now() + 61_000);
        await Promise.all(tabs.map((tab) => tokenOf(tab.provider, clock)));
      }
      expect(issuer.ledger.grants).toBe(4);
      expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-1', 'rt-1-2', 'rt-1-3']);
      expect(issuer.ledger.reuses).toBe(0);
    });

    it('a tab closed mid-grant: the others wait for its answer, never send its refresh token, and are told to sign in again once its deadline passed', async () => {
      const clock = new ManualClock(Date.parse('2026-12-01T00:00:00Z'));
      const locks = new OriginLocks();
      const issuer = rotatingIssuer({ clock, accessTokenTtlSeconds: 60 });
      const signedIn = issuer.signIn();
      const a = await openTab(locks, clock, mintFor(issuer, clock, signedIn));
      const b = await openTab(locks, clock, mintFor(issuer, clock, signedIn));
      await tokenOf(a.provider, clock);
      await tokenOf(b.provider, clock);
      expect(issuer.ledger.grants).toBe(1);
      clock.set(clock.now() + 61_000);
      issuer.fault({ kind: 'held' });
      const hung = a.provider.currentToken();
      hung.catch(() => {});
      await runUntil(clock, () => issuer.ledger.held.length === 1, 2_000); // a marked its grant in every tab, then sent it
      a.crash(); // the browser releases a crashed tab's locks; a says nothing more
      a.coordination.close();
      // within the grant's deadline its answer may still come: b waits (its own attempt times out), sends nothing
      expect(await outcomeWithin(b.provider.currentToken(), clock, 6_000)).toMatchObject({ ok: false, error: { code: 'MINT_TIMEOUT' } });
      clock.set(clock.now() + 60_000); // past the grant's deadline: it is in doubt for good
      const result = await outcomeWithin(b.provider.currentToken(), clock, 6_000);
      expect(result).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE', message: expect.stringMatching(/sign in again/) } });
      // the issuer was not asked: no breaker opens on it, every later caller hears the same
      for (let call = 0; call < 3; call++) expect(await outcomeWithin(b.provider.currentToken(), clock, 6_000)).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
      expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-1']);
      expect(issuer.ledger.reuses).toBe(0);
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
