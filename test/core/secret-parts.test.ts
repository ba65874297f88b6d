import { inspect } from 'node:util';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AuthToken, CredentialProvider, MintContext, MintedToken } from '../../src/index.js';
import { createCredentialPool, createCredentialProvider, CredentialError, Secret } from '../../src/index.js';
import { clientCredentialsMint } from '../../src/oauth2/index.js';
import { TokenSealer } from '../../src/sealed-token.js';
import { hintedRefreshFraction, scheduledRefreshAt } from '../../machines/policy.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, HOUR, outcome } from '../helpers.js';

/** An AWS-style key triple: every part a secret that must never show. */
interface KeyTriple {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}
const PARTS: KeyTriple = { accessKeyId: 'ASIA-7Q2WZ-PART-ONE', secretAccessKey: 'wJalr-PART-TWO-9f8e', sessionToken: 'FwoG-PART-THREE-c0ffee' };
const partsOf = (n: number): KeyTriple => ({ accessKeyId: `${PARTS.accessKeyId}${n}`, secretAccessKey: `${PARTS.secretAccessKey}${n}`, sessionToken: `${PARTS.sessionToken}${n}` });

function expectNoPart(text: string): void {
  for (const part of Object.values(PARTS)) expect(text).not.toContain(part);
}

/** A provider of key triples on a ManualClock; its mint records each context and resolves at once. */
async function startTripleProvider(facts: Partial<MintedToken<KeyTriple>> = {}, options: { inspect?: (event: unknown) => void } = {}) {
  const clock = new ManualClock(0);
  const contexts: MintContext[] = [];
  let minted = 0;
  const provider = await createCredentialProvider({
    clock,
    ...options,
    mint: async (context) => {
      contexts.push(context);
      minted++;
      return { secret: partsOf(minted), expiresAt: clock.now() + HOUR, ...facts };
    },
  });
  return { clock, contexts, provider, minted: () => minted };
}

describe('a secret of several parts', () => {
  it('is inferred from the mint, served whole, and typed on every path', async () => {
    const { provider } = await startTripleProvider();
    expectTypeOf(provider).toEqualTypeOf<CredentialProvider<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }>>();
    const token = await provider.currentToken();
    expectTypeOf(token.secret.reveal()).toEqualTypeOf<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }>();
    expect(token.secret.reveal()).toEqual(partsOf(1));
    expect(Object.isFrozen(token.secret.reveal())).toBe(true);
    await provider.stop();
    // @ts-expect-error a part must be a string (and at run time it is refused as INVALID_TOKEN)
    const numeric = await outcome(createCredentialProvider({ mint: async () => ({ secret: { pin: 1234 }, expiresAt: null }) }));
    expect((numeric as { error: CredentialError }).error.code).toBe('INVALID_TOKEN');
  });

  it('keeps a string secret typed as a string, even from a mint built on new Promise', async () => {
    const provider = await createCredentialProvider({ mint: () => new Promise((resolve) => resolve({ secret: 'plain', expiresAt: null })) });
    expectTypeOf(provider).toEqualTypeOf<CredentialProvider>();
    expectTypeOf((await provider.currentToken()).secret.reveal()).toEqualTypeOf<string>();
    await provider.stop();
  });

  it('never shows in JSON, util.inspect, a structured clone, the inspector, events or errors', async () => {
    const inspected: unknown[] = [];
    const { provider, clock } = await startTripleProvider({}, { inspect: (event) => inspected.push(event) });
    const events: unknown[] = [];
    provider.on('refresh.succeeded', (event) => events.push(event));
    provider.on('refresh.failed', (event) => events.push(event));
    const token = await provider.currentToken();
    expectNoPart(JSON.stringify(token));
    expectNoPart(inspect(token, { depth: 10, showHidden: true }));
    expectNoPart(JSON.stringify(structuredClone(token)));
    expectNoPart(inspect(provider, { depth: 10 }));
    expectNoPart(String(token.secret));
    clock.set(HOUR); // expired: the next request mints, and the inspector sees that mint land
    await provider.currentToken();
    expect(inspected.length).toBeGreaterThan(0);
    expectNoPart(inspect(inspected, { depth: 6 }));
    expectNoPart(JSON.stringify(events));
    await provider.stop();
  });

  it('is compared whole, in any order of its parts, in time that does not depend on where it differs', () => {
    const secret = new Secret(PARTS);
    expect(secret.equals({ sessionToken: PARTS.sessionToken, accessKeyId: PARTS.accessKeyId, secretAccessKey: PARTS.secretAccessKey })).toBe(true);
    expect(secret.equals(new Secret({ ...PARTS }))).toBe(true);
    expect(secret.equals({ ...PARTS, sessionToken: 'other' })).toBe(false);
    expect(secret.equals({ accessKeyId: PARTS.accessKeyId, secretAccessKey: PARTS.secretAccessKey })).toBe(false);
    expect(secret.equals(PARTS.accessKeyId)).toBe(false);
    expect(new Secret('a').equals(new Secret({ a: 'a' }))).toBe(false);
  });

  it('invalidates by the token, the Secret or the parts themselves, and by nothing else', async () => {
    const { provider, clock } = await startTripleProvider({}, {});
    const first = await provider.currentToken();
    expect(provider.invalidate(partsOf(2))).toBe(false);
    expect(provider.invalidate(partsOf(1))).toBe(true);
    const second = await provider.currentToken();
    expect(second.secret.reveal()).toEqual(partsOf(2));
    clock.advance(60_000);
    expect(provider.invalidate(first)).toBe(false);
    expect(provider.invalidate(second.secret)).toBe(true);
    await provider.stop();
  });

  it.each([
    ['no parts', {}, 'must have 1 to 16 parts, got 0'],
    ['an empty part', { ...PARTS, sessionToken: '' }, 'part 3 of 3 is empty'],
    ['a part that is not a string', { ...PARTS, sessionToken: 42 }, 'part 3 of 3 must be a string, got a number'],
    ['a class instance', new Map([['a', 'b']]), 'must be a string, an object of strings or a Secret'],
  ])('with %s is refused as INVALID_TOKEN, naming no part', async (_name, secret, message) => {
    const result = await outcome(createCredentialProvider({ mint: async () => ({ secret, expiresAt: null }) as never }));
    expect(result.ok).toBe(false);
    const error = (result as { error: CredentialError }).error;
    expect(error.code).toBe('INVALID_TOKEN');
    expect(error.message).toContain(message);
    expect(error.message).not.toMatch(/accessKeyId|secretAccessKey|sessionToken/);
    expectNoPart(error.message);
  });

  it('serves a pool key its parts, typed', async () => {
    const pool = createCredentialPool({ mint: async (key) => ({ secret: { user: key, password: `${key}-pw` }, expiresAt: null }) });
    const token = await pool.currentToken('tenant-1');
    expectTypeOf(token).toEqualTypeOf<AuthToken<{ user: string; password: string }>>();
    expect(token.secret.reveal()).toEqual({ user: 'tenant-1', password: 'tenant-1-pw' });
    expect(pool.invalidate('tenant-1', { user: 'tenant-1', password: 'tenant-1-pw' })).toBe(true);
    await pool.stop();
  });

  it('is sealed whole for Redis, with the facts, and opens only as it was sealed', async () => {
    const sealer = new TokenSealer([{ id: 'k1', key: crypto.getRandomValues(new Uint8Array(32)) }]);
    const content = { secret: { ...PARTS }, expires: true, expiresAt: 5_000, tokenType: 'Bearer', scope: 's3:read', refreshAfter: 2_500 };
    const sealed = await sealer.seal(content, 'credential', 3);
    expectNoPart(sealed);
    expect(sealed).not.toContain('s3:read');
    const opened = await sealer.open(sealed, 'credential');
    expect(opened).toMatchObject(content);
    await expect(sealer.open(sealed, 'another credential')).rejects.toMatchObject({ code: 'SHARED_TOKEN_REJECTED' });
  });
});

describe('facts that travel with a token', () => {
  it('are served with it, checked, and never required', async () => {
    const { provider } = await startTripleProvider({ tokenType: 'DPoP', scope: 'read write' });
    const token = await provider.currentToken();
    expect(token).toMatchObject({ tokenType: 'DPoP', scope: 'read write' });
    expect(JSON.stringify(token)).toContain('DPoP'); // not secret: shown, unlike the secret
    await provider.stop();
    const bare = await createCredentialProvider({ mint: async () => ({ secret: 'x', expiresAt: null }) });
    expect(Object.keys(await bare.currentToken()).sort()).toEqual(['expiresAt', 'secret']);
    await bare.stop();
    for (const [fact, value] of [
      ['tokenType', ''],
      ['scope', 7],
      ['refreshAfter', 'soon'],
      ['refreshAfter', 1_700],
    ] as const) {
      const refused = await outcome(
        createCredentialProvider({ mint: async () => ({ secret: 'x', expiresAt: null, [fact]: value }) as never, clock: new ManualClock(Date.parse('2026-12-01T00:00:00Z')) }),
      );
      expect((refused as { error: CredentialError }).error.message).toContain(`minted token ${fact}`);
    }
  });

  it.each([
    ['an early hint is obeyed', 0.5, 0.5],
    ['a hint before half of refreshAt is held at half of it', 0.1, 0.4],
    ['a hint past refreshAt is held at refreshAt', 0.95, 0.8],
  ])('the refresh hint schedules the refresh within the policy: %s', async (_name, hintFraction, dueFraction) => {
    const lifetimeMs = 100_000;
    const clock = new ManualClock(0);
    let minted = 0;
    const provider = await createCredentialProvider({
      clock,
      refreshAt: 0.8,
      refreshFloorMs: 1_000,
      jitter: () => 0,
      refresh: 'proactive',
      mint: async () => {
        minted++;
        return { secret: `t${minted}`, expiresAt: clock.now() + lifetimeMs, refreshAfter: clock.now() + hintFraction * lifetimeMs };
      },
    });
    expect(provider.toJSON().refreshDueAt).toBe(dueFraction * lifetimeMs);
    await clock.advanceAsync(dueFraction * lifetimeMs - 1);
    expect(minted).toBe(1);
    await clock.advanceAsync(1);
    await flush();
    expect(minted).toBe(2);
    await provider.stop();
  });
});

describe('hintedRefreshFraction', () => {
  const policy = { refreshAt: 0.8, refreshFloorMs: 30_000 };
  it('holds the hint within [refreshAt / 2, refreshAt] of the life, and leaves a token without expiry to the policy', () => {
    expect(hintedRefreshFraction(policy, 0, 7_200_000, 3_600_000)).toBe(0.5);
    expect(hintedRefreshFraction(policy, 0, 7_200_000, 0)).toBe(0.4);
    expect(hintedRefreshFraction(policy, 0, 7_200_000, 9_000_000)).toBe(0.8);
    expect(hintedRefreshFraction(policy, 0, null, 1_000)).toBe(0.8);
    expect(hintedRefreshFraction(policy, 5_000, 5_000, 1_000)).toBe(0.8);
  });

  it('replaces refreshAt only: the jitter and the floor still apply to a hinted token', () => {
    expect(scheduledRefreshAt(policy, 0, 7_200_000, 0, 3_600_000)).toBe(3_600_000);
    expect(scheduledRefreshAt(policy, 0, 7_200_000, 0.1, 3_600_000)).toBe(2_880_000); // 0.5 - 0.1 of the life
    expect(scheduledRefreshAt({ refreshAt: 0.8, refreshFloorMs: 6_000_000 }, 0, 7_200_000, 0, 3_600_000)).toBe(1_200_000); // the floor
  });
});

describe('a claims challenge (Continuous Access Evaluation)', () => {
  it('goes to the next mint with the invalidation, and to no later one', async () => {
    const { provider, contexts } = await startTripleProvider();
    const token = await provider.currentToken();
    expect(provider.invalidate(token, { claims: '{"access_token":{"nbf":{"essential":true}}}' })).toBe(true);
    await Promise.all(Array.from({ length: 50 }, () => provider.currentToken()));
    expect(contexts.map((context) => context.claims)).toEqual([undefined, '{"access_token":{"nbf":{"essential":true}}}']);
    expect(provider.invalidate(await provider.currentToken())).toBe(false); // within invalidateMinIntervalMs
    await provider.stop();
  });

  it('stays for the next attempt when the mint with it fails, and is dropped with a refused invalidation', async () => {
    const clock = new ManualClock(0);
    const claimsSeen: (string | undefined)[] = [];
    let fail = false;
    const provider = await createCredentialProvider({
      clock,
      breakerThreshold: 5,
      mint: async ({ claims }) => {
        claimsSeen.push(claims);
        if (fail) throw new Error('issuer down');
        return { secret: `t${claimsSeen.length}`, expiresAt: clock.now() + HOUR };
      },
    });
    fail = true;
    expect(provider.invalidate(undefined, { claims: 'c1' })).toBe(true);
    expect((await outcome(provider.currentToken())).ok).toBe(false);
    fail = false;
    await provider.currentToken();
    await provider.currentToken();
    expect(claimsSeen).toEqual([undefined, 'c1', 'c1']);
    clock.advance(1);
    expect(provider.invalidate('not the cached token', { claims: 'c2' })).toBe(false);
    clock.set(HOUR * 2);
    await provider.currentToken();
    expect(claimsSeen.at(-1)).toBeUndefined();
    expect(() => provider.invalidate(undefined, { claims: 7 as never })).toThrow(/claims must be a non-empty string, got a number/);
    await provider.stop();
  });
});

describe('clientCredentialsMint fills the facts and sends the claims', () => {
  const NOW = Date.parse('2026-12-01T10:00:00Z');
  it.each([
    [
      'Entra ID',
      { token_type: 'Bearer', expires_in: 7200, refresh_in: 3600, scope: 'https://vault.azure.net/.default' },
      { tokenType: 'Bearer', scope: 'https://vault.azure.net/.default', refreshAfter: NOW + 3_600_000 },
    ],
    ['a DPoP issuer with refresh_in as a string', { token_type: 'DPoP', expires_in: 600, refresh_in: '300' }, { tokenType: 'DPoP', refreshAfter: NOW + 300_000 }],
    ['an issuer that says nothing more', { token_type: 'bearer', expires_in: 600, refresh_in: -5 }, { tokenType: 'Bearer' }],
  ])('from %s', async (_name, body, facts) => {
    const requests: URLSearchParams[] = [];
    const mint = clientCredentialsMint({
      tokenEndpoint: 'https://issuer.example/token',
      clientId: 'c',
      clientSecret: 's3cret',
      clock: { now: () => NOW },
      fetch: async (_url, init) => {
        requests.push(new URLSearchParams(String(init?.body)));
        return Response.json({ access_token: 'at-1', ...body });
      },
    });
    const minted = await mint({ signal: new AbortController().signal, claims: '{"id_token":{}}' });
    const { secret: _secret, expiresAt: _expiresAt, ...rest } = minted;
    expect(rest).toEqual(facts);
    expect(requests[0]!.get('claims')).toBe('{"id_token":{}}');
    await mint({ signal: new AbortController().signal });
    expect(requests[1]!.has('claims')).toBe(false);
  });
});
