// npm test's first step: the build, the type check and the lint, run at once. Each is one
// single-threaded process (tsc, tsc, ESLint then Prettier), so on two cores they take about half
// the time they take one after another. Each one's output is printed whole when it ends; the step
// fails if any of them fails, naming which.
import { spawn } from 'node:child_process';

const CHECKS = ['build', 'typecheck', 'lint'];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const startedAt = Date.now();

const run = (name) =>
  new Promise((resolve) => {
    const child = spawn(npm, ['run', '--silent', name], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0' } });
    const output = [];
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    child.on('close', (code, signal) => {
      const text = Buffer.concat(output).toString('utf8').trimEnd();
      const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
      process.stdout.write(`> npm run ${name}: ${code === 0 ? 'ok' : `failed (${signal ?? `exit code ${code}`})`} after ${seconds} s\n${text === '' ? '' : `${text}\n`}`);
      resolve(code === 0);
    });
  });

const results = await Promise.all(CHECKS.map(run));
const failed = CHECKS.filter((_, index) => !results[index]);
if (failed.length > 0) {
  process.stderr.write(`static checks failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
