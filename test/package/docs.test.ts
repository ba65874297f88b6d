/**
 * The docs cannot go stale: every TypeScript snippet in README.md and docs/ compiles under `strict`
 * against the package's own entry points (imported by name), the figures that come from runs match
 * the runs, the entry-point table matches `package.json`, and the generated API reference matches
 * what TypeDoc makes from the TSDoc now.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTable, withBenchTable } from '../../bench/cases.js';
import { credentialMachine } from '../../machines/credential.machine.js';
import { coverageLine, credentialScenarios, replayScenario, scenarioCoverage } from '../../src/testing/index.js';

const DOCS = [
  'README.md',
  ...readdirSync('docs')
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const text = (file: string) => readFileSync(file, 'utf8');
const SNIPPETS_DIR = 'test/.generated/snippets';
// the native compiler, as the type check (`npm run typecheck`): the snippets are checked with the sources they import
const TSC = 'node_modules/typescript-native/bin/tsc';

describe('the docs', () => {
  it('every ts snippet compiles under strict, importing the package by its name', () => {
    rmSync(SNIPPETS_DIR, { recursive: true, force: true });
    mkdirSync(SNIPPETS_DIR, { recursive: true });
    const written: string[] = [];
    for (const file of DOCS) {
      [...text(file).matchAll(/```ts\n([\s\S]*?)```/g)].forEach((match, index) => {
        const name = `${file.replace(/[/.]/g, '_')}_${index + 1}.ts`;
        expect(match[1], `${file} snippet ${index + 1} imports the sources, not the package`).not.toMatch(/from '\.\.?\/(src|machines)/);
        writeFileSync(join(SNIPPETS_DIR, name), `${match[1]}\nexport {};\n`);
        written.push(name);
      });
    }
    expect(written.length).toBeGreaterThanOrEqual(10);
    writeFileSync(join(SNIPPETS_DIR, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(
      join(SNIPPETS_DIR, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          // the package by its name, as a user imports it, resolved to the sources under test
          paths: { 'credential-actor': ['../../../src/index.ts'], 'credential-actor/*': ['../../../src/*/index.ts'] },
        },
        include: ['*.ts'],
      }),
    );
    let output = '';
    try {
      execFileSync(process.execPath, [TSC, '-p', SNIPPETS_DIR], { encoding: 'utf8' });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    expect(output, 'a docs snippet does not compile (file names say which doc and which snippet)').toBe('');
  }, 60_000);

  it('every example imports the package by its name, as a user’s code does', () => {
    const examples = readdirSync('examples').filter((name) => name.endsWith('.ts'));
    expect(examples.length).toBeGreaterThan(5);
    for (const name of examples) expect(text(`examples/${name}`), `examples/${name}`).not.toMatch(/from '\.\.\/(src|machines)\//);
    expect(text('examples/demo.ts')).toMatch(/from 'credential-actor'/);
  });

  it('the coverage lines are the runs’ own: with coordination in contributing, without in testing-your-code', async () => {
    const lineOf = async (coordination: boolean) => {
      const scenarios = credentialScenarios({ coordination });
      return coverageLine(scenarioCoverage(scenarios, await Promise.all(scenarios.map((scenario) => replayScenario(scenario)))));
    };
    const shown = (file: string) => [...text(file).matchAll(/paths \d+, steps \d+, states \d+\/\d+, transitions \d+\/\d+/g)].map((match) => match[0]);
    expect(shown('docs/contributing.md')).toEqual([await lineOf(true)]);
    expect(shown('docs/testing-your-code.md')).toEqual([await lineOf(false)]);
    const committed = JSON.parse(text('visualizations/coverage.json')) as { summary: string };
    expect(committed.summary).toBe(await lineOf(true));
  }, 60_000);

  it('shows the benchmark table of the last run (bench/results.json), as npm run bench writes it', () => {
    const { machine, rows } = JSON.parse(text('bench/results.json')) as { machine: string; rows: Parameters<typeof formatTable>[0] };
    const page = text('docs/performance.md');
    expect(page, 'docs/performance.md does not show bench/results.json: run npm run bench').toBe(withBenchTable(page, formatTable(rows), machine));
    expect(page).toContain(formatTable(rows).split('\n')[2]);
  });

  it('says how many regions the statechart has', () => {
    const regions = Object.keys(credentialMachine.root.states).length;
    const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six'];
    for (const file of DOCS) {
      for (const match of text(file).matchAll(/\b(\w+) (?:parallel )?regions\b/g)) {
        if (words.includes(match[1]!)) expect(match[1], `${file}: "${match[0]}"`).toBe(words[regions]);
      }
    }
    expect(text('README.md')).toContain(`${words[regions]} parallel regions`);
  });

  it('the README lists every entry point package.json exports, and no other', () => {
    const exported = Object.keys((JSON.parse(text('package.json')) as { exports: Record<string, unknown> }).exports)
      .filter((entry) => entry !== './package.json')
      .map((entry) => (entry === '.' ? 'credential-actor' : `credential-actor/${entry.slice(2)}`));
    const table = [...text('README.md').matchAll(/^\| `(credential-actor[^`]*)` \|/gm)].map((match) => match[1]);
    expect(table.sort()).toEqual(exported.sort());
  });

  it('the README’s error table lists every code the library raises', () => {
    const declared = [...text('machines/credential-error.ts').matchAll(/^ {2}\| '([A-Z_]+)'/gm)].map((match) => match[1]!);
    expect(declared.length).toBeGreaterThan(10);
    const rows = text('README.md')
      .split('\n')
      .filter((line) => line.startsWith('| `'));
    for (const code of declared)
      expect(
        rows.some((row) => row.split('|')[1]!.includes(`\`${code}\``)),
        `${code} is not in the README's error table`,
      ).toBe(true);
  });

  it('docs/promises.md names, for every promise, a test that exists in the file it names', () => {
    const rows = [...text('docs/promises.md').matchAll(/^\| (.+?) \| (.+?) \| `([^`]+)` › (.+?) \|$/gm)];
    expect(rows.length).toBeGreaterThan(50);
    // a table-driven file's case names are its tests' titles (`it.each(cases)('%s')`)
    const titlesOf = (file: string) => {
      const source = text(file);
      const cases = source.includes('it.each(') ? [...source.matchAll(/\bname: (['`])((?:(?!\1).)+)\1/g)] : [];
      return [...source.matchAll(/(?:\bit|\btest|\))\(\s*(['`])((?:(?!\1).)+)\1/g), ...cases].map((match) => match[2]!);
    };
    const missing = rows.filter(([, , , file, quoted]) => !existsSync(file!) || !titlesOf(file!).some((title) => title.includes(quoted!)));
    expect(missing.map(([, promise, , file, title]) => `${promise}: ${file} › ${title}`)).toEqual([]);
  });

  it('says what npm test does in the order it does it', () => {
    const script = (JSON.parse(text('package.json')) as { scripts: Record<string, string> }).scripts.test!;
    expect(script).toBe('node scripts/test.mjs');
    // the build, then the lint (which type-checks) and vitest at once
    const runner = text('scripts/test.mjs');
    expect(runner).toMatch(/const FIRST = 'build';\n(\/\*\*.*\*\/\n)?const CHECKS = \[\['lint', \[\]\]\];/);
    expect((JSON.parse(text('package.json')) as { scripts: Record<string, string> }).scripts.lint).toMatch(/^oxlint --type-aware --type-check /);
    expect(runner).toMatch(/Promise\.all\(\[\.\.\.CHECKS\.map\(\(\[name, args\]\) => check\(name, args\)\), vitest\(\)\]\)/);
    expect(text('README.md')).toMatch(/npm test +# build, then type check and lint, and every test at once/);
    expect(text('docs/contributing.md')).toMatch(
      /npm test +# build \(TypeScript 7\), then the type check \(strict\) and lint \(oxlint: TypeScript 7's diagnostics and type-aware rules; Biome's format check\), and every test \(vitest\) at once/,
    );
  });

  it('the API reference in docs/api is what TypeDoc makes from the TSDoc now (npm run docs)', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'api-'));
    try {
      execFileSync(process.execPath, ['node_modules/typedoc/bin/typedoc', '--out', fresh, '--logLevel', 'Error'], { encoding: 'utf8' });
      const files = (root: string): Map<string, string> => {
        const found = new Map<string, string>();
        const walk = (dir: string) => {
          for (const name of readdirSync(dir)) {
            const path = join(dir, name);
            if (statSync(path).isDirectory()) walk(path);
            else found.set(relative(root, path), readFileSync(path, 'utf8'));
          }
        };
        walk(root);
        return found;
      };
      const expected = files(fresh);
      const committed = files('docs/api');
      expect([...committed.keys()].sort(), 'docs/api is stale: run npm run docs and commit it').toEqual([...expected.keys()].sort());
      for (const [path, content] of expected) expect(committed.get(path), `docs/api/${path} is stale: run npm run docs`).toBe(content);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the README in the npm package (issue 26: its links to docs/ led nowhere from the tarball)', () => {
  it('links only to files the package ships, or to the repository by absolute URL, each to a file that exists', () => {
    const readme = readFileSync('README.md', 'utf8');
    const shipped = (JSON.parse(readFileSync('package.json', 'utf8')) as { files: string[] }).files;
    const repository = 'https://github.com/credential-actor/credential-actor/blob/main/';
    const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !target.startsWith('#'));
    expect(targets.length).toBeGreaterThan(10);
    for (const target of targets) {
      if (target.startsWith(repository)) {
        const path = target.slice(repository.length).split('#')[0]!;
        expect(existsSync(path), `${target}: no ${path} in the repository`).toBe(true);
      } else if (!/^https?:\/\//.test(target)) {
        const path = target.split('#')[0]!;
        expect(
          shipped.some((entry) => path === entry || path.startsWith(`${entry}/`)),
          `${target} is not in the package: link it by its repository URL`,
        ).toBe(true);
      }
    }
  });
});
