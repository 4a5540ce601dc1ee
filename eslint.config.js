// ESLint flat config: type-aware typescript-eslint rules and import-cycle detection over every package's
// sources and tests. One type-checked program (tsconfig.test.json) serves all files.
import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX, createNodeResolver } from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.build/**', 'reports/**', '.stryker-tmp/**'] },
  {
    files: ['packages/*/src/**/*.ts', 'packages/*/test/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    plugins: { 'import-x': importX },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: {
      parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'], extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // A `let` assigned once after a closure that reads it (late binding) stays a `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      'import-x/no-cycle': 'error',
      'import-x/no-self-import': 'error',
      // A package is used through its name and entry (package.json "exports"), never by a relative path
      // into another package's folder (../../core/src/…): that bypasses the declared dependencies and the
      // build graph. Resolves the import, so it holds at any depth and for export-from and import().
      'import-x/no-relative-packages': 'error',
    },
  },
  // Every imported package is declared by the package that imports it: sources by its dependencies,
  // tests by its dependencies or devDependencies (or the workspace root's, which holds jest).
  ...readdirSync(new URL('./packages', import.meta.url)).flatMap((pkg) => [
    {
      files: [`packages/${pkg}/src/**/*.ts`],
      rules: { 'import-x/no-extraneous-dependencies': ['error', { packageDir: [`./packages/${pkg}`], devDependencies: false }] },
    },
    {
      files: [`packages/${pkg}/test/**/*.ts`],
      rules: { 'import-x/no-extraneous-dependencies': ['error', { packageDir: [`./packages/${pkg}`, '.'] }] },
    },
  ]),
  {
    // Services log through pino; console output in a service is a bug.
    files: ['packages/*/src/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
);
