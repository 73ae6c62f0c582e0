// Jest configuration for the conformance suite under __test__/.
// The suite drives a client library against a real server:
//   STAN_CLIENT=reference (default) the unmodified node-nats-streaming 0.3.2,
//   STAN_CLIENT=ours                 this repository's Node package;
//   STAN_SERVER_IMPL=ours (default)  our stan-server,
//   STAN_SERVER_IMPL=reference       the Go nats-streaming-server 0.25.6.
// `npm test` (.ci/test) runs all four combinations. The tests of our package
// itself (__test__/node/: it is imported directly, with its own test server)
// run when STAN_CLIENT=ours. Files run one at a time: each starts its own
// server(s) on free loopback ports, and the machine has 2 cores.
const client = (process.env.STAN_CLIENT || 'reference').toLowerCase();

/** @type {import('jest').Config} */
module.exports = {
  // Node's environment, plus a failed-test flag: a failing test prints its server's log.
  testEnvironment: '<rootDir>/__test__/helpers/environment.js',
  testMatch: ['<rootDir>/__test__/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', ...(client === 'ours' ? [] : ['<rootDir>/__test__/node/'])],
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
