// stan-rs for browsers: node-nats-streaming's API over a NATS WebSocket.
// `await init()` once, then use `connect()` as with node-nats-streaming.
export { init, isInitialized } from './lib/loader.js'
export {
  connect,
  connectAsync,
  NewSubscriptionOptions,
  StartPosition,
  Stan,
  Subscription,
  SubscriptionOptions,
  Message
} from './lib/stan.js'

export const version = '0.1.0'

import * as api from './lib/stan.js'
import { init, isInitialized } from './lib/loader.js'
/** `import stan from 'stan-rs-wasm'` style, like node-nats-streaming's module object. */
export default { ...api, init, isInitialized, version }
