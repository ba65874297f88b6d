import { describe, expect, it } from 'vitest';
import { CredentialError } from '../../src/index.js';
import { HOUR, outcome, startProvider } from '../helpers.js';

function codeOf(result: { ok: boolean; error?: unknown }): string | undefined {
  return result.ok ? undefined : (result.error as CredentialError).code;
}

describe('stop()', () => {
  it('aborts the mint in flight, clears every timer, rejects pending and later calls with STOPPED', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR);
    const pending = outcome(provider.currentToken());
    const withSignal = outcome(provider.currentToken({ signal: new AbortController().signal }));
    expect(clock.pendingTimers).toBeGreaterThan(0);
    await provider.stop();
    expect(script.last.signal.aborted).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    expect(codeOf(await pending)).toBe('STOPPED');
    expect(codeOf(await withSignal)).toBe('STOPPED');
    expect(codeOf(await outcome(provider.currentToken()))).toBe('STOPPED');
    expect(provider.invalidate()).toBe(false);
    expect(provider.toJSON().status).toBe('stopped');
    await provider.stop(); // idempotent
  });

  it('rejects even a fresh token after stop', async () => {
    const { provider } = await startProvider();
    await provider.stop();
    expect(codeOf(await outcome(provider.currentToken()))).toBe('STOPPED');
  });

  it('stops at the end of an `await using` scope', async () => {
    const { clock, provider } = await startProvider();
    {
      await using scoped = provider;
      expect((await scoped.currentToken()).expiresAt).toBe(HOUR);
    }
    expect(clock.pendingTimers).toBe(0);
    expect(provider.actor.getSnapshot().status).toBe('stopped');
  });
});

describe('a failure of the statechart itself', () => {
  it('stops the provider with STOPPED instead of crashing the host', async () => {
    const { credentialMachine } = await import('../../machines/credential.machine.js');
    const { createCredentialProviderWith } = await import('../../src/provider.js');
    const { ManualClock } = await import('../../src/testing/index.js');
    const { flush } = await import('../helpers.js');
    let attempts = 0;
    const broken = credentialMachine.provide({
      actions: {
        // the first attempt (construction's) goes through; the next one meets the bug
        beginRequestedAttempt: () => {
          if (++attempts > 1) throw new Error('a bug in an action');
        },
      },
    });
    const clock = new ManualClock(0);
    const provider = await createCredentialProviderWith(broken, { mint: async () => ({ secret: 'x', expiresAt: HOUR }), clock });
    clock.advance(HOUR);
    const result = await outcome(provider.currentToken());
    await flush();
    expect(codeOf(result)).toBe('STOPPED');
    expect(((result as { error: Error }).error.cause as Error).message).toBe('a bug in an action');
    expect(provider.toJSON().status).toBe('stopped');
    expect(clock.pendingTimers).toBe(0);
  });
});
