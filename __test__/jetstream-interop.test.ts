// Interoperability (issue 12, item 3): with stan-server on `--store jetstream`,
// a service written with a current JetStream client — `@nats-io/jetstream` +
// `@nats-io/transport-node` — reads what a STAN publisher (the client under
// test, STAN_CLIENT) published, straight from the channel's stream
// `STAN_<cluster>_<channel>`: every payload in order, stream sequence = STAN
// sequence, and the STAN metadata in headers (`Stan-Sequence`,
// `Stan-Timestamp`, `Stan-Guid`; docs/jetstream.md). The STAN side is not
// disturbed: a STAN subscriber still gets every message afterwards. And a
// STAN durable (the course's listener: a durable queue group, manual acks) is
// itself a JetStream consumer, acknowledged as far as the durable acknowledged
// in order, that the service's JetStream version continues from.
//
// Runs only where the channels are JetStream streams: STAN_STORE=jetstream
// with our server (the harness then runs stan-server with `--store jetstream`
// against a private JetStream nats-server). In every other cell it is skipped
// with the reason in its name.

import { AckPolicy, Consumer, DeliverPolicy, JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { useServer } from './helpers/fixture';
import { impl, storeKind } from './helpers/server';
import { Stan, datas, seqs, subscribe, uid } from './helpers/stan';

const onJetStream = storeKind() === 'jetstream' && impl() === 'ours';
const suite = onJetStream ? describe : describe.skip;
const skipReason = 'skipped: needs STAN_STORE=jetstream and STAN_SERVER_IMPL=ours (channels as JetStream streams)';
const title = onJetStream ? 'JetStream clients read STAN channels' : `JetStream clients read STAN channels (${skipReason})`;
// Jest lists no test names of a file whose tests are all skipped: say why here.
if (!onJetStream) console.log(`jetstream-interop.test.ts: ${skipReason}`);

/** The stream of a channel whose name and cluster ID are plain tokens ([A-Za-z0-9-], no `_`). */
function streamOf(clusterId: string, channel: string): string {
  return `STAN_${clusterId}_${channel}`;
}

/** STAN publish that keeps both GUIDs: the one publish() returned and the one the PubAck carried. */
function publishGuids(sc: Stan, subject: string, data: string | Buffer, ms = 5000): Promise<{ sent: string; acked: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`publish to ${subject}: no ack after ${ms} ms`)), ms);
    let sent = '';
    sent = sc.publish(subject, data, (err, guid) => {
      clearTimeout(timer);
      if (err !== undefined) reject(new Error(String(err)));
      // Resolved on the next turn, so `sent` is set even if a client ever called back synchronously.
      else setImmediate(() => resolve({ sent, acked: guid }));
    });
  });
}

/** Fetch until `n` messages arrived or `ms` passed (each fetch is bounded by its `expires`). */
async function fetchN(c: Consumer, n: number, ms: number, ack = false): Promise<JsMsg[]> {
  const got: JsMsg[] = [];
  const deadline = Date.now() + ms;
  while (got.length < n && Date.now() < deadline) {
    const batch = await c.fetch({ max_messages: n - got.length, expires: 2000 });
    for await (const m of batch) {
      if (ack) await m.ackAck({ timeout: 5000 });
      got.push(m);
    }
  }
  return got;
}

/** consume() (the long-running service loop) until `n` messages arrived or `ms` passed; acks each. */
async function consumeN(c: Consumer, n: number, ms: number): Promise<JsMsg[]> {
  const got: JsMsg[] = [];
  const msgs = await c.consume({ max_messages: 10 });
  const timer = setTimeout(() => void msgs.stop(), ms);
  try {
    for await (const m of msgs) {
      await m.ackAck({ timeout: 5000 });
      got.push(m);
      if (got.length >= n) break;
    }
  } finally {
    clearTimeout(timer);
    await msgs.close();
  }
  return got;
}

suite(title, () => {
  const fx = useServer();
  let nc: NatsConnection | undefined;

  afterEach(async () => {
    await nc?.close();
    nc = undefined;
  });

  const jsConnect = async (): Promise<NatsConnection> => {
    nc = await connect({ servers: `127.0.0.1:${fx.server().port}`, timeout: 5000, reconnect: false });
    return nc;
  };

  test('an ordered consumer sees every payload in order with the STAN sequence, timestamp and guid', async () => {
    const channel = uid('interop');
    const N = 25;
    const payloads = Array.from({ length: N }, (_, i) => `order-${i + 1}`);
    payloads[7] = ''; // an empty STAN message is an empty body
    const binary = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x0a, 0x0d]);

    const sc = await fx.clients.connect(uid('pub'));
    const guids: string[] = [];
    const before = BigInt(Date.now() - 1000) * 1_000_000n;
    for (let i = 0; i < N; i++) {
      const { sent, acked } = await publishGuids(sc, channel, i === N - 1 ? binary : payloads[i]);
      expect(acked).toBe(sent);
      guids.push(acked);
    }
    const after = BigInt(Date.now() + 1000) * 1_000_000n;
    expect(new Set(guids).size).toBe(N);

    const js = jetstream(await jsConnect());
    const stream = streamOf(fx.server().clusterId, channel);
    const info = await (await jetstreamManager(nc!)).streams.info(stream);
    expect(info.config.subjects).toEqual([`_STAN_CH.${fx.server().clusterId}.${channel}`]);
    expect(info.config.description).toBe(`NATS Streaming channel "${channel}" of cluster "${fx.server().clusterId}"`);
    expect(info.state.messages).toBe(N);
    expect([info.state.first_seq, info.state.last_seq]).toEqual([1, N]);

    // An ordered consumer: no name, nothing created on the server to clean up.
    const ordered = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const got = await fetchN(ordered, N, 20000);
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(got.slice(0, N - 1).map((m) => m.string())).toEqual(payloads.slice(0, N - 1));
    expect(Buffer.from(got[N - 1].data)).toEqual(binary);
    for (let i = 0; i < N; i++) {
      const m = got[i];
      expect(m.subject).toBe(`_STAN_CH.${fx.server().clusterId}.${channel}`);
      expect(m.headers?.get('Stan-Guid')).toBe(guids[i]);
      expect(m.headers?.get('Stan-Sequence')).toBe(String(i + 1));
      const ts = BigInt(m.headers?.get('Stan-Timestamp') ?? '0');
      expect(ts >= before && ts <= after).toBe(true);
      if (i > 0) expect(ts >= BigInt(got[i - 1].headers!.get('Stan-Timestamp'))).toBe(true);
    }

    // A STAN subscriber afterwards sees the same messages: same sequences, data and timestamps.
    const sub = await subscribe(sc, channel, undefined, sc.subscriptionOptions().setDeliverAllAvailable());
    await sub.waitCount(N, 10000);
    expect(seqs(sub.msgs)).toEqual(got.map((m) => m.seq));
    expect(datas(sub.msgs).slice(0, N - 1)).toEqual(payloads.slice(0, N - 1));
    for (let i = 0; i < N; i++) {
      const jsMs = Number(BigInt(got[i].headers!.get('Stan-Timestamp')) / 1_000_000n);
      expect(Math.abs(sub.msgs[i].getTimestamp().getTime() - jsMs)).toBeLessThanOrEqual(1);
    }
  }, 60000);

  test('a durable pull consumer (a service moved to JetStream) keeps its position while STAN publishers carry on', async () => {
    const channel = uid('orders');
    const sc = await fx.clients.connect(uid('pub'));
    const first = Array.from({ length: 10 }, (_, i) => `first-${i + 1}`);
    const firstGuids: string[] = [];
    for (const d of first) firstGuids.push((await publishGuids(sc, channel, d)).acked);

    const stream = streamOf(fx.server().clusterId, channel);
    const jsm = await jetstreamManager(await jsConnect());
    await jsm.consumers.add(stream, {
      durable_name: 'billing',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    const js = jetstream(nc!);
    let billing = await js.consumers.get(stream, 'billing');
    const got1 = await consumeN(billing, first.length, 20000);
    expect(got1.map((m) => m.string())).toEqual(first);
    expect(got1.map((m) => m.headers?.get('Stan-Guid'))).toEqual(firstGuids);
    expect(got1.map((m) => m.info.streamSequence)).toEqual(first.map((_, i) => i + 1));

    // The STAN producer keeps publishing; the service comes back (a fresh
    // handle on the same durable) and reads only what it has not acked.
    const second = Array.from({ length: 5 }, (_, i) => `second-${i + 1}`);
    const secondGuids: string[] = [];
    for (const d of second) secondGuids.push((await publishGuids(sc, channel, d)).acked);
    billing = await js.consumers.get(stream, 'billing');
    const got2 = await fetchN(billing, second.length, 20000, true);
    expect(got2.map((m) => m.string())).toEqual(second);
    expect(got2.map((m) => m.headers?.get('Stan-Guid'))).toEqual(secondGuids);
    expect(got2.map((m) => m.seq)).toEqual([11, 12, 13, 14, 15]);
    // Nothing more is waiting, nothing is unacked.
    expect(await fetchN(billing, 1, 1500)).toEqual([]);
    const ci = await billing.info();
    expect(ci.num_pending).toBe(0);
    expect(ci.num_ack_pending).toBe(0);
    expect(ci.delivered.stream_seq).toBe(15);

    // The JetStream consumer took nothing away from STAN: a STAN subscriber still gets all 15.
    const sub = await subscribe(sc, channel, undefined, sc.subscriptionOptions().setDeliverAllAvailable());
    await sub.waitCount(15, 10000);
    expect(datas(sub.msgs)).toEqual([...first, ...second]);
  }, 60000);
  test("a course listener's durable queue group is a JetStream consumer its JetStream version continues from", async () => {
    // The course's Listener: a durable queue group, manual acks, deliver all available.
    const channel = uid('order-created');
    const sc = await fx.clients.connect(uid('pub'));
    for (let i = 1; i <= 10; i++) await publishGuids(sc, channel, `order-${i}`);
    const listener = await fx.clients.connect(uid('orders'));
    const opts = listener
      .subscriptionOptions()
      .setManualAckMode(true)
      .setAckWait(30000)
      .setMaxInFlight(50)
      .setDeliverAllAvailable()
      .setDurableName('orders-service');
    const sub = await subscribe(listener, channel, 'orders-service', opts);
    await sub.waitCount(10, 10000);
    // It handles 1..6 and 8; 7 (and 9, 10) are not acknowledged.
    for (const m of sub.msgs) if (m.getSequence() <= 6 || m.getSequence() === 8) m.ack();

    const stream = streamOf(fx.server().clusterId, channel);
    const name = 'STAN_Q_orders-service_orders-service';
    const jsm = await jetstreamManager(await jsConnect());
    let floor = -1;
    const deadline = Date.now() + 20000;
    while (floor < 6 && Date.now() < deadline) {
      floor = await jsm.consumers.info(stream, name).then((ci) => ci.ack_floor.stream_seq, () => -1);
      if (floor < 6) await new Promise((r) => setTimeout(r, 100));
    }
    expect(floor).toBe(6);
    const ci = await jsm.consumers.info(stream, name);
    expect(ci.config.ack_policy).toBe(AckPolicy.All);
    expect(ci.config.ack_wait).toBe(30_000_000_000); // ns
    expect(ci.config.max_ack_pending).toBe(50);
    expect(ci.config.description).toBe(
      `STAN durable queue group "orders-service" (durable "orders-service") on channel "${channel}", kept in step by stan-server`,
    );

    // The STAN listener stops (its durable stays); the JetStream version binds to the consumer.
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('subscription close: no answer')), 5000);
      sub.sub.once('closed', () => {
        clearTimeout(t);
        resolve();
      });
      sub.sub.close();
    });
    const consumer = await jetstream(nc!).consumers.get(stream, name);
    const got = await fetchN(consumer, 4, 20000, true);
    expect(got.map((m) => m.seq)).toEqual([7, 8, 9, 10]);
    expect(got.map((m) => m.string())).toEqual(['order-7', 'order-8', 'order-9', 'order-10']);
  }, 60000);
});
