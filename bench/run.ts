/**
 * `npm run bench`: every case with its in-process baseline, ratio and verdict, as a table on
 * stdout and as JSON in bench/results.json. `--quick` only checks that the code runs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { formatTable, runBenchmarks, withBenchTable } from './cases.js';

const quick = process.argv.includes('--quick');
if (!quick && typeof (globalThis as { gc?: unknown }).gc !== 'function') {
  console.warn('note: run with --expose-gc (npm run bench does) for exact heap figures');
}
const startedAt = performance.now();
const only = process.argv.includes('--pool')
  ? ('pool' as const)
  : process.argv.includes('--sdk')
    ? ('sdk' as const)
    : process.argv.includes('--dpop')
      ? ('dpop' as const)
      : process.argv.includes('--requests')
        ? ('requests' as const)
        : undefined;
const rows = await runBenchmarks({ quick, ...(only === undefined ? {} : { only }) });
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
console.log(formatTable(rows));
console.log(`\n${machine}; ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
if (!quick && only === undefined) {
  writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify({ machine, rows }, null, 2)}\n`);
  // the docs show this run's table, never one typed by hand (test/package/docs.test.ts checks it)
  const page = new URL('../docs/performance.md', import.meta.url);
  writeFileSync(page, withBenchTable(readFileSync(page, 'utf8'), formatTable(rows), machine));
  console.log('wrote bench/results.json and the table in docs/performance.md');
}
const failed = rows.filter((row) => row.verdict === 'FAIL');
if (failed.length > 0) {
  console.log(`${failed.length} target(s) missed: ${failed.map((row) => `${row.case} / ${row.subject}`).join('; ')}`);
  process.exitCode = 1;
}
