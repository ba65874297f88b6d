import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('npm run demo', () => {
  it('runs end to end on loopback, exits 0 and prints the summary (short run)', { timeout: 60_000 }, () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const out = mkdtempSync(join(tmpdir(), 'credential-actor-demo-'));
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--duration', '6', '--out', out], {
      cwd: root,
      encoding: 'utf8',
      timeout: 45_000,
    });
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout).toMatch(/expired tokens served: 0/);
    expect(child.stdout).toMatch(/0 refused by the API/);
    expect(child.stdout).toMatch(/mints +\d+ \(the token server issued \d+\)/);
    expect(readFileSync(join(out, 'timeline.svg'), 'utf8')).toMatch(/^<svg/);
  });
});

describe('npm run demo: its command line', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const demo = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });

  it('--help prints the usage and exits 0', () => {
    const child = demo('--help');
    expect(child.status).toBe(0);
    expect(child.stdout).toMatch(/^Usage: npm run demo -- \[options\]/);
    expect(child.stdout).toMatch(/--fleet N/);
  });

  it.each([
    [['--bogus'], /^demo: Unknown option '--bogus'/],
    [['--duration', '2'], /^demo: --duration must be a number of seconds >= 5, got "2"/],
    [['--tenants', 'many'], /^demo: --tenants must be a whole number >= 1, got "many"/],
  ])('%j: one line, the usage, exit code 2, no stack', (args, message) => {
    const child = demo(...args);
    expect(child.status).toBe(2);
    expect(child.stderr).toMatch(message);
    expect(child.stderr).toMatch(/Usage: npm run demo/);
    expect(child.stderr).not.toMatch(/\n\s+at /);
    // oidc-provider's start-up warnings that do not apply to a loopback test issuer are not printed
    expect(child.stderr).not.toMatch(/Unsupported runtime|in-memory adapter/);
  });
});

describe('npm run demo -- --tenants', () => {
  it('runs the pool end to end: every tenant served, the issuer spared during the outage', { timeout: 60_000 }, () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--tenants', '10', '--duration', '8'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 45_000,
    });
    expect(child.status, child.stderr).toBe(0);
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

describe('npm run demo -- --fleet', () => {
  it('runs three processes on one Redis: one issuer request per refresh window for the fleet, no expired token', { timeout: 60_000 }, () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--fleet', '3', '--duration', '10'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 50_000,
    });
    expect(child.status, child.stderr).toBe(0);
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
