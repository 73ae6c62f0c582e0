import nats from 'node-nats-streaming';
import { randomBytes } from 'crypto';

if (process.stdout.isTTY) console.clear();

const stan = nats.connect('ticketing', randomBytes(4).toString('hex'), {
  url: 'http://localhost:4222',
});

stan.on('connect', () => {
  console.log('Publisher connected to NATS');

  stan.on('close', () => {
    console.log('NATS connection closed!');
    process.exit();
  });

  // NATS Streaming only transports strings (or raw bytes): serialise the event.
  const data = JSON.stringify({
    id: '123',
    title: 'concert',
    price: 20,
  });

  stan.publish('ticket:created', data, () => {
    console.log('Event published');
  });
});

process.on('SIGINT', () => stan.close());
process.on('SIGTERM', () => stan.close());
