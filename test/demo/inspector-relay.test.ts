import { createWebSocketInspector } from '@statelyai/inspect';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCredentialProvider, type CredentialProvider } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { startRecorder, startRelay } from '../inspector/relay.js';
import { INSPECTED_SECRET, runScenario, scenarioMint } from '../inspector/scenario.js';

const teardown: Array<() => unknown> = [];
afterEach(async () => {
  while (teardown.length > 0) await teardown.pop()!();
});

interface Frame {
  type: string;
  name?: string;
  sessionId: string;
  snapshot?: { value?: { validity: string; breaker: string } };
}

function dedupe(values: string[]): string[] {
  return values.filter((value, index) => index === 0 || value !== values[index - 1]);
}

describe('the Stately inspector over a WebSocket relay on loopback', () => {
  it('sees the credential actor live and never the secret', async () => {
    const relay = await startRelay();
    teardown.push(() => relay.close());
    const recorder = await startRecorder(relay.url);
    teardown.push(() => recorder.close());
    const inspector = createWebSocketInspector({ url: relay.url });
    teardown.push(() => inspector.stop());

    const clock = new ManualClock(0);
    const mint = scenarioMint();
    const pending = createCredentialProvider({ mint: mint.mint, clock, breakerThreshold: 2, inspect: inspector.inspect });
    mint.succeed(3_600_000);
    const provider: CredentialProvider = await pending;
    teardown.push(() => provider.stop());
    const lived: string[] = [JSON.stringify(provider.actor.getSnapshot().value)];
    provider.actor.subscribe((snapshot) => lived.push(JSON.stringify(snapshot.value)));

    await runScenario(provider, clock, mint);
    const expected = dedupe(lived.map((value) => JSON.stringify((({ validity, breaker }) => ({ validity, breaker }))(JSON.parse(value)))));
    expect(expected).toEqual(
      [
        ['fresh', 'closed'],
        ['refreshDue', 'closed'],
        ['fresh', 'closed'],
        ['refreshDue', 'closed'],
        ['expired', 'closed'],
        ['expired', 'open'],
        ['expired', 'halfOpen'],
        ['expired', 'open'],
        ['expired', 'halfOpen'],
        ['fresh', 'closed'],
      ].map(([validity, breaker]) => JSON.stringify({ validity, breaker })),
    );

    const frames = () => recorder.frames.map((frame) => JSON.parse(frame) as Frame);
    const credentialSessions = () =>
      frames()
        .filter((frame) => frame.type === '@xstate.actor' && frame.name === 'credential')
        .map((frame) => frame.sessionId);
    const seen = () =>
      dedupe(
        frames()
          .filter((frame) => frame.type === '@xstate.snapshot' && credentialSessions().includes(frame.sessionId) && frame.snapshot?.value)
          .map((frame) => JSON.stringify({ validity: frame.snapshot!.value!.validity, breaker: frame.snapshot!.value!.breaker })),
      );
    await vi.waitFor(() => expect(seen().at(-1)).toBe(expected.at(-1)), { timeout: 10_000, interval: 20 });
    expect(credentialSessions()).toHaveLength(1);
    // construction is the statechart's first attempt: no token yet (refused), expired, then fresh
    const construction = [expected[0]!, JSON.stringify({ validity: 'expired', breaker: 'closed' })];
    expect(seen()).toEqual([...construction, ...expected]);
    expect(frames().some((frame) => frame.type === '@xstate.actor' && frame.name === 'mint')).toBe(true);
    for (const frame of recorder.frames) expect(frame.includes(INSPECTED_SECRET)).toBe(false);
    // the failures still reach the inspector, as name, message and code
    expect(recorder.frames.join('\n')).toContain('issuer unavailable (503)');
  });
});
