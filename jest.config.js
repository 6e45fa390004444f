/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // zod keeps a config object on the global scope; Jest's soft clean-up between files only warns about it.
  testEnvironmentOptions: { globalsCleanup: 'off' },
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }],
  },
  // @middy/core is published as ES modules only: let the transform turn it into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!@middy/)'],
  // CDK synthesis in the infra tests is slow on a 2-core machine.
  testTimeout: 120000,
  // The workflow tests wait on the moto server more than they compute: two workers on two cores
  // keep both busy (one worker, Jest's default here, runs the files one after another).
  maxWorkers: 2,
  // The heaviest files first even on a clean clone, when Jest has no times of its own yet.
  testSequencer: '<rootDir>/test/support/test-sequencer.js',
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  // Each worker talks to its own moto server (see global-setup.ts); AWS request pacing runs on
  // virtual time (see virtual-pacing.ts).
  setupFiles: ['<rootDir>/test/support/worker-endpoint.ts', '<rootDir>/test/support/virtual-pacing.ts'],
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
