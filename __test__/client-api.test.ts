// The node-nats-streaming API, row by row, under either client (STAN_CLIENT)
// and either server (STAN_SERVER_IMPL): Stan events and their arguments,
// isClosed(), Subscription events, payload encodings, and a long ordered run.
// Where 0.3.2 and our package deliberately differ (docs/compat.md), each
// side's documented behaviour is asserted exactly.

import nats, { CLIENT, Stan, Subscription, expectServerError } from './helpers/client';
import { useServer } from './helpers/fixture';
import { httpGet } from './helpers/http';
import { freePort } from './helpers/server';
import { Message, datas, errText, once, publish, seqs, subscribe, uid, waitFor } from './helpers/stan';

const fx = useServer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Log = Array<[string, unknown[]]>;

/** Record every emission of `events` on `em`, with its arguments. */
function record(em: NodeJS.EventEmitter, events: string[]): Log {
  const log: Log = [];
  for (const ev of events) em.on(ev, (...args: unknown[]) => log.push([ev, args]));
  return log;
}

const STAN_EVENTS = ['connect', 'close', 'error', 'disconnect', 'reconnect', 'reconnecting', 'connection_lost'];
const SUB_EVENTS = ['ready', 'error', 'timeout', 'unsubscribed', 'closed'];

/** isClosed() exists on both at run time (0.3.2's d.ts lacks it). */
const isClosed = (sc: Stan): boolean => (sc as unknown as { isClosed(): boolean }).isClosed();

async function clientStatus(id: string): Promise<number> {
  return (await httpGet(`${fx.server().monitorUrl}/streaming/clientsz?client=${id}`)).status;
}

describe('Stan events', () => {
  test("'connect' is emitted once, with the Stan object as its argument", async () => {
    const sc = fx.clients.raw(uid('ev'));
    const log = record(sc, STAN_EVENTS);
    expect(isClosed(sc)).toBe(false);
    const [arg] = await once(sc, 'connect', 5000);
    expect(arg).toBe(sc);
    expect(isClosed(sc)).toBe(false);
    await publish(sc, uid('s'), 'x');
    await sleep(200);
    expect(log).toEqual([['connect', [sc]]]);
  });

  test("a clean close(): 'close' exactly once, with null; the server forgets the client; isClosed()", async () => {
    const id = uid('bye');
    const sc = await fx.clients.connect(id);
    expect(await clientStatus(id)).toBe(200);
    const log = record(sc, STAN_EVENTS);
    const closed = once(sc, 'close', 5000);
    sc.close();
    // Ours: true from the moment close() is called; 0.3.2: only once the CloseResponse arrived.
    expect(isClosed(sc)).toBe(CLIENT === 'ours');
    expect(await closed).toEqual([null]);
    expect(isClosed(sc)).toBe(true);
    // The server was told (a CloseRequest, not a heartbeat expiry).
    expect(await clientStatus(id)).toBe(404);
    // close() again is a silent no-op.
    expect(() => sc.close()).not.toThrow();
    await sleep(300);
    expect(log).toEqual([['close', [null]]]);
  });

  test("handshake refused: 'error' with the server's text, then 'close' without an argument", async () => {
    const id = uid('twin');
    await fx.clients.connect(id);
    const sc = fx.clients.raw(id);
    const log = record(sc, STAN_EVENTS);
    await once(sc, 'close', 5000);
    await sleep(200);
    expect(log.map(([ev]) => ev)).toEqual(['error', 'close']);
    expectServerError(log[0][1][0], 'stan: clientID already registered');
    expect(log[0][1]).toHaveLength(1);
    expect(log[1][1]).toEqual([]);
    // 0.3.2 keeps its NATS reference after a failed handshake; ours reports the ended session.
    expect(isClosed(sc)).toBe(CLIENT === 'ours');
  });

  test("no server at the URL: 'error' NatsError CONN_ERR 'Could not connect to server: …', and no 'close'", async () => {
    const port = await freePort();
    const sc = fx.clients.raw(uid('nobody'), { url: `nats://127.0.0.1:${port}` });
    const log = record(sc, STAN_EVENTS);
    await waitFor(() => log.length > 0, 5000, 'an event');
    await sleep(1000);
    expect(log.map(([ev]) => ev)).toEqual(['error']);
    const err = log[0][1][0];
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('NatsError');
    expect((err as { code?: string }).code).toBe('CONN_ERR');
    expect(errText(err)).toMatch(/^Could not connect to server: /);
  });
});

describe('Subscription events', () => {
  test("'ready' and 'unsubscribed' carry no arguments; isClosed() is true from the unsubscribe() call; delivery stops", async () => {
    const sc = await fx.clients.connect();
    const subject = uid('sub');
    const sub = sc.subscribe(subject);
    const log = record(sub, SUB_EVENTS);
    const got: Message[] = [];
    sub.on('message', (m: Message) => got.push(m));
    expect(sub.isClosed()).toBe(false);
    await once(sub, 'ready', 5000);
    await publish(sc, subject, 'one');
    await waitFor(() => got.length === 1, 5000, 'the message');
    const gone = once(sub, 'unsubscribed', 5000);
    sub.unsubscribe();
    expect(sub.isClosed()).toBe(true);
    await gone;
    await publish(sc, subject, 'two');
    await sleep(300);
    expect(datas(got)).toEqual(['one']);
    expect(log).toEqual([
      ['ready', []],
      ['unsubscribed', []],
    ]);
  });

  test("'closed' carries no argument and a closed durable resumes", async () => {
    const sc = await fx.clients.connect();
    const subject = uid('sub');
    const opts = () => sc.subscriptionOptions().setDurableName('keep').setDeliverAllAvailable();
    const s1 = await subscribe(sc, subject, undefined, opts());
    const log = record(s1.sub, SUB_EVENTS);
    await publish(sc, subject, 'one');
    await s1.waitCount(1);
    await sleep(200);
    const closed = once(s1.sub, 'closed', 5000);
    s1.sub.close();
    expect(s1.sub.isClosed()).toBe(true);
    await closed;
    expect(log).toEqual([['closed', []]]);
    await publish(sc, subject, 'two');
    const s2 = await subscribe(sc, subject, undefined, opts());
    await s2.waitCount(1);
    await sleep(200);
    expect(seqs(s2.msgs)).toEqual([2]);
  });

  test("bad subject: 'error' 'stan: subject must be supplied' after subscribe() returned; isClosed() stays false", async () => {
    const sc = await fx.clients.connect();
    let sub: Subscription | undefined;
    expect(() => {
      sub = sc.subscribe('');
    }).not.toThrow();
    const s = sub as Subscription;
    const log = record(s, SUB_EVENTS);
    await waitFor(() => log.length > 0, 2000, 'an event');
    await sleep(200);
    expect(log.map(([ev]) => ev)).toEqual(['error']);
    expect(log[0][1][0]).toBeInstanceOf(Error);
    expect(errText(log[0][1][0])).toBe('stan: subject must be supplied');
    expect(s.isClosed()).toBe(false);
  });

  test("server refusal: 'error' with the server's text, then 'unsubscribed'", async () => {
    const sc = await fx.clients.connect();
    const sub = sc.subscribe(uid('s'), sc.subscriptionOptions().setMaxInFlight(0));
    const log = record(sub, SUB_EVENTS);
    await waitFor(() => log.length >= 2, 5000, 'two events');
    await sleep(200);
    expect(log.map(([ev]) => ev)).toEqual(['error', 'unsubscribed']);
    expect(log[0][1][0]).toBeInstanceOf(Error);
    expect(errText(log[0][1][0])).toBe('stan: invalid MaxInflight, should be >= 1');
    expect(log[1][1]).toEqual([]);
  });

  test("on a closed connection: subscribe() gives 'error' Connection closed; unsubscribe() of a live sub too", async () => {
    const sc = await fx.clients.connect();
    const live = await subscribe(sc, uid('s'), undefined, undefined);
    await fx.clients.close(sc);
    const late = sc.subscribe(uid('late'));
    const [e1] = await once<unknown>(late, 'error', 2000);
    expect(e1).toBeInstanceOf(Error);
    expect(errText(e1)).toBe('stan: Connection closed');
    const e2 = once<unknown>(live.sub, 'error', 2000);
    live.sub.unsubscribe();
    const [err] = await e2;
    expect(errText(err)).toBe('stan: Connection closed');
  });
});

describe('payloads', () => {
  test("stanEncoding 'binary': getData() is a Uint8Array (not a Buffer) with the bytes; getRawData() a Buffer", async () => {
    const sc = await fx.clients.connect(uid('bin'), { stanEncoding: 'binary' });
    const subject = uid('bin');
    const s = await subscribe(sc, subject, undefined, undefined);
    const bytes = [0, 1, 127, 128, 255, 0xc3, 0x28];
    await publish(sc, subject, Buffer.from(bytes));
    await publish(sc, subject, 'héllo');
    await s.waitCount(2);
    const d0 = s.msgs[0].getData() as unknown;
    expect(d0).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(d0)).toBe(false);
    expect(Array.from(d0 as Uint8Array)).toEqual(bytes);
    expect(Buffer.isBuffer(s.msgs[0].getRawData())).toBe(true);
    expect([...s.msgs[0].getRawData()]).toEqual(bytes);
    expect(Array.from(s.msgs[1].getData() as unknown as Uint8Array)).toEqual([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]);
  });

  test("UTF-8 text: 'héllo' is sent as 68 c3 a9 6c 6c 6f and read back as 'héllo'; empty payload is ''", async () => {
    const sc = await fx.clients.connect();
    const subject = uid('utf8');
    const s = await subscribe(sc, subject, undefined, undefined);
    await publish(sc, subject, 'héllo');
    await publish(sc, subject, Buffer.from('héllo wörld ✓ 🎫', 'utf8'));
    await publish(sc, subject, new Uint8Array([0x68, 0xc3, 0xa9]));
    await publish(sc, subject);
    await publish(sc, subject, '');
    await s.waitCount(5);
    expect([...s.msgs[0].getRawData()]).toEqual([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]);
    expect(s.msgs.map((m) => m.getData())).toEqual(['héllo', 'héllo wörld ✓ 🎫', 'hé', '', '']);
    for (const m of s.msgs) expect(typeof m.getData()).toBe('string');
  });

  test('10,000 messages: every publish acked, received once each, in order, no gap, no duplicate', async () => {
    const N = 10000;
    const sc = await fx.clients.connect();
    const rx = await fx.clients.connect();
    const subject = uid('many');
    const s = await subscribe(rx, subject, undefined, undefined);
    let acked = 0;
    const ackErrors: unknown[] = [];
    const guids = new Set<string>();
    const allAcked = new Promise<void>((resolve) => {
      for (let i = 1; i <= N; i++) {
        guids.add(
          sc.publish(subject, `m${i}`, (err) => {
            if (err !== undefined) ackErrors.push(err);
            if (++acked === N) resolve();
          }),
        );
      }
    });
    await Promise.race([allAcked, sleep(20000)]);
    expect([acked, ackErrors]).toEqual([N, []]);
    expect(guids.size).toBe(N);
    await s.waitCount(N, 20000);
    await sleep(300);
    expect(s.msgs.length).toBe(N);
    const got = seqs(s.msgs);
    const bad = got.findIndex((q, i) => q !== i + 1);
    expect(bad).toBe(-1);
    const data = datas(s.msgs);
    expect(data.findIndex((d, i) => d !== `m${i + 1}`)).toBe(-1);
  }, 60000);
});

describe('module surface', () => {
  test('connect, version, StartPosition; NewSubscriptionOptions only in ours (master)', () => {
    expect(typeof nats.connect).toBe('function');
    expect(nats.version).toBe(CLIENT === 'reference' ? '0.3.2' : require('../package.json').version);
    expect({ ...nats.StartPosition }).toMatchObject({ NEW_ONLY: 0, LAST_RECEIVED: 1, TIME_DELTA_START: 2, SEQUENCE_START: 3, FIRST: 4 });
    const nso = (nats as unknown as { NewSubscriptionOptions?: unknown }).NewSubscriptionOptions;
    expect(typeof nso).toBe(CLIENT === 'reference' ? 'undefined' : 'function');
  });

  test('subscriptionOptions() defaults and chaining', () => {
    const sc = nats.connect('c', 'id', { test_opts: true } as never);
    const o = sc.subscriptionOptions();
    expect([o.durableName, o.maxInFlight, o.ackWait, o.startPosition, o.manualAcks]).toEqual([
      undefined,
      16384,
      30000,
      undefined,
      undefined,
    ]);
    expect(o.setManualAckMode(true).setDurableName('d').setDeliverAllAvailable()).toBe(o);
  });
});
