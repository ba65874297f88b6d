// npm run build, last step (after the JavaScript, without comments, and the declarations, with
// their TSDoc). Source maps point at the sources in the repository at this version's tag, so they
// lead a stack trace or a debugger to real files without shipping them. Then CommonJS entry points
// beside the ES modules, without a second copy
// of the library. Each `require` entry is a one-line `.cjs` file that require()s the ES module
// (Node ^20.19 and >= 22.12 load ES modules synchronously), so an app that both imports and
// requires credential-actor gets one module instance: one `Secret` class, one `CredentialError`
// (no dual-package hazard). TypeScript's CommonJS resolutions (`node16`, `nodenext` from a CJS file,
// `node10`) get `.d.cts` declarations, the `.d.ts` ones with their relative specifiers renamed.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Every file under `dir` whose name ends with `suffix`. */
function filesUnder(dir, suffix) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path, suffix) : name.endsWith(suffix) ? [path] : [];
  });
}

const repository = String(packageJson.repository?.url ?? '')
  .replace(/^git\+/, '')
  .replace(/\.git$/, '');
let maps = 0;
for (const dir of ['dist/src', 'dist/machines']) {
  for (const file of filesUnder(join(root, dir), '.js.map')) {
    const map = JSON.parse(readFileSync(file, 'utf8'));
    // '../../src/provider.ts' from dist/src/provider.js.map: the file's URL in the repository. A full
    // URL, not a sourceRoot: Node's --enable-source-maps ignores sourceRoot and would resolve the
    // bare path against the map's own folder (dist/src/testing/model/src/testing/model/replay.ts)
    const inRepository = (source) => `${repository}/blob/v${packageJson.version}/${source.replace(/^(\.\.\/)+/, '')}`;
    const { sourceRoot: _sourceRoot, ...rest } = map;
    writeFileSync(file, JSON.stringify({ ...rest, sources: map.sources.map(inRepository) }));
    maps++;
  }
}

let declarations = 0;
for (const dir of ['dist/src', 'dist/machines']) {
  for (const file of filesUnder(join(root, dir), '.d.ts')) {
    const source = readFileSync(file, 'utf8');
    // './provider.js' -> './provider.cjs' (resolved by TypeScript to './provider.d.cts'); packages untouched
    const renamed = source.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.js(['"])/g, '$1$2.cjs$3');
    writeFileSync(file.replace(/\.d\.ts$/, '.d.cts'), renamed);
    declarations++;
  }
}

let entries = 0;
for (const [subpath, conditions] of Object.entries(packageJson.exports)) {
  if (typeof conditions === 'string') continue; // ./package.json
  const esm = conditions.import.default;
  const cjs = conditions.require.default;
  const relative = `./${esm.split('/').at(-1)}`;
  writeFileSync(join(root, cjs), `'use strict';\n// ${subpath}: the ES module itself (see scripts/build-cjs.mjs)\nmodule.exports = require('${relative}');\n`);
  entries++;
}
console.log(`finish-build: ${maps} source maps pointed at the repository, ${entries} CommonJS entries, ${declarations} .d.cts declarations`);
