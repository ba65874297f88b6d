/**
 * The fleet's refresh-token record in Redis, on the simulated Redis that runs the coordination's own
 * Lua scripts (`test/simulation/sim-redis.ts`), with the real `refreshTokenMint` against an issuer
 * with reuse detection: the record written before a grant is sent and after it, a Redis that lost its
 * data, a record this process cannot open, a record of the previous release, a new sign-in.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCredentialProvider, type CredentialProvider } from '../../src/index.js';
import { refreshTokenMint } from '../../src/oauth2/index.js';
import { redisCoordination, type RedisCoordination } from '../../src/redis/index.js';
import { TokenSealer } from '../../src/sealed-token.js';
import { familyRecord } from '../../machines/refresh-token.js';
import { Secret } from '../../machines/secret.js';
import { familyOf, legacyVersionOf, toPlainRecord } from '../../src/refresh-token-grant.js';
import { ManualClock } from '../../src/testing/index.js';
import { rotatingIssuer, type RotatingIssuer } from '../fakes/rotating-issuer.js';
import { deterministicCrypto, seededRandom } from '../simulation/deterministic-crypto.js';
import { SimLink, SimRedis } from '../simulation/sim-redis.js';
import { outcome } from '../helpers.js';

const KEY = { id: 'k', key: new Uint8Array(32).fill(5) };
let restore: () => void;
beforeEach(() => {
  restore = deterministicCrypto(seededRandom(7));
});
afterEach(() => restore());

/** Drains promise jobs and the simulated links' timers, `ms` of simulated time. */
async function run(clock: ManualClock, ms: number): Promise<void> {
  const target = clock.now() + ms;
  for (let next = clock.nextTimerAt(); next !== null && next <= target; next = clock.nextTimerAt()) {
    clock.runNext();
    for (let turn = 0; turn < 3; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  clock.set(target);
  for (let turn = 0; turn < 3; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The outcome of `promise` once the clock ran until it settled (at most `ms`). */
async function settled<T>(clock: ManualClock, promise: Promise<T>, ms = 5_000) {
  let done = false;
  const result = outcome(promise).finally(() => (done = true));
  for (let elapsed = 0; !done && elapsed < ms; elapsed += 50) await run(clock, 50);
  return result;
}

function fleet() {
  const clock = new ManualClock(Date.parse('2026-12-05T00:00:00Z'));
  const redis = new SimRedis(clock);
  const issuer: RotatingIssuer = rotatingIssuer({ clock, accessTokenTtlSeconds: 60 });
  const signedIn = issuer.signIn();
  const process = async (options: { encryptionKey?: typeof KEY; refreshToken?: string } = {}): Promise<{ provider: CredentialProvider; coordination: RedisCoordination }> => {
    const link = new SimLink(redis, clock, seededRandom(3), (task) => task(), 500);
    const coordination = redisCoordination({ ...link.clients(), encryptionKey: options.encryptionKey ?? KEY, prefix: 'records', pollMs: 100 });
    const mint = refreshTokenMint({ tokenEndpoint: 'https://login.example/oauth/token', clientId: 'service', refreshToken: options.refreshToken ?? signedIn, fetch: issuer.fetch, clock });
    const provider = await createCredentialProvider({ mint, coordination, sharedKey: 'orders', clock, firstMint: 'lazy' });
    return { provider, coordination };
  };
  return { clock, redis, issuer, signedIn, process };
}

describe('the refresh-token record in Redis', () => {
  it('is sealed, written before the grant is sent and after it; a second process goes on from it', async () => {
    const { clock, redis, issuer, process } = fleet();
    const first = await process();
    expect(await settled(clock, first.provider.currentToken())).toMatchObject({ ok: true });
    const record = redis.get(redis.keys().find((key) => key.endsWith(':state'))!)!;
    expect(record).toMatch(/^0\.[0-9a-f]{32}\.1\.0\|/); // its version in clear, then sealed
    expect(record).not.toMatch(/rt-1|at-1/);
    clock.advance(61_000);
    const second = await process();
    expect(await settled(clock, second.provider.currentToken())).toMatchObject({ ok: true });
    expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-1']);
    expect(issuer.ledger.reuses).toBe(0);
  });

  it('a Redis that lost its data: a process that had read the record refuses (sign in again) rather than send a spent refresh token', async () => {
    const { clock, redis, issuer, process } = fleet();
    const { provider } = await process();
    expect(await settled(clock, provider.currentToken())).toMatchObject({ ok: true });
    redis.flush();
    clock.advance(61_000);
    expect(await settled(clock, provider.currentToken())).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE', message: expect.stringMatching(/Redis lost its data/) } });
    expect(issuer.ledger.presented).toEqual(['rt-1-0']);
    // a new sign-in replaces the lost record for the fleet
    const fresh = issuer.signIn();
    expect(await settled(clock, provider.signIn(fresh))).toMatchObject({ ok: true });
    expect(await settled(clock, provider.currentToken())).toMatchObject({ ok: true });
    expect(issuer.ledger.presented.at(-1)).toBe(fresh);
  });

  it('a record this process cannot open (another encryptionKey) is not guessed at: nothing is sent; a sign-in replaces it', async () => {
    const { clock, issuer, process } = fleet();
    const first = await process();
    expect(await settled(clock, first.provider.currentToken())).toMatchObject({ ok: true });
    clock.advance(61_000);
    const stranger = await process({ encryptionKey: { id: 'other', key: new Uint8Array(32).fill(9) } });
    expect(await settled(clock, stranger.provider.currentToken())).toMatchObject({ ok: false });
    expect(issuer.ledger.presented).toEqual(['rt-1-0']);
    const fresh = issuer.signIn();
    expect(await settled(clock, stranger.provider.signIn(fresh))).toMatchObject({ ok: true });
    expect(await settled(clock, stranger.provider.currentToken())).toMatchObject({ ok: true });
    expect(issuer.ledger.presented.at(-1)).toBe(fresh);
    expect(issuer.ledger.reuses).toBe(0);
  });

  it('a record written mid-grant by the release before grant ids were in versions is read, not refused: its grant, lost, keeps the refresh token from being sent', async () => {
    const { clock, redis, issuer, process } = fleet();
    const warm = await process();
    expect(await settled(clock, warm.provider.currentToken())).toMatchObject({ ok: true });
    const credential = /\{(.+)\}/.exec(redis.keys().find((key) => key.endsWith(':state'))!)![1]!;
    // rt-1-1 sent by a process of that release, its answer lost: in doubt, with its grant recorded
    const record = {
      ...familyRecord(await familyOf('rt-1-0'), new Secret('rt-1-1'), 0),
      generation: 1,
      seq: 2,
      status: 'inDoubt' as const,
      grant: { id: 'g', sentAt: 0, deadline: 1, firstSentAt: 0 },
    };
    const sealed = await new TokenSealer([KEY]).seal({ secret: JSON.stringify(toPlainRecord(record)), expires: false }, credential, 0, 'state');
    redis.setRaw(`records:{${credential}}:state`, `${legacyVersionOf(record)}|${sealed}`);
    redis.setRaw(`records:{${credential}}:token`, null);
    const upgraded = await process();
    expect(await settled(clock, upgraded.provider.currentToken())).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
    expect(issuer.ledger.presented).toEqual(['rt-1-0']);
  });

  it('a record of the previous release (`{ value }`, sealed under its fence) goes on: its refresh token, not the configured one, is sent', async () => {
    const { clock, redis, issuer, signedIn, process } = fleet();
    // the previous release's fleet had rotated once: its state holds rt-1-1, the configured rt-1-0 is spent
    const warm = await process();
    expect(await settled(clock, warm.provider.currentToken())).toMatchObject({ ok: true });
    const credential = /\{(.+)\}/.exec(redis.keys().find((key) => key.endsWith(':state'))!)![1]!;
    const sealed = await new TokenSealer([KEY]).seal({ secret: JSON.stringify({ value: 'rt-1-1' }), expires: false }, credential, 7, 'state');
    redis.setRaw(`records:{${credential}}:state`, sealed);
    redis.setRaw(`records:{${credential}}:token`, null);
    const upgraded = await process({ refreshToken: signedIn });
    expect(await settled(clock, upgraded.provider.currentToken())).toMatchObject({ ok: true });
    expect(issuer.ledger.presented).toEqual(['rt-1-0', 'rt-1-1']);
    expect(issuer.ledger.reuses).toBe(0);
  });
});
