//! Per-file fixture: one server for the file, all clients closed after each test.

import { ServerOptions, StanServer } from './server';
import { Clients } from './stan';

export interface Fixture {
  server(): StanServer;
  clients: Clients;
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
    await clients.closeAll();
  }, 15000);
  afterAll(async () => {
    await clients.closeEverything();
    if (srv !== undefined) await srv.dispose();
  }, 15000);
  return { server, clients };
}
