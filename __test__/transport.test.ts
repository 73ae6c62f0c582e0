// Both NATS transports of the Node package, chosen per connection by
// STAN_RS_TRANSPORT: 'js' (the socket on the JS thread, lib/transport.js over
// the addon's JsStan) and 'thread' (the addon's tokio runtime, NativeStan).
// Each publishes, subscribes with manual acks, uses `sc.nc` and closes against
// the real server; an unknown value is refused. Our package only.

import * as net from 'net';
import { useServer } from './helpers/fixture';
import { NatsServer, StanServer } from './helpers/server';
import { uid } from './helpers/stan';
import { KINDS, closed, connectOn, restoreTransportAfterAll, stanPackage as stan } from './helpers/transports';


const fx = useServer();
restoreTransportAfterAll();

type Sc = {
  on(ev: string, f: (...a: unknown[]) => void): void;
  once(ev: string, f: (...a: unknown[]) => void): void;
  publish(s: string, d: string, cb: (err?: Error, guid?: string) => void): string;
  subscribe(s: string, o: unknown): {
    on(ev: string, f: (...a: unknown[]) => void): void;
  };
  subscriptionOptions(): { setManualAckMode(b: boolean): unknown; setDeliverAllAvailable(): unknown };
  close(): void;
  pubAckOutstanding: number;
  nc: {
    subscribe(s: string, f: (msg: string) => void): number;
    publish(s: string, d: string): void;
    flush(cb: (err?: Error) => void): void;
  };
};

function connect(kind: string, srv: StanServer = fx.server(), extra: object = {}): Promise<Sc> {
  return connectOn<Sc>(kind, srv, 'tr', extra);
}

for (const kind of KINDS) {
  test(`${kind}: 200 publishes acked, delivered in order and acked by hand; sc.nc round trip; clean close`, async () => {
    const sc = await connect(kind);
    const subject = uid(`chan-${kind}`);
    const opts = sc.subscriptionOptions();
    opts.setManualAckMode(true);
    opts.setDeliverAllAvailable();
    const sub = sc.subscribe(subject, opts);
    const got: number[] = [];
    const all = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind}: ${got.length} of 200 messages`)), 10000);
      sub.on('message', (m: unknown) => {
        const msg = m as { getData(): string; ack(): void };
        got.push(Number(msg.getData()));
        msg.ack();
        if (got.length === 200) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const acked: string[] = [];
    const acks = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind}: ${acked.length} of 200 acks`)), 10000);
      for (let i = 0; i < 200; i++) {
        sc.publish(subject, String(i), (err, guid) => {
          if (err) {
            clearTimeout(timer);
            reject(err);
            return;
          }
          acked.push(String(guid));
          if (acked.length === 200) {
            clearTimeout(timer);
            resolve();
          }
        });
      }
    });
    await acks;
    await all;
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(new Set(acked).size).toBe(200);
    expect(sc.pubAckOutstanding).toBe(0);

    const plain = uid(`plain-${kind}`);
    const heard = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind}: no plain message`)), 5000);
      sc.nc.subscribe(plain, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
    await new Promise<void>((resolve, reject) => sc.nc.flush((err) => (err ? reject(err) : resolve())));
    sc.nc.publish(plain, `hello ${kind}`);
    expect(await heard).toBe(`hello ${kind}`);

    expect(await closed(sc)).toBeFalsy();
  });
}

test('an unknown STAN_RS_TRANSPORT is refused with UNSUPPORTED_OPTION', () => {
  process.env.STAN_RS_TRANSPORT = 'carrier-pigeon';
  let thrown: unknown;
  try {
    stan.connect(fx.server().clusterId, uid('bad-kind'), { url: fx.server().url });
  } catch (e) {
    thrown = e;
  }
  expect((thrown as { code?: string } | undefined)?.code).toBe('UNSUPPORTED_OPTION');
});

/** Resolves on `ev`, rejects after `ms`. */
function next(sc: Sc, ev: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${ev}' within ${ms} ms`)), ms);
    sc.once(ev, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

test('js: a NATS server that stops answering is found stale by NATS pings (pingInterval), dropped and reconnected', async () => {
  const nats = await NatsServer.start();
  let srv: StanServer | undefined;
  let sc: Sc | undefined;
  try {
    srv = await StanServer.start({ natsServer: nats });
    sc = await connect('js', srv, { url: nats.url, pingInterval: 200, timeout: 1000, reconnectTimeWait: 200 });
    const events: string[] = [];
    for (const ev of ['disconnect', 'reconnecting', 'reconnect', 'connection_lost', 'close']) sc.on(ev, () => events.push(ev));
    const down = next(sc, 'disconnect', 5000);
    process.kill(nats.pid as number, 'SIGSTOP');
    const stoppedAt = Date.now();
    try {
      await down;
    } finally {
      process.kill(nats.pid as number, 'SIGCONT');
    }
    // maxPingOut 2: the third interval without a PONG (about 600 ms), well before STAN's own pings.
    expect(Date.now() - stoppedAt).toBeLessThan(3000);
    await next(sc, 'reconnect', 10000);
    expect(events.slice(0, 2)).toEqual(['disconnect', 'reconnecting']);
    expect(events).not.toContain('connection_lost');
    const guid = await new Promise<string>((resolve, reject) =>
      (sc as Sc).publish(uid('after-stale'), 'x', (err, g) => (err ? reject(err) : resolve(String(g)))),
    );
    expect(guid).toHaveLength(22);
    expect(await closed(sc)).toBeFalsy();
    sc = undefined;
  } finally {
    if (sc !== undefined) sc.close();
    if (srv !== undefined) await srv.dispose();
    await nats.stop();
  }
}, 30000);

/** Every event of `sc` for `ms` after connect() (which must not throw). */
async function eventsOf(opts: object, ms: number, srv: { clusterId: string } = fx.server()): Promise<Array<[string, unknown]>> {
  process.env.STAN_RS_TRANSPORT = 'js';
  const sc: Sc = stan.connect(srv.clusterId, uid('first-fail'), opts);
  const log: Array<[string, unknown]> = [];
  for (const ev of ['connect', 'error', 'close', 'disconnect', 'reconnecting', 'reconnect']) sc.on(ev, (a) => log.push([ev, a]));
  await new Promise((r) => setTimeout(r, ms));
  return log;
}

test("js: tls: true against a server without TLS: one 'error' CONN_ERR, nothing after", async () => {
  const log = await eventsOf({ url: fx.server().url, tls: true }, 1000);
  expect(log.map(([ev]) => ev)).toEqual(['error']);
  const err = log[0][1] as { code?: string; message?: string };
  expect(err.code).toBe('CONN_ERR');
  expect(err.message).toMatch(/^Could not connect to server: .*secure connection/);
});

test("js: a server that does not speak NATS: one 'error' CONN_ERR (protocol error), nothing after", async () => {
  const garbage = net.createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (garbage.address() as net.AddressInfo).port;
    const log = await eventsOf({ url: `nats://127.0.0.1:${port}` }, 1000);
    expect(log.map(([ev]) => ev)).toEqual(['error']);
    const err = log[0][1] as { code?: string; message?: string };
    expect(err.code).toBe('CONN_ERR');
    expect(err.message).toMatch(/protocol error/i);
  } finally {
    await new Promise((r) => garbage.close(r));
  }
});

for (const kind of KINDS) {
  test(`${kind}: servers list: a dead first server is skipped, the next one connects`, async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const port = (dead.address() as net.AddressInfo).port;
    await new Promise((r) => dead.close(r)); // nothing listens there now
    const sc = await connect(kind, fx.server(), { url: undefined, servers: [`nats://127.0.0.1:${port}`, fx.server().url] });
    const guid = await new Promise<string>((resolve, reject) =>
      sc.publish(uid('pool'), 'x', (err, g) => (err ? reject(err) : resolve(String(g)))),
    );
    expect(guid).toHaveLength(22);
    expect(await closed(sc)).toBeFalsy();
  });
}
