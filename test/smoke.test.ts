import { describe, expect, it } from 'vitest';
import { flush, HOUR, secretOf, startProvider, stateOf } from './helpers.js';

describe('smoke', () => {
  it('serves, refreshes in background, expires', async () => {
    const { clock, script, provider } = await startProvider();
    expect(stateOf(provider)).toEqual({ validity: 'fresh', breaker: 'closed', flight: 'idle' });
    expect(secretOf(await provider.currentToken())).toContain('-1');
    clock.advance(0.8 * HOUR);
    expect(stateOf(provider)).toEqual({ validity: 'refreshDue', breaker: 'closed', flight: 'idle' });
    const served = await provider.currentToken();
    expect(secretOf(served)).toContain('-1');
    expect(script.count).toBe(2);
    expect(stateOf(provider)).toEqual({ validity: 'refreshDue', breaker: 'closed', flight: 'minting' });
    script.last.resolve({ secret: 'two', expiresAt: 2 * HOUR });
    await flush();
    expect(stateOf(provider)).toEqual({ validity: 'fresh', breaker: 'closed', flight: 'idle' });
    expect(secretOf(await provider.currentToken())).toBe('two');
    await provider.stop();
    expect(clock.pendingTimers).toBe(0);
  });
});
