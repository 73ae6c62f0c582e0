//! Our Node package as a user's test suite meets it: `startTestServer()` from
//! `stan-rs/testing`, a Jest run with --detectOpenHandles that must come out
//! clean (and must catch a client left open), and errors that are `Error`s of
//! the realm Jest runs the test in (so `toBeInstanceOf(Error)` holds).

import { spawn } from 'child_process';
import * as net from 'net';
import * as path from 'path';
import nats, { Stan } from '../../index';
import { startTestServer, TestServer } from '../../testing';

const ROOT = path.join(__dirname, '..', '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function connected(srv: TestServer, id: string, extra: object = {}): Promise<Stan> {
  return new Promise((resolve, reject) => {
    const sc = nats.connect(srv.clusterId, id, { url: srv.url, ...extra });
    sc.once('connect', () => resolve(sc));
    sc.once('error', reject);
  });
}

function closed(sc: Stan): Promise<unknown> {
  return new Promise((resolve) => {
    sc.once('close', resolve);
    sc.close();
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startTestServer() (stan-rs/testing), used the way a user would', () => {
  test('const srv = await startTestServer(); ... await srv.stop()', async () => {
    const srv = await startTestServer();
    try {
      expect(srv.url).toBe(`nats://127.0.0.1:${srv.port}`);
      expect(srv.clusterId).toBe('test-cluster');
      expect(alive(srv.pid)).toBe(true);
      const sc = await connected(srv, `user-${process.pid}`);
      const sub = sc.subscribe('orders', sc.subscriptionOptions().setDeliverAllAvailable());
      const got = new Promise<string>((resolve) => sub.on('message', (m) => resolve(String(m.getData()))));
      sc.publish('orders', 'o-1');
      expect(await got).toBe('o-1');
      const z = await (await fetch(`${srv.monitorUrl}/streaming/serverz`)).json();
      expect(z).toMatchObject({ cluster_id: 'test-cluster', clients: 1, channels: 1, total_msgs: 1 });
      expect(await closed(sc)).toBeNull();
    } finally {
      await srv.stop();
    }
    // Gone, with its nats-server: nothing listens on the port any more.
    expect(alive(srv.pid)).toBe(false);
    expect(await portOpen(srv.port)).toBe(false);
    // stop() again is harmless.
    await srv.stop();
  });

  test('options: clusterId and extra stan-server flags', async () => {
    const srv = await startTestServer({ clusterId: 'shop', args: ['-mm', '2'] });
    try {
      expect(srv.clusterId).toBe('shop');
      const z = (await (await fetch(`${srv.monitorUrl}/streaming/storez`)).json()) as { limits: { max_msgs: number } };
      expect(z.limits.max_msgs).toBe(2);
      const sc = await connected(srv, `opts-${process.pid}`);
      expect(await closed(sc)).toBeNull();
    } finally {
      await srv.stop();
    }
  });

  test('a stopped server: a client sees the connection end', async () => {
    const srv = await startTestServer();
    const sc = await connected(srv, `lost-${process.pid}`, { stanPingInterval: 1000, stanMaxPingOut: 2, maxReconnectAttempts: 1 });
    const ended = new Promise<string[]>((resolve) => {
      const evs: string[] = [];
      for (const ev of ['disconnect', 'connection_lost', 'close']) {
        sc.on(ev, () => {
          evs.push(ev);
          if (ev === 'close') resolve(evs);
        });
      }
    });
    await srv.stop();
    const evs = await Promise.race([ended, sleep(10000).then(() => ['timed out'])]);
    expect(evs[0]).toBe('disconnect');
    expect(evs[evs.length - 1]).toBe('close');
    expect(sc.isClosed()).toBe(true);
  });

  test('the ports it picks are never handed out twice in one process (a NATS and a monitoring port once collided)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { freePort } = require('../../lib/loopback') as { freePort: () => Promise<number> };
    const ports: number[] = [];
    for (let i = 0; i < 300; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });
});

describe('errors belong to the realm the test runs in', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  }, 20000);
  afterAll(async () => {
    await srv?.stop();
  });

  test('thrown, called back and emitted errors are instances of Error (toBeInstanceOf(Error) holds)', async () => {
    // max 0: one publish may be outstanding. Right after connect() (before the
    // handshake, so nothing can be acked meanwhile) the second one is refused.
    const sc = nats.connect(srv.clusterId, `realm-${process.pid}`, { url: srv.url, maxPubAcksInflight: 0 });
    const up = new Promise((resolve, reject) => {
      sc.once('connect', resolve);
      sc.once('error', reject);
    });
    sc.publish('realm', 'first');
    let thrown: unknown;
    try {
      sc.publish('realm', 'x');
    } catch (e) {
      thrown = e;
    }
    const cbErrs: unknown[] = [];
    sc.publish('realm', 'z', (err) => cbErrs.push(err));
    await up;
    try {
      // MAX_FLIGHT_LIMIT_REACHED from the addon, thrown and called back.
      expect(thrown).toBeInstanceOf(Error);
      expect((thrown as { code?: string }).code).toBe('MAX_FLIGHT_LIMIT_REACHED');
      expect(cbErrs).toHaveLength(1);
      expect(cbErrs[0]).toBeInstanceOf(Error);
      // BAD_SUBJECT from the addon.
      const badSubject: unknown[] = [];
      await sleep(300);
      sc.publish('', 'x', (err) => badSubject.push(err));
      await sleep(50);
      expect(badSubject).toHaveLength(1);
      expect(badSubject[0]).toBeInstanceOf(Error);
      expect((badSubject[0] as Error).message).toBe('stan: subject must be supplied');
      // A refusal the addon makes for the server (SERVER_ERROR), emitted on the subscription.
      const subErr = await new Promise<unknown>((resolve) =>
        sc.subscribe('realm', sc.subscriptionOptions().setMaxInFlight(0)).once('error', resolve),
      );
      expect(subErr).toBeInstanceOf(Error);
      expect((subErr as { code?: string }).code).toBe('SERVER_ERROR');
      // BAD_ACK_WAIT, thrown by subscribe().
      expect(() => sc.subscribe('realm', sc.subscriptionOptions().setAckWait(1500))).toThrow(Error);
    } finally {
      await closed(sc);
    }
  });
});

describe('publishes through per-channel handles', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  }, 20000);
  afterAll(async () => {
    await srv?.stop();
  });

  test('acks name their own guid on every channel; a bad subject fails every time; messages arrive', async () => {
    const sc = await connected(srv, `handles-${process.pid}`);
    try {
      const got: string[] = [];
      const sub = sc.subscribe('handles.2');
      await new Promise((resolve) => sub.once('ready', resolve));
      const gotAll = new Promise<void>((resolve) =>
        sub.on('message', (m) => {
          got.push(m.getData() as string);
          if (got.length === 4) resolve();
        }),
      );
      const returned: string[] = [];
      const acked: Array<[unknown, string]> = [];
      const allAcked = new Promise<void>((resolve) => {
        for (let i = 0; i < 20; i++) {
          const guid = sc.publish(`handles.${i % 5}`, Buffer.from(`m${i}`), (err, g) => {
            acked.push([err, g]);
            if (acked.length === 20) resolve();
          });
          returned.push(guid);
        }
      });
      await Promise.race([Promise.all([allAcked, gotAll]), sleep(10000)]);
      expect(new Set(returned).size).toBe(20);
      expect(acked.map(([, g]) => g).sort()).toEqual([...returned].sort());
      expect(acked.every(([err]) => err === undefined)).toBe(true);
      expect(got).toEqual(['m2', 'm7', 'm12', 'm17']);
      const bad: unknown[] = [];
      sc.publish('', 'x', (err) => bad.push(err));
      sc.publish('', 'y', (err) => bad.push(err));
      expect(bad.map((e) => (e as Error).message)).toEqual([
        'stan: subject must be supplied',
        'stan: subject must be supplied',
      ]);
    } finally {
      await closed(sc);
    }
  });
});

describe('Jest --detectOpenHandles with our client', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  }, 20000);
  afterAll(async () => {
    await srv?.stop();
  });

  /**
   * Run the fixture suite in a child Jest (no forceExit). Its process group is
   * killed after `ms`, or as soon as the output matches `stopOn`.
   */
  function childJest(leaveOpen: boolean, ms: number, stopOn?: RegExp): Promise<{ code: number | null; out: string; timedOut: boolean }> {
    return new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        [path.join(ROOT, 'node_modules', '.bin', 'jest'), '--config', path.join(ROOT, '__test__', 'fixtures', 'open-handles', 'jest.config.js'), '--ci', '--detectOpenHandles'],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            STAN_FIXTURE_URL: srv.url,
            STAN_FIXTURE_CLUSTER: srv.clusterId,
            STAN_FIXTURE_LEAVE_OPEN: leaveOpen ? '1' : '0',
            FORCE_COLOR: '0',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        },
      );
      let out = '';
      const kill = (): void => {
        try {
          process.kill(-(child.pid as number), 'SIGKILL');
        } catch {
          // gone
        }
      };
      const onData = (d: Buffer): void => {
        // Without colour codes (a CI environment may force them on).
        out += d.toString().replace(/\x1b\[[0-9;]*m/g, '');
        if (stopOn !== undefined && stopOn.test(out)) kill();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      let timedOut = false;
      const t = setTimeout(() => {
        timedOut = true;
        kill();
      }, ms);
      child.on('exit', (code) => {
        clearTimeout(t);
        resolve({ code, out, timedOut });
      });
    });
  }

  test('a suite that closes its client: passes, reports no open handle, and Jest exits by itself', async () => {
    const r = await childJest(false, 25000);
    expect(r.out).toContain('Tests:       1 passed, 1 total');
    expect(r.out).not.toMatch(/open handle/i);
    expect(r.out).not.toContain('did not exit');
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
  }, 30000);

  // What names the open client: with the socket on the JS thread (the
  // default), the session's lifetime Timeout made in connect(); with
  // STAN_RS_TRANSPORT=thread, the addon's event callback.
  const THREAD = (process.env.STAN_RS_TRANSPORT ?? 'js').toLowerCase() === 'thread';
  const HANDLE = THREAD ? 'napi_rs_threadsafe_function' : 'Timeout';
  const MAKER = THREAD ? 'new NativeStan' : 'new JsSession';

  test('negative control: a client left open is reported (the handle made in connect())', async () => {
    const r = await childJest(true, 12000, new RegExp(`${HANDLE}[\\s\\S]*${MAKER}`));
    expect(r.out).toContain('Tests:       1 passed, 1 total');
    expect(r.out).toMatch(/Jest has detected the following 1 open handle/);
    expect(r.out).toContain(HANDLE);
    expect(r.out).toContain(MAKER);
    expect(r.timedOut).toBe(false);
  }, 20000);
});
