// The node-nats-streaming API in the browser: connect(), the Stan emitter,
// over the wasm driver (pkg/, generated). All protocol work happens in the
// wasm session; this file dispatches its event records and sends acks (the
// rest of Stan is gen/stan.js, generated from the Node package's lib/shared/).
import { StanBase, NewSubscriptionOptions, connectAsync as connectAsyncWith } from './gen/stan.js'
import { StartPosition, SubscriptionOptions, Subscription } from './gen/subscription.js'
import { Message } from './gen/message.js'
import { parseOptions, toNative } from './options.js'

export class Stan extends StanBase {
  _parseOptions (opts) {
    return parseOptions(opts)
  }

  _nativeOptions () {
    const nativeOptions = toNative(this.options)
    this.options.url = nativeOptions.url
    return nativeOptions
  }

  _initDispatch () {
    this._dispatching = false
    this._queue = [] // records not yet dispatched
  }

  _publishBytes (subject, data) {
    return this._native.publish(String(subject), data)
  }

  _queueAck (id, seq) {
    this._ackQueue.push(id, seq)
    if (!this._dispatching) this._flushAcks()
  }

  /** The session's callback: one array of records per turn. */
  _onEvents (batch) {
    for (const rec of batch) this._queue.push(rec)
    this._dispatch()
  }

  /**
   * Dispatch queued records in order. If a listener throws, the rest is
   * dispatched in a later task and the exception is rethrown asynchronously
   * (as an uncaught exception, like a socket handler's in Node).
   */
  _dispatch () {
    if (this._dispatching) return
    this._dispatching = true
    try {
      while (this._queue.length > 0) {
        const rec = this._queue.shift()
        try {
          this._handle(rec)
        } catch (err) {
          setTimeout(() => {
            throw err
          }, 0)
          if (this._queue.length > 0) setTimeout(() => this._dispatch(), 0)
          break
        }
      }
    } finally {
      this._dispatching = false
      this._flushAcks()
    }
  }
}

export function connect (clusterID, clientID, opts) {
  return new Stan(clusterID, clientID, opts)
}

/** `await connectAsync(...)`: the connected Stan (beyond node-nats-streaming). */
export function connectAsync (clusterID, clientID, opts) {
  return connectAsyncWith(connect, clusterID, clientID, opts)
}

export { NewSubscriptionOptions, StartPosition, SubscriptionOptions, Subscription, Message }
