// The STAN server runs with `-ns` against a nats-server the harness started
// separately (both implementations), so NATS can go away under running
// clients ('disconnect', 'reconnecting', 'reconnect') while the streaming state
// survives, and the streaming server can go away (or freeze) while NATS stays
// up: request timeouts ('timeout' on subscriptions, the close() timeout) and
// `connection_lost` from client pings.

import { CLIENT, Stan } from './helpers/client';
import { NatsServer, StanServer } from './helpers/server';
import { Clients, errText, once, publish, subscribe, uid, waitFor } from './helpers/stan';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let nats: NatsServer | undefined;
let srv: StanServer | undefined;
const clients = new Clients(() => {
  if (srv === undefined) throw new Error('no server');
  return srv;
});

beforeEach(async () => {
  nats = await NatsServer.start();
  srv = await StanServer.start({ natsServer: nats });
}, 30000);

afterEach(async () => {
  srv?.resume();
  await clients.closeEverything();
  if (srv !== undefined) await srv.dispose();
  if (nats !== undefined) await nats.stop();
  srv = undefined;
  nats = undefined;
}, 30000);

type Log = Array<[string, unknown[]]>;
function record(em: NodeJS.EventEmitter, events: string[]): Log {
  const log: Log = [];
  for (const ev of events) em.on(ev, (...args: unknown[]) => log.push([ev, args]));
  return log;
}
const STAN_EVENTS = ['connect', 'close', 'error', 'disconnect', 'reconnect', 'reconnecting', 'connection_lost'];
const isClosed = (sc: Stan): boolean => (sc as unknown as { isClosed(): boolean }).isClosed();

describe('NATS restarted under running clients', () => {
  test("'disconnect', 'reconnecting', then 'reconnect' with the Stan; no new 'connect'; the session and its subscription go on", async () => {
    const sc = await clients.connect(uid('rc'), { reconnectTimeWait: 250, stanPingInterval: 1000, stanMaxPingOut: 10 });
    const subject = uid('rc');
    const sub = await subscribe(sc, subject, undefined, undefined);
    await publish(sc, subject, 'before');
    await sub.waitCount(1);
    const log = record(sc, STAN_EVENTS);

    const reconnected = once(sc, 'reconnect', 15000);
    await nats!.stop();
    await waitFor(() => log.some(([ev]) => ev === 'disconnect'), 5000, "'disconnect'");
    await sleep(700); // a few reconnect attempts against nothing
    await nats!.restart();
    const [arg] = await reconnected;
    expect(arg).toBe(sc);
    expect(isClosed(sc)).toBe(false);

    // The STAN server reconnects to NATS too; the client's session is still valid.
    await waitFor(
      async () => {
        await publish(sc, subject, 'after', 1500);
        return true;
      },
      10000,
      'a publish after the restart',
      100,
    );
    await waitFor(() => sub.msgs.some((m) => m.getData() === 'after'), 5000, 'the message after the restart');
    const names = log.map(([ev]) => ev);
    expect(names[0]).toBe('disconnect');
    expect(names.filter((n) => n === 'disconnect')).toHaveLength(1);
    expect(names.filter((n) => n === 'reconnect')).toHaveLength(1);
    expect(names).toContain('reconnecting');
    expect(names.indexOf('reconnecting')).toBeLessThan(names.indexOf('reconnect'));
    expect(names.filter((n) => !['disconnect', 'reconnecting', 'reconnect'].includes(n))).toEqual([]);
    expect(log.find(([ev]) => ev === 'disconnect')?.[1]).toEqual([]);
    expect(log.find(([ev]) => ev === 'reconnecting')?.[1]).toEqual([]);
  }, 40000);
});

describe('the streaming server gone, NATS up', () => {
  test("frozen server: subscribe gets 'timeout' (NatsError 'stan: subscribe request timeout')", async () => {
    const sc = await clients.connect(uid('to'), { connectTimeout: 500, stanPingInterval: 30000 });
    srv!.pause();
    const sub = sc.subscribe(uid('never'));
    const log = record(sub, ['ready', 'error', 'timeout', 'unsubscribed']);
    const [err] = await once<unknown>(sub, 'timeout', 5000);
    srv!.resume();
    await sleep(300);
    expect(log.map(([ev]) => ev)).toEqual(['timeout']);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('NatsError');
    expect(errText(err)).toBe('stan: subscribe request timeout');
    expect((err as { code?: string }).code).toBe('stan: subscribe request timeout');
  });

  test("frozen server: unsubscribe() and sub close() get 'timeout' with their texts", async () => {
    const sc = await clients.connect(uid('to'), { connectTimeout: 500, stanPingInterval: 30000 });
    const a = await subscribe(sc, uid('a'), undefined, undefined);
    const b = await subscribe(sc, uid('b'), undefined, sc.subscriptionOptions().setDurableName('d'));
    srv!.pause();
    const la = record(a.sub, ['error', 'timeout', 'unsubscribed', 'closed']);
    const lb = record(b.sub, ['error', 'timeout', 'unsubscribed', 'closed']);
    a.sub.unsubscribe();
    b.sub.close();
    // Every event is recorded, so a failure shows what came instead of the timeouts.
    await waitFor(() => la.length > 0 && lb.length > 0, 5000, `an event on both (a: ${JSON.stringify(la)}, b: ${JSON.stringify(lb)})`).catch(
      () => undefined,
    );
    await sleep(100);
    srv!.resume();
    expect([la.map(([ev]) => ev), lb.map(([ev]) => ev)]).toEqual([['timeout'], ['timeout']]);
    const ea = la[0][1][0];
    const eb = lb[0][1][0];
    expect(errText(ea)).toBe('stan: unsubscribe request timeout');
    expect((ea as { code?: string }).code).toBe('stan: unsubscribe request timeout');
    expect(errText(eb)).toBe('stan: close request timeout');
    expect((eb as { code?: string }).code).toBe('stan: close request timeout');
  });

  test("killed server: subscribe gets 'timeout' too (no responders is not a different outcome)", async () => {
    const sc = await clients.connect(uid('to'), { connectTimeout: 500, stanPingInterval: 30000 });
    await srv!.kill9();
    const sub = sc.subscribe(uid('never'));
    const log = record(sub, ['ready', 'error', 'timeout', 'unsubscribed']);
    await waitFor(() => log.length > 0, 5000, 'an event');
    await sleep(700);
    expect(log.map(([ev]) => ev)).toEqual(['timeout']);
    expect(errText(log[0][1][0])).toBe('stan: subscribe request timeout');
  });

  test("close() with no streaming server: 'close' with a REQ_TIMEOUT NatsError (texts differ, docs/compat.md)", async () => {
    const sc = await clients.connect(uid('cl'), { connectTimeout: 500, stanPingInterval: 30000 });
    await srv!.kill9();
    const closed = once<unknown>(sc, 'close', 5000);
    const t0 = Date.now();
    sc.close();
    const args = await closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(args).toHaveLength(1);
    const err = args[0];
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('NatsError');
    expect((err as { code?: string }).code).toBe('REQ_TIMEOUT');
    if (CLIENT === 'reference') expect(errText(err)).toMatch(/^The request timed out for subscription id: -?\d+$/);
    else expect(errText(err)).toBe('stan: close request timeout');
    expect(isClosed(sc)).toBe(true);
  });

  test("killed server: 'connection_lost' (PING failure) after about (maxOut+1) x interval, then 'close' without argument", async () => {
    const sc = await clients.connect(uid('lost'), { stanPingInterval: 1000, stanMaxPingOut: 2 });
    const log = record(sc, STAN_EVENTS);
    const closed = once(sc, 'close', 15000);
    const t0 = Date.now();
    await srv!.kill9();
    await closed;
    const elapsed = Date.now() - t0;
    expect(log.map(([ev]) => ev)).toEqual(['connection_lost', 'close']);
    const err = log[0][1][0];
    expect(err).toBeInstanceOf(Error);
    expect(errText(err)).toBe('stan: connection lost due to PING failure');
    if (CLIENT === 'ours') expect((err as { code?: string }).code).toBe('MAX_PINGS_EXCEEDED');
    expect(log[1][1]).toEqual([]);
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(6000);
    // 0.3.2 quirk (docs/compat.md): isClosed() stays false after connection_lost.
    expect(isClosed(sc)).toBe(CLIENT === 'ours');
  });
});
