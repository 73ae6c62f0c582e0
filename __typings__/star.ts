// The other import styles: namespace import and require.
import * as STAN from 'stan-rs';
import stanRequire = require('stan-rs');

const sc: STAN.Stan = STAN.connect('c', 'id', 'nats://localhost:4222');
const o: STAN.SubscriptionOptions = STAN.NewSubscriptionOptions().setDeliverAllAvailable();
const pos: number = STAN.StartPosition.FIRST;
const sc2: stanRequire.Stan = stanRequire.connect('c', 'id2', { port: 4222 });
sc.subscribe('x', o).on('message', (m: STAN.Message) => m.ack());
sc2.close();
