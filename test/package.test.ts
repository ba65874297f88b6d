/**
 * The package as a user gets it: `npm pack`, the file list, and the tarball installed in a scratch
 * directory, where every entry is imported (and `require`d), and the declarations compile in a
 * browser-only TypeScript setup. Needs `npm run build` first (`npm test` runs it).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialScenarios } from '../src/testing/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; default: string }>;
  version: string;
  repository?: unknown;
  homepage?: unknown;
  bugs?: unknown;
};
const ENTRIES = Object.keys(packageJson.exports).map((subpath) => `credential-actor${subpath.slice(1)}`);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let scratch: string;
let files: string[];
let tarball: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'credential-actor-pack-'));
  const [packed] = JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', scratch], { cwd: root, encoding: 'utf8' })) as [
    { filename: string; files: { path: string }[] },
  ];
  files = packed.files.map((file) => file.path).sort();
  tarball = join(scratch, packed.filename);
}, 60_000);

afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships only what a user needs: the built library, its declarations and maps, README, LICENSE', () => {
    const unexpected = files.filter(
      (path) =>
        !/^dist\/(src|machines)\/.+\.(js|d\.ts|js\.map)$/.test(path) &&
        !['package.json', 'README.md', 'LICENSE'].includes(path),
    );
    expect(unexpected).toEqual([]);
    expect(files).toContain('LICENSE');
    for (const { types, default: code } of Object.values(packageJson.exports)) {
      expect(files).toContain(types.slice(2));
      expect(files).toContain(code.slice(2));
    }
    expect(files.filter((path) => path.startsWith('test/') || path.startsWith('bench/') || path.startsWith('examples/'))).toEqual([]);
  });

  it('has source maps that carry their sources (the .ts files are not shipped)', () => {
    const map = JSON.parse(readFileSync(join(root, 'dist/src/provider.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
    expect(map.sourcesContent?.length).toBe(map.sources.length);
    expect(map.sourcesContent?.[0]).toContain('class CredentialProvider');
  });

  it('has no @internal member in its declarations', () => {
    const declarations = readFileSync(join(root, 'dist/src/provider.d.ts'), 'utf8');
    expect(declarations).not.toContain('@internal');
    expect(declarations).not.toContain('createCredentialProviderWith');
  });

  it('has the metadata the registry page needs', () => {
    expect(packageJson.repository).toBeDefined();
    expect(packageJson.homepage).toBeDefined();
    expect(packageJson.bugs).toBeDefined();
  });
});

describe('the packed tarball installed in a scratch project', () => {
  let project: string;
  beforeAll(() => {
    project = join(scratch, 'app');
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
    // the optional peer that credential-actor/otel needs; everything else comes with the package
    execFileSync(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, '@opentelemetry/api@1.9.0'], {
      cwd: project,
      encoding: 'utf8',
    });
  }, 120_000);

  it('imports every entry', () => {
    const script = `for (const entry of ${JSON.stringify(ENTRIES)}) { const module = await import(entry); console.log(entry, Object.keys(module).length); }`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: project, encoding: 'utf8' });
    for (const entry of ENTRIES) expect(out).toMatch(new RegExp(`^${entry} [1-9]`, 'm'));
  });

  it('can be require()d from CommonJS (Node >= 20.19 loads ES modules synchronously)', () => {
    const script = `const { createCredentialProvider, CredentialError } = require('credential-actor'); const { ManualClock } = require('credential-actor/testing'); console.log(typeof createCredentialProvider, typeof CredentialError, typeof ManualClock);`;
    const out = execFileSync(process.execPath, ['--no-warnings', '-e', script], { cwd: project, encoding: 'utf8' });
    expect(out.trim()).toBe('function function function');
  });

  it('lets a user test their own wrapper on every generated scenario in a 20-line vitest file, with full coverage', () => {
    writeFileSync(
      join(project, 'wrapper.test.js'),
      [
        "import { expect, test } from 'vitest';",
        "import { coverageLine, credentialScenarios, replayScenario, scenarioCoverage } from 'credential-actor/testing';",
        '',
        '// the code under test: a token, a request, and one retry after a 401',
        'async function callApi({ provider, fetch }) {',
        '  const token = await provider.currentToken();',
        "  const response = await fetch('https://api.example', { headers: { authorization: `Bearer ${token.secret.reveal()}` } });",
        '  if (response.status !== 401 || !provider.invalidate(token)) return response.status;',
        "  const retry = await provider.currentToken();",
        "  return (await fetch('https://api.example', { headers: { authorization: `Bearer ${retry.secret.reveal()}` } })).status;",
        '}',
        '',
        'const scenarios = credentialScenarios();',
        'const results = [];',
        'test.each(scenarios.map((s) => [s.name, s]))(\'%s\', async (_name, scenario) => {',
        '  const result = await replayScenario(scenario, { onRequest: callApi });',
        '  expect(result.requests.flatMap((r) => r.upstream).filter((call) => call.expired)).toEqual([]);',
        '  results.push(result);',
        '});',
        "test('coverage', () => console.log(coverageLine(scenarioCoverage(scenarios, results))));",
        '',
      ].join('\n'),
    );
    const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
    const out = execFileSync(process.execPath, [vitest, 'run', '--root', project, 'wrapper.test.js'], { cwd: project, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    const total = credentialScenarios().length;
    expect(out).toMatch(new RegExp(`paths ${total}, steps \\d+, states (\\d+)/\\1, transitions (\\d+)/\\2`));
    expect(out).toMatch(new RegExp(`Tests +${total + 1} passed`));
  }, 60_000);

  it('type-checks in a browser-only TypeScript setup (no @types/node, lib ES2022 + DOM, skipLibCheck off)', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2022', 'DOM'], types: [], noEmit: true, skipLibCheck: false },
        files: ['app.ts'],
      }),
    );
    writeFileSync(
      join(project, 'app.ts'),
      [
        "import { createCredentialProvider, type AuthToken } from 'credential-actor';",
        "import { ManualClock } from 'credential-actor/testing';",
        'export async function token(): Promise<AuthToken> {',
        "  const provider = await createCredentialProvider({ mint: async () => ({ secret: 's', expiresAt: null }), clock: new ManualClock(0) });",
        '  const token = await provider.currentToken();',
        '  await provider[Symbol.asyncDispose]();',
        '  return token;',
        '}',
        '',
      ].join('\n'),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = (() => {
      try {
        return execFileSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });
      } catch (error) {
        return String((error as { stdout?: string }).stdout ?? error);
      }
    })();
    expect(result).toBe('');
  });
});
