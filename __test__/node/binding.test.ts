//! The stan-rs Node package itself (not the server): exports, option parsing,
//! URL rules, data coercion, guids, ack semantics, batching, and that Node
//! exits by itself after close(). Runs against the project's stan-server.

import { spawn } from 'child_process';
import * as path from 'path';
import nats, { Message, Stan, StartPosition, Subscription } from '../../index';
import { startTestServer, TestServer } from '../../testing';

const ROOT = path.join(__dirname, '..', '..');
let srv: TestServer;
let n = 0;
const clients: Stan[] = [];

beforeAll(async () => {
  srv = await startTestServer();
}, 20000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map(closeQuietly));
});

afterAll(async () => {
  if (srv) await srv.stop();
});

function uid(): string {
  return `node-${process.pid}-${++n}`;
}

function closeQuietly(sc: Stan): Promise<void> {
  return new Promise((resolve) => {
    if (sc.isClosed()) return resolve();
    const t = setTimeout(resolve, 3000);
    sc.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    sc.close();
  });
}

function connected(id = uid(), extra: object = {}): Promise<Stan> {
  return new Promise((resolve, reject) => {
    const sc = nats.connect(srv.clusterId, id, { url: srv.url, ...extra });
    clients.push(sc);
    sc.once('connect', () => resolve(sc));
    sc.once('error', reject);
  });
}

function ready(sub: Subscription): Promise<Subscription> {
  return new Promise((resolve, reject) => {
    sub.once('ready', () => resolve(sub));
    sub.once('error', reject);
  });
}

function publish(sc: Stan, subject: string, data?: string | Buffer | Uint8Array): Promise<string> {
  return new Promise((resolve, reject) => {
    sc.publish(subject, data, (err, guid) => (err ? reject(err) : resolve(guid)));
  });
}

function opts(sc: Stan, x: Record<string, unknown>): Record<string, unknown> {
  return (sc as unknown as { options: Record<string, unknown> }).options;
}

function runNode(script: string, timeoutMs: number): Promise<{ code: number | null; out: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child still running after ${timeoutMs} ms: ${out}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out, ms: Date.now() - t0 });
    });
  });
}

describe('exports', () => {
  test('connect, version, StartPosition, NewSubscriptionOptions', () => {
    expect(typeof nats.connect).toBe('function');
    expect(nats.version).toBe(require('../../package.json').version);
    expect({ ...nats.StartPosition }).toEqual({ NEW_ONLY: 0, LAST_RECEIVED: 1, TIME_DELTA_START: 2, SEQUENCE_START: 3, FIRST: 4 });
    const o = nats.NewSubscriptionOptions();
    expect([o.durableName, o.maxInFlight, o.ackWait, o.startPosition, o.manualAcks]).toEqual([
      undefined, 16384, 30000, undefined, undefined,
    ]);
  });

  test('setters chain and setStartTime computes the delta when called', () => {
    const o = nats.NewSubscriptionOptions();
    expect(o.setMaxInFlight(5).setAckWait(2000).setDurableName('d').setManualAckMode(true)).toBe(o);
    expect([o.maxInFlight, o.ackWait, o.durableName, o.manualAcks]).toEqual([5, 2000, 'd', true]);
    o.setStartTime(new Date(Date.now() - 10000));
    expect(o.startPosition).toBe(StartPosition.TIME_DELTA_START);
    expect(o.startTime! / 1e6).toBeGreaterThanOrEqual(10000);
    expect(o.startTime! / 1e6).toBeLessThan(11000);
    o.setStartAtTimeDelta(3000);
    expect(o.startTime).toBe(3e9);
    o.setStartAtSequence(9);
    expect([o.startPosition, o.startSequence]).toEqual([StartPosition.SEQUENCE_START, 9]);
    expect(o.setDeliverAllAvailable().startPosition).toBe(StartPosition.FIRST);
    expect(o.setStartWithLastReceived().startPosition).toBe(StartPosition.LAST_RECEIVED);
  });
});

describe('connect() arguments', () => {
  const parsed = (o: unknown): Record<string, unknown> => {
    const sc = nats.connect('c', 'id', typeof o === 'object' && o !== null ? { ...o, test_opts: true } : ({ test_opts: true } as never));
    return opts(sc, {});
  };

  test('ids are required', () => {
    expect(() => nats.connect('', 'id')).toThrow('stan: cluster ID must be supplied');
    expect(() => nats.connect('c', '')).toThrow('stan: client ID must be supplied');
    expect(() => nats.connect(undefined as unknown as string, 'id')).toThrow('stan: cluster ID must be supplied');
  });

  test('defaults and aliases', () => {
    const o = parsed({ uri: 'nats://h:1', password: 'pw', client: 'me', urls: ['a:1'], port: 5 });
    expect(o).toMatchObject({
      ackTimeout: 30000, connectTimeout: 2000, discoverPrefix: '_STAN.discover', maxPubAcksInflight: 16384,
      maxReconnectAttempts: -1, stanEncoding: 'utf8', stanMaxPingOut: 3, stanPingInterval: 5000,
      url: 'nats://h:1', pass: 'pw', name: 'me', servers: ['a:1'],
    });
    expect(parsed({ port: 4333 }).url).toBe('nats://localhost:4333');
  });

  test('a port number means nats://localhost:<port>', async () => {
    const sc = nats.connect(srv.clusterId, uid(), srv.port);
    clients.push(sc);
    expect(opts(sc, {}).url).toBe(`nats://localhost:${srv.port}`);
    await new Promise((r) => sc.once('connect', r));
  });

  test('URL forms', async () => {
    const sc1 = nats.connect(srv.clusterId, uid(), `127.0.0.1:${srv.port}`);
    clients.push(sc1);
    expect(opts(sc1, {}).url).toBe(`nats://127.0.0.1:${srv.port}`);
    const sc2 = nats.connect(srv.clusterId, uid(), { url: `http://localhost:${srv.port}` });
    clients.push(sc2);
    await Promise.all([sc1, sc2].map((sc) => new Promise((r) => sc.once('connect', r))));
    expect(() => nats.connect('c', 'id', { url: 'localhost:4222' })).toThrow(
      "Port should be >= 0 and < 65536. Received type string ('')",
    );
    expect(() => nats.connect('c', 'id', { url: '127.0.0.1:4222' })).toThrow('Invalid URL');
    expect(() => nats.connect('c', 'id', { url: 'http://localhost' })).toThrow(/Port should be/);
  });

  test('refused options throw with a code', () => {
    expect(() => nats.connect('c', 'id', { encoding: 'utf8' })).toThrow("stan: NATS connection encoding must be 'binary'.");
    let err: (Error & { code?: string }) | undefined;
    try {
      nats.connect('c', 'id', { nc: {} });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.code).toBe('UNSUPPORTED_OPTION');
    expect(err?.message).toMatch(/nc/);
  });
});

describe('publish', () => {
  test('guids are 22-character NUIDs, returned synchronously and acked', async () => {
    const sc = await connected();
    const guids = new Set<string>();
    for (let i = 0; i < 50; i++) guids.add(sc.publish('guids', `m${i}`));
    expect(guids.size).toBe(50);
    for (const g of guids) expect(g).toMatch(/^[0-9A-Za-z]{22}$/);
    const acked = await publish(sc, 'guids', 'last');
    expect(acked).toMatch(/^[0-9A-Za-z]{22}$/);
  });

  test('data that cannot be coerced throws the reference text', async () => {
    const sc = await connected();
    const cases: [unknown, string][] = [
      [42, 'number'], [true, 'boolean'], [{ a: 1 }, 'object'], [[1], 'array'], [new ArrayBuffer(2), 'object'],
      [new Int8Array(2), 'object'], [new Uint16Array(2), 'object'], [10n, 'bigint'],
    ];
    for (const [data, type] of cases) {
      expect(() => sc.publish('coerce', data as string)).toThrow(`Failure: Cannot coerce to Uint8Array: ${type}`);
    }
    // string, Buffer, Uint8Array, nothing: all accepted
    await publish(sc, 'coerce', 'héllo');
    await publish(sc, 'coerce', Buffer.from([1, 2]));
    await publish(sc, 'coerce', new Uint8Array([3]));
    await publish(sc, 'coerce');
  });

  test('closed connection: callback if given, else throw', async () => {
    const sc = await connected();
    await closeQuietly(sc);
    expect(sc.isClosed()).toBe(true);
    expect(() => sc.publish('x', 'y')).toThrow('stan: Connection closed');
    const errs: (Error & { code?: string })[] = [];
    expect(sc.publish('x', 'y', (err) => errs.push(err!))).toBeUndefined();
    expect(errs.map((e) => [e.message, e.code])).toEqual([['stan: Connection closed', 'CONN_CLOSED']]);
  });

  test('max in flight: max + 1 may be outstanding, then callback or throw', async () => {
    // Publishes made before the handshake completes are held, so none is acked
    // yet. stan-server is stopped (SIGSTOP) meanwhile, so the handshake cannot
    // complete on the addon's threads between the calls, however fast the machine.
    process.kill(srv.pid, 'SIGSTOP');
    let pending: string[];
    let thrown: unknown;
    let refused: unknown;
    const acked: string[] = [];
    const errs: unknown[] = [];
    let sc: Stan;
    try {
      sc = nats.connect(srv.clusterId, uid(), { url: srv.url, maxPubAcksInflight: 2 });
      clients.push(sc);
      pending = ['a', 'b', 'c'].map((d) => sc.publish('inflight', d, (err, guid) => acked.push(guid)));
      try {
        sc.publish('inflight', 'd');
      } catch (e) {
        thrown = e;
      }
      refused = sc.publish('inflight', 'e', (err) => errs.push(err));
    } finally {
      process.kill(srv.pid, 'SIGCONT');
    }
    expect(pending).toHaveLength(3);
    expect((thrown as Error | undefined)?.message).toBe('stan: max in flight reached.');
    expect(refused).toBeUndefined();
    expect(errs.map((e) => (e as Error).message)).toEqual(['stan: max in flight reached.']);
    // Once connected, the held publishes go out and are acked.
    await new Promise((r) => setTimeout(r, 500));
    expect(acked.sort()).toEqual([...pending].sort());
  });
});

describe('subscriptions', () => {
  test('the seed flow: http URL, queue group, durable, deliver all, manual ack', async () => {
    const pub = await connected();
    const data = JSON.stringify({ id: '123', title: 'concert', price: 20 });
    await publish(pub, 'ticket:created', data);
    const lis = await connected();
    const o = lis.subscriptionOptions().setManualAckMode(true).setDeliverAllAvailable().setDurableName('accounting-service');
    const sub = lis.subscribe('ticket:created', 'order-service-queue-group', o);
    const msg = await new Promise<Message>((resolve) => sub.on('message', resolve));
    expect(msg.getData()).toBe(data);
    expect(msg.getSubject()).toBe('ticket:created');
    expect(msg.getSequence()).toBe(1);
    expect(msg.getRawData()).toEqual(Buffer.from(data));
    expect(msg.isRedelivered()).toBe(false);
    expect(msg.getRedeliveryCount()).toBe(0);
    expect(msg.getCrc32()).toBe(0);
    expect(Math.abs(msg.getTimestamp().getTime() - Date.now())).toBeLessThan(10000);
    expect(msg.getTimestampRaw() / 1e6).toBeCloseTo(msg.getTimestamp().getTime(), -1);
    msg.ack();
    expect(sub.qGroup).toBe('order-service-queue-group');
  });

  test('auto-ack after the listeners; a throwing listener means no ack, an error and a redelivery', async () => {
    const sc = await connected();
    const subject = uid();
    const sub = await ready(sc.subscribe(subject, sc.subscriptionOptions().setAckWait(1000)));
    const seen: [number, boolean][] = [];
    const errors: string[] = [];
    sub.on('error', (e) => errors.push(e.message));
    sub.on('message', (m: Message) => {
      seen.push([m.getSequence(), m.isRedelivered()]);
      if (m.getData() === 'boom' && !m.isRedelivered()) throw new Error('listener failed');
    });
    await publish(sc, subject, 'fine');
    await publish(sc, subject, 'boom');
    await new Promise((r) => setTimeout(r, 2600));
    expect(errors).toEqual(['listener failed']);
    // 'fine' was acked (never redelivered); 'boom' came back once.
    expect(seen).toEqual([[1, false], [2, false], [2, true]]);
  });

  test('binary stanEncoding gives a Uint8Array; many messages arrive in order', async () => {
    const sc = await connected(uid(), { stanEncoding: 'binary' });
    const subject = uid();
    const sub = await ready(sc.subscribe(subject));
    const got: number[] = [];
    let first: unknown;
    const done = new Promise<void>((resolve) =>
      sub.on('message', (m: Message) => {
        if (first === undefined) first = m.getData();
        got.push(m.getSequence());
        if (got.length === 2000) resolve();
      }),
    );
    for (let i = 0; i < 2000; i++) sc.publish(subject, Buffer.from([i & 0xff]));
    await done;
    expect(first).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(first)).toBe(false);
    expect(got).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
  });

  test('bad input: no subject, ack wait not whole seconds, second unsubscribe', async () => {
    const sc = await connected();
    const e1 = await new Promise<Error>((r) => sc.subscribe('').on('error', r));
    expect(e1.message).toBe('stan: subject must be supplied');
    expect(() => sc.subscribe('x', sc.subscriptionOptions().setAckWait(1500))).toThrow(/whole number of seconds/);
    const refused = sc.subscribe('x', sc.subscriptionOptions().setMaxInFlight(0));
    const events: string[] = [];
    await new Promise<void>((resolve) => {
      refused.on('error', (e) => events.push(e.message));
      refused.on('unsubscribed', () => {
        events.push('unsubscribed');
        resolve();
      });
    });
    expect(events).toEqual(['stan: invalid MaxInflight, should be >= 1', 'unsubscribed']);
    const sub = await ready(sc.subscribe(uid()));
    const gone = new Promise((r) => sub.once('unsubscribed', r));
    sub.unsubscribe();
    expect(sub.isClosed()).toBe(true);
    await gone;
    const e2 = await new Promise<Error>((r) => {
      sub.once('error', r);
      sub.unsubscribe();
    });
    expect(e2.message).toBe('stan: invalid subscription');
  });
});

describe('process lifetime', () => {
  test('Node exits by itself after close()', async () => {
    const script = `
      const nats = require('./index.js');
      const sc = nats.connect(${JSON.stringify(srv.clusterId)}, 'exit-${process.pid}', { url: ${JSON.stringify(srv.url)} });
      sc.on('connect', () => {
        const sub = sc.subscribe('exit-test');
        sub.on('ready', () => sc.publish('exit-test', 'x', (err) => { console.log('acked', err); sc.close(); }));
      });
      sc.on('close', (err) => console.log('close', err));
    `;
    const r = await runNode(script, 10000);
    expect(r.out).toContain('acked undefined');
    expect(r.out).toContain('close null');
    expect(r.code).toBe(0);
  });

  test('a listener that throws does not lose the rest of the events', async () => {
    const script = `
      const nats = require('./index.js');
      process.on('uncaughtException', (e) => console.log('uncaught', e.message));
      const sc = nats.connect(${JSON.stringify(srv.clusterId)}, 'throw-${process.pid}', { url: ${JSON.stringify(srv.url)} });
      sc.on('connect', () => {
        const sub = sc.subscribe('throw-test');
        sub.on('ready', () => {
          for (let i = 1; i <= 3; i++) sc.publish('throw-test', 'm' + i);
          throw new Error('boom in ready');
        });
        let n = 0;
        sub.on('message', (m) => {
          console.log('message', m.getData());
          if (++n === 3) sc.close();
        });
      });
      sc.on('close', (err) => console.log('close', err));
    `;
    const r = await runNode(script, 10000);
    expect(r.out.trim().split('\n')).toEqual(['uncaught boom in ready', 'message m1', 'message m2', 'message m3', 'close null']);
    expect(r.code).toBe(0);
  });

  test('a first connection failure is an error (CONN_ERR, no close) and Node exits', async () => {
    const script = `
      const nats = require('./index.js');
      const sc = nats.connect('c', 'x', { url: 'nats://127.0.0.1:1' });
      sc.on('error', (e) => console.log('error', e.name, e.code, e.message));
      sc.on('close', () => console.log('close'));
    `;
    const r = await runNode(script, 10000);
    expect(r.out).toMatch(/^error NatsError CONN_ERR Could not connect to server: /);
    expect(r.out).not.toContain('close');
    expect(r.code).toBe(0);
  });
});
