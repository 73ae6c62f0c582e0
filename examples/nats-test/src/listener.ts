import nats, { Message } from 'node-nats-streaming';
import { randomBytes } from 'crypto';

if (process.stdout.isTTY) console.clear();

const stan = nats.connect('ticketing', randomBytes(4).toString('hex'), {
  url: 'http://localhost:4222',
});

stan.on('connect', () => {
  console.log('Listener connected to NATS');

  stan.on('close', () => {
    console.log('NATS connection closed!');
    process.exit();
  });

  const options = stan
    .subscriptionOptions()
    .setManualAckMode(true)
    // Replay every event the first time this service subscribes...
    .setDeliverAllAvailable()
    // ...and afterwards resume after the last acknowledged one.
    .setDurableName('accounting-service');

  // The queue group keeps the durable alive while the service is down,
  // and shares events between the service's instances.
  const subscription = stan.subscribe('ticket:created', 'order-service-queue-group', options);

  subscription.on('message', (msg: Message) => {
    const data = msg.getData();

    if (typeof data === 'string') {
      console.log(`Received event #${msg.getSequence()}, with data: ${data}`);
    }

    msg.ack();
  });
});

process.on('SIGINT', () => stan.close());
process.on('SIGTERM', () => stan.close());
