// The monitoring HTTP endpoints (spec §3.8): field names, types and shapes,
// paging, single-object lookups and 404 texts. Random IDs and times are not
// compared, only their form.

import { useServer } from './helpers/fixture';
import { impl, storeKind } from './helpers/server';
import { sqlStore } from './helpers/sqldb';
import { getJson, httpGet } from './helpers/http';
import { Stan, publish, subscribe, uid } from './helpers/stan';

const fx = useServer({ clusterId: 'mon-cluster' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Json = Record<string, unknown>;
type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array';

const kindOf = (v: unknown): Kind | 'null' | 'undefined' =>
  Array.isArray(v) ? 'array' : v === null ? 'null' : (typeof v as Kind | 'undefined');

/** Exactly these keys (plus the optional ones, when present), each of the given kind. */
function expectShape(obj: unknown, required: Record<string, Kind>, optional: Record<string, Kind> = {}): void {
  expect(kindOf(obj)).toBe('object');
  const o = obj as Json;
  const got: Record<string, string> = {};
  for (const k of Object.keys(o)) got[k] = kindOf(o[k]);
  const want: Record<string, string> = { ...required };
  for (const [k, v] of Object.entries(optional)) if (k in o) want[k] = v;
  expect(got).toEqual(want);
}

const RFC3339_NANO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const NUID = /^[0-9A-Za-z]{22}$/;
const INBOX = /^_INBOX\.[0-9A-Za-z]+$/;
// Ack inboxes are opaque to clients (spec §2.3; docs/compat.md): any literal NATS subject.
const SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

const SERVERZ: Record<string, Kind> = {
  cluster_id: 'string',
  server_id: 'string',
  version: 'string',
  go: 'string',
  state: 'string',
  now: 'string',
  start_time: 'string',
  uptime: 'string',
  clients: 'number',
  subscriptions: 'number',
  channels: 'number',
  total_msgs: 'number',
  total_bytes: 'number',
  in_msgs: 'number',
  in_bytes: 'number',
  out_msgs: 'number',
  out_bytes: 'number',
};
const SERVERZ_OPT: Record<string, Kind> = { role: 'string', node_id: 'string', open_fds: 'number', max_fds: 'number' };
const LIMITS: Record<string, Kind> = {
  max_channels: 'number',
  max_msgs: 'number',
  max_bytes: 'number',
  max_age: 'number',
  max_subscriptions: 'number',
  max_inactivity: 'number',
};
const LIST: Record<string, Kind> = {
  cluster_id: 'string',
  server_id: 'string',
  now: 'string',
  offset: 'number',
  limit: 'number',
  count: 'number',
  total: 'number',
};
const CLIENTZ: Record<string, Kind> = { id: 'string', hb_inbox: 'string', subs_count: 'number' };
const CHANNELZ: Record<string, Kind> = {
  name: 'string',
  msgs: 'number',
  bytes: 'number',
  first_seq: 'number',
  last_seq: 'number',
  subs_count: 'number',
};
const SUBZ: Record<string, Kind> = {
  client_id: 'string',
  inbox: 'string',
  ack_inbox: 'string',
  is_durable: 'boolean',
  is_offline: 'boolean',
  max_inflight: 'number',
  ack_wait: 'number',
  last_sent: 'number',
  pending_count: 'number',
  is_stalled: 'boolean',
};
const SUBZ_OPT: Record<string, Kind> = { durable_name: 'string', queue_name: 'string' };

/** Size of the stored MsgProto {sequence, subject, data, timestamp}: what the store counts as bytes. */
function storedSize(seq: number, subject: string, data: string): number {
  const varintLen = (n: number) => {
    let len = 1;
    while (n >= 128) {
      n = Math.floor(n / 128);
      len++;
    }
    return len;
  };
  const s = Buffer.byteLength(subject);
  const d = Buffer.byteLength(data);
  const tsLen = 9; // a current Unix time in nanoseconds takes 9 varint bytes
  return 1 + varintLen(seq) + 1 + varintLen(s) + s + (d > 0 ? 1 + varintLen(d) + d : 0) + 1 + tsLen;
}

let clientId: string;
let sc: Stan;
const chanA = 'mon.alpha';
const chanB = 'mon.beta';
const chanC = 'mon.gamma';

// One fixed scene for the whole file: one client, two subscriptions on alpha
// (a durable with manual acks, an unacked message pending, and a queue member),
// messages on alpha, beta and gamma.
beforeAll(async () => {
  clientId = uid('mon');
  sc = await fx.clients.connectKeep(clientId);
  await subscribe(
    sc,
    chanA,
    undefined,
    sc.subscriptionOptions().setDurableName('dur').setManualAckMode(true).setAckWait(5000).setMaxInFlight(7),
  );
  await subscribe(sc, chanA, 'workers', sc.subscriptionOptions());
  await publish(sc, chanA, 'hello');
  await publish(sc, chanB, 'x');
  await publish(sc, chanC, '');
  await sleep(300);
}, 20000);

const base = () => `${fx.server().monitorUrl}/streaming`;

describe('monitoring', () => {
  test('/streaming/serverz', async () => {
    const z = await getJson(`${base()}/serverz`);
    expectShape(z, SERVERZ, SERVERZ_OPT);
    expect(z.cluster_id).toBe('mon-cluster');
    expect(z.server_id).toMatch(NUID);
    expect(z.state).toBe('STANDALONE');
    expect(z.now).toMatch(RFC3339_NANO);
    expect(z.start_time).toMatch(RFC3339_NANO);
    expect(z.uptime).toMatch(/^(\d+d)?(\d+h)?(\d+m)?\d+s$/);
    expect(z.clients).toBe(1);
    expect(z.subscriptions).toBe(2);
    expect(z.channels).toBe(3);
    expect(z.total_msgs).toBe(3);
    expect(z.total_bytes).toBe(storedSize(1, chanA, 'hello') + storedSize(1, chanB, 'x') + storedSize(1, chanC, ''));
    expect(z.in_msgs).toBeGreaterThanOrEqual(3);
    expect(z.out_msgs).toBeGreaterThanOrEqual(2);
    expect(Date.parse(z.now as string)).toBeGreaterThanOrEqual(Date.parse(z.start_time as string));
  });

  test('/streaming/storez', async () => {
    const z = await getJson(`${base()}/storez`);
    expectShape(z, { cluster_id: 'string', server_id: 'string', now: 'string', type: 'string', limits: 'object', total_msgs: 'number', total_bytes: 'number' });
    // STAN_STORE=jetstream|sql-* runs ours on that store (helpers/server.ts).
    expect(z.type).toBe(sqlStore() !== undefined ? 'SQL' : storeKind() === 'jetstream' && impl() === 'ours' ? 'JETSTREAM' : 'MEMORY');
    expectShape(z.limits, LIMITS, { channels: 'object' });
    expect(z.limits).toMatchObject({
      max_channels: 100,
      max_msgs: 1000000,
      max_bytes: 1024000000,
      max_age: 0,
      max_subscriptions: 1000,
      max_inactivity: 0,
    });
    expect(z.total_msgs).toBe(3);
  });

  test('/streaming/clientsz, with subs=1 and client=', async () => {
    const z = await getJson(`${base()}/clientsz`);
    expectShape(z, { ...LIST, clients: 'array' });
    expect(z).toMatchObject({ cluster_id: 'mon-cluster', offset: 0, limit: 1024, count: 1, total: 1 });
    const [c] = z.clients as Json[];
    expectShape(c, CLIENTZ);
    expect(c.id).toBe(clientId);
    expect(c.hb_inbox).toMatch(INBOX);
    expect(c.subs_count).toBe(2);

    const withSubs = await getJson(`${base()}/clientsz?subs=1`);
    const [cs] = withSubs.clients as Json[];
    expectShape(cs, { ...CLIENTZ, subscriptions: 'object' });
    const byChannel = cs.subscriptions as Record<string, Json[]>;
    expect(Object.keys(byChannel)).toEqual([chanA]);
    expect(byChannel[chanA]).toHaveLength(2);
    for (const s of byChannel[chanA]) expectShape(s, SUBZ, SUBZ_OPT);
    const durable = byChannel[chanA].find((s) => s.durable_name === 'dur') as Json;
    const queue = byChannel[chanA].find((s) => s.queue_name === 'workers') as Json;
    expect(durable).toMatchObject({
      client_id: clientId,
      is_durable: true,
      is_offline: false,
      max_inflight: 7,
      ack_wait: 5,
      last_sent: 1,
      pending_count: 1,
      is_stalled: false,
    });
    expect(durable.inbox).toMatch(INBOX);
    expect(durable.ack_inbox).toMatch(SUBJECT);
    expect('queue_name' in durable).toBe(false);
    expect(queue).toMatchObject({
      client_id: clientId,
      is_durable: false,
      max_inflight: 16384,
      ack_wait: 30,
      last_sent: 1,
      pending_count: 0,
    });
    expect('durable_name' in queue).toBe(false);

    const one = await getJson(`${base()}/clientsz?client=${clientId}`);
    expectShape(one, CLIENTZ);
    expect(one.id).toBe(clientId);
    const oneSubs = await getJson(`${base()}/clientsz?client=${clientId}&subs=1`);
    expectShape(oneSubs, { ...CLIENTZ, subscriptions: 'object' });
  });

  test('/streaming/clientsz?client=<unknown> is a 404 with a text body', async () => {
    const r = await httpGet(`${base()}/clientsz?client=nobody-here`);
    expect(r.status).toBe(404);
    expect(r.body.trim()).toBe('Client nobody-here not found');
  });

  test('/streaming/channelsz: sorted names, subs=1, channel=, paging', async () => {
    const z = await getJson(`${base()}/channelsz`);
    expectShape(z, { ...LIST, names: 'array' });
    expect(z).toMatchObject({ offset: 0, limit: 1024, count: 3, total: 3, names: [chanA, chanB, chanC] });

    const withSubs = await getJson(`${base()}/channelsz?subs=1`);
    expectShape(withSubs, { ...LIST, channels: 'array' });
    const chans = withSubs.channels as Json[];
    expect(chans.map((c) => c.name)).toEqual([chanA, chanB, chanC]);
    expectShape(chans[0], { ...CHANNELZ, subscriptions: 'array' });
    expectShape(chans[1], CHANNELZ, { subscriptions: 'array' });
    expect(chans[0]).toMatchObject({ msgs: 1, first_seq: 1, last_seq: 1, subs_count: 2, bytes: storedSize(1, chanA, 'hello') });
    expect(chans[1]).toMatchObject({ msgs: 1, first_seq: 1, last_seq: 1, subs_count: 0, bytes: storedSize(1, chanB, 'x') });
    for (const s of chans[0].subscriptions as Json[]) expectShape(s, SUBZ, SUBZ_OPT);

    const one = await getJson(`${base()}/channelsz?channel=${chanA}`);
    expectShape(one, CHANNELZ);
    expect(one).toMatchObject({ name: chanA, msgs: 1, subs_count: 2 });
    const oneSubs = await getJson(`${base()}/channelsz?channel=${chanA}&subs=1`);
    expectShape(oneSubs, { ...CHANNELZ, subscriptions: 'array' });
    expect(oneSubs.subscriptions).toHaveLength(2);

    const page = await getJson(`${base()}/channelsz?offset=1&limit=1`);
    expect(page).toMatchObject({ offset: 1, limit: 1, count: 1, total: 3, names: [chanB] });
    const past = await getJson(`${base()}/channelsz?offset=10&limit=5`);
    expect(past).toMatchObject({ offset: 10, limit: 5, count: 0, total: 3 });
    expect((past.names as unknown[] | undefined) ?? []).toEqual([]);
  });

  test('/streaming/channelsz?channel=<unknown> is a 404 with a text body', async () => {
    const r = await httpGet(`${base()}/channelsz?channel=no.such.channel`);
    expect(r.status).toBe(404);
    expect(r.body.trim()).toBe('Channel no.such.channel not found');
  });

  test('client counts follow connects and closes', async () => {
    const other = await fx.clients.connect(uid('tmp'));
    const z1 = await getJson(`${base()}/serverz`);
    expect(z1.clients).toBe(2);
    await fx.clients.close(other);
    const z2 = await getJson(`${base()}/serverz`);
    expect(z2.clients).toBe(1);
  });

  test('/streaming/isFTActive answers with an empty body (204 when standalone)', async () => {
    const r = await httpGet(`${base()}/isFTActive`);
    expect(r.status).toBe(204);
    expect(r.body).toBe('');
  });

  test('/streaming is an HTML index linking the endpoints', async () => {
    const r = await httpGet(`${base()}`);
    expect(r.status).toBe(200);
    expect(r.contentType ?? '').toMatch(/text\/html/);
    for (const p of ['serverz', 'storez', 'clientsz', 'channelsz']) expect(r.body).toContain(p);
  });
});
