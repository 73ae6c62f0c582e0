// Jest test environment of the conformance suite: Node's, plus a flag the
// fixtures read in afterEach to tell whether the test that just ran failed
// (jest-circus runs afterEach hooks after the test's failure event), so a
// failing test prints the log of the server it ran against.
'use strict';
const { TestEnvironment } = require('jest-environment-node');

class StanTestEnvironment extends TestEnvironment {
  async handleTestEvent(event) {
    if (event.name === 'test_start') this.global.__stanTestFailed = false;
    if (event.name === 'test_fn_failure') this.global.__stanTestFailed = true;
  }
}

module.exports = StanTestEnvironment;
