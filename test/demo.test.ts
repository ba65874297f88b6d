import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('npm run demo', () => {
  it('runs end to end on loopback, exits 0 and prints the summary (short run)', { timeout: 60_000 }, () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
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
