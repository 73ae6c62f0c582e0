//! Jest globalSetup: create the registry of server process groups (see registry.ts).

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export default function globalSetup(): void {
  process.env.STAN_HARNESS_REGISTRY = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-harness-'));
}
