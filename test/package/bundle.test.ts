import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

describe('the core bundles for browsers', () => {
  it('has no Node-only import', async () => {
    const entry = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((input) => input.includes('machines/credential.machine.ts'))).toBe(true);
    expect(inputs.filter((input) => input.startsWith('node:'))).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/from ["']node:/);
    expect(code).not.toMatch(/require\(["'](node:)?(util|crypto|timers|events)["']\)/);
  });

  it('core + credential-actor/browser, minified and gzipped, stay under 30 kB (reported)', async () => {
    // what a single-page app ships: the provider and the tabs' coordination, bundled as an app would
    // (25 kB until the tabs got one breaker, the refresh-token record and its version marker; 28 kB
    // until thrown values were read defensively and currentToken({ rejected }); 29 kB until every
    // breaker followed one definition, `machines/breaker.ts`; the grant runner and the refresh-token
    // statechart load with the first refresh-token grant)
    // code splitting on, as app bundlers do by default: opt-in persistence is a chunk of its own,
    // loaded only by a coordination that persists
    const sizesOf = async (contents: string) => {
      const result = await build({
        stdin: { contents, resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'ts', sourcefile: 'app.ts' },
        bundle: true,
        minify: true,
        splitting: true,
        outdir: 'out',
        write: false,
        metafile: true,
        platform: 'browser',
        format: 'esm',
        target: 'es2022',
        logLevel: 'silent',
      });
      const gzipped = new Map(result.outputFiles.map((file) => [file.path.slice(file.path.lastIndexOf('/out/') + 1), gzipSync(file.contents, { level: 9 }).byteLength]));
      // what the app loads up front: the entry and the chunks it imports statically, transitively
      const upFront = new Set<string>();
      const visit = (path: string) => {
        if (upFront.has(path)) return;
        upFront.add(path);
        for (const { path: imported, kind } of result.metafile.outputs[path]!.imports) if (kind === 'import-statement') visit(imported);
      };
      visit('out/stdin.js');
      const sum = (paths: string[]) => paths.reduce((total, path) => total + gzipped.get(path)!, 0);
      return { entry: sum([...upFront]), lazy: sum([...gzipped.keys()].filter((path) => !upFront.has(path))) };
    };
    const core = await sizesOf("export { createCredentialProvider } from '../../src/index.ts';");
    const withBrowser = await sizesOf("export { createCredentialProvider } from '../../src/index.ts'; export { browserCoordination } from '../../src/browser/index.ts';");
    console.log(`bundle, minified + gzip: core ${core.entry} B, core + browser ${withBrowser.entry} B (+ ${withBrowser.lazy} B loaded with persist: true)`);
    expect(core.lazy).toBe(0);
    expect(withBrowser.lazy).toBeGreaterThan(1_000);
    expect(withBrowser.entry).toBeGreaterThan(core.entry);
    expect(withBrowser.entry).toBeLessThan(30_000);
  });
});
