//! Beyond node-nats-streaming: the Promise API of our package —
//! `connectAsync`, `publishAsync`, `closeAsync` and `for await` over a
//! subscription — against the server under test (ours or the original).

import { connectAsync, Message, Stan } from '../../index';
import { useServer } from '../helpers/fixture';
import { uid } from '../helpers/stan';

const fx = useServer();

async function open(id = uid('p')): Promise<Stan> {
  const s = fx.server();
  return connectAsync(s.clusterId, id, { url: s.url });
}

describe('Promise API', () => {
  test('connectAsync resolves connected; publishAsync resolves to the guid after the ack; closeAsync resolves on close', async () => {
    const sc = await open();
    expect(sc.isClosed()).toBe(false);
    const guid = await sc.publishAsync(uid('ch'), 'hello');
    expect(guid).toMatch(/^[A-Za-z0-9]{22}$/);
    await sc.closeAsync();
    expect(sc.isClosed()).toBe(true);
    // Again: resolves at once.
    await sc.closeAsync();
  });

  test('connectAsync rejects on a duplicate client ID with the server text; publishAsync rejects when closed', async () => {
    const id = uid('dup');
    const first = await open(id);
    await expect(open(id)).rejects.toThrow(/clientID already registered/);
    await first.closeAsync();
    await expect(first.publishAsync('x', 'y')).rejects.toMatchObject({ code: 'CONN_CLOSED' });
  });

  test('for await over a subscription yields messages in order and ends on unsubscribe', async () => {
    const sc = await open();
    const subject = uid('iter');
    for (let i = 1; i <= 5; i++) await sc.publishAsync(subject, `m${i}`);
    const sub = sc.subscribe(subject, sc.subscriptionOptions().setDeliverAllAvailable());
    const got: string[] = [];
    const timer = setTimeout(() => sub.unsubscribe(), 5000); // bound the loop if messages go missing
    for await (const msg of sub as AsyncIterable<Message>) {
      got.push(String(msg.getData()));
      if (got.length === 5) sub.unsubscribe();
    }
    clearTimeout(timer);
    expect(got).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    await sc.closeAsync();
  });

  test('for await ends when the connection closes', async () => {
    const sc = await open();
    const sub = sc.subscribe(uid('iter-close'));
    await new Promise((r) => sub.once('ready', r));
    setTimeout(() => sc.close(), 100);
    const got: Message[] = [];
    for await (const msg of sub as AsyncIterable<Message>) got.push(msg);
    expect(got).toEqual([]);
  });
});
