// `sc.nc`, the STAN connection's NATS connection, used for core NATS beside
// STAN the way node-nats-streaming users do: publish/subscribe, queue groups,
// request/reply with a timeout, unsubscribe after max, flush, close.

import { useServer } from './helpers/fixture';
import { CLIENT, once, uid, waitFor } from './helpers/stan';

const fx = useServer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Nc {
  publish(subject: string, msg?: string, reply?: string | (() => void), cb?: (err?: unknown) => void): void;
  subscribe(subject: string, opts: { queue?: string; max?: number }, cb: (msg: string, reply: string, subject: string) => void): number;
  unsubscribe(sid: number, max?: number): void;
  request(subject: string, msg: string, opts: { max?: number; timeout?: number }, cb: (msg: unknown) => void): number;
  flush(cb: (err?: unknown) => void): void;
  on(event: string, cb: (...args: unknown[]) => void): void;
}

function nc(sc: unknown): Nc {
  return (sc as { nc: Nc }).nc;
}

function flushed(c: Nc): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('flush timed out')), 5000);
    c.flush((err) => {
      clearTimeout(t);
      if (err) reject(err);
      else resolve();
    });
  });
}

describe('sc.nc: core NATS beside STAN', () => {
  test('publish/subscribe on the same connection and across connections; the publish callback runs after a flush', async () => {
    const a = nc(await fx.clients.connect());
    const b = nc(await fx.clients.connect());
    const subject = uid('core');
    const gotA: string[] = [];
    const gotB: Array<[string, string]> = [];
    a.subscribe(subject, {}, (msg) => gotA.push(msg));
    b.subscribe(subject, {}, (msg, _reply, subj) => gotB.push([msg, subj]));
    await flushed(a);
    await flushed(b);
    await new Promise<void>((resolve, reject) => a.publish(subject, 'hello', (err?: unknown) => (err ? reject(err) : resolve())));
    a.publish(subject, '{"id":"123"}');
    await waitFor(() => gotA.length === 2 && gotB.length === 2, 5000, 'both subscribers got both');
    expect(gotA).toEqual(['hello', '{"id":"123"}']);
    expect(gotB).toEqual([
      ['hello', subject],
      ['{"id":"123"}', subject],
    ]);
  });

  test('request/reply with a responder, and a request timeout without one', async () => {
    const c = nc(await fx.clients.connect());
    const svc = uid('svc');
    c.subscribe(svc, {}, (msg, reply) => c.publish(reply, `pong:${msg}`));
    await flushed(c);
    const answer = await new Promise<unknown>((resolve) => c.request(svc, 'ping', { max: 1, timeout: 3000 }, resolve));
    expect(answer).toBe('pong:ping');

    const t0 = Date.now();
    const timedOut = await new Promise<unknown>((resolve) =>
      c.request(uid('nobody'), 'hi', { max: 1, timeout: 300 }, resolve),
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect((timedOut as { code?: string }).code).toBe('REQ_TIMEOUT');
    expect((timedOut as Error).message).toMatch(/^The request timed out for subscription id: -?\d+$/);
  });

  test('a queue group shares the messages; unsubscribe(sid, max) stops after max', async () => {
    const c = nc(await fx.clients.connect());
    const d = nc(await fx.clients.connect());
    const subject = uid('work');
    let n1 = 0;
    let n2 = 0;
    c.subscribe(subject, { queue: 'workers' }, () => n1++);
    d.subscribe(subject, { queue: 'workers' }, () => n2++);
    const capped: string[] = [];
    const sid = c.subscribe(subject, {}, (m) => capped.push(m));
    c.unsubscribe(sid, 2);
    await flushed(c);
    await flushed(d);
    for (let i = 0; i < 20; i++) c.publish(subject, `m${i}`);
    await waitFor(() => n1 + n2 === 20, 5000, '20 queue deliveries');
    await sleep(200);
    expect(n1 + n2).toBe(20);
    expect(capped).toEqual(['m0', 'm1']);
  });

  test('the NATS connection is closed once the STAN connection closed', async () => {
    const sc = await fx.clients.connect();
    const c = nc(sc) as Nc & { closed: boolean };
    expect(Boolean(c.closed)).toBe(false);
    // Ours also emits 'close' on nc (nats.js v1 drops its listeners before closing).
    const ncClosed = CLIENT === 'ours' ? once(c as unknown as NodeJS.EventEmitter, 'close', 5000) : Promise.resolve();
    const closed = once(sc, 'close', 5000);
    sc.close();
    await closed;
    await ncClosed;
    expect(c.closed).toBe(true);
  });

  const ours = CLIENT === 'ours' ? test : test.skip;
  ours('(ours) servers lists the URL; publish after close fails with CONN_CLOSED', async () => {
    const sc = await fx.clients.connect();
    const c = nc(sc) as Nc & { servers: string[] };
    expect(c.servers).toContain(fx.server().url);
    const closed = once(sc, 'close', 5000);
    sc.close();
    await closed;
    expect(() => c.publish('x', 'y')).toThrow('Connection closed');
  });
});
