// ESLint flat config: @eslint/js and typescript-eslint recommended, type-aware
// (recommendedTypeChecked, via the TypeScript project service).
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const SHIELD_PATHS = [
  { name: 'graphql-shield', message: 'Import from src/authz/shield-lib.ts (loads the CommonJS build; see docs/architecture/decisions/0003-graphql-shield-on-node-24.md).' },
  { name: 'graphql-middleware', message: 'Import from src/authz/shield-lib.ts (loads the CommonJS build; see docs/architecture/decisions/0003-graphql-shield-on-node-24.md).' },
];

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', '.data/', 'coverage/', 'src/graphql/generated/**', 'test/clients/rest/v1.ts'],
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
      'no-restricted-imports': ['error', { paths: SHIELD_PATHS }],
    },
  },
  {
    // Module boundaries. A module reaches another only through its service
    // (never its repository), and modules stay free of HTTP and GraphQL
    // execution details: services get a Scope (src/scope/), resolvers are
    // typed with it, and effects travel back as data. (A later config's
    // options replace an earlier one's, so the shield paths are repeated.)
    files: ['src/modules/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: SHIELD_PATHS,
          patterns: [
            {
              group: ['../*/*.repository', '../*/*.repository.js', '../../modules/*/*.repository', '../../modules/*/*.repository.js'],
              message: "Call the other module's service, never its repository.",
            },
            {
              group: ['**/graphql/context', '**/graphql/context.js', '**/auth/http', '**/auth/http.js'],
              message: 'Modules take a Scope (src/scope/scope.ts), not the GraphQL context or the HTTP hook.',
            },
            {
              group: ['fastify', 'fastify/*', '@fastify/*', '@as-integrations/*', '@apollo/*'],
              message: 'Modules do not depend on the HTTP server or Apollo; return effects instead.',
            },
          ],
        },
      ],
    },
  },
  {
    // Outside the modules, nothing reaches into a module's repository either.
    files: ['src/**/*.ts'],
    ignores: ['src/modules/**', 'src/authz/shield-lib.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: SHIELD_PATHS,
          patterns: [{ group: ['**/modules/*/*.repository', '**/modules/*/*.repository.js'], message: "Call the module's service, never its repository." }],
        },
      ],
    },
  },
  {
    // No import circles in the application: a module that reaches itself
    // back through others half-initialises one of them at start-up, and
    // hides which layer depends on which. Resolved as TypeScript resolves
    // ESM (`./x.js` is `./x.ts`) by import-x's own resolver, no extra
    // package. The rule skips `import type`; test/unit/import-graph.test.ts
    // counts those too.
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [importX.createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      'import-x/no-cycle': 'error',
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
