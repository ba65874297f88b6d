import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAX_TIMER_DELAY_MS, systemClock } from '../../src/index.js';
import { armTimer, disarmTimer, type Clock, type TimerClock } from '../../src/clock.js';
import { ManualClock } from '../../src/testing/index.js';
import { HOUR, outcome, secretOf, startProvider, stateOf } from '../helpers.js';

const YEAR = 365 * 24 * HOUR;

describe('ManualClock', () => {
  it('fires due timers in deadline order, reading each deadline while it runs', () => {
    const clock = new ManualClock(100);
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 20);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 10);
    clock.setTimeout(() => fired.push(['a2', clock.now()]), 10);
    const cancelled = clock.setTimeout(() => fired.push(['x', clock.now()]), 5);
    clock.clearTimeout(cancelled);
    clock.advance(15);
    expect(fired).toEqual([
      ['a', 110],
      ['a2', 110],
    ]);
    expect(clock.now()).toBe(115);
    clock.set(200);
    expect(fired.at(-1)).toEqual(['b', 120]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('jump() moves the reading and makes pending timers late by as much', () => {
    const clock = new ManualClock(0);
    let firedAt: number | null = null;
    clock.setTimeout(() => (firedAt = clock.now()), 1_000);
    clock.jump(10_000);
    expect(firedAt).toBeNull();
    clock.advance(1_000);
    expect(firedAt).toBe(11_000);
  });

  it('handles stay valid across jump(), skip(), advance() and runNext(): a cleared timer never fires', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    const first = clock.setTimeout(() => fired.push('first'), 1_000);
    const second = clock.setTimeout(() => fired.push('second'), 2_000);
    const third = clock.setTimeout(() => fired.push('third'), 3_000);
    clock.jump(10_000);
    clock.clearTimeout(first);
    clock.skip(500);
    clock.jump(1);
    clock.clearTimeout(third);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(100_000);
    expect(fired).toEqual(['second']);
    clock.clearTimeout(second); // already fired: ignored
    expect(clock.pendingTimers).toBe(0);
  });

  it('a provider stopped after a jump leaves no timer, and a stale mint timeout never fails the next attempt', async () => {
    const { clock, script, provider } = await startProvider({ mintTimeoutMs: 10_000 });
    clock.set(HOUR + 1); // expired: a demand mint with its timeout
    const first = provider.currentToken();
    clock.jump(5_000); // timers late by 5 s
    script.last.resolve({ secret: 'second', expiresAt: 10 * HOUR });
    expect(secretOf(await first)).toBe('second');
    provider.invalidate();
    const next = provider.currentToken(); // a new attempt: its timeout is armed afresh
    clock.advance(9_000); // the first attempt's timeout (had it survived the jump) would fire here
    expect(script.last.signal.aborted).toBe(false);
    script.last.resolve({ secret: 'third', expiresAt: 10 * HOUR });
    expect(secretOf(await next)).toBe('third');
    await provider.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('skip() moves the reading and leaves due timers overdue until time moves again', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 1_000);
    clock.setTimeout(() => fired.push(clock.now()), 2_000);
    clock.skip(5_000);
    expect(fired).toEqual([]);
    expect(clock.runNext()).toBe(true);
    expect(fired).toEqual([5_000]);
    clock.advance(0);
    expect(fired).toEqual([5_000, 5_000]);
    expect(clock.runNext()).toBe(false);
  });

  it('runNext() fires only the earliest timer, moving time to its deadline', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('late'), 300);
    clock.setTimeout(() => fired.push('early'), 100);
    clock.runNext();
    expect(fired).toEqual(['early']);
    expect(clock.now()).toBe(100);
    expect(clock.nextTimerAt()).toBe(300);
  });
});

/** armTimer and disarmTimer on one clock, as XState's scheduler calls them. */
function timersOn(clock: Clock): TimerClock {
  return { setTimeout: (callback, ms) => armTimer(clock, callback, ms), clearTimeout: (handle) => disarmTimer(clock, handle) };
}

describe('armTimer() / disarmTimer()', () => {
  function recordingClock() {
    const armed: number[] = [];
    const inner = new ManualClock(0);
    const clock: Clock = {
      now: () => inner.now(),
      setTimeout: (callback, ms) => (armed.push(ms), inner.setTimeout(callback, ms)),
      clearTimeout: (handle) => inner.clearTimeout(handle),
    };
    return { armed, inner, timers: timersOn(clock) };
  }

  it('arms nothing for an infinite delay', () => {
    const { armed, timers } = recordingClock();
    timers.setTimeout(() => {}, Infinity);
    expect(armed).toEqual([]);
  });

  it('clamps a delay beyond 2^31-1 ms and re-arms until it has fully elapsed', () => {
    const { armed, inner, timers } = recordingClock();
    let fired = 0;
    timers.setTimeout(() => fired++, YEAR);
    expect(armed).toEqual([MAX_TIMER_DELAY_MS]);
    inner.advance(MAX_TIMER_DELAY_MS);
    expect(fired).toBe(0);
    inner.advance(YEAR - MAX_TIMER_DELAY_MS - 1);
    expect(fired).toBe(0);
    inner.advance(1);
    expect(fired).toBe(1);
    expect(armed.every((ms) => ms <= MAX_TIMER_DELAY_MS)).toBe(true);
  });

  it('cancels a re-armed timer through its first handle', () => {
    const { inner, timers } = recordingClock();
    let fired = 0;
    const handle = timers.setTimeout(() => fired++, YEAR);
    inner.advance(MAX_TIMER_DELAY_MS);
    timers.clearTimeout(handle);
    inner.advance(YEAR);
    expect(fired).toBe(0);
    expect(inner.pendingTimers).toBe(0);
  });
});

describe('time on the provider', () => {
  it('does not fire a one-year token’s refresh timer early', async () => {
    const { clock, script, provider } = await startProvider({ refresh: 'proactive' }, { secret: 'long', expiresAt: YEAR });
    clock.advance(MAX_TIMER_DELAY_MS + 1);
    expect(stateOf(provider).validity).toBe('fresh');
    expect(script.count).toBe(1);
    clock.set(0.8 * YEAR);
    expect(stateOf(provider).validity).toBe('refreshDue');
    expect(script.count).toBe(2);
    await provider.stop();
  });

  it('never serves a token at or past expiry after a clock jump, before any timer fired', async () => {
    const { clock, script, provider } = await startProvider();
    clock.jump(2 * HOUR); // a laptop waking up: timers are late
    expect(stateOf(provider).validity).toBe('fresh');
    const waiting = provider.currentToken();
    expect(script.count).toBe(2);
    expect(stateOf(provider)).toMatchObject({ validity: 'expired', flight: 'minting' });
    script.last.resolve({ secret: 'after-sleep', expiresAt: 3 * HOUR });
    expect(secretOf(await waiting)).toBe('after-sleep');
    await provider.stop();
  });

  it('serves and refreshes a due token after a jump into its refresh window', async () => {
    const { clock, script, provider } = await startProvider();
    clock.jump(0.9 * HOUR);
    expect(secretOf(await provider.currentToken())).toContain('-1');
    expect(script.count).toBe(2);
    expect(stateOf(provider).validity).toBe('refreshDue');
    await provider.stop();
  });

  it('handles the clock going backwards without serving an expired token', async () => {
    const { clock, script, provider } = await startProvider({ breakerThreshold: 1 });
    clock.advance(HOUR + 1);
    const failed = outcome(provider.currentToken());
    script.last.reject(new Error('down'));
    await failed;
    clock.set(HOUR - 1); // set back: the token is valid again by this clock, and is served
    expect(secretOf(await provider.currentToken())).toContain('-1');
    await provider.stop();
  });

  it('uses unref’d timers: a process holding a provider exits by itself', () => {
    const entry = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));
    const script = `
      const { createCredentialProvider } = await import(${JSON.stringify(entry)});
      const provider = await createCredentialProvider({
        mint: async () => ({ secret: 'x', expiresAt: Date.now() + 3_600_000 }),
        refresh: 'proactive',
      });
      await provider.currentToken();
      console.log('ready', provider.toJSON().validity);
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('ready fresh');
    expect(child.status).toBe(0);
    expect(child.signal).toBeNull();
  });

  it('systemClock reads Date.now and its timers are unref’d', () => {
    const before = Date.now();
    expect(systemClock.now()).toBeGreaterThanOrEqual(before);
    const handle = systemClock.setTimeout(() => {}, 60_000) as { hasRef(): boolean };
    expect(handle.hasRef()).toBe(false);
    systemClock.clearTimeout(handle);
  });
});

describe('ManualClock at scale', () => {
  it('fires 20,000 timers armed in any order by deadline, then arming order, with cancelled ones skipped', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    const handles: unknown[] = [];
    // deadlines in a scrambled order, many shared: ties must fire in arming order
    for (let index = 0; index < 20_000; index++) handles.push(clock.setTimeout(() => fired.push(index), (index * 7_919) % 1_000));
    for (let index = 0; index < 20_000; index += 3) clock.clearTimeout(handles[index]);
    expect(clock.pendingTimers).toBe(20_000 - Math.ceil(20_000 / 3));
    clock.advance(1_000);
    const expected = Array.from({ length: 20_000 }, (_, index) => index)
      .filter((index) => index % 3 !== 0)
      .sort((a, b) => ((a * 7_919) % 1_000) - ((b * 7_919) % 1_000) || a - b);
    expect(fired).toEqual(expected);
    expect(clock.pendingTimers).toBe(0);
  });
});
