// Delivery semantics: fan-out, queue groups, manual acks and redelivery, max in flight.

import { useServer } from './helpers/fixture';
import { Message, ReadySub, datas, publish, publishMany, redeliveryCount, seqs, subscribe, uid, waitFor } from './helpers/stan';

const fx = useServer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('delivery', () => {
  test('fan-out: two plain subscribers each get every message, in order', async () => {
    const subject = uid('fan');
    const sc1 = await fx.clients.connect();
    const sc2 = await fx.clients.connect();
    const a = await subscribe(sc1, subject, undefined, undefined);
    const b = await subscribe(sc2, subject, undefined, undefined);
    const pub = await fx.clients.connect();
    const payloads = Array.from({ length: 10 }, (_, i) => `m${i + 1}`);
    await publishMany(pub, subject, payloads);
    await a.waitCount(10);
    await b.waitCount(10);
    await sleep(200);
    expect(seqs(a.msgs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(seqs(b.msgs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(datas(a.msgs)).toEqual(payloads);
    expect(datas(b.msgs)).toEqual(payloads);
  });

  test('queue group: every message delivered exactly once across members, both members used', async () => {
    const subject = uid('queue');
    const members = await Promise.all([fx.clients.connect(), fx.clients.connect()]);
    const subs: ReadySub[] = [];
    for (const sc of members) subs.push(await subscribe(sc, subject, 'workers', undefined));
    // A plain subscriber next to the group still sees everything.
    const watcher = await subscribe(await fx.clients.connect(), subject, undefined, undefined);
    const pub = await fx.clients.connect();
    const n = 40;
    // Publish without waiting for each ack so several messages are in flight at once.
    await Promise.all(Array.from({ length: n }, (_, i) => publish(pub, subject, `q${i}`)));
    await waitFor(() => subs[0].msgs.length + subs[1].msgs.length >= n, 5000, `${n} messages across the group`);
    await watcher.waitCount(n);
    await sleep(300);
    const got = [...seqs(subs[0].msgs), ...seqs(subs[1].msgs)].sort((x, y) => x - y);
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(subs[0].msgs.length).toBeGreaterThan(0);
    expect(subs[1].msgs.length).toBeGreaterThan(0);
    expect(watcher.msgs.length).toBe(n);
  });

  test('manual ack: an unacked message is redelivered after ack wait (1 s) with the redelivered flag and count', async () => {
    const subject = uid('redeliver');
    const sc = await fx.clients.connect();
    const opts = sc.subscriptionOptions().setManualAckMode(true).setAckWait(1000);
    const seen: Array<{ m: Message; at: number }> = [];
    const s = await subscribe(sc, subject, undefined, opts, (m) => {
      seen.push({ m, at: Date.now() });
      // Ack only the second delivery.
      if (m.isRedelivered()) m.ack();
    });
    const t0 = Date.now();
    await publish(sc, subject, 'pay-me');
    await s.waitCount(2, 5000);
    // After the ack, no third delivery within another ack wait.
    await sleep(1600);
    expect(s.msgs.length).toBe(2);
    const [first, second] = seen;
    expect(first.m.getSequence()).toBe(1);
    expect(first.m.isRedelivered()).toBe(false);
    expect(redeliveryCount(first.m)).toBe(0);
    expect(second.m.getSequence()).toBe(1);
    expect(second.m.isRedelivered()).toBe(true);
    expect(redeliveryCount(second.m)).toBe(1);
    expect(second.m.getData()).toBe('pay-me');
    // Not earlier than the ack wait (some slack for timer granularity), not absurdly late.
    expect(second.at - first.at).toBeGreaterThanOrEqual(900);
    expect(second.at - t0).toBeLessThan(4000);
  });

  test('manual ack: never acked -> redelivered repeatedly with an increasing count', async () => {
    const subject = uid('redeliver-n');
    const sc = await fx.clients.connect();
    const opts = sc.subscriptionOptions().setManualAckMode(true).setAckWait(1000);
    const s = await subscribe(sc, subject, undefined, opts);
    await publish(sc, subject, 'x');
    await s.waitCount(3, 6000);
    expect(s.msgs.slice(0, 3).map((m) => redeliveryCount(m))).toEqual([0, 1, 2]);
    expect(s.msgs.slice(0, 3).map((m) => m.isRedelivered())).toEqual([false, true, true]);
  });

  test('auto ack: no redelivery', async () => {
    const subject = uid('autoack');
    const sc = await fx.clients.connect();
    const s = await subscribe(sc, subject, undefined, sc.subscriptionOptions().setAckWait(1000));
    await publish(sc, subject, 'once');
    await s.waitCount(1);
    await sleep(2200);
    expect(s.msgs.length).toBe(1);
  });

  test('queue group: a message the first member does not ack is redelivered to the other member', async () => {
    const subject = uid('qredeliver');
    const scA = await fx.clients.connect(uid('lazy'));
    const scB = await fx.clients.connect(uid('busy'));
    const optsA = scA.subscriptionOptions().setManualAckMode(true).setAckWait(1000);
    const optsB = scB.subscriptionOptions().setManualAckMode(true).setAckWait(1000);
    // A never acks.
    const a = await subscribe(scA, subject, 'grp', optsA);
    const pub = await fx.clients.connect();
    // Only A is a member when the message is published, so A gets it first.
    await publish(pub, subject, 'hot-potato');
    await a.waitCount(1);
    // B joins and acks whatever it gets.
    const b = await subscribe(scB, subject, 'grp', optsB, (m) => m.ack());
    await b.waitCount(1, 5000);
    const m = b.msgs[0];
    expect(m.getSequence()).toBe(1);
    expect(m.isRedelivered()).toBe(true);
    expect(redeliveryCount(m)).toBe(1);
    expect(a.msgs[0].isRedelivered()).toBe(false);
    // Once B acked, the group owes nothing: no more deliveries to anyone.
    const before = a.msgs.length + b.msgs.length;
    await sleep(2200);
    expect(a.msgs.length + b.msgs.length).toBe(before);
    // The redelivery went to B, not back to A.
    expect(a.msgs.length).toBe(1);
  });

  test('max in flight 1: the second message comes only after the first is acked', async () => {
    const subject = uid('mif');
    const sc = await fx.clients.connect();
    const opts = sc.subscriptionOptions().setManualAckMode(true).setMaxInFlight(1).setDeliverAllAvailable();
    const pub = await fx.clients.connect();
    await publishMany(pub, subject, ['one', 'two', 'three']);
    const s = await subscribe(sc, subject, undefined, opts);
    await s.waitCount(1);
    await sleep(700);
    expect(seqs(s.msgs)).toEqual([1]);
    s.msgs[0].ack();
    await s.waitCount(2);
    await sleep(500);
    expect(seqs(s.msgs)).toEqual([1, 2]);
    s.msgs[1].ack();
    await s.waitCount(3);
    s.msgs[2].ack();
    await sleep(300);
    expect(seqs(s.msgs)).toEqual([1, 2, 3]);
    expect(datas(s.msgs)).toEqual(['one', 'two', 'three']);
  });
});
