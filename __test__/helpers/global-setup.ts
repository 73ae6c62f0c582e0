//! Jest globalSetup: create the registry of server process groups (see
//! registry.ts) and, with STAN_STORE=sql-*, start the database server (sqldb.ts).

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort } from './server';
import { sqlStore, startSqlServer } from './sqldb';

export default async function globalSetup(): Promise<void> {
  process.env.STAN_HARNESS_REGISTRY = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-harness-'));
  // STAN_STORE=sql-postgres|sql-mysql: one database server for the run (see sqldb.ts).
  const sql = sqlStore();
  if (sql !== undefined) startSqlServer(sql, await freePort());
}
