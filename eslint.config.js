// Type-aware lint, a step of `npm test`: what the compiler cannot see. No floating promise (every
// promise is awaited, returned, or handed to `void` with its failure handled), no promise where a
// plain value or callback is expected, no unhandled thenable.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'docs/**', 'test/.generated/**', 'node_modules/**', 'coverage/**', '.stryker-tmp/**', 'reports/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: { allowDefaultProject: ['vitest.config.ts', 'vitest.mutate.config.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
);
