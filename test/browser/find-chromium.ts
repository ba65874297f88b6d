import { existsSync } from 'node:fs';
import type { LaunchOptions } from 'playwright-core';

/** Flags every headless run here needs: root in a container, no GPU, no calls home on a closed network. */
const COMMON_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

/** Where a Chrome or Chromium already on the machine usually lives. */
const USUAL_PATHS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/opt/google/chrome/chrome',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
];

/** What launches, and where it came from (printed by the test, so a run says which browser it used). */
export interface FoundChromium {
  readonly source: string;
  readonly options: LaunchOptions;
}

/**
 * A headless Chromium for the browser tests, found in this order:
 * 1. `CHROMIUM_PATH`, when set (it must exist: a wrong path is an error, not a fallback);
 * 2. a Chrome or Chromium already on the machine, at the usual paths;
 * 3. the Chromium that ships inside the `@sparticuz/chromium` npm package (Linux x64), so that
 *    `npm ci` alone provides one. It unpacks itself into the temp directory on first use.
 * (Playwright's own `channel: 'chrome'` resolves to the same usual paths on Linux.)
 */
export async function findChromium(): Promise<FoundChromium> {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist`);
    return { source: `CHROMIUM_PATH (${fromEnv})`, options: { executablePath: fromEnv, args: COMMON_ARGS } };
  }
  const installed = USUAL_PATHS.find((path) => existsSync(path));
  if (installed !== undefined) return { source: installed, options: { executablePath: installed, args: COMMON_ARGS } };
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`no Chrome or Chromium found: install one or set CHROMIUM_PATH (the npm-shipped Chromium is Linux x64 only, this is ${process.platform}/${process.arch})`);
  }
  const { default: chromium } = await import('@sparticuz/chromium');
  const executablePath = await chromium.executablePath();
  return {
    source: `@sparticuz/chromium (${executablePath})`,
    options: { executablePath, args: [...new Set([...chromium.args, ...COMMON_ARGS])] },
  };
}
