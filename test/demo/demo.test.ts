import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { runNode } from '../run-node.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** `npm run demo -- <args>` in a process of its own, to its end (killed after `timeoutMs`): its exit code and what it printed. */
const demo = (args: string[], timeoutMs = 30_000) => runNode(['--import', 'tsx', 'examples/demo.ts', ...args], { cwd: root, timeoutMs });

// Every case runs at once: each demo starts its own servers on ports from the OS, and most of each
// run is real time (the demo's own duration); one after another they took 45 s of the suite's time.
describe.concurrent('npm run demo', () => {
  it('runs end to end on loopback, exits 0 and prints the summary (short run)', { timeout: 60_000 }, async ({ expect }) => {
    const out = mkdtempSync(join(tmpdir(), 'credential-actor-demo-'));
    try {
      const child = await demo(['--duration', '6', '--out', out], 45_000);
      expect(child.code, child.stderr).toBe(0);
      expect(child.stdout).toMatch(/expired tokens served: 0/);
      expect(child.stdout).toMatch(/0 refused by the API/);
      expect(child.stdout).toMatch(/mints +\d+ \(the token server issued \d+\)/);
      expect(readFileSync(join(out, 'timeline.svg'), 'utf8')).toMatch(/^<svg/);
    } finally {
      // the suite leaves nothing behind in the machine's temp directory
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe.concurrent('npm run demo: its command line', () => {
  it('--help prints the usage and exits 0', async ({ expect }) => {
    const child = await demo(['--help']);
    expect(child.code).toBe(0);
    expect(child.stdout).toMatch(/^Usage: npm run demo -- \[options\]/);
    expect(child.stdout).toMatch(/--fleet N/);
  });

  it.for<[string[], RegExp]>([
    [['--bogus'], /^demo: Unknown option '--bogus'/],
    [['--duration', '2'], /^demo: --duration must be a number of seconds >= 5, got "2"/],
    [['--tenants', 'many'], /^demo: --tenants must be a whole number >= 1, got "many"/],
  ])('%j: one line, the usage, exit code 2, no stack', async ([args, message], { expect }) => {
    const child = await demo(args);
    expect(child.code).toBe(2);
    expect(child.stderr).toMatch(message);
    expect(child.stderr).toMatch(/Usage: npm run demo/);
    expect(child.stderr).not.toMatch(/\n\s+at /);
    // oidc-provider's start-up warnings that do not apply to a loopback test issuer are not printed
    expect(child.stderr).not.toMatch(/Unsupported runtime|in-memory adapter/);
  });
});

describe.concurrent('npm run demo -- --tenants', () => {
  it('runs the pool end to end: every tenant served, the issuer spared during the outage', { timeout: 60_000 }, async ({ expect }) => {
    const child = await demo(['--tenants', '10', '--duration', '8'], 45_000);
    expect(child.code, child.stderr).toBe(0);
    expect(child.stdout).toMatch(/Summary after [\d.]+s, 10 tenants/);
    expect(child.stdout).toMatch(/expired tokens served: 0/);
    expect(child.stdout).toMatch(/\(0 refused by the API\)/);
    for (let tenant = 1; tenant <= 10; tenant++) expect(child.stdout).toMatch(new RegExp(`tenant-${String(tenant).padStart(3, '0')} +[1-9]\\d* ok`));
    // the outage cost the issuer a handful of requests, not one per tenant per attempt
    const during = Number(/(\d+) during the/.exec(child.stdout)?.[1]);
    expect(during).toBeGreaterThan(0);
    // breakerThreshold, the mints already in flight when it went down (at most maxMintsInFlight 8), one probe per
    // 1 s cooldown over the 2 s outage; ten tenants with a breaker each would have spent 3 each, and 10 probes a cooldown
    expect(during).toBeLessThanOrEqual(3 + 8 + 3);
  });
});

describe.concurrent('npm run demo -- --fleet', () => {
  it('runs three processes on one Redis: one issuer request per refresh window for the fleet, no expired token', { timeout: 60_000 }, async ({ expect }) => {
    const child = await demo(['--fleet', '3', '--duration', '10'], 50_000);
    expect(child.code, child.stderr).toBe(0);
    expect(child.stdout).toMatch(/Summary after [\d.]+s, 3 processes, one Redis/);
    expect(child.stdout).toMatch(/expired tokens served: 0/);
    expect(child.stdout).toMatch(/\(0 refused by the API\)/);
    // 2 s tokens refreshed every 1 s for 10 s: about 10 windows plus the outage's few probes, not 3 per window
    const windows = [...child.stdout.matchAll(/w\s*\d+ (\d+)/g)].map((match) => Number(match[1]));
    expect(windows.length).toBe(10);
    const summary = /issuer requests +(\d+) since the fleet started \(\d+ tokens issued\): (\d+) at its cold start/.exec(child.stdout);
    expect(summary, child.stdout).not.toBeNull();
    const [all, coldStart] = [Number(summary![1]), Number(summary![2])];
    // counted from one starting point: the cold start and the windows' requests are among them (a
    // request while the processes stop, after the last window, is in the total only)
    expect(all).toBeGreaterThanOrEqual(coldStart + windows.reduce((sum, count) => sum + count, 0));
    expect(coldStart).toBeGreaterThanOrEqual(1);
    expect(all).toBeLessThanOrEqual(10 + 1 + 2 + 3);
    // the progress lines count from the same start, so none says more than the summary
    const progress = [...child.stdout.matchAll(/issuer requests (\d+) +tokens issued \d+ +\(both since the fleet started\)/g)].map((match) => Number(match[1]));
    expect(progress.every((count) => count <= all)).toBe(true);
    // the event list says how many it shows
    expect(child.stdout).toMatch(/events +\d+ in all/);
  });
});
