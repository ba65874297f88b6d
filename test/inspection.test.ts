import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { MintFailure } from '../machines/mint-failure.js';
import { describeError, redactedInspection } from '../src/inspection.js';

const SECRET = 'bearer-9d2c-in-an-error';
const leaky = () => Object.assign(new Error('token endpoint said 401'), { code: 'E401', config: { headers: { Authorization: `Bearer ${SECRET}` } } });

describe('redactedInspection()', () => {
  it('reduces every error an inspector is handed to name, message and code', () => {
    const seen: InspectionEvent[] = [];
    const observer = redactedInspection((event) => seen.push(event));
    const base = { rootId: 'x', actorRef: {} as never, sourceRef: undefined };
    observer.next!({ ...base, type: '@xstate.event', event: { type: 'xstate.error.actor.mint', error: new MintFailure(leaky(), 1) } } as never);
    observer.next!({ ...base, type: '@xstate.event', event: { type: 'xstate.promise.reject', data: leaky() } } as never);
    observer.next!({ ...base, type: '@xstate.snapshot', event: { type: 'mint.failed', error: leaky(), at: 1 }, snapshot: { status: 'error', error: leaky() } } as never);
    observer.next!({ ...base, type: '@xstate.microstep', event: { type: 'refresh.failed', error: 'raw string' }, snapshot: {}, _transitions: [] } as never);
    const text = JSON.stringify(seen);
    expect(text).not.toContain(SECRET);
    expect(text).toContain('token endpoint said 401');
    expect(text).toContain('"code":"E401"');
    expect(text).toContain('a string was thrown');
  });

  it('passes other events through untouched, to observers and functions alike', () => {
    const next: InspectionEvent[] = [];
    const event = { type: '@xstate.actor', rootId: 'x', actorRef: {} } as unknown as InspectionEvent;
    redactedInspection({ next: (e) => next.push(e) }).next!(event);
    expect(next).toEqual([event]);
    expect(next[0]).toBe(event);
  });

  it('describes non-Error throws by their type only', () => {
    expect(describeError(new MintFailure('secret-looking string', 0))).toEqual({ name: 'NonError', message: 'a string was thrown' });
  });
});

describe('a throwing inspector', () => {
  it('breaks neither the provider nor the process', async () => {
    const { startProvider, flush, HOUR } = await import('./helpers.js');
    let calls = 0;
    const { clock, script, provider } = await startProvider({
      inspect: () => {
        calls++;
        throw new Error('inspector bug');
      },
    });
    clock.advance(HOUR);
    const next = provider.currentToken();
    script.last.resolve({ secret: 'still-served', expiresAt: 2 * HOUR });
    expect((await next).secret.reveal()).toBe('still-served');
    await flush();
    expect(calls).toBeGreaterThan(5);
    expect(provider.actor.getSnapshot().status).toBe('active');
    await provider.stop();
  });
});
