// Durable subscriptions: close keeps the position, unsubscribe forgets it;
// connection close keeps durables; durable queue groups.

import { useServer } from './helpers/fixture';
import { getJson } from './helpers/http';
import { Stan, endSub, publish, publishMany, seqs, subscribe, uid } from './helpers/stan';

const fx = useServer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Subz {
  client_id: string;
  durable_name?: string;
  queue_name?: string;
  is_durable: boolean;
  is_offline: boolean;
  last_sent: number;
  pending_count: number;
}
interface Channelz {
  name: string;
  subscriptions?: Subz[];
}

async function channel(name: string): Promise<Channelz> {
  return getJson<Channelz>(`${fx.server().monitorUrl}/streaming/channelsz?channel=${encodeURIComponent(name)}&subs=1`);
}

const allDurable = (sc: Stan, name: string) => sc.subscriptionOptions().setDeliverAllAvailable().setDurableName(name);

describe('durable subscriptions', () => {
  test('sub.close() keeps the durable position; unsubscribe() resets it', async () => {
    const subject = uid('dur');
    const id = uid('owner');
    const sc = await fx.clients.connect(id);
    const pub = await fx.clients.connect();
    await publishMany(pub, subject, ['1', '2']);

    const s1 = await subscribe(sc, subject, undefined, allDurable(sc, 'dname'));
    await s1.waitCount(2);
    await sleep(200); // let the auto-acks land
    await endSub(s1.sub, 'close');

    // The durable is kept offline, positioned after 2.
    const ch = await channel(subject);
    const d = (ch.subscriptions ?? []).find((s) => s.durable_name === 'dname');
    expect(d).toBeDefined();
    expect(d?.is_durable).toBe(true);
    expect(d?.is_offline).toBe(true);
    expect(d?.client_id).toBe(id);
    expect(d?.last_sent).toBe(2);

    await publish(pub, subject, '3');
    // Resume: the requested start position (all available) is ignored.
    const s2 = await subscribe(sc, subject, undefined, allDurable(sc, 'dname'));
    await s2.waitCount(1);
    await sleep(300);
    expect(seqs(s2.msgs)).toEqual([3]);

    // Unsubscribe removes the durable: it is gone from monitoring...
    await endSub(s2.sub, 'unsubscribe');
    const after = await channel(subject);
    expect((after.subscriptions ?? []).some((s) => s.durable_name === 'dname')).toBe(false);

    // ...and re-creating it starts from scratch (all available again).
    await publish(pub, subject, '4');
    const s3 = await subscribe(sc, subject, undefined, allDurable(sc, 'dname'));
    await s3.waitCount(4);
    await sleep(200);
    expect(seqs(s3.msgs)).toEqual([1, 2, 3, 4]);
  });

  test('connection close keeps a durable; the same client ID resumes after the last ack', async () => {
    const subject = uid('dur-conn');
    const id = uid('svc');
    const pub = await fx.clients.connect();
    await publishMany(pub, subject, ['a', 'b', 'c']);

    const sc1 = await fx.clients.connect(id);
    const opts = sc1.subscriptionOptions().setDeliverAllAvailable().setDurableName('keeper').setManualAckMode(true);
    const s1 = await subscribe(sc1, subject, undefined, opts, (m) => {
      // Ack only 1 and 2: 3 stays unacknowledged.
      if (m.getSequence() <= 2) m.ack();
    });
    await s1.waitCount(3);
    await sleep(300);
    await fx.clients.close(sc1);

    await publish(pub, subject, 'd');
    const sc2 = await fx.clients.connect(id);
    const s2 = await subscribe(sc2, subject, undefined, allDurable(sc2, 'keeper'));
    await s2.waitCount(2);
    await sleep(300);
    // 3 was never acked, so it comes again (as a redelivery), then 4.
    expect(seqs(s2.msgs)).toEqual([3, 4]);
    expect(s2.msgs[0].isRedelivered()).toBe(true);
    expect(s2.msgs[1].isRedelivered()).toBe(false);
  });

  test('a durable of another client ID is a different durable', async () => {
    const subject = uid('dur-other');
    const pub = await fx.clients.connect();
    await publishMany(pub, subject, ['1', '2']);
    const scA = await fx.clients.connect(uid('a'));
    const a = await subscribe(scA, subject, undefined, allDurable(scA, 'same-name'));
    await a.waitCount(2);
    await sleep(200);
    await endSub(a.sub, 'close');
    const scB = await fx.clients.connect(uid('b'));
    const b = await subscribe(scB, subject, undefined, allDurable(scB, 'same-name'));
    await b.waitCount(2);
    expect(seqs(b.msgs)).toEqual([1, 2]);
  });

  test('durable queue group: last member close keeps the group, last member unsubscribe removes it', async () => {
    const subject = uid('dq');
    const pub = await fx.clients.connect();
    await publishMany(pub, subject, ['1', '2']);

    const m1 = await fx.clients.connect();
    const s1 = await subscribe(m1, subject, 'qg', allDurable(m1, 'dq'));
    await s1.waitCount(2);
    await sleep(200);
    await endSub(s1.sub, 'close');

    // Offline durable queue group is visible in monitoring as durable:queue.
    const ch = await channel(subject);
    const shadow = (ch.subscriptions ?? []).find((s) => s.queue_name === 'dq:qg');
    expect(shadow).toBeDefined();
    expect(shadow?.is_durable).toBe(true);
    expect(shadow?.is_offline).toBe(true);

    await publish(pub, subject, '3');
    // Another connection joins the group and continues at 3.
    const m2 = await fx.clients.connect();
    const s2 = await subscribe(m2, subject, 'qg', allDurable(m2, 'dq'));
    await s2.waitCount(1);
    await sleep(300);
    expect(seqs(s2.msgs)).toEqual([3]);

    // The last member unsubscribes: the group is removed; re-joining starts over.
    await endSub(s2.sub, 'unsubscribe');
    const gone = await channel(subject);
    expect((gone.subscriptions ?? []).some((s) => s.queue_name === 'dq:qg')).toBe(false);
    const s3 = await subscribe(m2, subject, 'qg', allDurable(m2, 'dq'));
    await s3.waitCount(3);
    expect(seqs(s3.msgs)).toEqual([1, 2, 3]);
  });

  test('non-durable queue group is deleted when its last member leaves', async () => {
    const subject = uid('ndq');
    const pub = await fx.clients.connect();
    await publishMany(pub, subject, ['1', '2']);
    const m1 = await fx.clients.connect();
    const s1 = await subscribe(m1, subject, 'tmp', m1.subscriptionOptions().setDeliverAllAvailable());
    await s1.waitCount(2);
    await sleep(200);
    await endSub(s1.sub, 'close');
    const s2 = await subscribe(m1, subject, 'tmp', m1.subscriptionOptions().setDeliverAllAvailable());
    await s2.waitCount(2);
    expect(seqs(s2.msgs)).toEqual([1, 2]);
  });
});
