// Server error texts for bad input, as the client surfaces them. The
// reference client 0.3.2 passes connect and publish errors as plain strings
// and subscription errors as Error objects (spec §1.7, §1.9, §1.12, §3.9);
// our package gives Error objects everywhere, with a stable `code`
// (docs/compat.md, "errors from the server").

import nats, { CLIENT, StartPosition, expectServerError } from './helpers/client';
import { useServer } from './helpers/fixture';
import { errText, once, publish, publishRaw, subscribe, subscribeError, uid } from './helpers/stan';

const fx = useServer();

/** Connect expecting a handshake error; returns the 'error' payload as emitted and whether 'close' followed. */
async function connectError(clientId: string): Promise<{ err: unknown; closed: boolean }> {
  const sc = fx.clients.raw(clientId);
  const closed = once(sc, 'close', 5000).then(
    () => true,
    () => false,
  );
  const err = await new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no error for '${clientId}' within 5 s`)), 5000);
    sc.once('error', (e: unknown) => {
      clearTimeout(timer);
      resolve(e);
    });
    sc.once('connect', () => {
      clearTimeout(timer);
      reject(new Error(`'${clientId}' connected, an error was expected`));
    });
  });
  return { err, closed: await closed };
}

describe('connect errors', () => {
  test.each(['bad id', 'dots.not.allowed', 'star*', 'é'])('invalid client ID %j', async (id) => {
    const { err, closed } = await connectError(id);
    expectServerError(err, 'stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed');
    expect(closed).toBe(true);
  });

  test('client IDs with letters, digits, - and _ are accepted', async () => {
    const sc = await fx.clients.connect(`Ok_id-${Date.now()}`);
    await publish(sc, 'ok', 'x');
  });

  test('duplicate client ID of a live client', async () => {
    const id = uid('dup');
    const first = await fx.clients.connect(id);
    const { err, closed } = await connectError(id);
    expectServerError(err, 'stan: clientID already registered');
    expect(closed).toBe(true);
    // The first client is unaffected.
    await publish(first, 'still-alive', 'yes');
  });

  test('a client ID becomes free again after close()', async () => {
    const id = uid('reuse');
    const first = await fx.clients.connect(id);
    await fx.clients.close(first);
    const again = await fx.clients.connect(id);
    await publish(again, 'reused', 'ok');
  });

  test('wrong cluster ID: connect request timeout (a NatsError with that code)', async () => {
    const sc = nats.connect('no-such-cluster', uid('lost'), { url: fx.server().url, connectTimeout: 500 });
    const errP = once<unknown>(sc, 'error', 5000);
    const closeP = once(sc, 'close', 5000);
    const [err] = await errP;
    await closeP;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('NatsError');
    expect(errText(err)).toBe('stan: connect request timeout');
    expect((err as { code?: string }).code).toBe('stan: connect request timeout');
  });
});

describe('publish errors', () => {
  test.each(['foo.*', 'foo.>', '>', '*'])('wildcard subject %j', async (subject) => {
    const sc = await fx.clients.connect();
    const { err } = await publishRaw(sc, subject, 'x');
    expectServerError(err, 'stan: invalid publish request');
  });

  test('publish after close: the callback gets Connection closed synchronously', async () => {
    const sc = await fx.clients.connect();
    await fx.clients.close(sc);
    let err: unknown;
    sc.publish('x', 'y', (e) => {
      err = e;
    });
    expect(err).toBeInstanceOf(Error);
    expect(errText(err)).toBe('stan: Connection closed');
    if (CLIENT === 'ours') expect((err as { code?: string }).code).toBe('CONN_CLOSED');
  });
});

describe('subscribe errors', () => {
  test('ack wait below 1 s', async () => {
    const sc = await fx.clients.connect();
    const err = await subscribeError(sc, uid('s'), undefined, sc.subscriptionOptions().setAckWait(0));
    expect(err).toBeInstanceOf(Error);
    expect(errText(err)).toBe('stan: invalid ack wait time, should be >= 1s');
  });

  test('max in flight 0', async () => {
    const sc = await fx.clients.connect();
    const err = await subscribeError(sc, uid('s'), undefined, sc.subscriptionOptions().setMaxInFlight(0));
    expect(err).toBeInstanceOf(Error);
    expect(errText(err)).toBe('stan: invalid MaxInflight, should be >= 1');
  });

  test('unknown start position', async () => {
    const sc = await fx.clients.connect();
    const opts = sc.subscriptionOptions().setStartAt(42 as unknown as StartPosition);
    const err = await subscribeError(sc, uid('s'), undefined, opts);
    expect(err).toBeInstanceOf(Error);
    expect(errText(err)).toBe('stan: invalid start position');
  });

  test('a failed subscribe is followed by unsubscribed', async () => {
    const sc = await fx.clients.connect();
    const sub = sc.subscribe(uid('s'), sc.subscriptionOptions().setMaxInFlight(0));
    const errP = once(sub, 'error', 5000);
    const unsubP = once(sub, 'unsubscribed', 5000);
    await errP;
    await unsubP;
  });

  test.each(['foo.*', 'foo.>', 'foo..bar'])('invalid subscription subject %j', async (subject) => {
    const sc = await fx.clients.connect();
    const err = await subscribeError(sc, subject, undefined, sc.subscriptionOptions());
    expect(errText(err)).toBe('stan: invalid subject');
  });

  test('duplicate durable registration', async () => {
    const sc = await fx.clients.connect();
    const subject = uid('dd');
    await subscribe(sc, subject, undefined, sc.subscriptionOptions().setDurableName('twice'));
    const err = await subscribeError(sc, subject, undefined, sc.subscriptionOptions().setDurableName('twice'));
    expect(errText(err)).toBe('stan: duplicate durable registration');
  });

  test("durable queue name with ':'", async () => {
    const sc = await fx.clients.connect();
    const err = await subscribeError(sc, uid('dq'), 'grp', sc.subscriptionOptions().setDurableName('a:b'));
    expect(errText(err)).toBe("stan: durable name of a durable queue subscriber can't contain the character ':'");
  });

  test('second unsubscribe is refused by the client: invalid subscription', async () => {
    const sc = await fx.clients.connect();
    const s = await subscribe(sc, uid('u'), undefined, sc.subscriptionOptions());
    const unsub = once(s.sub, 'unsubscribed', 5000);
    s.sub.unsubscribe();
    await unsub;
    const errP = once(s.sub, 'error', 5000);
    s.sub.unsubscribe();
    const [err] = await errP;
    expect(errText(err)).toBe('stan: invalid subscription');
  });

  test('the connection still works after all those errors', async () => {
    const sc = await fx.clients.connect();
    const subject = uid('fine');
    const s = await subscribe(sc, subject, undefined, sc.subscriptionOptions());
    await publish(sc, subject, 'ok');
    await s.waitCount(1);
    expect(s.msgs[0].getData()).toBe('ok');
  });
});
