/**
 * One process of a fleet, forked by `test/redis/fleet.test.ts` and `test/redis/refresh-rotation.test.ts`:
 * a provider sharing its credential through Redis, minting from the real oidc-provider issuer,
 * serving `currentToken()` in a loop as an app under load would, and reporting over IPC what it
 * served. It runs one session at a time (`sessions.ts`), each with its own settings.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { connectRedisPair } from '../../examples/redis-server.js';
import { createCredentialProvider, type CredentialProvider, type ExclusiveMint, type Mint } from '../../src/index.js';
import { clientCredentialsMint, refreshTokenMint } from '../../src/oauth2/index.js';
import { credentialKey, redisCoordination } from '../../src/redis/index.js';
import { Secret } from '../../machines/secret.js';
import { runSessions, serveUntilStopped, type Session } from './sessions.js';

export interface WorkerSettings {
  readonly redisUrl: string;
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly audience: string;
  readonly encryptionKeyHex: string;
  readonly mintTimeoutMs: number;
  readonly leaseMs: number;
  /** The first mint of the fleet (whoever takes it, once, through a Redis flag) hangs, ignoring its signal. */
  readonly firstMintHangs?: boolean;
  /** This process's mints hang until it is killed. */
  readonly mintsHang?: boolean;
  /** Mint with the rotating refresh-token grant from this refresh token (else client credentials). */
  readonly refreshToken?: string;
  /** Without coordination: each process alone with the issuer (the control). */
  readonly alone?: boolean;
  /** This process's name, sent with every issuer request (`x-worker`), so a test can tell whose grant it holds. */
  readonly name?: string;
}

export interface WorkerReport {
  readonly type: 'report';
  readonly served: number;
  readonly expiredServed: number;
  readonly failed: number;
  readonly failures: string[];
  readonly issuerCalls: number;
  /** Issuer calls that settled without an answer (aborted: an attempt's bound, or the process stopping). */
  readonly issuerCallsUnanswered: number;
  readonly events: string[];
  /** `Date.now()` when this process began constructing its provider (after connecting to Redis). */
  readonly constructingAt: number;
  /** `Date.now()` when this process's first mint began, or null. */
  readonly firstMintAt: number | null;
  /** The longest event-loop delay this process saw, in ms: how late its timers could fire on this machine. */
  readonly maxLoopDelayMs: number;
}

async function startSession(settings: WorkerSettings): Promise<Session<WorkerReport>> {
  const { client, subscriber } = await connectRedisPair(settings.redisUrl);

  const events: string[] = [];
  const coordination = redisCoordination({
    client,
    subscriber,
    encryptionKey: { id: 'fleet', key: Buffer.from(settings.encryptionKeyHex, 'hex') },
    prefix: 'fleet',
    leaseMs: settings.leaseMs,
    pollMs: 200,
  });
  coordination.on('coordination.degraded', () => events.push('degraded'));
  coordination.on('coordination.restored', () => events.push('restored'));

  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let issuerCalls = 0;
  let issuerCallsUnanswered = 0;
  let firstMintAt: number | null = null;
  let constructingAt = 0;
  /** The request's headers, and when it left (the test reads each token's refresh window from it). */
  const sentAtHeaders = (init: RequestInit | undefined): Headers => {
    const headers = new Headers(init?.headers);
    headers.set('x-sent-at', String(Date.now()));
    return headers;
  };
  const issuerMint: Mint =
    settings.refreshToken === undefined
      ? clientCredentialsMint({
          tokenEndpoint: settings.tokenEndpoint,
          clientId: settings.clientId,
          clientSecret: new Secret(settings.clientSecret),
          resource: settings.audience,
          allowInsecureRequests: true,
          fetch: (input, init) => fetch(input, { ...init, headers: sentAtHeaders(init) }),
        })
      : refreshTokenMint({
          tokenEndpoint: settings.tokenEndpoint,
          clientId: settings.clientId,
          clientSecret: new Secret(settings.clientSecret),
          refreshToken: settings.refreshToken,
          allowInsecureRequests: true,
          fetch: (input, init) => {
            const headers = sentAtHeaders(init);
            headers.set('x-worker', settings.name ?? '');
            return fetch(input, { ...init, headers });
          },
        });
  const counted: Mint = async (context) => {
    issuerCalls++;
    firstMintAt ??= Date.now();
    process.send?.({ type: 'minting', pid: process.pid, at: Date.now(), constructingAt });
    if (settings.mintsHang === true) return new Promise(() => {});
    if (settings.firstMintHangs === true && (await client.set('fleet:test:first-mint-hung', '1', { NX: true })) === 'OK') return new Promise(() => {});
    return issuerMint(context).catch((error: unknown) => {
      if (context.signal.aborted) issuerCallsUnanswered++;
      throw error;
    });
  };
  // a refresh-token mint stays exclusive through the counting wrapper: the wrapper carries what the mint carries
  const mint: Mint = settings.refreshToken === undefined ? counted : Object.assign(counted, pick(issuerMint as ExclusiveMint));

  function pick({ exclusive, configuredRefreshToken, configuredAt, grantTimeoutMs, reuseIntervalMs, signIn }: ExclusiveMint) {
    return { exclusive, configuredRefreshToken, configuredAt, grantTimeoutMs, reuseIntervalMs, signIn };
  }

  let served = 0;
  let expiredServed = 0;
  let failed = 0;
  const failures: string[] = [];
  let provider: CredentialProvider | null = null;

  const report = (): WorkerReport => ({
    type: 'report',
    served,
    expiredServed,
    failed,
    failures: failures.slice(0, 5),
    issuerCalls,
    issuerCallsUnanswered,
    events,
    constructingAt,
    firstMintAt,
    maxLoopDelayMs: loopDelay.max / 1e6,
  });

  const sharedKey = credentialKey({ issuer: settings.tokenEndpoint, clientId: settings.clientId, audience: settings.audience });
  constructingAt = Date.now();
  try {
    provider = await createCredentialProvider({
      mint,
      ...(settings.alone === true ? {} : { coordination, sharedKey }),
      refresh: 'proactive',
      refreshAt: 0.5,
      refreshFloorMs: 200,
      mintTimeoutMs: settings.mintTimeoutMs,
      breakerThreshold: 2,
      breakerCooldownMs: 1_000,
    });
  } catch (error) {
    failed++;
    failures.push(`construction: ${(error as Error).message}`);
  }
  process.send?.({ type: 'ready' });
  const loop =
    provider === null
      ? null
      : serveUntilStopped(async () => {
          try {
            const askedAt = Date.now();
            const token = await provider!.currentToken();
            served++;
            // expired when asked for: a token that lapses between the answer and this line was served valid
            if (token.expiresAt !== null && token.expiresAt <= askedAt) expiredServed++;
          } catch (error) {
            failed++;
            if (failures.length < 5) failures.push((error as Error).message);
          }
        }, 10);
  return {
    report,
    async stop() {
      await loop?.stop();
      await provider?.stop();
      await coordination.close();
      await Promise.allSettled([client.close(), subscriber.close()]);
      loopDelay.disable();
      return report();
    },
  };
}

runSessions(startSession);
