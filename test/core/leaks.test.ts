import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CredentialError } from '../../src/index.js';
import { flush, HOUR, outcome, SECRET, startProvider } from '../helpers.js';

function expectNoSecret(text: string): void {
  expect(text.includes(SECRET)).toBe(false);
}

describe('the secret never leaks', () => {
  it('is absent from serialized tokens, snapshots, clones, provider state and errors', { timeout: 60_000 }, async () => {
    const errors: unknown[] = [];
    const { clock, script, provider } = await startProvider({ breakerThreshold: 1, mintTimeoutMs: 10_000 });
    const token = await provider.currentToken();
    expect(token.secret.reveal()).toContain(SECRET); // the value is there to leak

    // util.inspect of a whole XState snapshot walks the machine definition from every node (about
    // 4 s and 130 MB of text here), so the view that includes it runs once, at the moment that holds
    // the most: mid-refresh, the first token still cached and served, the mint actor alive beside it.
    const views = ({ deep }: { deep: boolean }): string[] => {
      const snapshot = provider.actor.getSnapshot();
      return [
        ...(deep ? [inspect(snapshot, { depth: null })] : []),
        JSON.stringify(token),
        String(token.secret),
        `${token.secret}`,
        inspect(token, { depth: null, showHidden: true }),
        JSON.stringify(snapshot),
        JSON.stringify(structuredClone(snapshot.context)),
        inspect(structuredClone(snapshot.context), { depth: null, showHidden: true }),
        JSON.stringify(provider),
        inspect(provider, { depth: null }),
      ];
    };
    views({ deep: false }).forEach(expectNoSecret);

    // mid-refresh, with the mint actor alive as a child, then with its output cached
    clock.advance(0.9 * HOUR);
    await provider.currentToken();
    expect(provider.actor.getSnapshot().children).not.toEqual({}); // the mint actor is alive
    views({ deep: true }).forEach(expectNoSecret);
    script.last.resolve({ secret: `${SECRET}-2`, expiresAt: 2 * HOUR });
    await flush();
    expect(provider.actor.getSnapshot().context.token.secret.reveal()).toBe(`${SECRET}-2`);
    views({ deep: false }).forEach(expectNoSecret);

    // every error path
    clock.advance(2 * HOUR);
    const timedOut = outcome(provider.currentToken());
    clock.advance(10_000);
    errors.push((await timedOut).ok ? null : ((await timedOut) as { error: unknown }).error);
    const denied = await outcome(provider.currentToken());
    errors.push((denied as { error: unknown }).error);
    await provider.stop();
    const stopped = await outcome(provider.currentToken());
    errors.push((stopped as { error: unknown }).error);
    expect(errors.map((error) => (error as CredentialError).code)).toEqual(['MINT_TIMEOUT', 'BREAKER_OPEN', 'STOPPED']);
    for (const error of errors) {
      expectNoSecret((error as Error).message);
      expectNoSecret(inspect(error, { depth: null }));
      expectNoSecret(JSON.stringify(error));
    }
    views({ deep: false }).forEach(expectNoSecret);
  });
});
