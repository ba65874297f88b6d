/**
 * `refreshTokenMint` in one process, against an issuer with rotation and strict reuse detection
 * (`test/fakes/rotating-issuer.ts`: a refresh token presented twice revokes its family), on a
 * ManualClock: the edges where a refresh token used to be sent twice, or a user signed out while a
 * usable refresh token existed.
 */
import { describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCredentialProvider, CredentialError, Secret, type CredentialProvider } from '../../src/index.js';
import { fileStore, OAuthError, refreshTokenMint, type RefreshTokenOptions } from '../../src/oauth2/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { rotatingIssuer, type RotatingIssuer } from '../fakes/rotating-issuer.js';
import { flush, outcome, until } from '../helpers.js';

const START = Date.parse('2026-12-01T00:00:00Z');
const KEY = { id: 'k1', key: new Uint8Array(32).fill(7) };

function setup(options: Partial<RefreshTokenOptions> & { reuseIntervalMs?: number } = {}) {
  const clock = new ManualClock(START);
  const issuer = rotatingIssuer({ clock, accessTokenTtlSeconds: 60, ...(options.reuseIntervalMs === undefined ? {} : { reuseIntervalMs: options.reuseIntervalMs }) });
  const signedIn = issuer.signIn();
  const mintOptions = (refreshToken: string = signedIn): RefreshTokenOptions => ({
    tokenEndpoint: 'https://login.example/oauth/token',
    clientId: 'app',
    refreshToken,
    fetch: issuer.fetch,
    clock,
    ...options,
  });
  return { clock, issuer, signedIn, mintOptions };
}

/** Lets the fake issuer's promises, the provider's transitions and the grant's writes run. */
async function settle(clock: ManualClock, ms = 0): Promise<void> {
  for (let round = 0; round < 5; round++) await flush();
  if (ms > 0) await clock.advanceAsync(ms);
  for (let round = 0; round < 5; round++) await flush();
}

function noReplay(issuer: RotatingIssuer): void {
  expect(new Set(issuer.ledger.presented).size).toBe(issuer.ledger.presented.length);
  expect(issuer.ledger.reuses).toBe(0);
}

describe('refreshTokenMint alone: a refresh token is spent from the moment it is handed to the transport', () => {
  it('a currentToken() right after a MINT_TIMEOUT joins the grant in flight instead of sending its refresh token again, and gets the late answer', async () => {
    const { clock, issuer, mintOptions } = setup();
    const provider = await createCredentialProvider({ mint: refreshTokenMint(mintOptions()), clock, mintTimeoutMs: 1_000, firstMint: 'lazy' });
    issuer.fault({ kind: 'held' });
    const first = outcome(provider.currentToken());
    await until(() => issuer.ledger.held.length === 1);
    await settle(clock, 1_000); // the attempt times out; the grant it sent is still in flight
    expect(await first).toMatchObject({ ok: false, error: { code: 'MINT_TIMEOUT' } });
    const second = outcome(provider.currentToken()); // a few milliseconds later
    await settle(clock, 5);
    issuer.ledger.held[0]!.release(); // the answer arrives
    await settle(clock);
    const result = await second;
    expect(result.ok).toBe(true);
    expect((result as { value: { secret: Secret } }).value.secret.reveal()).toBe('at-1');
    expect(issuer.ledger.presented).toEqual(['rt-1-0']);
    // the next grant sends the rotated token
    clock.advance(61_000);
    expect((await provider.currentToken()).secret.reveal()).toBe('at-2');
    expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-1']);
    noReplay(issuer);
    await provider.stop();
  });

  it('an answer that arrives after the attempt was given up is kept: its refresh token is the next one sent', async () => {
    const { clock, issuer, mintOptions } = setup();
    const provider = await createCredentialProvider({ mint: refreshTokenMint(mintOptions()), clock, mintTimeoutMs: 1_000, firstMint: 'lazy' });
    issuer.fault({ kind: 'held' });
    const first = outcome(provider.currentToken());
    await until(() => issuer.ledger.held.length === 1);
    await settle(clock, 1_000);
    expect(await first).toMatchObject({ ok: false, error: { code: 'MINT_TIMEOUT' } });
    await settle(clock, 10_000); // nobody asks for a while; the answer comes in late
    issuer.ledger.held[0]!.release();
    await settle(clock);
    expect((await provider.currentToken()).secret.reveal()).toMatch(/^at-/);
    expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-1']);
    noReplay(issuer);
    await provider.stop();
  });

  it('a 200 that carries a new refresh token but fails the client’s checks: the new refresh token is kept, the spent one never sent again', async () => {
    const { clock, issuer, mintOptions } = setup();
    const provider = await createCredentialProvider({ mint: refreshTokenMint(mintOptions()), clock, firstMint: 'lazy' });
    issuer.fault({ kind: 'malformed' });
    const refused = await outcome(provider.currentToken());
    expect(refused).toMatchObject({ ok: false, error: { name: 'OAuthError', error: 'invalid_response' } });
    expect((await provider.currentToken()).secret.reveal()).toBe('at-2');
    expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-1']);
    noReplay(issuer);
    await provider.stop();
  });

  it('invalid_grant is final: REFRESH_TOKEN_UNUSABLE at once, with the issuer’s code and words, and nothing sent again', async () => {
    const { clock, issuer, mintOptions } = setup();
    const provider = await createCredentialProvider({ mint: refreshTokenMint(mintOptions('rt-unknown')), clock, firstMint: 'lazy', breakerThreshold: 1 });
    const first = await outcome(provider.currentToken());
    expect(first.ok).toBe(false);
    const error = (first as { error: CredentialError & { refusal?: unknown } }).error;
    expect(error).toBeInstanceOf(CredentialError);
    expect(error.code).toBe('REFRESH_TOKEN_UNUSABLE');
    expect(error.refusal).toEqual({ error: 'invalid_grant', description: 'refresh token unknown or revoked' });
    expect(error.message).toMatch(/invalid_grant: refresh token unknown or revoked.*sign in again/);
    expect(error.cause).toBeInstanceOf(OAuthError);
    for (let call = 0; call < 5; call++) {
      await settle(clock, 2_000);
      const again = await outcome(provider.currentToken());
      expect(again).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE', refusal: { error: 'invalid_grant' } } });
    }
    expect(issuer.ledger.presented).toEqual(['rt-unknown']); // never retried
    expect(provider.toJSON().breaker).toBe('closed'); // not an outage: callers hear what happened, not BREAKER_OPEN
    await provider.stop();
  });

  it('a refused connection sent nothing: the same refresh token is sent once the issuer is back', async () => {
    const { clock, issuer, mintOptions } = setup();
    const provider = await createCredentialProvider({ mint: refreshTokenMint(mintOptions()), clock, firstMint: 'lazy' });
    issuer.fault({ kind: 'refused', withCode: true });
    expect(await outcome(provider.currentToken())).toMatchObject({ ok: false, error: { error: 'request_failed' } });
    expect((await provider.currentToken()).secret.reveal()).toBe('at-1');
    expect(issuer.ledger.presented).toEqual(['rt-1-0']);
    await provider.stop();
  });

  it('an error answer (503, 429) did not take the refresh token: the same one is sent again, no sign-out', async () => {
    const { clock, issuer, mintOptions } = setup();
    const provider = await createCredentialProvider({ mint: refreshTokenMint(mintOptions()), clock, firstMint: 'lazy' });
    issuer.fault({ kind: 'unavailable', retryAfterSeconds: 1 });
    expect(await outcome(provider.currentToken())).toMatchObject({ ok: false, error: { name: 'OAuthError', status: 503 } });
    await settle(clock, 1_500);
    expect((await provider.currentToken()).secret.reveal()).toBe('at-1');
    expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-0']);
    expect(issuer.ledger.reuses).toBe(0);
    await provider.stop();
  });

  it('an answer lost on the way back leaves the refresh token in doubt: REFRESH_TOKEN_UNUSABLE, never a second send', async () => {
    const { clock, issuer, mintOptions } = setup();
    const provider = await createCredentialProvider({ mint: refreshTokenMint(mintOptions()), clock, firstMint: 'lazy' });
    issuer.fault({ kind: 'lost', withCode: true });
    expect(await outcome(provider.currentToken())).toMatchObject({ ok: false, error: { error: 'request_failed' } });
    for (let call = 0; call < 3; call++) {
      await settle(clock, 2_000);
      expect(await outcome(provider.currentToken())).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE', message: expect.stringMatching(/its answer never came/) } });
    }
    expect(issuer.ledger.presented).toEqual(['rt-1-0']);
    expect(issuer.ledger.reuses).toBe(0);
    await provider.stop();
  });

  it('with the issuer’s reuse interval set, a refresh token in doubt is sent again within its first half (and only then)', async () => {
    const { clock, issuer, mintOptions } = setup({ reuseIntervalMs: 10_000 });
    const provider = await createCredentialProvider({ mint: refreshTokenMint(mintOptions()), clock, firstMint: 'lazy' });
    issuer.fault({ kind: 'lost', withCode: false });
    expect(await outcome(provider.currentToken())).toMatchObject({ ok: false });
    await settle(clock, 3_000);
    expect((await provider.currentToken()).secret.reveal()).toBe('at-2'); // the issuer answers the retry with a new access token
    expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-0']);
    expect(issuer.ledger.reuses).toBe(0);
    // past the first half of the interval, a lost answer is final
    clock.advance(61_000);
    issuer.fault({ kind: 'lost', withCode: false });
    expect(await outcome(provider.currentToken())).toMatchObject({ ok: false });
    await settle(clock, 5_000);
    expect(await outcome(provider.currentToken())).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
    expect(issuer.ledger.reuses).toBe(0);
    await provider.stop();
  });

  it('a grant given up before it was sent leaves the refresh token unspent', async () => {
    const { clock, issuer, mintOptions } = setup();
    const mint = refreshTokenMint(mintOptions());
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    expect(await outcome(mint({ signal: controller.signal }))).toMatchObject({ ok: false });
    expect(issuer.ledger.presented).toEqual([]);
    const minted = await mint({ signal: new AbortController().signal });
    expect(new Secret('at-1').equals(minted.secret as Secret)).toBe(true);
    expect(issuer.ledger.presented).toEqual(['rt-1-0']);
    void clock;
  });
});

describe('refreshTokenMint alone: a store keeps the rotated refresh token across restarts; signIn replaces the family', () => {
  function memoryStore() {
    const saves: string[] = [];
    return { saves, store: { load: async () => saves.at(-1) ?? null, save: async (sealed: string) => void saves.push(sealed) } };
  }

  it('a restarted process goes on from the stored refresh token, not the spent one it was configured with; nothing in the store is in clear', async () => {
    const { clock, issuer, signedIn, mintOptions } = setup();
    const { saves, store } = memoryStore();
    const first = await createCredentialProvider({ mint: refreshTokenMint({ ...mintOptions(), store, encryptionKey: KEY }), clock });
    clock.advance(61_000);
    await first.currentToken();
    await settle(clock);
    await first.stop();
    expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-1']);
    // saved before each grant was sent and once its answer came (before the token was served): sealed, the refresh tokens nowhere in clear
    expect(saves.length).toBe(4);
    for (const sealed of saves) expect(sealed).not.toMatch(/rt-1-|at-\d/);
    // the restart: same configuration, the sign-in's refresh token long spent
    const restarted = await createCredentialProvider({ mint: refreshTokenMint({ ...mintOptions(signedIn), store, encryptionKey: KEY }), clock });
    expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-1', 'rt-1-2']);
    noReplay(issuer);
    await restarted.stop();
  });

  it('fileStore: a file of mode 0600 holding the sealed record, replaced whole on each save; a restart goes on from it', async () => {
    const { clock, issuer, signedIn, mintOptions } = setup();
    const directory = await mkdtemp(join(tmpdir(), 'credential-actor-'));
    try {
      const path = join(directory, 'refresh-token');
      const store = fileStore(path);
      expect(await store.load()).toBeNull();
      const first = await createCredentialProvider({ mint: refreshTokenMint({ ...mintOptions(), store, encryptionKey: KEY }), clock });
      await first.stop();
      await settle(clock);
      const saved = await readFile(path, 'utf8');
      expect(saved).not.toMatch(/rt-1|at-1/);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect((await readdir(directory)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
      const restarted = await createCredentialProvider({ mint: refreshTokenMint({ ...mintOptions(signedIn), store: fileStore(path), encryptionKey: KEY }), clock });
      expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-1']);
      await restarted.stop();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('a process stopped mid-grant leaves its stored refresh token in doubt: the restart does not send it again', async () => {
    const { clock, issuer, mintOptions } = setup();
    const { store } = memoryStore();
    const mint = refreshTokenMint({ ...mintOptions(), store, encryptionKey: KEY });
    issuer.fault({ kind: 'held' });
    void outcome(mint({ signal: new AbortController().signal }));
    await until(() => issuer.ledger.held.length === 1); // sent; the process dies before the answer
    const restarted = refreshTokenMint({ ...mintOptions(), store, encryptionKey: KEY });
    expect(await outcome(restarted({ signal: new AbortController().signal }))).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
    expect(issuer.ledger.presented).toEqual(['rt-1-0']);
  });

  it('says when it rotates, never with the refresh token in clear; a store that does not open is said too', async () => {
    const { clock, mintOptions } = setup();
    const { saves, store } = memoryStore();
    const mint = refreshTokenMint({ ...mintOptions(), store, encryptionKey: KEY });
    const rotated: unknown[] = [];
    mint.on('rotated', (event) => rotated.push(event));
    await mint({ signal: new AbortController().signal });
    await settle(clock);
    expect(rotated).toHaveLength(1);
    const event = rotated[0] as { refreshToken: Secret; generation: number; family: string };
    expect(event.refreshToken.reveal()).toBe('rt-1-1');
    expect(event.generation).toBe(1);
    expect(JSON.stringify(event)).not.toMatch(/rt-1/);
    expect(inspect(event)).not.toMatch(/rt-1/);
    const failures: unknown[] = [];
    const wrongKey = refreshTokenMint({ ...mintOptions(), store, encryptionKey: { id: 'k1', key: new Uint8Array(32).fill(9) } });
    wrongKey.on('store.failed', (failure) => failures.push(failure));
    await outcome(wrongKey({ signal: new AbortController().signal }));
    await settle(clock);
    expect(failures).toHaveLength(1);
    expect(saves.length).toBeGreaterThan(0);
  });

  it('signIn after the family was revoked: the next currentToken mints with the new sign-in’s refresh token, the old session’s token is dropped', async () => {
    const { clock, issuer, mintOptions } = setup();
    const provider: CredentialProvider = await createCredentialProvider({ mint: refreshTokenMint(mintOptions()), clock });
    expect((await provider.currentToken()).secret.reveal()).toBe('at-1');
    issuer.fault({ kind: 'lost', withCode: true });
    clock.advance(61_000);
    await outcome(provider.currentToken());
    expect(await outcome(provider.currentToken())).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
    const fresh = issuer.signIn();
    await provider.signIn(fresh);
    expect((await provider.currentToken()).secret.reveal()).toBe('at-3');
    expect(issuer.ledger.presented.at(-1)).toBe(fresh);
    // a live token of the old session is dropped too
    const again = issuer.signIn();
    await provider.signIn(again);
    expect((await provider.currentToken()).secret.reveal()).toBe('at-4');
    expect(issuer.ledger.presented.at(-1)).toBe(again);
    noReplay(issuer);
    await provider.stop();
  });

  it('signIn moments after an invalidation still drops the old session’s token: a sign-in is not rate-limited as a refusal is', async () => {
    const { clock, issuer, mintOptions } = setup();
    const provider: CredentialProvider = await createCredentialProvider({ mint: refreshTokenMint(mintOptions()), clock });
    const refused = await provider.currentToken();
    expect(provider.invalidate(refused)).toBe(true);
    const replacement = await provider.currentToken();
    expect(replacement.secret.reveal()).not.toBe(refused.secret.reveal());
    // the same instant: a second refusal would be ignored here (invalidateMinIntervalMs), a sign-in is not
    const fresh = issuer.signIn();
    await provider.signIn(fresh);
    const signedIn = await provider.currentToken();
    expect(signedIn.secret.reveal()).not.toBe(replacement.secret.reveal());
    expect(issuer.ledger.presented.at(-1)).toBe(fresh);
    noReplay(issuer);
    await provider.stop();
  });

  it('refuses bad options and arguments with a typed error naming them', async () => {
    const { mintOptions } = setup();
    expect(() => refreshTokenMint({ ...mintOptions(), store: { load: async () => null, save: async () => {} } })).toThrow(/store needs encryptionKey/);
    expect(() => refreshTokenMint({ ...mintOptions(), encryptionKey: KEY })).toThrow(/encryptionKey is only used with store/);
    expect(() => refreshTokenMint({ ...mintOptions(), reuseIntervalMs: -1 })).toThrow(/reuseIntervalMs must be a finite number/);
    expect(() => refreshTokenMint({ ...mintOptions(), grantTimeoutMs: 0 })).toThrow(/grantTimeoutMs must be a number/);
    const provider = await createCredentialProvider({ mint: async () => ({ secret: 's', expiresAt: null }) });
    await expect(provider.signIn('rt')).rejects.toMatchObject({ code: 'UNCONFIGURED' });
    const rotating = await createCredentialProvider({ mint: refreshTokenMint(mintOptions()), firstMint: 'lazy' });
    await expect(rotating.signIn('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await provider.stop();
    await rotating.stop();
  });
});
