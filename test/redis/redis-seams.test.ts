/**
 * The fleet defects found where the coordination met the provider (issue 17), against a real
 * redis-server on loopback, one regression test each. Real time, bounded to a few seconds each.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCredentialProvider, type Clock, type MintedToken } from '../../src/index.js';
import { credentialKey, redisCoordination } from '../../src/redis/index.js';
import { refreshTokenMint } from '../../src/oauth2/index.js';
import { countingIssuer as issuer, sleep, useRedisServer } from '../redis/harness.js';

const sharedKey = credentialKey({ issuer: 'https://issuer.test/token', clientId: 'seams', scopes: ['a'] });
const redis = useRedisServer({ prefix: 'seams', sharedKey });
const { key, cleanups, connections, flushRedis, fleetProcess } = redis;

describe('the fleet at its seams', () => {
  it('a missing or null encryptionKey is INVALID_CONFIG, not a TypeError', async () => {
    const { client, subscriber } = await connections();
    for (const encryptionKey of [undefined, null]) {
      expect(() => redisCoordination({ client, subscriber, encryptionKey } as unknown as Parameters<typeof redisCoordination>[0])).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('encryptionKey') }),
      );
    }
  });

  it('timeouts past 2^31-1 ms are honoured, not fired after 1 ms', async () => {
    // before: commandTimeoutMs 3e9 made every process degraded; attemptTimeoutMs 3e9 failed construction; mintTimeoutMs 5e9 failed with coordination
    await flushRedis();
    const { state, mint } = issuer(60_000);
    const first = await fleetProcess(mint, { commandTimeoutMs: 3e9, attemptTimeoutMs: 3e9 }, { mintTimeoutMs: 5e9 });
    const second = await fleetProcess(mint, { commandTimeoutMs: 3e9, attemptTimeoutMs: 3e9 }, { mintTimeoutMs: 5e9 });
    expect(state.issued).toBe(1);
    expect([...first.events, ...second.events]).toEqual([]);
  });

  it('a follower never serves a token past the expiry its mint gave, whatever the holder’s clock says', async () => {
    // before: a holder 2 s behind made followers serve the token about 2 s past its real expiry
    await flushRedis();
    const behind: Clock = { now: () => Date.now() - 2_000, setTimeout: (callback, ms) => setTimeout(callback, ms).unref(), clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout) };
    const realExpiry = { at: 0 };
    const mint = async (): Promise<MintedToken> => {
      realExpiry.at = Date.now() + 10_000; // an absolute expiry, as a JWT's exp gives it
      return { secret: `jwt-${randomBytes(6).toString('hex')}`, expiresAt: realExpiry.at };
    };
    await fleetProcess(mint, {}, { clock: behind });
    const follower = await fleetProcess(mint);
    const adopted = await follower.provider.currentToken();
    expect(adopted.expiresAt).not.toBeNull();
    expect(adopted.expiresAt!).toBeLessThanOrEqual(realExpiry.at);
  });

  it('a stored value nobody can authenticate, claiming a high fence and no TTL, does not pin the credential', async () => {
    // before: 3 processes made 3 mints per window from then on
    const client = await flushRedis();
    const credential = createHash('sha256').update(sharedKey).digest().subarray(0, 16).toString('hex');
    await client.set(`seams:{${credential}}:token`, `999999:k1:${randomBytes(12).toString('base64url')}:${randomBytes(40).toString('base64url')}`);
    const { state, mint } = issuer(60_000);
    const fleet = [];
    for (let index = 0; index < 3; index++) fleet.push(await fleetProcess(mint));
    expect(state.issued).toBe(1); // the first replaced it; the others adopted what it shared
    expect(await client.pTTL(`seams:{${credential}}:token`)).toBeGreaterThan(0);
    for (const { provider } of fleet.slice(1)) expect((await provider.currentToken()).secret.reveal()).toBe((await fleet[0]!.provider.currentToken()).secret.reveal());
  });

  it('a refresh-token grant with Redis down is COORDINATION_UNAVAILABLE every time, never BREAKER_OPEN', async () => {
    // before: after breakerThreshold refusals, callers got BREAKER_OPEN (the README says COORDINATION_UNAVAILABLE)
    await flushRedis();
    const grants = { made: 0 };
    const grant = refreshTokenMint({
      tokenEndpoint: 'http://127.0.0.1:9/token',
      clientId: 'seams',
      refreshToken: 'r0',
      allowInsecureRequests: true,
      fetch: async () => {
        grants.made++;
        const body = { access_token: `a${grants.made}`, token_type: 'Bearer', expires_in: 1, refresh_token: `r${grants.made}` };
        return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
      },
    });
    const { client, subscriber } = await connections();
    const coordination = redisCoordination({ client, subscriber, encryptionKey: key, prefix: 'seams', commandTimeoutMs: 200 });
    cleanups.push(() => coordination.close());
    const provider = await createCredentialProvider({ mint: grant, coordination, sharedKey, breakerThreshold: 2 });
    cleanups.push(() => provider.stop());
    expect(grants.made).toBe(1);
    await redis.server.stop();
    try {
      await sleep(1_100); // the one-second token has expired
      const codes: string[] = [];
      for (let attempt = 0; attempt < 4; attempt++)
        codes.push(
          await provider.currentToken().then(
            () => 'ok',
            (error: { code?: string }) => error.code ?? 'other',
          ),
        );
      expect(codes).toEqual(Array(4).fill('COORDINATION_UNAVAILABLE'));
      expect(grants.made).toBe(1);
    } finally {
      await redis.server.start();
    }
  });

  it('Redis paused 1.5 s while processes ask for the lease: no caller error while the issuer is up', async () => {
    // before: the stalled lease request ran after its caller gave up and left a lease nobody minted under;
    // callers with an expired token got MINT_TIMEOUT 1.9 s and 2.4 s after the resume
    await flushRedis();
    const { state, mint } = issuer(1_500);
    const fleet = [];
    for (let index = 0; index < 4; index++) fleet.push(await fleetProcess(mint, { leaseMs: 8_000 }, { mintTimeoutMs: 3_000, refreshFloorMs: 0, refreshAt: 0.5 }));
    const errors: unknown[] = [];
    let served = 0;
    let running = true;
    const callers = fleet.map(async ({ provider }) => {
      while (running) {
        try {
          await provider.currentToken();
          served++;
        } catch (error) {
          errors.push(error);
        }
        await sleep(25);
      }
    });
    await sleep(900); // the tokens are due: processes ask for the lease
    await redis.server.pause(1_500);
    await sleep(3_500); // past the end of the lease requests' lives and a couple of token lifetimes
    running = false;
    await Promise.all(callers);
    expect(errors).toEqual([]);
    expect(served).toBeGreaterThan(0);
    expect(state.issued).toBeGreaterThan(0);
  });

  it('a reply that arrived during an event-loop stall is read, not taken for silence', async () => {
    // before: an event-loop stall longer than commandTimeoutMs read as "Redis did not answer" and the process minted its own token
    await flushRedis();
    const { state, mint } = issuer(60_000);
    await fleetProcess(mint);
    const follower = await (async () => {
      const { client, subscriber } = await connections();
      // the first script call: sent, then the loop blocks past commandTimeoutMs while the reply comes in
      const send = client.sendCommand.bind(client);
      let stalled = false;
      client.sendCommand = ((args: string[]) => {
        const reply = send(args);
        if (!stalled && args[0] === 'EVAL') {
          stalled = true;
          setImmediate(() => {
            const until = Date.now() + 300;
            while (Date.now() < until) {
              // blocked
            }
          });
        }
        return reply;
      }) as typeof client.sendCommand;
      const coordination = redisCoordination({ client, subscriber, encryptionKey: key, prefix: 'seams', commandTimeoutMs: 100 });
      cleanups.push(() => coordination.close());
      const events: string[] = [];
      coordination.on('coordination.degraded', () => events.push('degraded'));
      return { coordination, events };
    })();
    const shared = follower.coordination.share(sharedKey, mint, { breakerThreshold: 5, breakerCooldownMs: 1_000, maxRetryAfterMs: 10_000, mintTimeoutMs: 2_000, now: Date.now });
    await shared({ signal: new AbortController().signal });
    expect(follower.events).toEqual([]);
    expect(state.issued).toBe(1);
  });
});
