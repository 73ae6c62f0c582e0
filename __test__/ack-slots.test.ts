// Publish callbacks on both transports of the Node package. On the JS-thread
// transport a publish with a callback takes a slot and its ack comes back as
// that slot (lib/stan.js), slots are reused once free; the threaded path
// keeps the guid map. Either way every callback runs once with
// `(undefined, guid)` (the guid publish() returned), `pubAckMap` lists the
// waiting ones, and a publish the server never acks gets `(err, guid)`.
// Our package only.

import * as path from 'path';
import { useServer } from './helpers/fixture';
import { NatsServer, StanServer } from './helpers/server';
import { uid } from './helpers/stan';
import { KINDS, closed, connectOn, restoreTransportAfterAll, stanPackage as stan } from './helpers/transports';


const fx = useServer();
restoreTransportAfterAll();

type Cb = (err?: Error, guid?: string) => void;
type Sc = {
  once(ev: string, f: (...a: unknown[]) => void): void;
  publish(s: string, d: string | Buffer, cb?: Cb): string;
  close(): void;
  pubAckOutstanding: number;
  pubAckMap: Record<string, { ah: Cb }>;
};

function connect(kind: string, srv: StanServer, extra: object = {}): Promise<Sc> {
  return connectOn<Sc>(kind, srv, 'slots', extra);
}

/** Publish `n` (every third without a callback, strings and Buffers); resolves to guid -> callback arguments. */
async function wave(sc: Sc, subject: string, n: number): Promise<{ returned: string[]; calls: Map<string, unknown[][]> }> {
  const calls = new Map<string, unknown[][]>();
  const returned: string[] = [];
  let expected = 0;
  let seen = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  for (let i = 0; i < n; i++) {
    const data = i % 2 === 0 ? `m${i}` : Buffer.from(`m${i}`);
    if (i % 3 === 2) {
      sc.publish(subject, data);
      continue;
    }
    expected++;
    const guid = sc.publish(subject, data, (...args: unknown[]) => {
      const key = String(args[1]);
      calls.set(key, [...(calls.get(key) ?? []), args]);
      if (++seen === expected) done();
    });
    returned.push(guid);
  }
  const pending = Object.keys(sc.pubAckMap);
  expect(pending.length).toBeGreaterThan(0);
  for (const g of pending) expect(returned).toContain(g);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    all,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${seen} of ${expected} callbacks`)), 10000);
    })
  ]);
  clearTimeout(timer);
  return { returned, calls };
}

for (const kind of KINDS) {
  test(`${kind}: three waves of publishes, each callback once with (undefined, its guid), slots reused`, async () => {
    const sc = await connect(kind, fx.server());
    const subject = uid(`slots-${kind}`);
    const guids = new Set<string>();
    for (let w = 0; w < 3; w++) {
      const { returned, calls } = await wave(sc, subject, 1500);
      expect(returned.length).toBe(1000);
      expect(calls.size).toBe(1000);
      for (const g of returned) {
        expect(calls.get(g)).toEqual([[undefined, g]]);
        guids.add(g);
      }
      expect(sc.pubAckMap).toEqual({});
    }
    expect(guids.size).toBe(3000);
    expect(await closed(sc)).toBeFalsy();
  }, 30000);

  test(`${kind}: a publish the server never acks gets (ack timeout error, its guid)`, async () => {
    const nats = await NatsServer.start();
    const srv = await StanServer.start({ natsServer: nats });
    try {
      const sc = await connect(kind, srv, { ackTimeout: 300 });
      await srv.stop();
      const got = await new Promise<unknown[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no ack callback within 5 s')), 5000);
        const guid = sc.publish(uid('lost'), 'x', (...args: unknown[]) => {
          clearTimeout(timer);
          resolve([...args, guid]);
        });
      });
      const [err, guid, returned] = got;
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toBe('stan: publish ack timeout');
      expect(guid).toBe(returned);
      expect(sc.pubAckMap).toEqual({});
      // The close request goes unanswered too: 'close' comes with its timeout error.
      await closed(sc);
    } finally {
      await srv.dispose();
      await nats.dispose();
    }
  }, 30000);
  test(`${kind}: a burst of 20,000 publishes of 1 KiB in one synchronous run arrives whole and in order`, async () => {
    // 20 MiB in one run: the JS-thread transport writes it in pieces while
    // the run goes on (lib/transport.js WRITE_AFTER); nothing may be lost or
    // reordered across those pieces.
    type Msg = { getSequence(): number; getRawData(): Buffer };
    type Sub = { on(ev: string, f: (...a: unknown[]) => void): void };
    const sc = await connect(kind, fx.server(), { maxPubAcksInflight: 20000 });
    const subject = uid(`burst-${kind}`);
    const N = 20000;
    const sub = (sc as unknown as { subscribe(s: string): Sub }).subscribe(subject);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('subscription not ready within 5 s')), 5000);
      sub.on('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const got: string[] = [];
    let acked = 0;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${got.length} messages, ${acked} acks of ${N}`)), 20000);
      const check = () => {
        if (got.length === N && acked === N) {
          clearTimeout(timer);
          resolve();
        }
      };
      sub.on('message', (m: unknown) => {
        const msg = m as Msg;
        expect(msg.getSequence()).toBe(got.length + 1);
        got.push(msg.getRawData().subarray(0, 8).toString());
        check();
      });
      for (let i = 0; i < N; i++) {
        const data = Buffer.alloc(1024, 'x');
        data.write(String(i).padStart(8, '0'));
        sc.publish(subject, data, (err) => {
          if (err) reject(err);
          acked++;
          check();
        });
      }
    });
    await done;
    expect(got).toEqual(Array.from({ length: N }, (_, i) => String(i).padStart(8, '0')));
    expect(sc.pubAckOutstanding).toBe(0);
    expect(await closed(sc)).toBeFalsy();
  }, 40000);
}

test('jsPublishOn with a session handle that does not exist: a clear STAN_ERROR, no crash', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const native = require(path.join(__dirname, '..', 'lib', 'native.js'));
  let err: unknown;
  try {
    native.jsPublishOn(0xfffffff0, 0, new Uint8Array(1));
  } catch (e) {
    err = e;
  }
  expect(err).toBeDefined();
  expect((err as { code?: string }).code).toBe('STAN_ERROR');
  expect((err as Error).message).toBe('unknown session handle');
});
