// npm test's first step: the build, then the type check and the lint at once. The type check and
// the lint read the build's declarations (the benchmarks import dist/), so the build comes first;
// the other two are each one single-threaded process (tsc; ESLint then Prettier), so on two cores
// they take about the time of the longer one. Each one's output is printed whole when it ends; the
// step fails if any of them fails, naming which.
import { spawn } from 'node:child_process';

const FIRST = 'build';
const CHECKS = ['typecheck', 'lint'];
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

if (!(await run(FIRST))) {
  process.stderr.write(`static checks failed: ${FIRST}\n`);
  process.exit(1);
}
const results = await Promise.all(CHECKS.map(run));
const failed = CHECKS.filter((_, index) => !results[index]);
if (failed.length > 0) {
  process.stderr.write(`static checks failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
