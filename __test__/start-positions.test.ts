// Every start position, on a channel holding 5 messages (and more as the tests publish).

import nats from './helpers/client';
import { useServer } from './helpers/fixture';
import { ReadySub, Stan, publish, publishMany, seqs, subscribe, uid } from './helpers/stan';

const fx = useServer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const subject = uid('positions');
let pub: Stan;

beforeAll(async () => {
  // Not tracked by fx.clients (which closes after each test): a publisher for the whole file.
  pub = await fx.clients.connect(uid('seeder'));
  await publishMany(pub, subject, ['1', '2', '3', '4', '5']);
  await fx.clients.close(pub);
}, 20000);

async function startWith(build: (sc: Stan) => ReturnType<Stan['subscriptionOptions']>, settle = 400) {
  const sc = await fx.clients.connect();
  const s = await subscribe(sc, subject, undefined, build(sc));
  await sleep(settle);
  return { sc, s };
}

describe('start positions', () => {
  test('StartPosition enum values', () => {
    expect(nats.StartPosition).toMatchObject({ NEW_ONLY: 0, LAST_RECEIVED: 1, TIME_DELTA_START: 2, SEQUENCE_START: 3, FIRST: 4 });
  });

  test('default (NEW_ONLY): nothing old, then the next new message', async () => {
    const { s } = await startWith((c) => c.subscriptionOptions());
    expect(s.msgs.length).toBe(0);
    // Publish on another connection; the subscriber sees only the new one.
    const other = await fx.clients.connect();
    await publish(other, subject, 'new');
    await s.waitCount(1);
    await sleep(200);
    expect(s.msgs.length).toBe(1);
    expect(s.msgs[0].getData()).toBe('new');
    expect(s.msgs[0].getSequence()).toBe(6);
  });

  test('NEW_ONLY set explicitly behaves like the default', async () => {
    const { s } = await startWith((c) => c.subscriptionOptions().setStartAt(nats.StartPosition.NEW_ONLY));
    expect(s.msgs.length).toBe(0);
  });

  test('LAST_RECEIVED: starts at the last stored message', async () => {
    const { s } = await startWith((c) => c.subscriptionOptions().setStartWithLastReceived());
    expect(s.msgs.length).toBeGreaterThanOrEqual(1);
    const first = s.msgs[0];
    // The last stored message at subscribe time (5, or later if the NEW_ONLY test published already).
    expect(first.getSequence()).toBeGreaterThanOrEqual(5);
    expect(s.msgs.length).toBe(1);
  });

  test('TIME_DELTA_START: only messages newer than now - delta', async () => {
    // A channel of its own, so the timing does not depend on the other tests.
    const timed = uid('timed');
    const sc = await fx.clients.connect();
    await publishMany(sc, timed, ['old-1', 'old-2']);
    await sleep(1500);
    await publishMany(sc, timed, ['new-3', 'new-4']);
    const s = await subscribe(sc, timed, undefined, sc.subscriptionOptions().setStartAtTimeDelta(1000));
    await s.waitCount(2);
    await sleep(300);
    expect(seqs(s.msgs)).toEqual([3, 4]);
  });

  test('TIME_DELTA_START via setStartTime(date)', async () => {
    const since = new Date(Date.now() - 60_000);
    const { s } = await startWith((c) => c.subscriptionOptions().setStartTime(since));
    expect(seqs(s.msgs).slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
  });

  test('SEQUENCE_START: from the given sequence', async () => {
    const { s } = await startWith((c) => c.subscriptionOptions().setStartAtSequence(3));
    expect(seqs(s.msgs).slice(0, 3)).toEqual([3, 4, 5]);
  });

  test('SEQUENCE_START above the last sequence is clamped to new-only', async () => {
    const { s } = await startWith((c) => c.subscriptionOptions().setStartAtSequence(1000));
    expect(s.msgs.length).toBe(0);
    const other = await fx.clients.connect();
    await publish(other, subject, 'after-clamp');
    await s.waitCount(1);
    expect(s.msgs[0].getData()).toBe('after-clamp');
  });

  test('SEQUENCE_START 0 (below the first) starts at the first message', async () => {
    const { s } = await startWith((c) => c.subscriptionOptions().setStartAtSequence(0));
    expect(seqs(s.msgs).slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
  });

  test('FIRST (setDeliverAllAvailable): everything, in order', async () => {
    const { s } = await startWith((c) => c.subscriptionOptions().setDeliverAllAvailable());
    const got = seqs(s.msgs);
    expect(got.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i + 1));
  });

  test('start positions on an empty channel deliver nothing, then new messages', async () => {
    const empty = uid('empty');
    const sc = await fx.clients.connect();
    const opts = [
      sc.subscriptionOptions().setDeliverAllAvailable(),
      sc.subscriptionOptions().setStartWithLastReceived(),
      sc.subscriptionOptions().setStartAtSequence(1),
      sc.subscriptionOptions().setStartAtTimeDelta(10_000),
    ];
    const subs: ReadySub[] = [];
    for (const o of opts) subs.push(await subscribe(sc, empty, undefined, o));
    await sleep(300);
    expect(subs.map((x) => x.msgs.length)).toEqual([0, 0, 0, 0]);
    await publish(sc, empty, 'first');
    for (const x of subs) await x.waitCount(1);
    expect(subs.map((x) => x.msgs[0].getSequence())).toEqual([1, 1, 1, 1]);
  });
});
