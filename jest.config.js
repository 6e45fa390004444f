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
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
