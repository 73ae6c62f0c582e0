// Authentication enforced by the server (`--user/--pass`, `--auth`), the same
// flags on both servers: the client under test (STAN_CLIENT) is refused with
// 'Authorization Violation' without or with wrong credentials, and works with
// the right ones, given as `user`/`pass` (or `token`) options or in the URL.

import * as net from 'net';
import { useServer } from './helpers/fixture';
import { Clients, errText, once, publish, subscribe, uid } from './helpers/stan';
import { RawNats } from './helpers/rawnats';
import { StanServer } from './helpers/server';
import type { Stan, StanOptions } from './helpers/client';

/** Start a client that must be refused; the text of its first 'error'. */
async function refusedWith(clients: Clients, opts: StanOptions): Promise<string> {
  const sc = clients.raw(uid('refused'), opts);
  let connected = false;
  sc.on('connect', () => (connected = true));
  const [err] = await once<unknown>(sc, 'error', 10000, 'an error for the refused client');
  expect(connected).toBe(false);
  return errText(err);
}

async function roundTrip(sc: Stan): Promise<void> {
  const r = await subscribe(sc, 'auth.orders', undefined, undefined);
  await publish(sc, 'auth.orders', 'secret order');
  const msgs = await r.waitCount(1);
  expect(msgs[0].getData()).toBe('secret order');
}

/** CONNECT + PING over a plain socket; everything the server sent until it closed (bounded). */
function rawConnect(port: number, creds: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const sock = net.createConnection({ port, host: '127.0.0.1' }, () => {
      sock.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, ...creds })}\r\nPING\r\n`);
    });
    const timer = setTimeout(() => sock.destroy(), 5000);
    sock.on('data', (d: Buffer) => (out += d.toString('utf8')));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

function hostPort(s: StanServer): string {
  return `127.0.0.1:${s.port}`;
}

describe('user and password (--user/--pass)', () => {
  const fx = useServer({ clusterId: 'auth-up', auth: { user: 'alice', pass: 's3cret' } });

  test('a raw NATS client without credentials gets -ERR Authorization Violation', async () => {
    expect(await rawConnect(fx.server().port, {})).toContain("-ERR 'Authorization Violation'");
    expect(await rawConnect(fx.server().port, { user: 'alice', pass: 'nope' })).toContain(
      "-ERR 'Authorization Violation'",
    );
    const ok = await RawNats.connect(fx.server().port, 3000, '127.0.0.1', { user: 'alice', pass: 's3cret' });
    await ok.close();
  });

  test('no credentials: refused with Authorization Violation', async () => {
    expect(await refusedWith(fx.clients, {})).toContain('Authorization Violation');
  });

  test('wrong password as options: refused', async () => {
    expect(await refusedWith(fx.clients, { user: 'alice', pass: 'wrong' })).toContain('Authorization Violation');
  });

  test('wrong password in the URL: refused', async () => {
    const url = `nats://alice:wrong@${hostPort(fx.server())}`;
    expect(await refusedWith(fx.clients, { url })).toContain('Authorization Violation');
  });

  test('right credentials as user/pass options: publish and subscribe', async () => {
    const sc = await fx.clients.connect(uid('opts'), { user: 'alice', pass: 's3cret' });
    await roundTrip(sc);
  });

  test('right credentials in the URL: publish and subscribe', async () => {
    const sc = await fx.clients.connect(uid('url'), { url: `nats://alice:s3cret@${hostPort(fx.server())}` });
    await roundTrip(sc);
  });
});

describe('token (--auth)', () => {
  const fx = useServer({ clusterId: 'auth-tok', auth: { token: 't0ken' } });

  test('no token and a wrong token: refused', async () => {
    expect(await refusedWith(fx.clients, {})).toContain('Authorization Violation');
    expect(await refusedWith(fx.clients, { token: 'other' })).toContain('Authorization Violation');
  });

  test('the right token, as option and in the URL', async () => {
    await roundTrip(await fx.clients.connect(uid('tok'), { token: 't0ken' }));
    await roundTrip(await fx.clients.connect(uid('tok-url'), { url: `nats://t0ken@${hostPort(fx.server())}` }));
  });
});
