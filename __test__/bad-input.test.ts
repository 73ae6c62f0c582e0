// Hostile input on every STAN request subject, over a raw NATS connection:
// random bytes, malformed protobuf, empty and oversized payloads, requests
// with valid encoding but invalid content, and a flood of 500 connects. The
// server must answer every request with its error text (pings with a bad
// payload may go unanswered, as the reference does), never die, and a normal
// client must still work afterwards.

import * as crypto from 'crypto';
import { useServer } from './helpers/fixture';
import { getJson } from './helpers/http';
import * as proto from './helpers/proto';
import { RawNats, RawStanSession, randomInbox, rawStanConnect } from './helpers/rawnats';
import { publish, subscribe, uid, waitFor } from './helpers/stan';

const fx = useServer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let raw: RawNats;
let session: RawStanSession;
let ackInbox: string;
const channel = 'bad.input';

beforeAll(async () => {
  raw = await RawNats.connect(fx.server().port);
  session = await rawStanConnect(fx.server().port, fx.server().clusterId, uid('raw'), true);
  expect(session.resp.error).toBe('');
  const r = await session.nc.request(
    session.resp.subRequests,
    proto.subscriptionRequest({ clientID: session.clientID, subject: channel, inbox: randomInbox(), durableName: 'd' }),
  );
  const sr = proto.decodeSubscriptionResponse(r.data);
  expect(sr.error).toBe('');
  ackInbox = sr.ackInbox;
}, 20000);

afterAll(async () => {
  await raw?.close();
  await session?.nc.close();
});

/**
 * Payloads no client should send. Two of them happen to be valid protobuf:
 * 'empty' (every field at its default) and 'deep nonsense' (field 1 repeated,
 * the last one wins, so clientID/connID become junk); the server answers those
 * with the error of the content check, the others with its "invalid request" text.
 */
function badPayloads(maxPayload: number): Array<[string, Buffer]> {
  return [
    ['empty', Buffer.alloc(0)],
    ['random bytes', crypto.randomBytes(64)],
    ['text', Buffer.from('hello, not protobuf\r\nPUB x 1\r\n')],
    ['truncated varint', Buffer.from([0x08, 0xff, 0xff])],
    ['length past the end', Buffer.from([0x0a, 0x7f, 0x41])],
    ['bad wire type', Buffer.from([0x0f, 0x01, 0x02])],
    ['field 0', Buffer.from([0x00, 0x01])],
    ['huge length varint', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])],
    ['all 0xff', Buffer.alloc(256, 0xff)],
    ['deep nonsense', Buffer.concat(Array.from({ length: 200 }, () => Buffer.from([0x0a, 0x02, 0x08, 0x01])))],
    // Big but under the NATS max_payload (default 1 MiB).
    ['oversized random', crypto.randomBytes(Math.min(maxPayload - 1024, 900 * 1024))],
  ];
}

/** Send a request and collect whatever comes back within `ms` (possibly nothing). */
async function tryRequest(subject: string, data: Buffer, ms = 1500): Promise<Buffer | undefined> {
  try {
    return (await raw.request(subject, data, ms)).data;
  } catch {
    return undefined;
  }
}

function errorOf(kind: 'connect' | 'pub' | 'sub' | 'close' | 'ping', data: Buffer | undefined): string | undefined {
  if (data === undefined) return undefined;
  try {
    switch (kind) {
      case 'connect':
        return proto.decodeConnectResponse(data).error;
      case 'pub':
        return proto.decodePubAck(data).error;
      case 'sub':
        return proto.decodeSubscriptionResponse(data).error;
      default:
        return data.length === 0 ? '' : proto.decodeErrorOnly(data).error;
    }
  } catch (e) {
    return `<undecodable reply: ${(e as Error).message}>`;
  }
}

async function serverAlive(): Promise<void> {
  expect(fx.server().running).toBe(true);
  const z = await getJson<{ state: string }>(`${fx.server().monitorUrl}/streaming/serverz`);
  expect(z.state).toBe('STANDALONE');
}

async function normalClientWorks(): Promise<void> {
  const sc = await fx.clients.connect(uid('normal'));
  const subject = uid('after');
  const s = await subscribe(sc, subject, undefined, sc.subscriptionOptions().setDeliverAllAvailable());
  await publish(sc, subject, 'still works');
  await s.waitCount(1);
  expect(s.msgs[0].getData()).toBe('still works');
  await fx.clients.close(sc);
}

describe('bad input', () => {
  test('garbage on the discover subject: "stan: invalid connection request", never a registration', async () => {
    const before = await getJson<{ clients: number }>(`${fx.server().monitorUrl}/streaming/serverz`);
    for (const [name, data] of badPayloads(raw.maxPayload)) {
      const err = errorOf('connect', await tryRequest(`_STAN.discover.${fx.server().clusterId}`, data));
      expect([name, err]).toEqual([name, 'stan: invalid connection request']);
    }
    // The empty request is the readiness probe: it must get an answer.
    expect(errorOf('connect', await tryRequest(`_STAN.discover.${fx.server().clusterId}`, Buffer.alloc(0)))).toBe(
      'stan: invalid connection request',
    );
    // A well-formed request without a heartbeat inbox is invalid too.
    const noHb = proto.encode([proto.str(1, uid('nohb')), proto.int(3, 1)]);
    expect(errorOf('connect', await tryRequest(`_STAN.discover.${fx.server().clusterId}`, noHb))).toBe(
      'stan: invalid connection request',
    );
    const after = await getJson<{ clients: number }>(`${fx.server().monitorUrl}/streaming/serverz`);
    expect(after.clients).toBe(before.clients);
    await serverAlive();
  });

  test('garbage on the publish subject: "stan: invalid publish request", nothing stored', async () => {
    const pubSubject = `${session.resp.pubPrefix}.${channel}`;
    for (const [name, data] of badPayloads(raw.maxPayload)) {
      const err = errorOf('pub', await tryRequest(pubSubject, data));
      expect([name, err]).toEqual([name, 'stan: invalid publish request']);
    }
    // Well-formed PubMsgs that must be refused: unknown client, empty guid, stale connID.
    const refused = [
      proto.pubMsg({ clientID: 'nobody', guid: uid('g'), subject: channel, data: Buffer.from('x'), connID: Buffer.from('nope') }),
      proto.pubMsg({ clientID: session.clientID, guid: '', subject: channel, data: Buffer.from('x'), connID: session.connID }),
      proto.pubMsg({ clientID: session.clientID, guid: uid('g'), subject: channel, data: Buffer.from('x'), connID: Buffer.from('stale') }),
    ];
    for (const p of refused) expect(errorOf('pub', await tryRequest(pubSubject, p))).toBe('stan: invalid publish request');
    const ch = await getJson<{ msgs: number }>(`${fx.server().monitorUrl}/streaming/channelsz?channel=${channel}`);
    expect(ch.msgs).toBe(0);
    // A valid PubMsg on the raw connection is accepted and stored.
    const ok = proto.pubMsg({ clientID: session.clientID, guid: uid('g'), subject: channel, data: Buffer.from('x'), connID: session.connID });
    expect(errorOf('pub', await tryRequest(pubSubject, ok))).toBe('');
    await serverAlive();
  });

  test('garbage on the subscribe, unsubscribe and sub-close subjects', async () => {
    // [subject, text for undecodable payloads, text for the empty (all-default) request]
    const cases: Array<[string, string, string]> = [
      [session.resp.subRequests, 'stan: invalid subscription request', 'stan: clientID missing'],
      [session.resp.unsubRequests, 'stan: invalid unsubscribe request', 'stan: unknown channel'],
      [session.resp.subCloseRequests, 'stan: invalid unsubscribe request', 'stan: unknown channel'],
    ];
    for (const [subject, invalid, emptyText] of cases) {
      for (const [name, data] of badPayloads(raw.maxPayload)) {
        const err = errorOf('sub', await tryRequest(subject, data));
        if (name === 'empty') expect([subject, name, err]).toEqual([subject, name, emptyText]);
        else if (name === 'deep nonsense') expect([subject, name, err !== undefined && err !== '']).toEqual([subject, name, true]);
        else expect([subject, name, err]).toEqual([subject, name, invalid]);
      }
    }
    // Well-formed but wrong: an unknown client subscribing, unsubscribing an unknown inbox.
    const unknownSub = proto.subscriptionRequest({ clientID: 'ghost', subject: channel, inbox: randomInbox() });
    expect(errorOf('sub', await tryRequest(session.resp.subRequests, unknownSub))).toBe('stan: unknown clientID');
    const unknownUnsub = proto.unsubscribeRequest({ clientID: session.clientID, subject: channel, inbox: '_INBOX.nothing' });
    expect(errorOf('sub', await tryRequest(session.resp.unsubRequests, unknownUnsub))).toBe('stan: invalid subscription');
    await serverAlive();
  });

  test('garbage on the close and ping subjects, and on an ack inbox', async () => {
    for (const [name, data] of badPayloads(raw.maxPayload)) {
      const err = errorOf('close', await tryRequest(session.resp.closeRequests, data));
      if (name === 'empty' || name === 'deep nonsense') expect([name, err]).toEqual([name, 'stan: unknown clientID']);
      else expect([name, err]).toEqual([name, 'stan: invalid close request']);
      // Pings: the reference answers only decodable ones; a reply, if any, is never a success.
      const pingErr = errorOf('ping', await tryRequest(session.resp.pingRequests, data, 500));
      if (name === 'deep nonsense') expect(pingErr).toBe('client has been replaced or is no longer registered');
      else if (pingErr !== undefined) expect([name, pingErr === '']).toEqual([name, false]);
      raw.publish(ackInbox, data);
    }
    const unknownClose = proto.closeRequest('ghost');
    expect(errorOf('close', await tryRequest(session.resp.closeRequests, unknownClose))).toBe('stan: unknown clientID');
    const unknownPing = proto.ping(Buffer.from('unknown-conn'));
    expect(errorOf('ping', await tryRequest(session.resp.pingRequests, unknownPing))).toBe(
      'client has been replaced or is no longer registered',
    );
    // The raw session itself is still registered and its ping is answered with success.
    const pong = await tryRequest(session.resp.pingRequests, proto.ping(session.connID));
    expect(errorOf('ping', pong)).toBe('');
    await raw.flush();
    await serverAlive();
  });

  test('a flood of 500 connect requests is answered, then 500 closes; a normal client still works', async () => {
    const n = 500;
    const replyPrefix = randomInbox('_INBOX.flood');
    const hbPrefix = randomInbox('_INBOX.floodhb');
    const connectReplies = new Map<number, string>();
    const closeReplies = new Map<number, string>();
    raw.subscribe(`${replyPrefix}.*.*`, (m) => {
      const [kind, i] = m.subject.split('.').slice(-2);
      const target = kind === 'connect' ? connectReplies : closeReplies;
      target.set(Number(i), kind === 'connect' ? proto.decodeConnectResponse(m.data).error : proto.decodeErrorOnly(m.data).error);
    });
    // Heartbeats to the flood clients are answered, so none is dropped meanwhile.
    raw.subscribe(`${hbPrefix}.*`, (m) => {
      if (m.reply) raw.publish(m.reply);
    });
    await raw.flush();
    const ids = Array.from({ length: n }, (_, i) => `flood-${i}-${crypto.randomBytes(3).toString('hex')}`);
    for (let i = 0; i < n; i++) {
      raw.publish(
        `_STAN.discover.${fx.server().clusterId}`,
        proto.connectRequest({ clientID: ids[i], heartbeatInbox: `${hbPrefix}.${i}`, connID: crypto.randomBytes(8) }),
        `${replyPrefix}.connect.${i}`,
      );
    }
    await raw.flush();
    await waitFor(() => connectReplies.size === n, 20000, `${n} connect replies (have ${connectReplies.size})`);
    expect([...connectReplies.values()].filter((e) => e !== '')).toEqual([]);
    const z = await getJson<{ clients: number }>(`${fx.server().monitorUrl}/streaming/serverz`);
    expect(z.clients).toBeGreaterThanOrEqual(n);

    // While 500 clients are registered, a normal client works.
    await normalClientWorks();

    for (let i = 0; i < n; i++) {
      raw.publish(session.resp.closeRequests, proto.closeRequest(ids[i]), `${replyPrefix}.close.${i}`);
    }
    await raw.flush();
    await waitFor(() => closeReplies.size === n, 20000, `${n} close replies (have ${closeReplies.size})`);
    expect([...closeReplies.values()].filter((e) => e !== '')).toEqual([]);
    const after = await getJson<{ clients: number }>(`${fx.server().monitorUrl}/streaming/serverz`);
    expect(after.clients).toBe(z.clients - n);
  }, 60000);

  test('after all of it: the server is alive and a normal client connects, publishes and subscribes', async () => {
    await sleep(200);
    await serverAlive();
    await normalClientWorks();
  });
});
