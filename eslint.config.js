import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Imported through src/vendor (and @oclif/core through src/cli/oclif.ts) only, which the build
// bundles into one file each (scripts/vendor.mjs).
const VENDORED = [
  { group: ['apache-arrow', 'apache-arrow/*'], message: 'import it from src/vendor/apache-arrow.js' },
  { group: ['zod', 'zod/*'], message: 'import it from src/vendor/zod.js' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/out/**', 'fixtures/**/*.xlsx'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.name='eval']", message: 'no code execution' }, { selector: "NewExpression[callee.name='Function']", message: 'no code execution' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/vendor/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['@oclif/*'], message: 'src/ knows nothing of oclif' }, ...VENDORED] }] },
  },
  {
    files: ['src/cli/**/*.ts', 'commands/**/*.ts', 'bin/**/*.js'],
    ignores: ['src/cli/oclif.ts', 'bin/dev.js'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['@oclif/core', '@oclif/core/*'], message: 'import it from src/cli/oclif.js' }, ...VENDORED] }] },
  },
);
