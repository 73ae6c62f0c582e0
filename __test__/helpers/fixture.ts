//! Per-file fixture: one server for the file, all clients closed after each test.

import { ServerOptions, StanServer } from './server';
import { Clients } from './stan';

export interface Fixture {
  server(): StanServer;
  clients: Clients;
}

/** Lines of a failing test's server log printed (its end). */
const LOG_TAIL_LINES = 200;

/** Set by __test__/helpers/environment.js when the test that just ran failed. */
function testFailed(): boolean {
  return (globalThis as { __stanTestFailed?: boolean }).__stanTestFailed === true;
}

/** Print the end of the server's log, so a failure on CI can be understood from its output. */
function printLogTail(srv: StanServer): void {
  const lines = srv.logs().split('\n');
  const tail = lines.slice(-LOG_TAIL_LINES).join('\n');
  const name = expect.getState().currentTestName ?? '(unknown test)';
  process.stderr.write(`\n--- the last ${Math.min(lines.length, LOG_TAIL_LINES)} lines of the server log after the failed test "${name}" ---\n${tail}\n--- end of the server log ---\n`);
}

export function useServer(opts: ServerOptions = {}): Fixture {
  let srv: StanServer | undefined;
  const server = (): StanServer => {
    if (srv === undefined) throw new Error('server not started');
    return srv;
  };
  const clients = new Clients(server);
  beforeAll(async () => {
    srv = await StanServer.start(opts);
  }, 30000);
  afterEach(async () => {
    if (testFailed() && srv !== undefined) printLogTail(srv);
    await clients.closeAll();
  }, 15000);
  afterAll(async () => {
    await clients.closeEverything();
    if (srv !== undefined) await srv.dispose();
  }, 15000);
  return { server, clients };
}
