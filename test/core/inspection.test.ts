import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { MintFailure } from '../../machines/mint-failure.js';
import { describeError, redactedInspection } from '../../src/inspection.js';
import { Secret } from '../../machines/secret.js';

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

  it('walks every event type, @xstate.actor included: an actor is seen through a view whose snapshot is redacted', () => {
    const next: InspectionEvent[] = [];
    const rejected = { status: 'error', error: leaky(), output: undefined };
    const actorRef = { id: 'mint', sessionId: 'x.1', send: () => {}, getSnapshot: () => rejected, _parent: undefined };
    const event = { type: '@xstate.actor', rootId: 'x', actorRef } as unknown as InspectionEvent;
    redactedInspection({ next: (e) => next.push(e) }).next!(event);
    const seen = next[0] as unknown as { actorRef: typeof actorRef };
    expect(seen.actorRef.sessionId).toBe('x.1');
    expect(seen.actorRef.id).toBe('mint');
    expect(JSON.stringify(seen.actorRef.getSnapshot())).not.toContain(SECRET);
    expect(seen.actorRef.getSnapshot()).toEqual({ status: 'error', error: { name: 'Error', message: 'token endpoint said 401', code: 'E401' } });
  });

  it('describes non-Error throws by their type only', () => {
    expect(describeError(new MintFailure('secret-looking string', 0))).toEqual({ name: 'NonError', message: 'a string was thrown' });
  });
});

describe('a throwing inspector', () => {
  it('breaks neither the provider nor the process', async () => {
    const { startProvider, flush, HOUR } = await import('../helpers.js');
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

describe('no inspection event of any type carries the secret', () => {
  const CLIENT_SECRET = 'client-secret-3b7f-never-in-a-frame';
  const TOKEN_SECRET = 'access-token-81c4-never-in-a-frame';
  /** What an axios request error holds: the request's headers and body, and the response. */
  const axiosStyleError = () =>
    Object.assign(new Error('Request failed with status code 503'), {
      name: 'AxiosError',
      code: 'ERR_BAD_RESPONSE',
      config: {
        headers: { Authorization: `Basic ${Buffer.from(`client:${CLIENT_SECRET}`).toString('base64')}`, 'X-Raw': CLIENT_SECRET },
        data: `grant_type=client_credentials&client_secret=${CLIENT_SECRET}`,
        secret: new Secret(CLIENT_SECRET),
      },
      response: { status: 503, data: { echoed: CLIENT_SECRET } },
    });
  const base64Secret = Buffer.from(`client:${CLIENT_SECRET}`).toString('base64');

  /** Serializes what an observer is given the way a relay would: the event, the actor's snapshot, cycles cut. */
  function frame(event: InspectionEvent): string {
    const seen = new WeakSet<object>();
    const withSnapshot = { ...event, actorSnapshot: (event.actorRef as { getSnapshot?: () => unknown }).getSnapshot?.() };
    return JSON.stringify(withSnapshot, (key, value: unknown) => {
      if (key === 'machine' || key === '_nodes' || key === 'logic' || key === 'system' || key === '_parent') return undefined;
      if (typeof value === 'object' && value !== null) {
        if (seen.has(value)) return '[cycle]';
        seen.add(value);
      }
      return value;
    });
  }

  it.each([
    ['a plain-string token secret', (expiresAt: number) => ({ secret: TOKEN_SECRET, expiresAt })],
    ['a Secret token', (expiresAt: number) => ({ secret: new Secret(TOKEN_SECRET), expiresAt })],
  ])('with %s and an HTTP client’s error holding the client secret', async (_name, minted) => {
    const { startProvider, flush, HOUR } = await import('../helpers.js');
    const frames: string[] = [];
    const types = new Set<string>();
    const { clock, script, provider } = await startProvider(
      {
        breakerThreshold: 2,
        inspect: (event) => {
          types.add(event.type);
          frames.push(frame(event));
        },
      },
      minted(HOUR),
    );
    clock.advance(0.9 * HOUR);
    await provider.currentToken(); // background refresh
    script.last.reject(axiosStyleError());
    await flush();
    clock.advance(0.2 * HOUR); // expired: callers wait on a mint that fails and opens the breaker
    const waiting = provider.currentToken().catch((error: unknown) => error);
    script.last.reject(axiosStyleError());
    expect(await waiting).toBeInstanceOf(Error);
    await flush();
    clock.advance(60_000); // half-open probe succeeds
    const probe = provider.currentToken();
    script.last.resolve(minted(clock.now() + HOUR));
    await probe;
    await flush();
    await provider.stop();
    // the event types that carry the error: every one of them was seen and walked
    for (const type of ['@xstate.action', '@xstate.actor', '@xstate.event', '@xstate.microstep', '@xstate.snapshot']) expect(types).toContain(type);
    expect(frames.some((text) => text.includes('Request failed with status code 503'))).toBe(true);
    expect(frames.some((text) => text.includes('"code":"ERR_BAD_RESPONSE"'))).toBe(true);
    for (const text of frames) {
      expect(text.includes(CLIENT_SECRET)).toBe(false);
      expect(text.includes(base64Secret)).toBe(false);
      expect(text.includes(TOKEN_SECRET)).toBe(false);
    }
  });
});
