// Jest configuration for the conformance suite under __test__/.
// The suite drives the unmodified reference client (node-nats-streaming 0.3.2)
// against a real server: ours (default) or the reference one
// (STAN_SERVER_IMPL=reference). Files run one at a time: each starts its own
// server(s) on free loopback ports, and the machine has 2 cores.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/__test__/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  maxWorkers: 1,
  testTimeout: 30000,
  // Servers started by __test__/helpers/server.ts are listed in a registry;
  // the teardown kills any that a test file failed to stop.
  globalSetup: '<rootDir>/__test__/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/__test__/helpers/global-teardown.ts',
  // Never let a leaked handle hang CI: exit once the run is over (after the teardown).
  forceExit: true,
  verbose: true,
};
