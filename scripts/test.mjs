// npm test: the build, then the type check, the lint and every test at once.
// The build comes first: the tests and the lint read what it makes (the benchmarks and the package
// test import dist/). The type check (the native compiler, a few seconds) and the lint (oxlint's
// type-aware rules, then Biome's format check) run beside vitest, whose pool takes the cores they
// leave. The type check runs single-threaded here: beside vitest the cores are busy anyway, and its
// checker threads cost half as much CPU again (6.6 s against 4.4 s). vitest prints as it goes; the
// type check and the lint are printed whole after it, with how long each took. The command fails if
// any of the four fails, naming which.
import { spawn } from 'node:child_process';

const FIRST = 'build';
/** Each check: the npm script, and what it is given here. */
const CHECKS = [
  ['typecheck', ['--singleThreaded']],
  ['lint', []],
];
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
