/** ESM under jest: swc emits ES modules, `.js` suffixes of relative imports are stripped. */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  setupFiles: ['<rootDir>/test/helpers/setup.ts'],
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.cjs'],
  testTimeout: 60000,
  // `npm test` (CI) runs two files at a time: the whole suite took ~20 min with one worker and ~13 with two on a
  // 2-core machine. Safe because every test file keeps to its own: temp folders from mkdtemp, servers on port 0,
  // users, network namespaces and sshd farms under random names, its own XDG cache (test/helpers/setup.ts).
  // Working on one file, pass -w 1 to leave the other core alone.
  maxWorkers: 2,
};
