// The course's ticketing flow (seed notes): publisher and listener with the
// course's own options, the `http://localhost:PORT` URL, queue groups, manual
// acks, and the durable queue group that resumes after its listener went down.

import { useServer } from './helpers/fixture';
import { Message, datas, publish, publishMany, seqs, subscribe, uid, waitFor } from './helpers/stan';

const fx = useServer({ clusterId: 'ticketing', hbi: '5s', hbt: '5s', hbf: 2 });

const ticket = { id: '123', title: 'concert', price: 20 };

describe('seed flow (ticketing)', () => {
  test('publisher over http://localhost:PORT, listener receives ticket:created as #1', async () => {
    const url = `http://localhost:${fx.server().port}`;
    const listener = await fx.clients.connect(uid('listener'), { url });
    const publisher = await fx.clients.connect(uid('publisher'), { url });

    const got: Message[] = [];
    await subscribe(listener, 'ticket:created', undefined, undefined, (m) => got.push(m));

    const guid = await publish(publisher, 'ticket:created', JSON.stringify(ticket));
    expect(guid).toMatch(/^[0-9A-Za-z]{22}$/);

    await waitFor(() => got.length === 1, 5000, 'the event');
    const msg = got[0];
    expect(msg.getSubject()).toBe('ticket:created');
    expect(msg.getSequence()).toBe(1);
    expect(typeof msg.getData()).toBe('string');
    expect(JSON.parse(String(msg.getData()))).toEqual(ticket);
    expect(msg.isRedelivered()).toBe(false);
    // The timestamp is the server's, in nanoseconds: close to now.
    expect(Math.abs(msg.getTimestamp().getTime() - Date.now())).toBeLessThan(60_000);
  });

  test('queue group order-service-queue-group with manual acks: each event once', async () => {
    const sc1 = await fx.clients.connect(uid('l1'));
    const sc2 = await fx.clients.connect(uid('l2'));
    const pub = await fx.clients.connect(uid('p'));
    const subject = `ticket:updated-${uid('s')}`;
    const opts = (sc: typeof sc1) => sc.subscriptionOptions().setManualAckMode(true);
    const a = await subscribe(sc1, subject, 'order-service-queue-group', opts(sc1), (m) => m.ack());
    const b = await subscribe(sc2, subject, 'order-service-queue-group', opts(sc2), (m) => m.ack());

    await publishMany(pub, subject, ['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
    await waitFor(() => a.msgs.length + b.msgs.length >= 6, 5000, 'six events across the group');
    // Nothing more arrives (no duplicate, acks were sent).
    await new Promise((r) => setTimeout(r, 300));
    const all = [...seqs(a.msgs), ...seqs(b.msgs)].sort((x, y) => x - y);
    expect(all).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('durable queue group accounting-service resumes after the listener went down: gets 2 and 3, not 1', async () => {
    const subject = 'ticket:created-durable';
    const pub = await fx.clients.connect(uid('pub'));
    const optsFor = (sc: Awaited<ReturnType<typeof fx.clients.connect>>) =>
      sc.subscriptionOptions().setDeliverAllAvailable().setManualAckMode(true).setDurableName('accounting-service');

    // Listener #1 processes event 1 and acks it.
    const l1 = await fx.clients.connect(uid('acct'));
    const s1 = await subscribe(l1, subject, 'queue-group-name', optsFor(l1), (m) => m.ack());
    await publish(pub, subject, 'event-1');
    await s1.waitCount(1);
    expect(seqs(s1.msgs)).toEqual([1]);
    // Let the ack reach the server before the listener goes away.
    await new Promise((r) => setTimeout(r, 300));

    // The accounting service goes down (its connection is closed: the durable group stays).
    await fx.clients.close(l1);

    // Events 2 and 3 are published while it is down.
    await publishMany(pub, subject, ['event-2', 'event-3']);

    // It comes back with a new client ID; the durable group continues where it left off.
    const l2 = await fx.clients.connect(uid('acct'));
    const s2 = await subscribe(l2, subject, 'queue-group-name', optsFor(l2), (m) => m.ack());
    await s2.waitCount(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(seqs(s2.msgs)).toEqual([2, 3]);
    expect(datas(s2.msgs)).toEqual(['event-2', 'event-3']);
  });
});
