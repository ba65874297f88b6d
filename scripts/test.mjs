// npm test: the build, then the lint (with the type check) and every test at once.
// The build comes first: the tests and the lint read what it makes (the benchmarks and the package
// test import dist/). The lint (oxlint's type-aware rules and TypeScript 7's diagnostics from the
// one program tsgolint builds, then Biome's format check) runs beside vitest, whose pool takes the
// cores it leaves. `npm run typecheck` (tsc --noEmit) checked the same files with a second program
// of the same compiler: the lint's `--type-check` reports the same errors (each kind of source was
// given one, and both named the same ones) for 2 s of CPU less. vitest prints as it goes; the lint
// is printed whole after it, with how long it took. The command fails if either fails, naming which.
import { spawn } from 'node:child_process';

const FIRST = 'build';
/** Each check: the npm script, and what it is given here. */
const CHECKS = [['lint', []]];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const startedAt = Date.now();
const seconds = () => ((Date.now() - startedAt) / 1000).toFixed(1);
const outcome = (code, signal) => (code === 0 ? 'ok' : `failed (${signal ?? `exit code ${code}`})`);

/** Runs `npm run <name> -- <args>` with its output kept; resolves to a report printed when the caller chooses. */
const check = (name, args = []) =>
  new Promise((resolve) => {
    const child = spawn(npm, ['run', '--silent', name, ...(args.length > 0 ? ['--', ...args] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0' },
    });
    const output = [];
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    child.on('close', (code, signal) => {
      const text = Buffer.concat(output).toString('utf8').trimEnd();
      resolve({ name, ok: code === 0, report: `> npm run ${name}: ${outcome(code, signal)} after ${seconds()} s\n${text === '' ? '' : `${text}\n`}` });
    });
  });

/** Runs vitest with the terminal, passing on any arguments npm test was given. */
const vitest = () =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
    child.on('close', (code, signal) => resolve({ name: 'vitest run', ok: code === 0, report: `> vitest run: ${outcome(code, signal)} after ${seconds()} s\n` }));
  });

const build = await check(FIRST);
process.stdout.write(build.report);
if (!build.ok) {
  process.stderr.write(`npm test failed: ${FIRST}\n`);
  process.exit(1);
}
const results = await Promise.all([...CHECKS.map(([name, args]) => check(name, args)), vitest()]);
for (const result of results) process.stdout.write(result.report);
const failed = results.filter((result) => !result.ok).map((result) => result.name);
if (failed.length > 0) {
  process.stderr.write(`npm test failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
