import nats from 'node-nats-streaming';
import { randomBytes } from 'crypto';
import { TicketCreatedPublisher } from './events/ticket-created-publisher';

if (process.stdout.isTTY) console.clear();

const stan = nats.connect('ticketing', randomBytes(4).toString('hex'), {
  url: 'http://localhost:4222',
});

stan.on('connect', async () => {
  console.log('Publisher connected to NATS');

  stan.on('close', () => {
    console.log('NATS connection closed!');
    process.exit();
  });

  const publisher = new TicketCreatedPublisher(stan);
  try {
    // NATS Streaming only transports strings (or raw bytes): the publisher
    // serialises the event with JSON.stringify.
    await publisher.publish({
      id: '123',
      title: 'concert',
      price: 20,
    });
  } catch (err) {
    console.error(err);
  }
});

process.on('SIGINT', () => stan.close());
process.on('SIGTERM', () => stan.close());
