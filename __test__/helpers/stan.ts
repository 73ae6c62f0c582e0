//! Promise helpers around the client under test (STAN_CLIENT, see client.ts:
//! the unmodified node-nats-streaming 0.3.2 or our package), with bounded
//! waits everywhere, and a tracker that closes every client a test opened (a
//! client left open keeps reconnecting forever).

import * as crypto from 'crypto';
import nats, { CLIENT, Message, Stan, StanOptions, Subscription, SubscriptionOptions } from './client';
import { StanServer } from './server';

export { CLIENT, Message, Stan, Subscription, SubscriptionOptions };

/** The 0.3.2 runtime has these; its d.ts does not. */
export interface MessageExtra {
  getRedeliveryCount(): number;
}
export function redeliveryCount(m: Message): number {
  return (m as unknown as MessageExtra).getRedeliveryCount();
}

export function uid(prefix = 'c'): string {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

/** Errors arrive as strings (server texts in 0.3.2), Error or NatsError objects (ours: always Errors). */
export function errText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Resolve when `emitter` emits `event`, reject after `ms`. */
export function once<T = unknown>(
  emitter: NodeJS.EventEmitter,
  event: string,
  ms: number,
  what = event,
): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const onEvent = (...args: T[]): void => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.removeListener(event, onEvent);
      reject(new Error(`timed out after ${ms} ms waiting for '${what}'`));
    }, ms);
    emitter.once(event, onEvent);
  });
}

/** Poll `fn` until it returns a truthy value (or resolves to one) or `ms` passes. */
export async function waitFor<T>(fn: () => T | Promise<T>, ms: number, what: string, every = 50): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${errText(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

export class Clients {
  /** Clients closed after each test. */
  private readonly all = new Set<Stan>();
  /** Clients that live for the whole file (closed by closeEverything). */
  private readonly kept = new Set<Stan>();

  constructor(private readonly server: () => StanServer) {}

  /** Create a client without waiting (for tests that expect an error). */
  raw(clientId: string, opts: StanOptions = {}): Stan {
    const s = this.server();
    const sc = nats.connect(s.clusterId, clientId, { url: s.url, ...opts });
    // An 'error' with no listener would crash the worker; tests add their own as well.
    sc.on('error', () => undefined);
    this.all.add(sc);
    return sc;
  }

  /** Connect (bounded) a client that stays open for the whole test file. */
  async connectKeep(clientId = uid(), opts: StanOptions = {}, ms = 5000): Promise<Stan> {
    const sc = await this.connect(clientId, opts, ms);
    this.all.delete(sc);
    this.kept.add(sc);
    return sc;
  }

  /** Connect and wait for 'connect' (bounded). The client is closed after the test. */
  async connect(clientId = uid(), opts: StanOptions = {}, ms = 5000): Promise<Stan> {
    const sc = this.raw(clientId, opts);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connect '${clientId}' timed out after ${ms} ms`)), ms);
      sc.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      sc.once('error', (e: unknown) => {
        clearTimeout(timer);
        reject(new Error(`connect '${clientId}' failed: ${errText(e)}`));
      });
    });
    return sc;
  }

  /** Close one client and wait (bounded) for 'close'; force the NATS socket shut if needed. */
  async close(sc: Stan, ms = 3000): Promise<void> {
    this.all.delete(sc);
    this.kept.delete(sc);
    await closeStan(sc, ms);
  }

  /**
   * Make a client go away while its server is down (like a crashed process).
   * Reference: drop the NATS connection without a STAN close. Ours has no
   * such handle: close() (its CloseRequest times out while no server runs,
   * then the session ends), awaited, so nothing reaches a restarted server.
   */
  async abandon(sc: Stan, ms = 5000): Promise<void> {
    this.all.delete(sc);
    this.kept.delete(sc);
    if (CLIENT === 'reference') forceClose(sc);
    else await closeStan(sc, ms);
  }

  /** Close the clients of the current test. */
  async closeAll(ms = 3000): Promise<void> {
    const list = [...this.all];
    this.all.clear();
    await Promise.all(list.map((sc) => closeStan(sc, ms)));
  }

  /** Close every client, the file-scoped ones too. */
  async closeEverything(ms = 3000): Promise<void> {
    const list = [...this.all, ...this.kept];
    this.all.clear();
    this.kept.clear();
    await Promise.all(list.map((sc) => closeStan(sc, ms)));
  }
}

interface StanInternals {
  nc?: { close(): void; closed?: boolean };
  isClosed?: () => boolean;
  cleanupOnClose?: (err?: Error) => void;
}

/**
 * Shut a client's NATS socket without a STAN close. nats.js `close()` removes
 * its listeners, so stan.js never hears of it: run stan.js's own cleanup first,
 * or its ping timer would later publish on the closed connection and throw.
 */
function forceClose(sc: Stan): void {
  if (CLIENT === 'ours') return; // no nats.js underneath; close() ends everything
  const internals = sc as unknown as StanInternals;
  try {
    internals.cleanupOnClose?.call(sc, new Error('stan: Connection closed'));
  } catch {
    // nothing to clean
  }
  try {
    internals.nc?.close();
  } catch {
    // already closed
  }
}

async function closeStan(sc: Stan, ms: number): Promise<void> {
  const internals = sc as unknown as StanInternals;
  if (internals.isClosed?.() || internals.nc?.closed) {
    forceClose(sc);
    return;
  }
  const closed = once(sc, 'close', ms).then(
    () => true,
    () => false,
  );
  try {
    sc.close();
  } catch {
    // ignore
  }
  await closed;
  forceClose(sc);
}

/** Publish and wait for the PubAck; rejects with the error text (a string in 0.3.2). */
export function publish(sc: Stan, subject: string, data?: string | Buffer | Uint8Array, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`publish to ${subject}: no ack after ${ms} ms`)), ms);
    sc.publish(subject, data, (err, guid) => {
      clearTimeout(timer);
      if (err !== undefined) reject(new Error(errText(err)));
      else resolve(guid);
    });
  });
}

/** Publish with the callback's raw error value (string, Error or undefined). */
export function publishRaw(sc: Stan, subject: string, data?: string, ms = 5000): Promise<{ err: unknown; guid: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`publish to ${subject}: no callback after ${ms} ms`)), ms);
    sc.publish(subject, data, (err, guid) => {
      clearTimeout(timer);
      resolve({ err, guid });
    });
  });
}

export async function publishMany(sc: Stan, subject: string, datas: string[]): Promise<void> {
  for (const d of datas) await publish(sc, subject, d);
}

export interface ReadySub {
  sub: Subscription;
  msgs: Message[];
  errors: unknown[];
  /** Wait until at least n messages arrived in total (bounded). */
  waitCount(n: number, ms?: number): Promise<Message[]>;
}

/**
 * Subscribe, record every message and error, and wait for 'ready'.
 * Rejects with the server's error text if the subscription fails.
 */
export function subscribe(
  sc: Stan,
  subject: string,
  group: string | undefined,
  opts: SubscriptionOptions | undefined,
  onMsg?: (m: Message) => void,
  ms = 5000,
): Promise<ReadySub> {
  const o = opts ?? sc.subscriptionOptions();
  const sub = group === undefined ? sc.subscribe(subject, o) : sc.subscribe(subject, group, o);
  const r: ReadySub = {
    sub,
    msgs: [],
    errors: [],
    waitCount: (n, wms = 5000) =>
      waitFor(() => r.msgs.length >= n, wms, `${n} messages on ${subject} (have ${r.msgs.length})`).then(() => r.msgs),
  };
  sub.on('message', (m: Message) => {
    r.msgs.push(m);
    if (onMsg) onMsg(m);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`subscribe ${subject}: not ready after ${ms} ms`)), ms);
    sub.once('ready', () => {
      clearTimeout(timer);
      resolve(r);
    });
    sub.on('error', (e: unknown) => {
      r.errors.push(e);
      clearTimeout(timer);
      reject(new Error(errText(e)));
    });
  });
}

/** Subscribe expecting a server-side error; resolves with the error value as emitted. */
export function subscribeError(
  sc: Stan,
  subject: string,
  group: string | undefined,
  opts: SubscriptionOptions,
  ms = 5000,
): Promise<unknown> {
  const sub = group === undefined ? sc.subscribe(subject, opts) : sc.subscribe(subject, group, opts);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`subscribe ${subject}: no error after ${ms} ms`)), ms);
    sub.once('ready', () => {
      clearTimeout(timer);
      reject(new Error(`subscribe ${subject}: expected an error, got 'ready'`));
    });
    sub.once('error', (e: unknown) => {
      clearTimeout(timer);
      resolve(e);
    });
  });
}

/** Unsubscribe or close a subscription and wait for the server's reply event. */
export async function endSub(sub: Subscription, how: 'unsubscribe' | 'close', ms = 5000): Promise<void> {
  const ev = how === 'unsubscribe' ? 'unsubscribed' : 'closed';
  const p = once(sub, ev, ms);
  if (how === 'unsubscribe') sub.unsubscribe();
  else sub.close();
  await p;
}

export function seqs(msgs: Message[]): number[] {
  return msgs.map((m) => m.getSequence());
}

export function datas(msgs: Message[]): string[] {
  return msgs.map((m) => String(m.getData()));
}
