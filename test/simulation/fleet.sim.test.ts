/**
 * The fleet protocol (`redisCoordination` with `refreshTokenMint`), simulated: seeded schedules of up
 * to five processes, each the real provider, coordination and mint, on simulated time, sharing a
 * simulated Redis that runs the coordination's own Lua scripts (`sim-redis.ts`), each over a link the
 * schedule breaks (requests and replies lost, late past the caller's bound, resets, partitions,
 * pub/sub messages lost), against an issuer with strict reuse detection (answers held, lost, 503s).
 * Processes are killed mid-grant, paused (their event loop stalled) and started; the user may sign in
 * again. (Redis losing its data is not scheduled: a process that never read the record cannot tell a
 * new Redis from one that lost the family's; `test/redis/refresh-rotation.test.ts` covers the processes that did.)
 *
 * After every step: no refresh token was ever sent twice; no caller got a token that had expired on
 * its way (a late publish); no process was told to sign in again while Redis held the live refresh
 * token as usable (a grant's outcome that did not reach Redis leaves it in doubt for the fleet, as the
 * protocol says: its holder writes it when it can, which the end checks). At the end, with every link and
 * the issuer healed, every process serves within the stated bound (after a new sign-in if the family
 * was lost). A failure prints its seed: `SIM_SEED=<seed> SIM_SCHEDULES=1 npx vitest run
 * test/simulation/fleet.sim.test.ts` replays it.
 */
import { describe, expect, it } from 'vitest';
import { createCredentialProvider, type CredentialProvider, type Clock } from '../../src/index.js';
import { refreshTokenMint } from '../../src/oauth2/index.js';
import { redisCoordination, type RedisCoordination } from '../../src/redis/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { TokenSealer } from '../../src/sealed-token.js';
import { rotatingIssuer } from '../fakes/rotating-issuer.js';
import { deterministicCrypto, seededRandom } from './deterministic-crypto.js';
import { SimLink, SimRedis, type LinkFault } from './sim-redis.js';
import { trace, TRACE_FILE } from './sim-browser.js';

const SCHEDULES = Number(process.env.SIM_SCHEDULES ?? 1_000);
const FIRST_SEED = Number(process.env.SIM_SEED ?? 20_261_205);
const STEPS = 50;
const START = Date.parse('2026-12-05T00:00:00Z');
const COMMAND_TIMEOUT_MS = 300;

class Violation extends Error {}

/**
 * One turn of the event loop: every promise job queued meanwhile, and every job those queue, runs
 * before it ends; nothing real is waited for (as in the tabs' simulation: three turns gave the same
 * trace, the sealed tokens' random IVs aside, over 300 schedules, at 13% more CPU).
 */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function advance(clock: ManualClock, ms: number): Promise<void> {
  const target = clock.now() + ms;
  // what the last step set going runs first: a chain of awaits that has no timer would otherwise
  // move on one hop per call, each hop made to take `ms` of simulated time
  await settle();
  for (let next = clock.nextTimerAt(); next !== null && next <= target; next = clock.nextTimerAt()) {
    clock.runNext();
    await settle();
  }
  clock.set(target);
}

/** One process: its event loop (timers, replies and answers wait while it is paused, and are lost once it is killed). */
class SimProcess {
  paused = false;
  killed = false;
  /** Refresh tokens this process received in an answer, and when. */
  readonly received = new Map<string, number>();
  readonly clock: Clock;
  readonly #queued: (() => void)[] = [];
  provider!: CredentialProvider;
  coordination!: RedisCoordination;
  link!: SimLink;

  constructor(
    readonly name: string,
    base: ManualClock,
  ) {
    this.clock = {
      now: () => base.now(),
      setTimeout: (callback, ms) => {
        const timer = { cancelled: false, handle: undefined as unknown };
        timer.handle = base.setTimeout(() => this.run(() => !timer.cancelled && callback()), ms);
        return timer;
      },
      clearTimeout: (handle) => {
        const timer = handle as { cancelled: boolean; handle: unknown };
        timer.cancelled = true;
        base.clearTimeout(timer.handle);
      },
    };
  }

  run(task: () => void): void {
    if (this.killed) return;
    if (this.paused) this.#queued.push(task);
    else task();
  }

  resume(): void {
    this.paused = false;
    for (const task of this.#queued.splice(0)) this.run(task);
  }
}

async function runSchedule(seed: number): Promise<{ grants: number; signOuts: number; late: number }> {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const restore = deterministicCrypto(random);
  const clock = new ManualClock(START);
  const redis = new SimRedis(clock);
  const issuer = rotatingIssuer({ clock, accessTokenTtlSeconds: pick([2, 4, 8]) });
  const policy = {
    mintTimeoutMs: pick([1_000, 2_000]),
    grantTimeoutMs: pick([3_000, 5_000]),
    breakerCooldownMs: pick([500, 1_000]),
    refresh: pick(['proactive', 'on-demand'] as const),
  };
  const encryptionKey = { id: 'k', key: new Uint8Array(32).fill(3) };
  let signInToken = issuer.signIn();
  const processes: SimProcess[] = [];
  let started = 0;
  let signOuts = 0;
  let lastSignInAt = -Infinity;
  const violations: string[] = [];
  const log: string[] = [];

  const start = async (): Promise<SimProcess> => {
    const process = new SimProcess(`p${++started}`, clock);
    process.link = new SimLink(redis, clock, random, (task) => process.run(task), COMMAND_TIMEOUT_MS, process.name);
    process.coordination = redisCoordination({ ...process.link.clients(), encryptionKey, prefix: 'sim', commandTimeoutMs: COMMAND_TIMEOUT_MS, pollMs: 200 });
    const fetchVia: typeof fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      if (TRACE_FILE !== undefined) trace(`${clock.now() % 100_000} ${process.name} ${init?.method} ${new URLSearchParams(String(init?.body ?? '')).get('refresh_token') ?? ''}`);
      const response = await issuer.fetch(input, init);
      const body = (await response
        .clone()
        .json()
        .catch(() => null)) as { refresh_token?: unknown } | null;
      return new Promise<Response>((resolve) =>
        process.run(() => {
          if (typeof body?.refresh_token === 'string') process.received.set(body.refresh_token, clock.now());
          resolve(response);
        }),
      );
    }) as typeof fetch;
    const mint = refreshTokenMint({
      tokenEndpoint: 'https://login.example/oauth/token',
      clientId: 'service',
      refreshToken: signInToken,
      fetch: fetchVia,
      clock: process.clock,
      grantTimeoutMs: policy.grantTimeoutMs,
    });
    process.provider = await createCredentialProvider({
      mint,
      coordination: process.coordination,
      sharedKey: 'orders',
      clock: process.clock,
      firstMint: 'lazy',
      refresh: policy.refresh,
      refreshAt: 0.5,
      mintTimeoutMs: policy.mintTimeoutMs,
      breakerCooldownMs: policy.breakerCooldownMs,
    });
    processes.push(process);
    return process;
  };
  const kill = (process: SimProcess) => {
    processes.splice(processes.indexOf(process), 1);
    process.killed = true; // no goodbye: its lease lapses, its answers are lost, its Redis requests in flight still run
  };

  // what Redis holds: each record written, opened with the fleet's key as a process opens it
  const sealer = new TokenSealer([encryptionKey]);
  let stored: { status: string; value: string | null; since: number } = { status: 'none', value: null, since: START };
  redis.onRecordWritten = (key, value) => {
    const at = clock.now();
    const credential = /\{(.+)\}/.exec(key)![1]!;
    void sealer.open(value.slice(value.indexOf('|') + 1), credential, 'state').then(({ secret }) => {
      const record = JSON.parse(String(secret)) as { status: string; value: string | null };
      if (record.status !== stored.status || record.value !== stored.value) stored = { status: record.status, value: record.value, since: at };
    });
  };
  /** Wrong while Redis has held the live refresh token as usable for over a second (time enough for any process to read it). */
  const checkSignOut = (process: SimProcess) => {
    signOuts++;
    const live = issuer.liveTokenOf(Number(signInToken.split('-')[1]));
    if (live !== null && stored.status === 'usable' && stored.value === live && clock.now() - stored.since > 1_000) {
      violations.push(`${process.name} was told to sign in again at ${clock.now() - START} ms while Redis had held the live refresh token as usable since ${stored.since - START} ms`);
    }
  };
  const request = (process: SimProcess) => {
    void process.provider.currentToken().then(
      () => {},
      (error: unknown) => {
        if (process.killed) return;
        const code = (error as { code?: unknown }).code;
        if (TRACE_FILE !== undefined) trace(`${clock.now() % 100_000} ${process.name} got ${String(code)}: ${(error as Error).message}`);
        if (code === 'REFRESH_TOKEN_UNUSABLE') checkSignOut(process);
        if (code === 'MINTED_TOKEN_ALREADY_EXPIRED') violations.push(`${process.name} was handed a token that had expired on its way (a late publish)`);
      },
    );
  };

  try {
    await start();
    for (let step = 0; step < STEPS && violations.length === 0; step++) {
      const roll = random();
      const process = processes.length > 0 ? pick(processes) : await start();
      if (roll < 0.28) {
        log.push(`request ${process.name}`);
        if (!process.paused) request(process);
      } else if (roll < 0.55) {
        const ms = pick([10, 100, 400, 1_000, 2_500]);
        log.push(`advance ${ms}`);
        await advance(clock, ms);
      } else if (roll < 0.6) {
        if (processes.length < 5) {
          log.push('start');
          request(await start());
        }
      } else if (roll < 0.64) {
        log.push(`kill ${process.name}`);
        kill(process);
      } else if (roll < 0.68) {
        log.push(`pause ${process.name}`);
        process.paused = true;
      } else if (roll < 0.73) {
        const paused = processes.filter((candidate) => candidate.paused);
        if (paused.length > 0) {
          const resumed = pick(paused);
          log.push(`resume ${resumed.name}`);
          resumed.resume();
        }
      } else if (roll < 0.77) {
        process.link.down = !process.link.down;
        log.push(`${process.link.down ? 'partition' : 'reconnect'} ${process.name}`);
      } else if (roll < 0.85) {
        const fault = pick<LinkFault>(['lose-request', 'lose-reply', 'late-request', 'late-reply', 'reset']);
        log.push(`link ${fault} ${process.name}`);
        process.link.faults.push(fault);
      } else if (roll < 0.91) {
        const fault = pick([{ kind: 'lost', withCode: true }, { kind: 'held' }, { kind: 'unavailable', retryAfterSeconds: 1 }, { kind: 'refused', withCode: true }] as const);
        log.push(`issuer ${fault.kind}`);
        issuer.fault(fault);
      } else if (roll < 0.95) {
        const held = issuer.ledger.held.filter((answer) => !answer.abandoned && !answer.released);
        if (held.length > 0) {
          log.push('release');
          pick(held).release();
        }
      } else if (clock.now() - lastSignInAt > 100 && !process.paused) {
        lastSignInAt = clock.now();
        signInToken = issuer.signIn();
        log.push(`sign in ${process.name}`);
        void process.provider.signIn(signInToken).catch(() => {});
      }
      if (TRACE_FILE !== undefined) trace(`${clock.now() % 100_000} STEP ${log.at(-1)}`);
      await settle();
      if (issuer.ledger.reuses > 0) violations.push(`a refresh token was sent twice (reuse detected) by step ${step}`);
    }

    // healed: every link up, every process running, the issuer answering
    issuer.up();
    issuer.clearFaults();
    for (const process of processes) {
      process.link.down = false;
      process.link.faults.length = 0;
      process.resume();
    }
    for (const answer of issuer.ledger.held) answer.release();
    const leaseMs = policy.mintTimeoutMs + 5_000;
    const bound = policy.grantTimeoutMs + leaseMs + policy.breakerCooldownMs + policy.mintTimeoutMs + 2_000;
    const serveAll = async (): Promise<string[]> => {
      const healedAt = clock.now();
      const last = new Map<SimProcess, string>();
      const asking = new Set<SimProcess>();
      const settled = (process: SimProcess) => last.get(process) === 'ok' || last.get(process) === 'REFRESH_TOKEN_UNUSABLE';
      for (;;) {
        for (const process of processes) {
          if (settled(process) || asking.has(process)) continue;
          asking.add(process);
          void process.provider
            .currentToken()
            .then(
              () => last.set(process, 'ok'),
              (error: unknown) => {
                if (TRACE_FILE !== undefined)
                  trace(
                    `${clock.now() % 100_000} ${process.name} healed got ${String((error as { code?: unknown }).code)}: ${(error as Error).message} / ${String(((error as Error).cause as Error | undefined)?.message)}`,
                  );
                last.set(process, String((error as { code?: unknown }).code ?? error));
              },
            )
            .finally(() => asking.delete(process));
        }
        if (processes.every(settled) || clock.now() - healedAt > bound) break;
        await advance(clock, 250);
      }
      return processes.map((process) => last.get(process) ?? 'no answer');
    };
    let outcomes = await serveAll();
    if (outcomes.some((result) => result !== 'ok') && violations.length === 0 && processes.length > 0) {
      if (outcomes.every((result) => result === 'REFRESH_TOKEN_UNUSABLE' || result === 'ok')) {
        signInToken = issuer.signIn();
        let signedIn = false;
        void processes[0]!.provider
          .signIn(signInToken)
          .catch(() => {})
          .finally(() => (signedIn = true));
        for (let elapsed = 0; !signedIn && elapsed < bound; elapsed += 50) await advance(clock, 50);
        outcomes = await serveAll();
      }
      if (outcomes.some((result) => result !== 'ok')) violations.push(`healed, the processes were not all served within ${bound} ms: ${outcomes.join(', ')}`);
    }
    if (issuer.ledger.reuses > 0) violations.push('a refresh token was sent twice (reuse detected) at the end');
    if (violations.length > 0) throw new Violation(`seed ${seed}: ${violations[0]}\n  policy ${JSON.stringify(policy)}\n  steps: ${log.join('; ')}`);
    return { grants: issuer.ledger.grants, signOuts, late: processes.reduce((total, process) => total + process.link.stats.late, 0) };
  } finally {
    for (const process of processes) {
      process.killed = true;
      void process.provider.stop();
    }
    // what the schedule left running ends before the next one seeds the shared crypto: left running, it
    // would draw on the next schedule's random numbers, and a seed would not replay alone as it ran
    for (let turn = 0; turn < 5; turn++) await settle();
    restore();
  }
}

describe('the fleet protocol, simulated (seeded schedules of kills, pauses, partitions, lost and late Redis replies, lost publishes)', () => {
  it(`${SCHEDULES} schedules from seed ${FIRST_SEED}: no refresh token sent twice, no needless sign-out, every process serves once healed`, { timeout: 300_000 }, async () => {
    const failures: string[] = [];
    let grants = 0;
    let signOuts = 0;
    let late = 0;
    for (let index = 0; index < SCHEDULES; index++) {
      try {
        const stats = await runSchedule(FIRST_SEED + index);
        grants += stats.grants;
        signOuts += stats.signOuts;
        late += stats.late;
      } catch (error) {
        failures.push(error instanceof Violation ? error.message : `seed ${FIRST_SEED + index}: ${String((error as Error).stack ?? error)}`);
        if (failures.length >= 3) break;
      }
    }
    console.log(`fleet simulation: ${SCHEDULES} schedules, ${grants} grants, ${late} Redis requests run after their caller gave up, ${signOuts} sign-outs (each explained)`);
    expect(
      failures,
      failures.map((failure) => `${failure}\n  replay: SIM_SEED=${failure.match(/^seed (\d+)/)?.[1] ?? '?'} SIM_SCHEDULES=1 npx vitest run test/simulation/fleet.sim.test.ts`).join('\n\n'),
    ).toEqual([]);
  });
});
