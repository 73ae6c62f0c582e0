// Compile-only check of the typings (`npm run typecheck:typings`): the whole
// public surface, written the way node-nats-streaming users (and the course
// code) write it. Never run.
import nats, { Message, Stan, Subscription, SubscriptionOptions, StartPosition, StanOptions, AckHandlerCallback } from 'stan-rs';
import { startTestServer, TestServer } from 'stan-rs/testing';

const version: string = nats.version;

const opts: StanOptions = { url: 'http://localhost:4222', connectTimeout: 2000, ackTimeout: 30000, maxPubAcksInflight: 16384 };
const stan: Stan = nats.connect('ticketing', 'abc', opts);
nats.connect('ticketing', 'abc', 'nats://localhost:4222');
nats.connect('ticketing', 'abc', 4222);
nats.connect('ticketing', 'abc');
nats.connect('c', 'id', { servers: ['nats://a:4222'], user: 'u', pass: 'p', name: 'n', tls: true, stanEncoding: 'binary' });

stan.on('connect', (sc: Stan) => {
  const data = JSON.stringify({ id: '123', title: 'concert', price: 20 });
  const guid: string = stan.publish('ticket:created', data, (err, g) => {
    if (err) console.log(err.message);
    const s: string = g;
  });
  stan.publish('raw', Buffer.from('x'));
  stan.publish('bytes', new Uint8Array([1, 2]));
  stan.publish('empty');
  const cb: AckHandlerCallback = (err: Error | undefined, g: string) => undefined;
  stan.publish('x', 'y', cb);

  const o: SubscriptionOptions = stan
    .subscriptionOptions()
    .setManualAckMode(true)
    .setDeliverAllAvailable()
    .setDurableName('accounting-service')
    .setMaxInFlight(10)
    .setAckWait(5 * 1000)
    .setStartAt(StartPosition.NEW_ONLY)
    .setStartAtSequence(3)
    .setStartTime(new Date())
    .setStartAtTimeDelta(1000)
    .setStartWithLastReceived();
  const pos: StartPosition = o.startPosition;
  const durable: string | undefined = o.durableName;

  const sub: Subscription = stan.subscribe('ticket:created', 'order-service-queue-group', o);
  stan.subscribe('ticket:created');
  stan.subscribe('ticket:created', o);
  stan.subscribe('ticket:created', 'group');
  sub.on('ready', () => undefined);
  sub.on('message', (msg: Message) => {
    const d = msg.getData();
    if (typeof d === 'string') {
      console.log(`Received event #${msg.getSequence()}, with data: ${d}`);
    } else {
      console.log(d.toString('utf8'));
    }
    const raw: Buffer = msg.getRawData();
    const ts: Date = msg.getTimestamp();
    const n: number = msg.getTimestampRaw() + msg.getRedeliveryCount() + msg.getCrc32();
    const re: boolean = msg.isRedelivered();
    const subj: string = msg.getSubject();
    msg.ack();
  });
  sub.on('error', (err) => console.log(err.message, err.code));
  sub.on('timeout', (err: Error) => undefined);
  sub.on('unsubscribed', () => undefined);
  sub.on('closed', () => undefined);
  const closed: boolean = sub.isClosed();
  sub.unsubscribe();
  sub.close();
  const so: SubscriptionOptions = nats.NewSubscriptionOptions();
});
stan.on('close', () => process.exit());
stan.on('close', (err) => { if (err) console.log(err.code); });
stan.on('error', (err) => console.log(err.message));
stan.on('connection_lost', (err: Error) => undefined);
stan.on('permission_error', (err: Error) => undefined);
stan.on('disconnect', () => undefined);
stan.on('reconnecting', () => undefined);
stan.on('reconnect', (sc: Stan) => undefined);
process.on('SIGINT', () => stan.close());
const isClosed: boolean = stan.isClosed();
const ids: string = stan.clusterID + stan.clientID;

async function withServer(): Promise<void> {
  const srv: TestServer = await startTestServer({ clusterId: 'c', args: ['-hbi', '1s'] });
  const sc = nats.connect(srv.clusterId, 'x', { url: srv.url });
  const m: string = srv.monitorUrl;
  await srv.stop();
}
void withServer;

// Misuse the typings must reject.
// @ts-expect-error publish returns the guid string
const notANumber: number = stan.publish('x', 'y');
// @ts-expect-error data must be a string or bytes
stan.publish('x', { id: 1 });
// @ts-expect-error setters chain SubscriptionOptions, not Stan
const notStan: Stan = stan.subscriptionOptions().setDurableName('d');
