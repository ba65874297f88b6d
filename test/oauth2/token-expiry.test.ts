/**
 * When a token from an OAuth token response expires (issue 26): a response without `expires_in`
 * is no longer cached for ever; a JWT's `exp` counts, and the earlier of it and `expires_in` wins.
 */
import { describe, expect, it } from 'vitest';
import { clientCredentialsMint, refreshTokenMint } from '../../src/oauth2/index.js';
import { ManualClock } from '../../src/testing/index.js';

const SENT_AT = Date.parse('2026-12-05T10:00:00.400Z');
const jwt = (payload: object) => `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2ln`;

function mintAnswering(body: object, defaultLifetimeMs?: number | 'never') {
  return clientCredentialsMint({
    tokenEndpoint: 'https://login.example/token',
    clientId: 'c',
    clientSecret: 's',
    clock: new ManualClock(SENT_AT),
    fetch: async () => Response.json({ token_type: 'Bearer', ...body }),
    ...(defaultLifetimeMs === undefined ? {} : { defaultLifetimeMs }),
  });
}
const expiryOf = async (body: object, defaultLifetimeMs?: number | 'never') => (await mintAnswering(body, defaultLifetimeMs)({ signal: new AbortController().signal })).expiresAt;

describe('the expiry of a minted OAuth token', () => {
  it('expires_in alone: counted from when the request was sent', async () => {
    expect(await expiryOf({ access_token: 'opaque', expires_in: 60 })).toBe(SENT_AT + 60_000);
  });

  it('a JWT whose exp is before sent + expires_in (its iat rounded down): exp', async () => {
    const iat = Math.floor(SENT_AT / 1000); // 0.4 s before the request was sent
    expect(await expiryOf({ access_token: jwt({ iat, exp: iat + 60 }), expires_in: 60 })).toBe((iat + 60) * 1000);
  });

  it('a JWT without expires_in: its exp, not for ever', async () => {
    expect(await expiryOf({ access_token: jwt({ exp: Math.floor(SENT_AT / 1000) + 60 }) })).toBe((Math.floor(SENT_AT / 1000) + 60) * 1000);
  });

  it('a JWT whose exp is not after the request was sent says the clocks disagree: expires_in counts', async () => {
    expect(await expiryOf({ access_token: jwt({ exp: Math.floor(SENT_AT / 1000) - 120 }), expires_in: 60 })).toBe(SENT_AT + 60_000);
  });

  it('neither: the default lifetime, five minutes unless defaultLifetimeMs says otherwise; never only when told', async () => {
    expect(await expiryOf({ access_token: 'opaque' })).toBe(SENT_AT + 300_000);
    expect(await expiryOf({ access_token: 'not.a.jwt' })).toBe(SENT_AT + 300_000);
    expect(await expiryOf({ access_token: 'opaque' }, 60_000)).toBe(SENT_AT + 60_000);
    expect(await expiryOf({ access_token: 'opaque' }, 'never')).toBeNull();
  });

  it('refuses a defaultLifetimeMs that is not a positive number of ms or never', () => {
    for (const bad of [0, -1, Infinity, 'forever', null]) {
      expect(() => mintAnswering({}, bad as never)).toThrow(/defaultLifetimeMs must be a positive number of ms, or 'never'/);
    }
    expect(() => refreshTokenMint({ tokenEndpoint: 'https://login.example/token', clientId: 'c', refreshToken: 'r', defaultLifetimeMs: 0 })).toThrow(/defaultLifetimeMs/);
  });
});
