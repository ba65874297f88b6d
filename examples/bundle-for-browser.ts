/**
 * Bundles a page's script for browsers (ES modules, ES2022), as the browser demo and the browser
 * tests serve them: imports of `credential-actor` resolve to this repository's sources through
 * `tsconfig.json`'s paths, so no build is needed first.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

/** The bundled JavaScript of the module at `entry` (a `file:` URL). */
export async function bundleForBrowser(entry: URL): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}
