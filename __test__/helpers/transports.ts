//! The two NATS transports of our Node package (STAN_RS_TRANSPORT 'js' and
//! 'thread'): connect on one of them with bounded waits, close, and put the
//! variable back after the file's tests.

import * as path from 'path';
import { StanServer } from './server';
import { uid } from './stan';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const stanPackage = require(path.join(__dirname, '..', '..', 'index.js'));

export const KINDS = ['js', 'thread'];

/** A connection as these tests use it (each test file widens it). */
export interface Closable {
  once(ev: string, f: (...a: unknown[]) => void): void;
  close(): void;
}

/** Restore STAN_RS_TRANSPORT after the file's tests (call at the top level). */
export function restoreTransportAfterAll(): void {
  const saved = process.env.STAN_RS_TRANSPORT;
  afterAll(() => {
    if (saved === undefined) delete process.env.STAN_RS_TRANSPORT;
    else process.env.STAN_RS_TRANSPORT = saved;
  });
}

/**
 * Connect our package on transport `kind` to `srv` (its URL unless `extra`
 * sets `url: undefined`, for a servers list alone); rejects on 'error' or
 * after 5 s without 'connect'.
 */
export function connectOn<T extends Closable>(kind: string, srv: StanServer, prefix: string, extra: object = {}): Promise<T> {
  process.env.STAN_RS_TRANSPORT = kind;
  const opts: Record<string, unknown> = { url: srv.url, ...extra };
  if (opts.url === undefined) delete opts.url;
  const sc: T = stanPackage.connect(srv.clusterId, uid(`${prefix}-${kind}`), opts);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind}: no 'connect' within 5 s`)), 5000);
    sc.once('connect', () => {
      clearTimeout(timer);
      resolve(sc);
    });
    sc.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Close `sc`; resolves with the 'close' event's argument (bounded: 5 s). */
export function closed(sc: Closable): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no 'close' within 5 s")), 5000);
    sc.once('close', (err) => {
      clearTimeout(timer);
      resolve(err);
    });
    sc.close();
  });
}
