import { describe, expect, it } from 'vitest';
import { formatTable, runBenchmarks } from '../../bench/cases.js';

describe('npm run bench (smoke)', () => {
  it('runs every case on tiny sizes and formats the table (no timing is asserted)', { timeout: 60_000 }, async () => {
    const rows = await runBenchmarks({ quick: true });
    const cases = new Set(rows.map((row) => row.case.replace(/ (\d+|scaling|\().*$/, '')));
    expect([...cases]).toEqual([
      'hot serve',
      'due serve',
      'expiry cohort',
      'memory',
      'breaker open',
      'scenario generation',
      'pool hot serve',
      'pool memory',
      'pool create+stop',
      'pool mass expiry',
      'coordination hot serve',
      'coordination adoption',
      'AWS SDK credentials',
      'Azure getToken',
      'Azure request auth',
      'request',
      'DPoP proof',
    ]);
    for (const row of rows) expect(Number.isFinite(row.value)).toBe(true);
    expect(rows.find((row) => row.subject === 'pending timers per idle provider')?.value).toBe(1);
    expect(formatTable(rows).split('\n')).toHaveLength(rows.length + 2);
  });
});
