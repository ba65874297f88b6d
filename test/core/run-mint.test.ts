/**
 * `runMint`, the one mint attempt, driven directly: what its callers (the provider, a pool key, the
 * coordinations) rely on but cannot all see through the statechart, which ignores a given-up
 * attempt's rejection and defaults a failure's blame.
 */
import { describe, expect, it } from 'vitest';
import { MintFailure } from '../../machines/mint-failure.js';
import { isIssuerNotAsked, runMint, type MintAttemptSetup, type MintContext, type MintGate, type MintPass } from '../../src/mint.js';
import { ManualClock } from '../../src/testing/index.js';

type Settled = Parameters<MintPass['settle']>[0];

/** A gate that lets the attempt in once `open()` is called, and records how each pass settled. */
function recordingGate(): MintGate & { readonly settled: Settled[]; open(): void } {
  const settled: Settled[] = [];
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    settled,
    open: () => open(),
    enter: async () => {
      await opened;
      return { settle: (outcome) => settled.push(outcome) };
    },
  };
}

function setupWith(overrides: Partial<MintAttemptSetup>): MintAttemptSetup {
  return { mint: async () => ({ secret: 't', expiresAt: null }), clock: new ManualClock(1_000), jitter: () => 0.5, classify: () => 'issuer', mintTimeoutMs: 100, ...overrides };
}

describe('runMint', () => {
  it('gives the mint a context with only the signal when there is no phase, step or claims', async () => {
    const contexts: MintContext[] = [];
    const signal = new AbortController().signal;
    // no claims source at all: a provider without a claims challenge
    await runMint(setupWith({ mint: async (context) => (contexts.push(context), { secret: 't', expiresAt: null }) }), { signal, startedAt: 1_000 });
    // a claims source with nothing pending
    const met: unknown[] = [];
    await runMint(setupWith({ mint: async (context) => (contexts.push(context), { secret: 't', expiresAt: null }), claims: { pending: () => undefined, met: (claims) => met.push(claims) } }), {
      signal,
      startedAt: 1_000,
    });
    for (const context of contexts) expect(Object.keys(context)).toEqual(['signal']);
    expect(met).toEqual([]); // no challenge was carried, so none is met
  });

  it('gives the mint the phase, the step and the pending claims, and says the claims were met once a token landed', async () => {
    const seen: string[][] = [];
    const met: string[] = [];
    await runMint(
      setupWith({ mint: async (context) => (seen.push(Object.keys(context).sort()), { secret: 't', expiresAt: null }), claims: { pending: () => 'c1', met: (claims) => met.push(claims) } }),
      {
        signal: new AbortController().signal,
        startedAt: 1_000,
        phase: () => {},
        step: () => {},
      },
    );
    expect(seen).toEqual([['claims', 'phase', 'signal', 'step']]);
    expect(met).toEqual(['c1']);
  });

  it('an attempt whose deadline passed while it queued for the gate is nobody’s failure, and the issuer is never asked', async () => {
    const clock = new ManualClock(1_000);
    const gate = recordingGate();
    let asked = 0;
    const attempt = runMint(setupWith({ clock, gate, mint: async () => (asked++, { secret: 't', expiresAt: null }) }), { signal: new AbortController().signal, startedAt: 1_000 });
    clock.set(1_100); // the 100 ms deadline, reached in the queue
    gate.open();
    const failure = await attempt.then(
      () => expect.unreachable('it resolved'),
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(MintFailure);
    expect(failure).toMatchObject({ blame: 'nobody', failedAt: 1_100, cause: { code: 'MINT_TIMEOUT' } });
    expect(gate.settled).toEqual(['abandoned']);
    expect(asked).toBe(0);
  });

  it('a given-up attempt without a gate rejects with the signal’s reason', async () => {
    const controller = new AbortController();
    const reason = new Error('every caller left');
    const attempt = runMint(setupWith({ mint: () => new Promise(() => {}) }), { signal: controller.signal, startedAt: 1_000 });
    controller.abort(reason);
    await expect(attempt).rejects.toBe(reason);
  });

  it('a timed-out attempt tells the gate it was the issuer’s failure, dated at the deadline; one given up before is abandoned', async () => {
    const clock = new ManualClock(1_000);
    for (const [at, expected] of [
      [1_100, 'timeout'],
      [1_050, 'abandoned'],
    ] as const) {
      clock.set(1_000);
      const gate = recordingGate();
      gate.open();
      const controller = new AbortController();
      let reached = () => {};
      const atIssuer = new Promise<void>((resolve) => (reached = resolve));
      const attempt = runMint(
        setupWith({
          clock,
          gate,
          mint: () => {
            reached();
            return new Promise(() => {});
          },
        }),
        { signal: controller.signal, startedAt: 1_000 },
      );
      await atIssuer; // through the gate, at the issuer
      clock.set(at);
      controller.abort(new Error('given up'));
      await expect(attempt).rejects.toThrow('given up');
      if (expected === 'abandoned') expect(gate.settled).toEqual(['abandoned']);
      else expect(gate.settled).toEqual([expect.objectContaining({ blame: 'issuer', failedAt: 1_100, cause: expect.objectContaining({ code: 'MINT_TIMEOUT' }) })]);
    }
  });

  it('passes on a failure a mint wrapper already made, as it is; classifies anything else once', async () => {
    const made = new MintFailure(new Error('lease holder refused'), 7, { blame: 'nobody' });
    await expect(runMint(setupWith({ mint: () => Promise.reject(made) }), { signal: new AbortController().signal, startedAt: 1_000 })).rejects.toBe(made);
    const classified: unknown[] = [];
    const plain = new Error('503');
    const failure = await runMint(setupWith({ mint: () => Promise.reject(plain), classify: (error) => (classified.push(error), 'key') }), {
      signal: new AbortController().signal,
      startedAt: 1_000,
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ blame: 'key', failedAt: 1_000, cause: plain });
    expect(classified).toEqual([plain]);
  });

  it('a thrown value that is a Proxy whose getPrototypeOf throws is classified, not passed on, and crashes nothing', async () => {
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('no prototype for you');
        },
      },
    );
    const failure = await runMint(setupWith({ mint: () => Promise.reject(hostile) }), { signal: new AbortController().signal, startedAt: 1_000 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MintFailure);
    expect((failure as MintFailure).cause).toBe(hostile);
  });

  it('a jitter source that throws, or answers other than a number, counts as no jitter', async () => {
    const run = (jitter: () => number) => runMint(setupWith({ jitter }), { signal: new AbortController().signal, startedAt: 1_000 });
    expect((await run(() => 0.25)).jitter).toBe(0.25);
    expect((await run(() => '0.25' as unknown as number)).jitter).toBe(0);
    expect(
      (
        await run(() => {
          throw new Error('no entropy');
        })
      ).jitter,
    ).toBe(0);
  });
});

describe('isIssuerNotAsked', () => {
  it('is true only for an error marked issuerNotAsked: true', () => {
    expect(isIssuerNotAsked(Object.assign(new Error('no refresh token: sign in'), { issuerNotAsked: true }))).toBe(true);
    expect(isIssuerNotAsked(Object.assign(new Error('x'), { issuerNotAsked: 'yes' }))).toBe(false);
    expect(isIssuerNotAsked(new Error('503'))).toBe(false);
    expect(isIssuerNotAsked(undefined)).toBe(false);
  });
});
