// FILE store (-st FILE --dir D): everything acknowledged survives `kill -9`,
// and a durable resumes after its last ack when the server comes back on the
// same ports and directory.
//
// Live reference behaviour (0.25.6): messages are flushed before their PubAck,
// but a subscription's sent/ack records go through a small (128-byte) write
// buffer that is flushed when full, on sub close/unsubscribe, on a clean
// shutdown, and by the 1-minute auto-sync. So after `kill -9` with the durable
// still live, the newest acks may be lost and those messages come again
// (at-least-once); after a sub close or a SIGTERM the resume point is exact.

import { StanServer } from './helpers/server';
import { Clients, datas, endSub, publish, seqs, subscribe, uid, waitFor } from './helpers/stan';
import { getJson } from './helpers/http';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const N = 30;
const ACKED = 12;

type Crash = 'kill9-live-durable' | 'kill9-after-sub-close' | 'sigterm';

let srv: StanServer | undefined;
const clients = new Clients(() => {
  if (srv === undefined) throw new Error('no server');
  return srv;
});

afterEach(async () => {
  await clients.closeEverything();
  if (srv !== undefined) await srv.dispose();
  srv = undefined;
}, 20000);

/** Publish N, ack 1..ACKED with a durable, crash as told, restart; returns the resumed sequences. */
async function scenario(crash: Crash): Promise<{ resumed: number[]; firstRedelivered: boolean }> {
  srv = await StanServer.start({ store: 'FILE' });
  const server = srv;
  const storez = await getJson<{ type: string }>(`${server.monitorUrl}/streaming/storez`);
  expect(storez.type).toBe('FILE');

  const channel = 'orders.created';
  const payload = (i: number) => JSON.stringify({ n: i, pad: 'x'.repeat(i * 7) });
  const pub = await clients.connect(uid('pub'));
  // Every publish waits for its PubAck: the server has stored it.
  for (let i = 1; i <= N; i++) await publish(pub, channel, payload(i));

  // A durable consumer acks exactly 1..ACKED, one at a time.
  const ownerId = uid('owner');
  const owner = await clients.connect(ownerId);
  const opts = owner
    .subscriptionOptions()
    .setDurableName('billing')
    .setDeliverAllAvailable()
    .setManualAckMode(true)
    .setMaxInFlight(1)
    .setAckWait(30_000);
  const s = await subscribe(owner, channel, undefined, opts, (m) => {
    if (m.getSequence() <= ACKED) m.ack();
  });
  // With max in flight 1, seeing ACKED+1 means the server processed the ack of ACKED.
  await s.waitCount(ACKED + 1, 10000);
  await waitFor(
    async () => {
      const ch = await getJson<{ subscriptions?: Array<{ last_sent: number; pending_count: number }> }>(
        `${server.monitorUrl}/streaming/channelsz?channel=${channel}&subs=1`,
      );
      const sub = (ch.subscriptions ?? [])[0];
      return sub !== undefined && sub.last_sent === ACKED + 1 && sub.pending_count === 1;
    },
    5000,
    'the server to record the acks',
  );

  if (crash === 'kill9-after-sub-close') await endSub(s.sub, 'close');
  if (crash === 'sigterm') {
    await server.stop();
  } else {
    // Crash: no clean shutdown, no client close.
    await server.kill9();
  }
  expect(server.running).toBe(false);
  // The old clients are gone with the "crash"; drop their sockets without a STAN close.
  await clients.abandon(pub);
  await clients.abandon(owner);

  await server.restart();
  const ch = await getJson<{ msgs: number; first_seq: number; last_seq: number }>(
    `${server.monitorUrl}/streaming/channelsz?channel=${channel}`,
  );
  expect(ch).toMatchObject({ msgs: N, first_seq: 1, last_seq: N });

  // Every acknowledged publish is there, intact.
  const reader = await clients.connect(uid('reader'));
  const all = await subscribe(reader, channel, undefined, reader.subscriptionOptions().setDeliverAllAvailable());
  await all.waitCount(N, 10000);
  await sleep(200);
  expect(seqs(all.msgs)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
  expect(datas(all.msgs)).toEqual(Array.from({ length: N }, (_, i) => payload(i + 1)));

  // The durable's owner comes back with the same client ID (the recovered, silent one is replaced).
  const back = await clients.connect(ownerId, {}, 10000);
  const resumed = await subscribe(
    back,
    channel,
    undefined,
    back.subscriptionOptions().setDurableName('billing').setDeliverAllAvailable(),
  );
  await resumed.waitCount(N - ACKED, 10000);
  await waitFor(() => resumed.msgs.some((m) => m.getSequence() === N), 10000, `sequence ${N}`);
  await sleep(300);
  const got = seqs(resumed.msgs);
  // Whatever the resume point, the rest of the channel comes once each, in order, with no gap.
  expect(got).toEqual(Array.from({ length: got.length }, (_, i) => got[0] + i));
  expect(got[got.length - 1]).toBe(N);
  // Nothing unacknowledged is skipped.
  expect(got[0]).toBeLessThanOrEqual(ACKED + 1);

  // New messages after the restart continue the sequence.
  await publish(back, channel, 'after-restart');
  await waitFor(() => resumed.msgs.some((m) => m.getSequence() === N + 1), 5000, `sequence ${N + 1}`);
  return { resumed: got, firstRedelivered: resumed.msgs[0].isRedelivered() };
}

describe('file store', () => {
  test('kill -9 after the durable was closed: all messages there, resume exactly after the last ack', async () => {
    const { resumed, firstRedelivered } = await scenario('kill9-after-sub-close');
    expect(resumed[0]).toBe(ACKED + 1);
    // ACKED+1 had been sent and not acked: it comes again as a redelivery.
    expect(firstRedelivered).toBe(true);
  }, 60000);

  test('SIGTERM with the durable live: resume exactly after the last ack', async () => {
    const { resumed, firstRedelivered } = await scenario('sigterm');
    expect(resumed[0]).toBe(ACKED + 1);
    expect(firstRedelivered).toBe(true);
  }, 60000);

  test('kill -9 with the durable live: all messages there, nothing unacked skipped (recent acks may be redone)', async () => {
    const { resumed } = await scenario('kill9-live-durable');
    expect(resumed[0]).toBeGreaterThanOrEqual(1);
    expect(resumed[0]).toBeLessThanOrEqual(ACKED + 1);
  }, 60000);
});
