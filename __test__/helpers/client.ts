//! Which client library the suite drives: `STAN_CLIENT=reference` (default)
//! loads the unmodified `node-nats-streaming@0.3.2`, `STAN_CLIENT=ours` loads
//! this repository's Node package (`index.js` at the root). Both are typed
//! with the reference's declarations, the API the package is a drop-in for;
//! where the two deliberately differ (docs/compat.md, "Node package vs
//! node-nats-streaming") tests branch on `CLIENT` and assert each side exactly.

import * as path from 'path';
import type * as Reference from 'node-nats-streaming';

export type ClientImpl = 'reference' | 'ours';

export function clientImpl(): ClientImpl {
  const v = (process.env.STAN_CLIENT ?? 'reference').toLowerCase();
  if (v !== 'ours' && v !== 'reference') {
    throw new Error(`STAN_CLIENT must be 'ours' or 'reference', got '${v}'`);
  }
  return v;
}

export const CLIENT: ClientImpl = clientImpl();

/** The file a child Node process should `require()` to get the same client. */
export const CLIENT_MODULE: string =
  CLIENT === 'reference' ? require.resolve('node-nats-streaming') : path.resolve(__dirname, '..', '..', 'index.js');

// eslint-disable-next-line @typescript-eslint/no-require-imports
const nats: typeof Reference = require(CLIENT_MODULE);
export default nats;

export type { Message, Stan, StanOptions, Subscription, SubscriptionOptions, StartPosition } from 'node-nats-streaming';

/** The error value a server text arrives as: a string (0.3.2) or an Error with code SERVER_ERROR (ours). */
export function expectServerError(err: unknown, text: string): void {
  if (CLIENT === 'reference') {
    expect(typeof err).toBe('string');
    expect(err).toBe(text);
  } else {
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(text);
    expect((err as { code?: string }).code).toBe('SERVER_ERROR');
  }
}

/** An Error made by the client library itself (both clients), with our stable `code` when it is ours. */
export function expectClientError(err: unknown, text: string, code: string): void {
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message).toBe(text);
  if (CLIENT === 'ours') expect((err as { code?: string }).code).toBe(code);
}
