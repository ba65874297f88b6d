import { chromium, type Browser } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { findChromium } from '../browser/find-chromium.js';
import { startPageServer } from '../browser/server.js';
import { INSPECTED_SECRET } from '../inspector/scenario.js';

const teardown: Array<() => unknown> = [];
afterEach(async () => {
  while (teardown.length > 0) await teardown.pop()!();
});

function dedupe(values: string[]): string[] {
  return values.filter((value, index) => index === 0 || value !== values[index - 1]);
}

describe('the Stately browser inspector in headless Chromium', () => {
  it('receives the live states of a bundled provider and never the secret', { timeout: 60_000 }, async () => {
    const found = await findChromium();
    console.log(`browser: ${found.source}`);
    const server = await startPageServer();
    teardown.push(() => server.close());
    const browser: Browser = await chromium.launch(found.options);
    teardown.push(() => browser.close());
    const page = await browser.newPage();
    await page.goto(`${server.origin}/app.html`);
    await page.waitForFunction(() => window.done === true || window.failure !== undefined, undefined, { timeout: 30_000 });
    expect(await page.evaluate(() => window.failure)).toBeUndefined();
    const lived = (await page.evaluate(() => window.lived!)).map((value) => {
      const { validity, breaker } = JSON.parse(value) as { validity: string; breaker: string };
      return JSON.stringify({ validity, breaker });
    });

    const receiver = page.frames().find((frame) => frame.url().endsWith('/receiver.html'))!;
    const seen = async () => {
      const received = (await receiver.evaluate(() => window.received)).map(
        (text) => JSON.parse(text) as { type: string; name?: string; sessionId: string; snapshot?: { value?: { validity: string; breaker: string } } },
      );
      const sessions = new Set(received.filter((event) => event.type === '@xstate.actor' && event.name === 'credential').map((event) => event.sessionId));
      return dedupe(
        received
          .filter((event) => event.type === '@xstate.snapshot' && sessions.has(event.sessionId) && event.snapshot?.value)
          .map((event) => JSON.stringify({ validity: event.snapshot!.value!.validity, breaker: event.snapshot!.value!.breaker })),
      );
    };
    const expected = dedupe(lived);
    expect(expected.length).toBeGreaterThan(8);
    // construction is the statechart's first attempt: no token yet (refused), expired, then fresh
    const construction = [expected[0]!, JSON.stringify({ validity: 'expired', breaker: 'closed' })];
    await expect.poll(seen, { timeout: 15_000, interval: 50 }).toEqual([...construction, ...expected]);
    const posted = await receiver.evaluate(() => window.posted);
    expect(posted.length).toBeGreaterThan(0);
    for (const message of posted) expect(message.includes(INSPECTED_SECRET)).toBe(false);
  });
});
