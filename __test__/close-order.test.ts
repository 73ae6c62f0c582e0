// What a handler did before closing reaches the server first: acks issued
// before sc.close(), sub.close() or unsubscribe() are sent before that
// request (a durable resumes after them), and no message is emitted on a
// subscription after unsubscribe()/close() returned. Also: a publish larger
// than the NATS server's max_payload fails at once (our client).

import { useServer } from './helpers/fixture';
import { CLIENT, Message, Stan, errText, once, publish, publishMany, seqs, subscribe, uid } from './helpers/stan';

const fx = useServer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const durableManual = (sc: Stan, name: string) =>
  sc.subscriptionOptions().setDeliverAllAvailable().setDurableName(name).setManualAckMode(true).setAckWait(30000);

describe('acks before close', () => {
  test('acks issued in a handler right before sc.close() are kept: the durable resumes after them', async () => {
    const subject = uid('ack-close-conn');
    const id = uid('svc');
    const pub = await fx.clients.connect();
    await publishMany(pub, subject, ['1', '2']);

    const sc1 = await fx.clients.connect(id);
    const closed = once(sc1, 'close', 5000);
    await subscribe(sc1, subject, undefined, durableManual(sc1, 'keeper'), (m: Message) => {
      m.ack();
      if (m.getSequence() === 2) sc1.close();
    });
    await closed;

    await publish(pub, subject, '3');
    const sc2 = await fx.clients.connect(id);
    const s2 = await subscribe(sc2, subject, undefined, durableManual(sc2, 'keeper'), (m) => m.ack());
    await s2.waitCount(1);
    await sleep(500);
    expect(seqs(s2.msgs)).toEqual([3]);
  });

  test('acks issued in a handler right before sub.close() are kept: the durable resumes after them', async () => {
    const subject = uid('ack-close-sub');
    const sc = await fx.clients.connect();
    await publishMany(sc, subject, ['1', '2']);

    const sub = sc.subscribe(subject, durableManual(sc, 'dur'));
    const closed = once(sub, 'closed', 5000);
    sub.on('message', (m: Message) => {
      m.ack();
      if (m.getSequence() === 2) sub.close();
    });
    await closed;

    await publish(sc, subject, '3');
    const s2 = await subscribe(sc, subject, undefined, durableManual(sc, 'dur'), (m) => m.ack());
    await s2.waitCount(1);
    await sleep(500);
    expect(seqs(s2.msgs)).toEqual([3]);
  });

  test('acks issued right before unsubscribe() are kept: a durable queue group does not redeliver them', async () => {
    const subject = uid('ack-unsub');
    const sc = await fx.clients.connect();
    const opts = () => durableManual(sc, 'dq');
    const a = await subscribe(sc, subject, 'q', opts());
    await publishMany(sc, subject, ['1', '2']);
    await a.waitCount(2);
    // A second member joins: if A leaves with unacked messages, they go to B.
    const b = await subscribe(sc, subject, 'q', opts(), (m) => m.ack());
    // Same tick: ack both, then unsubscribe.
    a.msgs[0].ack();
    a.msgs[1].ack();
    a.sub.unsubscribe();
    await once(a.sub, 'unsubscribed', 5000);
    await sleep(1500);
    expect(seqs(b.msgs)).toEqual([]);
    // The group is alive and continues after 2.
    await publish(sc, subject, '3');
    await b.waitCount(1);
    expect(seqs(b.msgs)).toEqual([3]);
  });
});

describe('nothing after unsubscribe', () => {
  test.each(['unsubscribe', 'close'] as const)(
    'a handler that calls %s() on the first message sees no more messages and no error',
    async (how) => {
      const subject = uid(`after-${how}`);
      const sc = await fx.clients.connect();
      await publishMany(sc, subject, ['1', '2', '3', '4', '5']);
      const opts = sc.subscriptionOptions().setDeliverAllAvailable().setDurableName('d');
      const seen: number[] = [];
      const errors: unknown[] = [];
      const sub = sc.subscribe(subject, opts);
      sub.on('error', (e: unknown) => errors.push(e));
      const ended = once(sub, how === 'close' ? 'closed' : 'unsubscribed', 5000);
      sub.on('message', (m: Message) => {
        seen.push(m.getSequence());
        if (how === 'close') sub.close();
        else sub.unsubscribe();
      });
      await ended;
      await sleep(300);
      expect(seen).toEqual([1]);
      expect(errors.map(errText)).toEqual([]);
    },
  );
});

const ours = CLIENT === 'ours' ? describe : describe.skip;

ours('max payload (our client)', () => {
  test('a publish over the server max_payload fails at once with MAX_PAYLOAD_EXCEEDED; the connection stays usable', async () => {
    const subject = uid('big');
    const sc = await fx.clients.connect();
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    const t0 = Date.now();
    const err = await new Promise<unknown>((resolve) => {
      sc.publish(subject, big, (e) => resolve(e));
    });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((err as { code?: string }).code).toBe('MAX_PAYLOAD_EXCEEDED');
    expect(errText(err)).toBe('nats: maximum payload exceeded');
    // Without a callback it throws.
    let thrown: unknown;
    try {
      sc.publish(subject, big);
    } catch (e) {
      thrown = e;
    }
    expect((thrown as { code?: string }).code).toBe('MAX_PAYLOAD_EXCEEDED');
    // Still usable: a normal publish is acked and delivered.
    await publish(sc, subject, 'small');
    const s = await subscribe(sc, subject, undefined, sc.subscriptionOptions().setDeliverAllAvailable());
    await s.waitCount(1);
    expect(s.msgs.map((m) => m.getData())).toEqual(['small']);
  });
});
