// Process lifetime with the client under test (STAN_CLIENT), in child Node
// processes: a client keeps Node alive while it is connected, Node exits by
// itself once it closed, and the course's graceful shutdown
// (`process.on('SIGINT', () => stan.close())`, `stan.on('close', () => process.exit())`)
// unregisters the client while its durable queue group survives.

import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { CLIENT_MODULE } from './helpers/client';
import { useServer } from './helpers/fixture';
import { getJson, httpGet } from './helpers/http';
import { publish, uid, waitFor } from './helpers/stan';

const fx = useServer({ clusterId: 'ticketing' });
const ROOT = path.resolve(__dirname, '..');
const children = new Set<ChildProcess>();

afterEach(() => {
  // Only children this file started; normally they are gone already.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
});

interface Child {
  proc: ChildProcess;
  out: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/** Run `body` in a child Node with `nats` (the client under test), `url`, `cid` in scope. */
function runChild(body: string): Child {
  const script = `
    const nats = require(${JSON.stringify(CLIENT_MODULE)});
    const url = ${JSON.stringify(fx.server().url)};
    const cid = ${JSON.stringify(fx.server().clusterId)};
    ${body}
  `;
  const t0 = Date.now();
  const proc = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  proc.stdout?.on('data', (d) => (out += d));
  proc.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - t0 })),
  );
  return { proc, out: () => out, exited };
}

async function exitWithin(c: Child, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const r = await Promise.race([c.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), ms))]);
  if (r === null) throw new Error(`child still running after ${ms} ms; output:\n${c.out()}`);
  return r;
}

describe('process lifetime', () => {
  test('connect, publish, close: Node exits by itself, promptly, with close null', async () => {
    const id = uid('oneshot');
    const c = runChild(`
      const sc = nats.connect(cid, ${JSON.stringify(id)}, { url });
      sc.on('connect', () => {
        sc.publish('lifetime', 'x', (err, guid) => {
          console.log('acked', err === undefined, guid.length);
          sc.close();
        });
      });
      sc.on('close', (err) => console.log('close', err));
    `);
    const r = await exitWithin(c, 10000);
    expect(c.out().trim().split('\n')).toEqual(['acked true 22', 'close null']);
    expect(r.code).toBe(0);
    expect(r.ms).toBeLessThan(5000);
  });

  test('a connected client keeps Node alive; it exits by itself once a message made it close', async () => {
    const id = uid('waiter');
    const subject = uid('wake');
    const c = runChild(`
      const sc = nats.connect(cid, ${JSON.stringify(id)}, { url });
      sc.on('connect', () => {
        const sub = sc.subscribe(${JSON.stringify(subject)});
        sub.on('ready', () => console.log('ready'));
        sub.on('message', (m) => {
          console.log('got', m.getData());
          sc.close();
        });
      });
      sc.on('close', (err) => console.log('close', err));
    `);
    await waitFor(() => c.out().includes('ready'), 10000, 'the child to subscribe');
    // Nothing to do but wait for messages: Node must not exit.
    await new Promise((r) => setTimeout(r, 1500));
    expect(c.proc.exitCode).toBeNull();
    expect(c.proc.signalCode).toBeNull();
    expect((await httpGet(`${fx.server().monitorUrl}/streaming/clientsz?client=${id}`)).status).toBe(200);
    const pub = await fx.clients.connect();
    await publish(pub, subject, 'stop');
    const r = await exitWithin(c, 10000);
    expect(c.out().trim().split('\n')).toEqual(['ready', 'got stop', 'close null']);
    expect(r.code).toBe(0);
  });

  test('graceful close on SIGINT (the course listener): the server forgets the client, the durable queue group stays', async () => {
    const id = uid('listener');
    const subject = 'ticket:created';
    const c = runChild(`
      const stan = nats.connect(cid, ${JSON.stringify(id)}, { url });
      stan.on('connect', () => {
        stan.on('close', () => {
          console.log('NATS connection closed!');
          process.exit();
        });
        const options = stan.subscriptionOptions().setManualAckMode(true).setDeliverAllAvailable().setDurableName('accounting-service');
        const subscription = stan.subscribe(${JSON.stringify(subject)}, 'queue-group-name', options);
        subscription.on('ready', () => console.log('ready'));
        subscription.on('message', (msg) => {
          console.log('Received event #' + msg.getSequence() + ', with data: ' + msg.getData());
          msg.ack();
        });
      });
      process.on('SIGINT', () => stan.close());
      process.on('SIGTERM', () => stan.close());
    `);
    await waitFor(() => c.out().includes('ready'), 10000, 'the listener to subscribe');
    const pub = await fx.clients.connect();
    await publish(pub, subject, '{"id":"123"}');
    await waitFor(() => c.out().includes('Received event #1, with data: {"id":"123"}'), 5000, 'the event');
    expect((await httpGet(`${fx.server().monitorUrl}/streaming/clientsz?client=${id}`)).status).toBe(200);

    c.proc.kill('SIGINT');
    const r = await exitWithin(c, 10000);
    expect(r.code).toBe(0);
    expect(c.out()).toContain('NATS connection closed!');
    // Unregistered by its CloseRequest at once, not by a heartbeat expiry.
    expect((await httpGet(`${fx.server().monitorUrl}/streaming/clientsz?client=${id}`)).status).toBe(404);
    const ch = await getJson<{ subscriptions?: Array<{ queue_name?: string; is_durable: boolean; is_offline: boolean; last_sent: number }> }>(
      `${fx.server().monitorUrl}/streaming/channelsz?channel=${encodeURIComponent(subject)}&subs=1`,
    );
    const group = (ch.subscriptions ?? []).filter((s) => s.queue_name === 'accounting-service:queue-group-name');
    expect(group).toHaveLength(1);
    expect(group[0]).toMatchObject({ is_durable: true, is_offline: true, last_sent: 1 });
  });
});
