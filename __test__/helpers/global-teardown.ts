//! Jest globalTeardown: end every server process group a test left running.

import * as fs from 'fs';
import { killListed } from './registry';
import { stopSqlServer } from './sqldb';

export default function globalTeardown(): void {
  const dir = process.env.STAN_HARNESS_REGISTRY;
  stopSqlServer();
  if (dir === undefined) return;
  const n = killListed(dir);
  if (n > 0) console.warn(`[harness] ${n} server(s) were still running after the tests: killed`);
  fs.rmSync(dir, { recursive: true, force: true });
}
