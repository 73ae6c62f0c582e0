// Server-to-client heartbeats (-hbi/-hbt/-hbf): a frozen client is expired,
// its durable goes offline, and a live client is left alone. Also the
// duplicate-client-ID probe: a frozen holder of an ID is replaced.

import { useServer } from './helpers/fixture';
import { httpGet, getJson } from './helpers/http';
import * as proto from './helpers/proto';
import { RawStanSession, randomInbox, rawStanConnect } from './helpers/rawnats';
import { publish, subscribe, uid, waitFor } from './helpers/stan';

const HBI = 1;
const HBT = 1;
const HBF = 1;
// Worst-case detection is (interval + timeout) x (fail count + 1).
const WORST_MS = (HBI + HBT) * (HBF + 1) * 1000;
const SLACK_MS = 4000;

const fx = useServer({ hbi: `${HBI}s`, hbt: `${HBT}s`, hbf: HBF });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const raws: RawStanSession[] = [];

afterEach(async () => {
  for (const r of raws.splice(0)) await r.nc.close();
});

async function clientStatus(id: string): Promise<number> {
  return (await httpGet(`${fx.server().monitorUrl}/streaming/clientsz?client=${id}`)).status;
}

describe('heartbeats', () => {
  test('a client that stops answering heartbeats is expired within (hbi+hbt)*(hbf+1); its durable goes offline', async () => {
    const id = uid('frozen');
    const s = await rawStanConnect(fx.server().port, fx.server().clusterId, id, false);
    raws.push(s);
    expect(s.resp.error).toBe('');
    const t0 = Date.now();

    // Give the frozen client a durable and a plain subscription.
    const channel = uid('hb');
    const durReply = await s.nc.request(
      s.resp.subRequests,
      proto.subscriptionRequest({ clientID: id, subject: channel, inbox: randomInbox(), durableName: 'frozen-dur' }),
    );
    expect(proto.decodeSubscriptionResponse(durReply.data).error).toBe('');
    const plainReply = await s.nc.request(
      s.resp.subRequests,
      proto.subscriptionRequest({ clientID: id, subject: channel, inbox: randomInbox() }),
    );
    expect(proto.decodeSubscriptionResponse(plainReply.data).error).toBe('');

    expect(await clientStatus(id)).toBe(200);

    await waitFor(async () => (await clientStatus(id)) === 404, WORST_MS + SLACK_MS, `client ${id} to be expired`);
    const elapsed = Date.now() - t0;
    // Not before at least one full interval+timeout cycle has failed.
    expect(elapsed).toBeGreaterThanOrEqual((HBI + HBT) * 1000 - 300);
    // The server did send heartbeats to the inbox it was given.
    expect(s.heartbeats).toBeGreaterThanOrEqual(HBF + 1);

    // The durable survives, offline; the plain subscription is gone.
    const ch = await getJson<{ subs_count: number; subscriptions?: Array<{ durable_name?: string; is_offline: boolean }> }>(
      `${fx.server().monitorUrl}/streaming/channelsz?channel=${channel}&subs=1`,
    );
    const subs = ch.subscriptions ?? [];
    expect(subs).toHaveLength(1);
    expect(subs[0].durable_name).toBe('frozen-dur');
    expect(subs[0].is_offline).toBe(true);
  });

  test('a client that answers heartbeats stays registered', async () => {
    const raw = await rawStanConnect(fx.server().port, fx.server().clusterId, uid('alive-raw'), true);
    raws.push(raw);
    const id = uid('alive');
    const sc = await fx.clients.connect(id);
    const channel = uid('alive');
    const sub = await subscribe(sc, channel, undefined, undefined);
    await sleep(WORST_MS + 1500);
    expect(await clientStatus(id)).toBe(200);
    expect(await clientStatus(raw.clientID)).toBe(200);
    expect(raw.heartbeats).toBeGreaterThanOrEqual(2);
    await publish(sc, channel, 'still here');
    await sub.waitCount(1);
  });

  test('a duplicate client ID replaces a holder that does not answer the probe', async () => {
    const id = uid('stale');
    const s = await rawStanConnect(fx.server().port, fx.server().clusterId, id, false);
    raws.push(s);
    expect(s.resp.error).toBe('');
    // The newcomer with the same ID is accepted: the old one does not answer its heartbeat inbox.
    const sc = await fx.clients.connect(id);
    const channel = uid('replaced');
    const sub = await subscribe(sc, channel, undefined, undefined);
    await publish(sc, channel, 'mine now');
    await sub.waitCount(1);
    // The stale connection's connID is no longer valid: its publish is refused.
    const ack = await s.nc.request(
      `${s.resp.pubPrefix}.${channel}`,
      proto.pubMsg({ clientID: id, guid: uid('g'), subject: channel, data: Buffer.from('zombie'), connID: s.connID }),
    );
    expect(proto.decodePubAck(ack.data).error).toBe('stan: invalid publish request');
    // And its pings are answered with the "replaced" error.
    const pong = await s.nc.request(s.resp.pingRequests, proto.ping(s.connID));
    expect(proto.decodeErrorOnly(pong.data).error).toBe('client has been replaced or is no longer registered');
  });
});
