/**
 * `credential-actor/browser` in headless Chromium (playwright-core; `@sparticuz/chromium` when no
 * browser is installed): several pages of one browser context, the tabs of one origin on
 * 127.0.0.1, each a single-page app minting with the rotating refresh-token grant from the real
 * oidc-provider (rotation on, reuse detection on: a refresh token used twice revokes the family).
 * Real time, bounded: each case takes seconds, and the cases run at once, each with its own issuer, server and context.
 */
import { spawn } from 'node:child_process';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, it, type TestContext } from 'vitest';
import { startTokenServer, type TokenServer } from '../../examples/token-server.js';
import { findChromium } from '../browser/find-chromium.js';
import type { TabStats } from '../browser-tabs/tab.js';
import { fingerprintOf, startTabsServer } from '../browser-tabs/server.js';

let browser: Browser;

beforeAll(async () => {
  const found = await findChromium();
  console.log(`browser: ${found.source}`);
  // Tabs in their own renderer processes, as a user's are, and the same-origin policy on: the
  // npm-shipped Chromium's Lambda defaults (one process, web security off) are dropped here.
  const args = (found.options.args ?? []).filter((arg) => arg !== '--single-process' && arg !== '--disable-web-security');
  browser = await chromium.launch({ ...found.options, args });
}, 120_000);
afterAll(async () => {
  await browser?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A JWT in clear: two base64url segments of JSON (each begins `eyJ`, for `{"`) joined by a dot. The
 * sealed store is base64url too, so a bare `eyJ` turns up in it by chance (about one run in 250).
 */
const JWT = /eyJ[\w-]+\.eyJ[\w-]+\./;

/** The access tokens' lifetimes: 2 seconds, as the issue asks; 60 seconds, for the cases about start-up. */
const ACCESS_TOKEN_SECONDS = { fast: 2, slow: 60 } as const;

/**
 * A browser context (one profile: its tabs share locks, channels and storage), its own issuer and
 * the tabs' server, all closed when the test ends. Each case has its own, so the cases run at once
 * (`describe.concurrent`): most of each is real time spent waiting (token windows, grant deadlines,
 * a paused tab), and one after another they took a minute and a half of the suite's time.
 */
async function session(test: TestContext, lifetime: keyof typeof ACCESS_TOKEN_SECONDS, pageSettings: Record<string, string> = {}) {
  // a case's own expect: vitest tells concurrent cases' assertions and polls apart by it
  const { expect } = test;
  const issuer: TokenServer = await startTokenServer({
    clientId: 'service',
    clientSecret: 'service-secret',
    accessTokenTtlSeconds: ACCESS_TOKEN_SECONDS[lifetime],
    refreshTokens: true,
    publicClientId: 'spa',
  });
  test.onTestFinished(() => issuer.stop());
  const server = await startTabsServer(issuer);
  test.onTestFinished(() => server.close());
  const context: BrowserContext = await browser.newContext();
  test.onTestFinished(() => context.close());
  const refreshToken = await issuer.issueRefreshToken('spa'); // the user signed in
  const before = { invalid: issuer.invalidGrants, revoked: issuer.grantsRevoked };
  const open = async (tab: string, options: { coordinated?: boolean; persist?: boolean } = {}): Promise<Page> => {
    const page = await context.newPage();
    const hash = new URLSearchParams({ tab, rt: refreshToken, coordinated: options.coordinated === false ? '0' : '1', persist: options.persist === true ? '1' : '0', ...pageSettings });
    await page.goto(`${server.origin}/tab.html#${hash}`);
    await page.waitForFunction(() => window.tabReady === true || window.tabFailure !== undefined);
    expect(await page.evaluate(() => window.tabFailure)).toBeUndefined();
    return page;
  };
  /** No refresh token was sent twice, and the issuer revoked nothing. */
  const expectNoReplay = () => {
    const grants = server.state.grants;
    expect(new Set(grants.map((grant) => grant.refreshToken)).size).toBe(grants.length);
    expect(issuer.invalidGrants - before.invalid).toBe(0);
    expect(issuer.grantsRevoked - before.revoked).toBe(0);
  };
  /** Waits until the next grant a tab sends is held at the token endpoint; returns it. */
  const holdNextGrant = async () => {
    server.state.holdNextGrant = true;
    await expect.poll(() => server.state.held, { timeout: 10_000, interval: 20 }).not.toBeNull();
    return server.state.held!;
  };
  /** A page's first token, once it has one (and no failure). */
  const firstToken = async (page: Page): Promise<string> => {
    await page.waitForFunction(() => (window.tabStats?.tokens.length ?? 0) > 0 || (window.tabStats?.failures.length ?? 0) > 0, undefined, { timeout: 15_000 });
    const stats = await statsOf(page);
    expect(stats.failures).toEqual([]);
    return stats.tokens[0]!;
  };
  /** Until every page has a token newer than it had (at most `timeoutMs`). */
  const allServedAgain = async (pages: Page[], timeoutMs = 15_000) => {
    const counts = await Promise.all(pages.map(async (page) => (await statsOf(page)).tokens.length));
    await expect.poll(async () => (await Promise.all(pages.map(statsOf))).every((stats, index) => stats.tokens.length > counts[index]!), { timeout: timeoutMs, interval: 100 }).toBe(true);
  };
  return { issuer, server, context, open, expectNoReplay, holdNextGrant, before, firstToken, allServedAgain };
}

const statsOf = (page: Page): Promise<TabStats> => page.evaluate(() => window.tabStats!);

describe.concurrent('browser tabs share one token (Chromium, oidc-provider with rotation and reuse detection)', () => {
  it('the control: the same tabs without the coordination trip reuse detection', { timeout: 60_000 }, async (test) => {
    const { expect } = test;
    const { issuer, open, before } = await session(test, 'fast');
    const tabs = await Promise.all(['1', '2', '3', '4'].map((tab) => open(tab, { coordinated: false })));
    // ends as soon as the issuer detected the reuse (10 s at most)
    await expect.poll(() => issuer.invalidGrants - before.invalid + (issuer.grantsRevoked - before.revoked), { timeout: 10_000, interval: 50 }).toBeGreaterThan(0);
    await Promise.all(tabs.map((page) => page.evaluate(() => window.stopTab!())));
  });

  it('a tab closed mid-grant: the others wait out its grant’s deadline, never send its refresh token, and are told to sign in again', { timeout: 60_000 }, async (test) => {
    const { expect } = test;
    const { open, holdNextGrant, expectNoReplay, firstToken } = await session(test, 'fast', { grantTimeoutMs: '3000' });
    const tabs = new Map(await Promise.all(['a', 'b', 'c'].map(async (tab) => [tab, await open(tab)] as const)));
    await Promise.all([...tabs.values()].map(firstToken));
    const held = await holdNextGrant();
    await tabs.get(held.tab)!.close(); // the browser releases its lock; it says nothing more
    tabs.delete(held.tab);
    await held.release('forward'); // the grant reached the issuer: that refresh token is spent
    const survivors = [...tabs.values()];
    await expect.poll(async () => (await Promise.all(survivors.map(statsOf))).every((tab) => tab.failures.includes('REFRESH_TOKEN_UNUSABLE')), { timeout: 15_000, interval: 100 }).toBe(true);
    expectNoReplay();
  });

  it('a tab opened while a grant is in flight waits for its answer and takes the new token: nobody sends the refresh token in flight', { timeout: 60_000 }, async (test) => {
    const { expect } = test;
    const { open, holdNextGrant, expectNoReplay, server, firstToken, allServedAgain } = await session(test, 'fast', { grantTimeoutMs: '10000' });
    const first = await open('first');
    await firstToken(first);
    const held = await holdNextGrant();
    const late = await open('late');
    await sleep(500); // the late tab asked, heard that a grant is in flight, and waits
    const grantsWhileHeld = server.state.grants.length;
    await held.release('forward');
    await allServedAgain([first]);
    await firstToken(late);
    expect(server.state.grants.length).toBeGreaterThanOrEqual(grantsWhileHeld);
    expectNoReplay();
  });

  it('the holder reloaded mid-grant: its new page and the other tabs never send the spent refresh token', { timeout: 60_000 }, async (test) => {
    const { expect } = test;
    const { open, holdNextGrant, expectNoReplay, server, firstToken } = await session(test, 'fast', { grantTimeoutMs: '3000' });
    const tabs = new Map(await Promise.all(['a', 'b'].map(async (tab) => [tab, await open(tab)] as const)));
    await Promise.all([...tabs.values()].map(firstToken));
    const held = await holdNextGrant();
    const holder = tabs.get(held.tab)!;
    await holder.reload(); // a new page of the same tab; the old one, and its grant, are gone
    await holder.waitForFunction(() => window.tabReady === true);
    await held.release('forward'); // the grant reaches the issuer (its refresh token is spent); its answer goes nowhere
    const pages = [...tabs.values()];
    // once the grant's deadline passes, every tab is told to sign in again: nobody sends the spent token
    await expect.poll(async () => (await Promise.all(pages.map(statsOf))).every((tab) => tab.failures.includes('REFRESH_TOKEN_UNUSABLE')), { timeout: 15_000, interval: 100 }).toBe(true);
    expect(server.state.grants.filter((grant) => grant.refreshToken === fingerprintOf(server.state.lastRefreshToken!))).toHaveLength(1);
    expectNoReplay();
  });

  it('an issuer outage: one breaker for the whole origin, about breakerThreshold attempts then one probe per cooldown from all tabs together', { timeout: 60_000 }, async (test) => {
    const { expect } = test;
    const { server, open, expectNoReplay, firstToken, allServedAgain } = await session(test, 'fast');
    const tabs = await Promise.all(['a', 'b', 'c', 'd'].map((tab) => open(tab)));
    await Promise.all(tabs.map(firstToken));
    server.state.unavailable = true;
    const outageMs = 4_000;
    await sleep(outageMs);
    const attempts = server.state.refusedWhileDown;
    server.state.unavailable = false;
    await allServedAgain(tabs);
    // breakerThreshold 3, cooldown 1 s (the tab page's), a Retry-After of 1 s: one origin's worth, not four
    console.log(`outage of ${outageMs} ms across 4 tabs: ${attempts} attempts reached the token endpoint`);
    expect(attempts).toBeLessThanOrEqual(3 + Math.ceil(outageMs / 1_000) + 2);
    expectNoReplay();
  });

  it('a new sign-in in one tab replaces the family in every tab: the old family is never used again', { timeout: 60_000 }, async (test) => {
    const { expect } = test;
    const { issuer, server, open, expectNoReplay, firstToken, allServedAgain } = await session(test, 'fast');
    const tabs = await Promise.all(['a', 'b', 'c'].map((tab) => open(tab)));
    await Promise.all(tabs.map(firstToken));
    const signedIn = await issuer.issueRefreshToken('spa'); // the user signs in again, in tab a
    const grantsBefore = server.state.grants.length;
    expect(await tabs[0]!.evaluate((token) => window.signInTab!(token), signedIn)).toBe('ok');
    // signIn resolved by now, and the test heard of it later still (a tab may already have used the
    // new refresh token meanwhile): counted from before the call, the grants are an old-family one
    // in flight at most, then the new family's first. The one in flight was decided (its tab marked
    // the record) before the sign-in replaced the family, but the issuer may see it arrive after
    // signIn resolved: with the cores busy a tab's request left its renderer after the sign-in's
    // answer had reached the test (91 ms from arrival to answer). One grant at a time across the
    // tabs, so at most one such; two would be the old family used after the sign-in.
    const signedInBy = Date.now();
    await allServedAgain(tabs);
    await sleep(2_000);
    const after = server.state.grants.slice(grantsBefore);
    const first = after.findIndex((grant) => grant.refreshToken === fingerprintOf(signedIn));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(after.slice(0, first).filter((grant) => grant.at >= signedInBy).length).toBeLessThanOrEqual(1);
    expect(after.length - first).toBeGreaterThanOrEqual(2); // the new family rotates from then on
    for (const stats of await Promise.all(tabs.map(statsOf))) expect(stats.failures).toEqual([]);
    expectNoReplay();
  });

  it('invalid_grant (the family revoked by a replay) is final: every tab is told to sign in again at once, the issuer asked once', { timeout: 60_000 }, async (test) => {
    const { expect } = test;
    const { issuer, server, open, firstToken } = await session(test, 'fast');
    const tabs = await Promise.all(['a', 'b', 'c'].map((tab) => open(tab)));
    await Promise.all(tabs.map(firstToken));
    const invalidBefore = issuer.invalidGrants;
    await server.replay(server.state.lastRefreshToken!); // a thief replays a spent refresh token: the family is revoked
    await expect.poll(async () => (await Promise.all(tabs.map(statsOf))).every((tab) => tab.failures.includes('REFRESH_TOKEN_UNUSABLE')), { timeout: 15_000, interval: 100 }).toBe(true);
    await sleep(2_000);
    // one grant met invalid_grant (the thief's replay is the other); no tab tried again
    expect(issuer.invalidGrants - invalidBefore).toBe(2);
  });

  it('a tab opened later adopts the current token without a grant; with persistence off no token is stored, only the refresh token’s version', { timeout: 60_000 }, async (test) => {
    const { expect } = test;
    const { server, open, firstToken } = await session(test, 'slow');
    const first = await open('first');
    const token = await firstToken(first);
    const grants = server.state.grants.length;
    const late = await open('late');
    expect(await firstToken(late)).toBe(token);
    expect(server.state.grants.length).toBe(grants);
    // no database; in localStorage only the refresh token's version marker, which names no token
    const stored = await late.evaluate(async () => ({ databases: (await indexedDB.databases()).length, keys: Object.keys(localStorage), values: Object.values(localStorage) }));
    expect(stored.databases).toBe(0);
    expect(stored.keys).toEqual(['credential-actor:orders-api:refresh-token-version']);
    expect(Object.keys(JSON.parse(stored.values[0]!) as object).sort()).toEqual(['family', 'formerFamilies', 'generation', 'grant', 'seq', 'signedInAt', 'status']);
    expect(stored.values[0]).not.toMatch(JWT);
  });

  it('a reload with persistence on adopts the stored token, sealed in IndexedDB; another origin sees none of it', { timeout: 60_000 }, async (test) => {
    const { expect } = test;
    const { server, open, context, firstToken } = await session(test, 'slow');
    const page = await open('persisting', { persist: true });
    const token = await firstToken(page);
    const grants = server.state.grants.length;
    await page.reload();
    await page.waitForFunction(() => window.tabReady === true);
    expect(await firstToken(page)).toBe(token);
    expect(server.state.grants.length).toBe(grants);
    // stored sealed: no token or refresh token in clear in the database
    const stored = await page.evaluate(
      () =>
        new Promise<string>((resolve, reject) => {
          const opening = indexedDB.open('credential-actor');
          opening.onerror = () => reject(opening.error);
          opening.onsuccess = () => {
            const read = opening.result.transaction('tokens').objectStore('tokens').getAll();
            read.onsuccess = () => resolve(JSON.stringify(read.result));
          };
        }),
    );
    expect(stored.length).toBeGreaterThan(100);
    expect(stored).not.toMatch(JWT);
    const other = await context.newPage();
    await other.goto(`${server.otherOrigin}/other.html`);
    await other.waitForFunction(() => window.databases !== undefined);
    const another = await open('another', { persist: true }); // the tabs talk: a 'want', and the answers
    expect(await firstToken(another)).toBe(token);
    expect(await other.evaluate(() => ({ overheard: window.overheard, databases: window.databases }))).toEqual({ overheard: [], databases: [] });
  });

  it('npm run demo -- --browser serves two tabs that share one token, live', { timeout: 60_000 }, async (test) => {
    const { expect } = test;
    const demo = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--browser', '--duration', '12'], { stdio: ['ignore', 'pipe', 'pipe'] });
    test.onTestFinished(() => {
      demo.kill('SIGKILL');
    });
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
    await expect.poll(() => /http:\/\/127\.0\.0\.1:\d+\//.test(output), { timeout: 30_000, interval: 100 }).toBe(true);
    const context = await browser.newContext();
    test.onTestFinished(() => context.close());
    const page = await context.newPage();
    await page.goto(/http:\/\/127\.0\.0\.1:\d+\//.exec(output)![0]);
    const tokens = async () =>
      Promise.all(
        page
          .frames()
          .slice(1)
          .map((frame) => frame.evaluate(() => document.getElementById('token')?.textContent ?? '')),
      );
    await expect
      .poll(
        async () => {
          const [left, right] = await tokens();
          return /^[0-9a-f]{8}…/.test(left ?? '') && left === right;
        },
        { timeout: 15_000, interval: 100 },
      )
      .toBe(true);
    // the page reads the count every 500 ms
    await expect.poll(async () => Number(await page.evaluate(() => document.getElementById('grants')!.textContent)), { timeout: 5_000, interval: 100 }).toBeGreaterThanOrEqual(1);
    expect(await exited).toBe(0);
    expect(output).toMatch(/\d+ grants, 0 refused, 0 token families revoked\./);
  });

  // Alone, one after the other: a tab paused in the debugger stops its renderer process, and under
  // the load of other cases at once Chromium may give pages of one site a process to share; the
  // network taken away and given back timed out twice in runs beside other cases, never alone; and
  // beside other cases with four busy loops, the four tabs once made three grants sooner than their
  // windows, one more than they were allowed (see the case).
  describe.sequential('alone', () => {
    // Six seconds, about eight windows: that the protocol works in a real browser. Many windows under
    // closes, pauses and lost messages are the seeded simulation's job (test/simulation/tabs.sim.test.ts).
    it('4 tabs, 2 s access tokens, 6 s: about one grant per refresh window, none refused, no refresh token sent twice, no expired token sent', { timeout: 60_000 }, async (test) => {
      const { expect } = test;
      const { server, open, expectNoReplay, firstToken } = await session(test, 'fast');
      const tabs = await Promise.all(['1', '2', '3', '4'].map((tab) => open(tab)));
      await Promise.all(tabs.map(firstToken));
      const startedAt = Date.now();
      await sleep(6_000);
      const seconds = (Date.now() - startedAt) / 1_000;
      const stats = await Promise.all(tabs.map(statsOf));
      await Promise.all(tabs.map((page) => page.evaluate(() => window.stopTab!())));
      // refreshAt 0.4: a token's refresh window is 0.4 of the life it had when it landed. The issuer
      // writes `exp` from an issue time in whole seconds, so a 2 s token lives 1 to 2 s: the window is
      // read from each grant's own token (its expiry as the tab's mint reads it), from when the server
      // answered it; the tab's token lands a little later, so its window ends later still, however
      // slow the machine. A grant sooner than its predecessor's window is an extra one. The last grant
      // may still be in flight as the tabs stop.
      const grants = server.state.grants;
      const early = grants.slice(1).filter((grant, index) => {
        const before = grants[index]!;
        return before.answeredAt !== null && grant.at - before.answeredAt < 0.4 * before.lifetimeMs! - 50;
      });
      console.log(`4 tabs, ${seconds.toFixed(1)} s: ${grants.length} grants, ${early.length} sooner than the window of the one before; ${stats.map((tab) => tab.sent).join(' + ')} API calls`);
      expect(grants.slice(0, -1).every((grant) => grant.lifetimeMs !== null)).toBe(true);
      // A grant's record reaches a tab a moment before its token; a tab due in that moment now waits
      // for the token (up to twice adoptWaitMs; test/simulation/tabs.sim.test.ts, "one grant per refresh
      // window"), which before showed one or two here on a slow machine. A hand-over slower than that
      // wait, with the cores busy, may still show one; every tab minting in turn under the lock, the
      // bug this guards, shows three a window (11 in 8 s, 8 in 6 s)
      expect(early.length).toBeLessThanOrEqual(2);
      expect(server.state.grants.length).toBeGreaterThanOrEqual(Math.floor(seconds / 2)); // the family kept rotating all along
      for (const tab of stats) {
        expect(tab.failures).toEqual([]);
        expect(tab.expiredSent).toBe(0);
      }
      expect(server.state.apiRejected).toEqual([]);
      expectNoReplay();
    });

    it('offline, then a refused connection: failures that say so, nobody signed out, everyone served again once the network is back', { timeout: 60_000 }, async (test) => {
      const { expect } = test;
      const { context, server, open, expectNoReplay, firstToken, allServedAgain } = await session(test, 'fast');
      const tabs = await Promise.all(['a', 'b', 'c'].map((tab) => open(tab)));
      await Promise.all(tabs.map(firstToken));
      await context.setOffline(true);
      await sleep(3_000); // the 2 s tokens expired
      await context.setOffline(false);
      await allServedAgain(tabs);
      server.state.refusing = true;
      await sleep(3_000);
      server.state.refusing = false;
      await allServedAgain(tabs);
      const failures = (await Promise.all(tabs.map(statsOf))).flatMap((tab) => tab.failures);
      expect(failures.length).toBeGreaterThan(0); // the tokens did expire while the network was down
      expect(failures.filter((failure) => failure === 'REFRESH_TOKEN_UNUSABLE')).toEqual([]);
      expectNoReplay();
    });

    it('the holder paused mid-grant for longer than mintTimeoutMs while its answer came: on resume the answer wins, nobody is signed out', { timeout: 60_000 }, async (test) => {
      const { expect } = test;
      const { context, open, holdNextGrant, expectNoReplay, firstToken, allServedAgain } = await session(test, 'fast', { grantTimeoutMs: '20000' });
      const tabs = new Map(await Promise.all(['a', 'b', 'c'].map(async (tab) => [tab, await open(tab)] as const)));
      await Promise.all([...tabs.values()].map(firstToken));
      const held = await holdNextGrant();
      const holder = tabs.get(held.tab)!;
      const cdp = await context.newCDPSession(holder);
      await cdp.send('Debugger.enable');
      await cdp.send('Debugger.pause');
      await held.release('forward'); // the answer reaches the paused page
      await sleep(6_500); // longer than the tabs' mintTimeoutMs (5 s)
      await cdp.send('Debugger.resume');
      await cdp.send('Debugger.disable');
      await allServedAgain([...tabs.values()]);
      for (const stats of await Promise.all([...tabs.values()].map(statsOf))) expect(stats.failures.filter((failure) => failure === 'REFRESH_TOKEN_UNUSABLE')).toEqual([]);
      expectNoReplay();
    });

    it('a frozen tab stops no one: the others keep one grant per window; resumed, it adopts the current token', { timeout: 60_000 }, async (test) => {
      const { expect } = test;
      const { server, context, open, expectNoReplay, firstToken } = await session(test, 'fast');
      const tabs = new Map(await Promise.all(['a', 'b', 'c'].map(async (tab) => [tab, await open(tab)] as const)));
      await Promise.all([...tabs.values()].map(firstToken));
      await sleep(1_000);
      // Freeze a tab that is not the one minting (a frozen holder mid-grant is the case above), right
      // after a grant is answered, so that the next grant (a window later) cannot have started yet, and
      // one that is not holding the lock: a tab frozen in the moment it holds it (reading the record,
      // marking a grant) stalls the others until it resumes, as docs/browser-tabs.md says. A frozen tab
      // can neither take nor let go of the lock, so the lock seen free once after the freeze proves it
      // holds none; else it is resumed and another moment is tried.
      const freeze = async () => {
        const grantsBefore = server.state.grants.length;
        await expect.poll(() => server.state.grants.filter((grant) => grant.answeredAt !== null).length, { timeout: 10_000, interval: 5 }).toBeGreaterThan(grantsBefore);
        const minting = server.state.grants.at(-1)!.tab;
        const [frozenName, frozen] = [...tabs].find(([name]) => name !== minting)!;
        // paused in the debugger: its script runs no more, as in a frozen tab or one whose main thread hangs
        const cdp = await context.newCDPSession(frozen);
        await cdp.send('Debugger.enable');
        await cdp.send('Debugger.pause');
        const watcher = tabs.get(minting)!;
        const lockSeenFree = await watcher.evaluate(async () => {
          for (const until = Date.now() + 2_000; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 5))) {
            if ((await navigator.locks.query()).held?.length === 0) return true;
          }
          return false;
        });
        return { minting, frozenName, frozen, cdp, lockSeenFree };
      };
      let frozenAt = await freeze();
      for (let attempt = 1; !frozenAt.lockSeenFree && attempt < 3; attempt++) {
        console.log(`frozen tab: ${frozenAt.frozenName} held the lock when frozen; resumed, another moment tried`);
        await frozenAt.cdp.send('Debugger.resume');
        await frozenAt.cdp.send('Debugger.disable');
        frozenAt = await freeze();
      }
      const { minting, frozenName, frozen, cdp } = frozenAt;
      expect(frozenAt.lockSeenFree, 'three freezes, each while the frozen tab held the lock').toBe(true);
      const grantsAtFreeze = server.state.grants.length;
      const live = [...tabs].filter(([name]) => name !== frozenName).map(([, page]) => page);
      const sentAtFreeze = await Promise.all(live.map(async (page) => (await statsOf(page)).sent));
      await sleep(500); // a request already on its way when the tab froze
      const frozenCalls = server.state.apiCallsByTab.get(frozenName);
      await sleep(4_000);
      expect(server.state.apiCallsByTab.get(frozenName)).toBe(frozenCalls); // it was frozen: it sent nothing
      const sinceFreeze = server.state.grants.slice(grantsAtFreeze).map(({ tab, at, answeredAt }) => ({ tab, at, answeredAt }));
      // about one a 0.8 s window; the message says who granted, so a failure says whether the frozen tab held the lock
      expect(
        sinceFreeze.length,
        JSON.stringify({ frozenName, minting, grantsAtFreeze: server.state.grants.slice(Math.max(0, grantsAtFreeze - 2), grantsAtFreeze), sinceFreeze }),
      ).toBeGreaterThanOrEqual(3);
      expect(sinceFreeze.every(({ tab }) => tab !== frozenName)).toBe(true);
      const liveStats = await Promise.all(live.map(statsOf));
      liveStats.forEach((tab, index) => {
        expect(tab.failures, JSON.stringify(tab)).toEqual([]);
        expect(tab.expiredSent).toBe(0);
        expect(tab.sent - sentAtFreeze[index]!).toBeGreaterThan(15);
      });
      await cdp.send('Debugger.resume');
      await cdp.send('Debugger.disable');
      const tokensAtThaw = (await statsOf(frozen)).tokens.length;
      await expect.poll(async () => (await statsOf(frozen)).tokens.length, { timeout: 10_000, interval: 100 }).toBeGreaterThan(tokensAtThaw);
      // it may have frozen between a token's answer and its send: that one request goes out with the
      // token it held, now expired (no library can stop it); every token served after the thaw is current
      expect((await statsOf(frozen)).expiredServed).toBe(0);
      expect((await statsOf(frozen)).expiredSent).toBeLessThanOrEqual(1);
      expect((await statsOf(frozen)).failures).toEqual([]);
      expectNoReplay();
    });
  });
});
