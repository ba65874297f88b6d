/**
 * The built-in scenario the timeline picture shows: six hours of a proactive provider with
 * 15-minute tokens, a request every 30 s, and a 20-minute issuer outage from 2:30 to 2:50.
 * Runs on a ManualClock, so it takes milliseconds and draws the same picture every time.
 */
import { createCredentialProvider, type CredentialProviderOptions } from '../src/index.js';
import { ManualClock } from '../src/testing/index.js';
import { recordTimeline, type TimelineRecording } from '../src/timeline/index.js';

const MINUTE = 60_000;
export const OUTAGE_SCENARIO = {
  start: Date.UTC(2026, 0, 1),
  durationMs: 6 * 60 * MINUTE,
  tokenLifetimeMs: 15 * MINUTE,
  issuerLatencyMs: 300,
  requestEveryMs: 30_000,
  outage: { fromMs: 150 * MINUTE, toMs: 170 * MINUTE },
} as const;

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Moves the clock to `target` one timer at a time, letting promises settle after each. */
export async function runClockUntil(clock: ManualClock, target: number): Promise<void> {
  for (let next = clock.nextTimerAt(); next !== null && next <= target; next = clock.nextTimerAt()) {
    clock.runNext();
    await settle();
  }
  clock.set(target);
  await settle();
}

/** Runs the scenario and returns its recording. */
export async function runOutageScenario(options: Partial<CredentialProviderOptions> = {}): Promise<TimelineRecording> {
  const { start, durationMs, tokenLifetimeMs, issuerLatencyMs, requestEveryMs, outage } = OUTAGE_SCENARIO;
  const clock = new ManualClock(start);
  let issued = 0;
  const inOutage = (at: number) => at - start >= outage.fromMs && at - start < outage.toMs;
  const constructing = createCredentialProvider({
    refresh: 'proactive',
    clock,
    ...options,
    mint: () =>
      new Promise((resolve, reject) => {
        // a real mint would be fetch(); on a ManualClock its latency is a timer too
        clock.setTimeout(() => {
          if (inOutage(clock.now())) reject(new Error('issuer unavailable (503)'));
          else resolve({ secret: `scenario-token-${++issued}`, expiresAt: clock.now() + tokenLifetimeMs });
        }, issuerLatencyMs);
      }),
  });
  await runClockUntil(clock, start + issuerLatencyMs);
  const provider = await constructing;
  const recorder = recordTimeline(provider, clock);
  for (let at = start + requestEveryMs; at <= start + durationMs; at += requestEveryMs) {
    await runClockUntil(clock, at);
    recorder.currentToken().catch(() => undefined);
    await settle();
  }
  await provider.stop();
  return recorder.stop();
}
