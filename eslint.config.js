// ESLint flat config: @eslint/js and typescript-eslint recommended, type-aware
// (recommendedTypeChecked, via the TypeScript project service).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', '.data/', 'coverage/', 'src/graphql/generated/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Fastify hooks and routes, Apollo plugins and Kysely providers are async
      // by contract; an `async` body without `await` is how they are written.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    // graphql-shield's ES module build cannot load on Node >= 23: both it and
    // graphql-middleware come through src/authz/shield-lib.ts only.
    files: ['**/*.ts'],
    ignores: ['src/authz/shield-lib.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'graphql-shield', message: 'Import from src/authz/shield-lib.ts (loads the CommonJS build; see docs/ARCHITECTURE.md).' },
            { name: 'graphql-middleware', message: 'Import from src/authz/shield-lib.ts (loads the CommonJS build; see docs/ARCHITECTURE.md).' },
          ],
        },
      ],
    },
  },
  {
    // Plain JavaScript config files: no type information to lint against.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Migrations describe the schema as it was then, so they use Kysely<any>.
    files: ['migrations/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
