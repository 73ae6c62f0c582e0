//! A record of the server process groups the harness started, kept in a
//! directory that Jest's globalSetup creates (STAN_HARNESS_REGISTRY). The
//! globalTeardown ends whatever is still listed, so a test file that failed
//! to stop its server (or a forced Jest exit) leaves nothing running.

import * as fs from 'fs';
import * as path from 'path';

const dir = (): string | undefined => process.env.STAN_HARNESS_REGISTRY;

export function register(pgid: number): void {
  const d = dir();
  if (d !== undefined && fs.existsSync(d)) fs.writeFileSync(path.join(d, String(pgid)), '');
}

export function unregister(pgid: number): void {
  const d = dir();
  if (d !== undefined) fs.rmSync(path.join(d, String(pgid)), { force: true });
}

/** SIGKILL every process group still listed in `registryDir`; returns how many were listed. */
export function killListed(registryDir: string): number {
  if (!fs.existsSync(registryDir)) return 0;
  const listed = fs.readdirSync(registryDir).filter((n) => /^\d+$/.test(n));
  for (const name of listed) {
    try {
      process.kill(-Number(name), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return listed.length;
}
