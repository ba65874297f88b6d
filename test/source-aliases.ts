import { fileURLToPath } from 'node:url';

/**
 * The package's own name resolved to its sources, for the examples (which import
 * `credential-actor/...` as a user's code does) when vitest runs them: the same mapping as
 * tsconfig.json's `paths`, which tsc and tsx (`npm run demo`) use. The published package resolves
 * the name through `exports` to `dist/`.
 */
const src = fileURLToPath(new URL('../src/', import.meta.url));
export const SOURCE_ALIASES = [
  { find: /^credential-actor$/, replacement: `${src}index.ts` },
  { find: /^credential-actor\/(oauth2|redis|otel|timeline|testing|azure|aws|browser|fetch)$/, replacement: `${src}$1/index.ts` },
];
