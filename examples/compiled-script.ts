/**
 * This repository's own TypeScript scripts (the demo's fleet workers, the tests' fleet workers, idle
 * SDK processes, the inspector's app), compiled once into one ES module each, for the processes the
 * demo and the real-process tests start. Started through tsx, each process paid about a second of
 * CPU before its first line (the loader resolving and transforming every import): eight workers at
 * once kept the two cores busy for seconds. Compiled here, a worker starts on plain Node. The
 * packages they import are bundled in too (the same code, as an app bundled for deployment runs
 * it): a process then reads one file instead of resolving and reading hundreds (the AWS SDK's
 * clients alone are hundreds of modules), which took 39 s of CPU down to 31 s over the AWS and
 * SDK-source fleets' sixteen processes. tsx compiles with the same esbuild, and `credential-actor`
 * resolves to `src/` through the same `paths` of tsconfig.json, so our code that runs is the same.
 */
import { buildSync } from 'esbuild';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Inside `node_modules`, so that whatever a bundle still resolves at run time resolves as the sources do; emptied by the test suite's global setup. */
export const COMPILED_SCRIPTS = join(ROOT, 'node_modules', '.cache', 'credential-actor-scripts');
/** Per process: two test files, or a test and a demo, may compile the same script at once. */
const OUT = join(COMPILED_SCRIPTS, String(process.pid));
const compiled = new Map<string, string>();

/**
 * The path of `script` (a `.ts` file of this repository, absolute or relative to its root) compiled
 * into one ES module, compiled at the first call of this process.
 *
 * @example
 * ```ts
 * spawn(process.execPath, [compiledScript('test/sdk/aws-idle-worker.ts'), 'stop']);
 * ```
 */
export function compiledScript(script: string): string {
  const source = resolve(ROOT, script);
  let out = compiled.get(source);
  if (out === undefined) {
    out = join(OUT, relative(ROOT, source).replaceAll(/[\\/]/g, '_').replace(/\.ts$/, '.mjs'));
    mkdirSync(OUT, { recursive: true });
    buildSync({
      entryPoints: [source],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // the CommonJS packages bundled into an ES module still call require() for Node's built-ins
      banner: { js: "import { createRequire as createRequireOfTheBundle } from 'node:module'; const require = createRequireOfTheBundle(import.meta.url);" },
      // no source map: Node reads an inline one at every start with --enable-source-maps (a tenth of a
      // second each); the bundle is plain, unminified JavaScript that names each source file in comments
      logLevel: 'error',
    });
    compiled.set(source, out);
  }
  return out;
}

/**
 * Removes what {@link compiledScript} compiled in this process (the demo calls it as it ends; the
 * test suite empties the whole directory before it starts).
 *
 * @example
 * ```ts
 * try { await runWorkers(compiledScript('examples/fleet-worker.ts')); } finally { removeCompiledScripts(); }
 * ```
 */
export function removeCompiledScripts(): void {
  compiled.clear();
  rmSync(OUT, { recursive: true, force: true });
}
