/**
 * The package as a user gets it: `npm pack`, the file list, and the tarball installed in a scratch
 * directory, where every entry is imported (and `require`d), and the declarations compile in a
 * browser-only TypeScript setup. Needs `npm run build` first (`npm test` runs it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialScenarios } from '../../src/testing/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
type Conditions = { types: string; default: string };
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { import: Conditions; require: Conditions } | string>;
  engines: { node: string };
  version: string;
  repository?: unknown;
  homepage?: unknown;
  bugs?: unknown;
};
const CODE_EXPORTS = Object.entries(packageJson.exports).filter((entry): entry is [string, { import: Conditions; require: Conditions }] => typeof entry[1] !== 'string');
const ENTRIES = CODE_EXPORTS.map(([subpath]) => `credential-actor${subpath.slice(1)}`);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let scratch: string;
let files: string[];
let tarball: string;
let unpackedSize: number;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'credential-actor-pack-'));
  const [packed] = JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', scratch], { cwd: root, encoding: 'utf8' })) as [
    { filename: string; files: { path: string }[]; unpackedSize: number },
  ];
  files = packed.files.map((file) => file.path).sort();
  unpackedSize = packed.unpackedSize;
  tarball = join(scratch, packed.filename);
}, 60_000);

afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

/** A strict consumer without Node's types: the package's declarations checked (skipLibCheck off), TypeScript's own lib files not (skipDefaultLibCheck: not ours, a third of each run). */
const STRICT_CONSUMER = {
  strict: true,
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  target: 'ES2022',
  lib: ['ES2022', 'DOM'],
  types: [],
  noEmit: true,
  skipLibCheck: false,
  skipDefaultLibCheck: true,
};

/**
 * The compilers a consumer may have: TypeScript 5.9 (what the tools here are pinned to, and what many
 * projects still run) and TypeScript 7, the native compiler `npm install typescript` gives a new
 * project now (it has dropped `moduleResolution: node10`).
 */
const COMPILERS = {
  '5.9': join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
  '7': join(root, 'node_modules', 'typescript-native', 'bin', 'tsc'),
} as const;
type Compiler = keyof typeof COMPILERS;

/**
 * The diagnostics of each project `tsc -b --verbose` built, by the name of its folder (its files'
 * paths made relative to the folder again), from that compiler's output: a project's part starts at
 * its "Building project" line and ends at the next line the build mode prints with its time.
 */
function diagnosticsByProject(output: string): Map<string, string> {
  const byProject = new Map<string, string[]>();
  let current: string[] | undefined;
  let name = '';
  for (const line of output.split('\n')) {
    const building = /Building project '(?:.*[\\/])?([^\\/]+)[\\/]tsconfig\.json'/.exec(line);
    if (building !== null) {
      name = building[1]!;
      current = [];
      byProject.set(name, current);
    } else if (/^\s*\d{1,2}:\d{2}:\d{2}/.test(line)) current = undefined;
    else if (current !== undefined && line.trim() !== '') current.push(line.startsWith(`${name}/`) ? line.slice(name.length + 1) : line);
  }
  return new Map([...byProject].map(([project, lines]) => [project, lines.join('\n')]));
}

/**
 * A strict consumer's files: its own app, a check that the declarations offer no back door, and a
 * browser-only app. They share their settings (`STRICT_CONSUMER`: nodenext, which implies
 * `esModuleInterop`, and ESM), so one compiler run checks all three (a run of TypeScript 5.9 costs
 * seconds of CPU); each test reads the diagnostics of its own file and those of no app file (the
 * package's declarations), so each fails on its own.
 */
const STRICT_CONSUMER_FILES = {
  'app.ts': [
    "import { BreakerOpenError, createCredentialProvider, type AuthToken } from 'credential-actor';",
    "import { clientCredentialsMint, OAuthError } from 'credential-actor/oauth2';",
    "import { ManualClock } from 'credential-actor/testing';",
    'export async function token(): Promise<AuthToken | string> {',
    "  const mint = clientCredentialsMint({ tokenEndpoint: 'https://login.example/token', clientId: 'c', clientSecret: 's', scopes: ['a'] });",
    '  const provider = await createCredentialProvider({ mint, clock: new ManualClock(0), firstMint: "lazy" });',
    '  try {',
    '    return await provider.currentToken();',
    '  } catch (error) {',
    '    if (error instanceof BreakerOpenError) return `retry in ${error.retryAfterMs} ms`;',
    '    if (error instanceof OAuthError) return error.step;',
    '    throw error;',
    '  }',
    '}',
    '',
  ].join('\n'),
  'back-doors.ts': [
    "import { CredentialPool, CredentialProvider } from 'credential-actor';",
    "import { RedisCoordination } from 'credential-actor/redis';",
    "import { BrowserCoordination } from 'credential-actor/browser';",
    'declare const provider: CredentialProvider;',
    'declare const pool: CredentialPool;',
    '// @ts-expect-error the constructor is not the way in: createCredentialProvider is',
    'export const made = new CredentialProvider();',
    '// @ts-expect-error createCredentialPool',
    'export const pooled = new CredentialPool();',
    '// @ts-expect-error redisCoordination',
    'export const shared = new RedisCoordination();',
    '// @ts-expect-error browserCoordination',
    'export const tabs = new BrowserCoordination();',
    '// @ts-expect-error the provider owns its statechart’s life',
    'provider.actor.stop();',
    '// @ts-expect-error and what it is told',
    "provider.actor.send({ type: 'token.requested', now: 0 });",
    '// @ts-expect-error the pool too',
    'pool.actor.stop();',
    '// what users may do: watch',
    'export const value = provider.actor.getSnapshot().value.breaker;',
    'provider.actor.subscribe(() => {}).unsubscribe();',
    "pool.actor.on('issuer.breaker.changed', () => {}).unsubscribe();",
    '',
  ].join('\n'),
  'browser-only.ts': [
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
};
type StrictConsumerFile = keyof typeof STRICT_CONSUMER_FILES;

describe('npm pack', () => {
  it('ships only what a user needs: the built library, its declarations (ESM and CJS) and maps, README, CHANGELOG, LICENSE', () => {
    const unexpected = files.filter((path) => !/^dist\/(src|machines)\/.+\.(js|cjs|d\.ts|d\.cts|js\.map)$/.test(path) && !['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'].includes(path));
    expect(unexpected).toEqual([]);
    expect(files).toContain('LICENSE');
    for (const [, { import: esm, require: cjs }] of CODE_EXPORTS) {
      for (const path of [esm.types, esm.default, cjs.types, cjs.default]) expect(files).toContain(path.slice(2));
    }
    expect(files.filter((path) => path.startsWith('test/') || path.startsWith('bench/') || path.startsWith('examples/'))).toEqual([]);
  });

  it('stays lean: its unpacked size, reported, with no source inlined in its maps', () => {
    const sourceLines = ['src', 'machines']
      .flatMap((folder) => readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' }).map((path) => join(root, folder, path)))
      .filter((path) => path.endsWith('.ts'))
      .reduce((lines, path) => lines + readFileSync(path, 'utf8').split('\n').length, 0);
    console.log(`npm pack: ${files.length} files, ${(unpackedSize / 1000).toFixed(0)} kB unpacked, ${(unpackedSize / sourceLines).toFixed(0)} bytes per line of source`);
    // about 100 bytes per line of TypeScript (its JavaScript without comments, a map, and declarations
    // for ESM and CJS): 742 kB for 7,600 lines, 1,090 kB for 11,300. Inlined sources or a second
    // copy of the code would double it.
    expect(unpackedSize / sourceLines).toBeLessThan(110);
    const map = JSON.parse(readFileSync(join(root, 'dist/src/provider.js.map'), 'utf8')) as { sources: string[]; sourceRoot: string; sourcesContent?: string[] };
    expect(map.sourcesContent).toBeUndefined();
  });

  it('has source maps that point at real sources: the repository at this version, path by path', () => {
    const at = `https://github.com/credential-actor/credential-actor/blob/v${packageJson.version}/`;
    const map = JSON.parse(readFileSync(join(root, 'dist/src/provider.js.map'), 'utf8')) as { sources: string[]; sourceRoot?: string };
    expect(map.sources).toEqual([`${at}src/provider.ts`]);
    expect(map.sourceRoot).toBeUndefined();
    for (const file of files.filter((path) => path.endsWith('.js.map'))) {
      const { sources } = JSON.parse(readFileSync(join(root, file), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        expect(source.startsWith(at), `${file} points at ${source}`).toBe(true);
        expect(existsSync(join(root, source.slice(at.length))), `${file} points at ${source}`).toBe(true);
      }
    }
  });

  it('gives stack traces that name the source in the repository, not a doubled path (issue 26)', () => {
    const script = "import('./dist/src/testing/index.js').then((t) => t.replayScenario(null)).catch((error) => console.log(error.stack))";
    const stack = execFileSync(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(stack).toContain(`/blob/v${packageJson.version}/src/testing/model/replay.ts`);
    expect(stack).not.toMatch(/src\/testing\/model\/src\/testing\/model/);
  });

  it('engines says what require() needs: Node ^20.19 or >= 22.12 (ES modules loaded synchronously)', () => {
    expect(packageJson.engines.node).toBe('^20.19.0 || >=22.12.0');
  });

  it('@arethetypeswrong/cli and publint find no problem in the tarball', () => {
    const attw = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
    const attwOut = execFileSync(process.execPath, [attw, tarball, '--format', 'json'], { encoding: 'utf8' });
    const report = JSON.parse(attwOut) as { problems?: unknown[] | Record<string, unknown> };
    expect(Object.keys(report.problems ?? {}).length, attwOut.slice(0, 2_000)).toBe(0);
    const publint = join(root, 'node_modules', 'publint', 'src', 'cli.js');
    // the tarball itself, as attw reads it (given the repository, publint packs it again: seconds of npm)
    const publintOut = execFileSync(process.execPath, [publint, tarball, '--strict'], { cwd: root, encoding: 'utf8' });
    expect(publintOut).toMatch(/All good!/);
  }, 120_000);

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

/**
 * [compiler, label, module, moduleResolution, the consumer's package type]: every setting on
 * TypeScript 7; on 5.9 the most common one and node10, which 7 no longer has.
 */
const MODULE_SETTINGS: [Compiler, string, string, string, string][] = [
  ['7', 'nodenext, ESM', 'nodenext', 'nodenext', 'module'],
  ['7', 'nodenext, CommonJS', 'nodenext', 'nodenext', 'commonjs'],
  ['7', 'node16, ESM', 'node16', 'node16', 'module'],
  ['7', 'node16, CommonJS', 'node16', 'node16', 'commonjs'],
  ['7', 'bundler', 'esnext', 'bundler', 'module'],
  ['5.9', 'nodenext, ESM', 'nodenext', 'nodenext', 'module'],
  ['5.9', 'node10 (module commonjs, e.g. NestJS)', 'commonjs', 'node10', 'commonjs'],
];

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
    for (const compiler of Object.keys(COMPILERS) as Compiler[]) {
      const dir = join(project, strictConsumer(compiler));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: STRICT_CONSUMER, files: Object.keys(STRICT_CONSUMER_FILES) }));
      for (const [name, source] of Object.entries(STRICT_CONSUMER_FILES)) writeFileSync(join(dir, name), source);
      projects[compiler].push(strictConsumer(compiler));
    }
    for (const [compiler, label, module, moduleResolution, type] of MODULE_SETTINGS) {
      if (module === 'nodenext' && type === 'module') continue; // the strict consumer's own setting
      const name = variantProject(compiler, label);
      const dir = join(project, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type }));
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...STRICT_CONSUMER, module, moduleResolution, esModuleInterop: true }, files: ['app.ts'] }));
      writeFileSync(join(dir, 'app.ts'), STRICT_CONSUMER_FILES['app.ts']);
      projects[compiler].push(name);
    }
  }, 120_000);

  /**
   * The consumer projects of each compiler: the strict consumer's three files, and `app.ts` under
   * each other module setting. One build-mode run per compiler checks them all (`tsc -b`, projects
   * one after another in one process): a run of TypeScript 5.9 costs seconds of CPU to start and to
   * read TypeScript's DOM library, paid once instead of once per project (1.6 s of CPU less for
   * 5.9's two, 1.1 s for TypeScript 7's five).
   */
  const projects: Record<Compiler, string[]> = { '5.9': [], '7': [] };
  const checked = new Map<Compiler, Map<string, string>>();
  /** The diagnostics of `project` from its compiler's one run over all its projects (a project it did not build fails the test that asks). */
  function projectDiagnostics(compiler: Compiler, name: string): string {
    let byProject = checked.get(compiler);
    if (byProject === undefined) {
      let output: string;
      try {
        output = execFileSync(process.execPath, [COMPILERS[compiler], '-b', '--verbose', ...projects[compiler]], { cwd: project, encoding: 'utf8' });
      } catch (error) {
        output = String((error as { stdout?: string }).stdout ?? error);
      }
      byProject = diagnosticsByProject(output);
      checked.set(compiler, byProject);
    }
    return byProject.get(name) ?? `${name} was not built by tsc -b`;
  }
  const strictConsumer = (compiler: Compiler) => `strict-consumer-${compiler}`;
  const variantProject = (compiler: Compiler, label: string) => `ts-${compiler}-${label.replace(/\W+/g, '-')}`;
  /** The diagnostics of `file` and of the package's declarations, from the strict consumer's project. */
  function strictConsumerDiagnostics(compiler: Compiler, file: StrictConsumerFile): string {
    // a diagnostic starts at a line's first column; the lines indented below it are its message chain
    const diagnostics = projectDiagnostics(compiler, strictConsumer(compiler))
      .split(/\n(?=\S)/)
      .filter((diagnostic) => diagnostic.trim() !== '');
    const others = Object.keys(STRICT_CONSUMER_FILES).filter((name) => name !== file);
    return diagnostics.filter((diagnostic) => !others.some((other) => diagnostic.startsWith(`${other}(`))).join('\n');
  }

  it('imports every entry', () => {
    const script = `for (const entry of ${JSON.stringify(ENTRIES)}) { const module = await import(entry); console.log(entry, Object.keys(module).length); }`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: project, encoding: 'utf8' });
    for (const entry of ENTRIES) expect(out).toMatch(new RegExp(`^${entry} [1-9]`, 'm'));
  });

  it('require() and import give one module instance: one Secret class, one CredentialError (no dual-package hazard)', () => {
    const script = `const required = require('credential-actor'); import('credential-actor').then((imported) => console.log(required.Secret === imported.Secret, required.CredentialError === imported.CredentialError, require('credential-actor/oauth2').OAuthError === require('credential-actor/oauth2').OAuthError));`;
    const out = execFileSync(process.execPath, ['--no-warnings', '-e', script], { cwd: project, encoding: 'utf8' });
    expect(out.trim()).toBe('true true true');
  });

  it.each(MODULE_SETTINGS)(
    'type-checks for TypeScript %s, %s, without Node types, lib ES2022 + DOM, skipLibCheck off',
    (compiler, label, module, _moduleResolution, type) => {
      // the package's declarations are checked (skipLibCheck off); TypeScript's own lib files are not
      // (skipDefaultLibCheck): they are not ours, and checking lib.dom.d.ts was a third of each run
      if (module === 'nodenext' && type === 'module') expect(strictConsumerDiagnostics(compiler, 'app.ts')).toBe('');
      // the package is in the project's node_modules, one level up: resolvers walk up to it
      else expect(projectDiagnostics(compiler, variantProject(compiler, label))).toBe('');
    },
    60_000,
  );

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
        '  const retry = await provider.currentToken();',
        "  return (await fetch('https://api.example', { headers: { authorization: `Bearer ${retry.secret.reveal()}` } })).status;",
        '}',
        '',
        'const scenarios = credentialScenarios();',
        'const results = [];',
        "test.each(scenarios.map((s) => [s.name, s]))('%s', async (_name, scenario) => {",
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

  it('offers no back door in its declarations: no constructor users cannot call, no send or stop on a provider’s or pool’s actor, on TypeScript 5.9 and 7 (issue 27)', () => {
    // each @ts-expect-error in back-doors.ts must meet an error: a back door that type-checks leaves it unused (TS2578)
    expect(strictConsumerDiagnostics('5.9', 'back-doors.ts')).toBe('');
    expect(strictConsumerDiagnostics('7', 'back-doors.ts')).toBe('');
  }, 60_000);

  it('type-checks in a browser-only TypeScript setup (no @types/node, lib ES2022 + DOM, skipLibCheck off), on TypeScript 5.9 and 7', () => {
    expect(strictConsumerDiagnostics('5.9', 'browser-only.ts')).toBe('');
    expect(strictConsumerDiagnostics('7', 'browser-only.ts')).toBe('');
  }, 60_000);
});
