/**
 * Jest runs the TypeScript sources as native ES modules (package.json has
 * "type": "module"; the npm script sets --experimental-vm-modules). @swc/jest
 * strips types only; `tsc --noEmit` is what type-checks.
 *
 * @type {import('jest').Config}
 */
const config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript' },
          target: 'es2022',
          // Class fields keep [[Define]] semantics, as tsc emits them for ES2022.
          transform: { useDefineForClassFields: true },
          keepClassNames: true,
        },
        // Jest picks the module type per file (ES modules for tests, CommonJS
        // for globalSetup/globalTeardown); this is the default for the former.
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  // NodeNext imports name the emitted file (`./x.js`); jest must find `./x.ts`.
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 30_000,
  // Two cores: one jest worker each; every test file has its own database.
  maxWorkers: 2,
};

export default config;
