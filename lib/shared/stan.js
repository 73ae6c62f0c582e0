'use strict'
// StanBase, the Stan emitter of both packages: checks and fields, publish,
// subscribe, close, and what each of the session's event records does. A
// package's Stan adds its options, how records arrive and when acks are sent.
const { EventEmitter, fromNative, openSession, utf8Encode, defer } = require('../platform')
const { TEXT, stanError, coerceError } = require('./errors')
const { SubscriptionOptions, Subscription, toNativeSubOptions } = require('./subscription')
const { Message } = require('./message')

const EMPTY = new Uint8Array(0)

/**
 * The subclass provides `_parseOptions(opts)`, `_nativeOptions(opts)` (the
 * session's options, checked), `_initDispatch()` (its dispatch state),
 * `_onEvents(batch)` (the session's callback), `_queueAck(id, seq)` and
 * `_publishBytes(subject, bytes)`; it may replace `_publishWith`.
 */
class StanBase extends EventEmitter {
  constructor (clusterID, clientID, opts) {
    super()
    if (typeof clusterID !== 'string' || clusterID.length < 1) throw new Error(TEXT.BAD_CLUSTER_ID)
    if (typeof clientID !== 'string' || clientID.length < 1) throw new Error(TEXT.BAD_CLIENT_ID)
    this.clusterID = clusterID
    this.clientID = clientID
    this.ackSubject = undefined
    this.pubPrefix = null
    this.subRequests = null
    this.unsubRequests = null
    this.subCloseRequests = null
    this.closeRequests = null
    this.pingRequests = undefined
    this.connId = undefined
    this.stanPingInterval = undefined
    this.stanMaxPingOut = undefined
    this.options = this._parseOptions(opts)
    this.ncOwned = true
    this._native = null
    this._subs = new Map() // session id -> Subscription
    this._acks = new Map() // guid -> callback
    this._ackQueue = []
    this._initDispatch()
    this._connected = false
    this._closeCalled = false
    this._ended = false
    this._silentClose = false
    if (opts && opts.test_opts) return this
    const nativeOptions = this._nativeOptions(opts)
    try {
      this._native = openSession(clusterID, clientID, nativeOptions, (batch) => this._onEvents(batch))
    } catch (err) {
      throw fromNative(err)
    }
    const info = this._native.info()
    this.ackSubject = info.ackSubject
    this.connId = utf8Encode(info.connId)
  }

  /** True once close() was called or the connection ended. */
  isClosed () {
    return this._native === null || this._closeCalled || this._ended
  }

  /** Publishes acks still waiting for the server. */
  get pubAckOutstanding () {
    return this._native === null ? 0 : this._native.pendingPubAcks()
  }

  /** guid -> { ah } of the publishes with a callback still waiting. */
  get pubAckMap () {
    const m = {}
    for (const [guid, ah] of this._acks) m[guid] = { ah }
    return m
  }

  /** inbox -> Subscription of the live subscriptions. */
  get subMap () {
    const m = {}
    for (const sub of this._subs.values()) if (!sub.isClosed()) m[sub.inbox] = sub
    return m
  }

  publish (subject, data, ackHandler) {
    const cb = typeof ackHandler === 'function' ? ackHandler : undefined
    if (this.isClosed()) {
      const err = stanError('CONN_CLOSED')
      if (cb) {
        cb(err)
        return
      }
      throw err
    }
    if (typeof data !== 'string' && data !== undefined && data !== null && !(data instanceof Uint8Array)) {
      throw coerceError(data)
    }
    let guid
    try {
      guid = this._publishWith(subject, data, cb)
    } catch (e) {
      const err = fromNative(e)
      // napi's StringExpected (a subject that is not a string) is thrown, like bad data.
      if (cb && err.code !== 'StringExpected') {
        cb(err)
        return
      }
      throw err
    }
    return guid
  }

  /**
   * Beyond node-nats-streaming: publish and wait for the server's ack.
   * Resolves to the guid; rejects with the publish error (same codes).
   */
  publishAsync (subject, data) {
    return new Promise((resolve, reject) => {
      try {
        this.publish(subject, data, (err, guid) => (err ? reject(err) : resolve(guid)))
      } catch (err) {
        reject(err)
      }
    })
  }

  /**
   * Beyond node-nats-streaming: close() and wait for 'close'. Resolves at
   * once when already closed; rejects when the server's close failed.
   */
  closeAsync () {
    if (this._ended) return Promise.resolve()
    const done = new Promise((resolve, reject) => {
      this.once('close', (err) => (err ? reject(err) : resolve()))
    })
    this.close()
    return done
  }

  subscriptionOptions () {
    return new SubscriptionOptions()
  }

  subscribe (subject, qGroup, options) {
    let group
    let opts
    if (typeof qGroup === 'string') group = qGroup
    else if (qGroup !== null && typeof qGroup === 'object') opts = qGroup
    if (options !== null && typeof options === 'object') opts = options
    if (!opts) opts = new SubscriptionOptions()
    const sub = new Subscription(this, subject, group, opts)
    const later = (...errs) =>
      defer(() => {
        for (const e of errs) {
          if (e === 'unsubscribed') sub.emit('unsubscribed')
          else sub.emit('error', e)
        }
      })
    if (typeof subject !== 'string' || subject.length === 0) {
      later(stanError('BAD_SUBJECT'))
      return sub
    }
    if (this.isClosed()) {
      later(stanError('CONN_CLOSED'))
      return sub
    }
    let id
    try {
      id = this._native.subscribe(subject, toNativeSubOptions(group, opts))
    } catch (e) {
      const err = fromNative(e)
      if (err.code === 'BAD_ACK_WAIT') throw err
      // What the server would refuse is reported the way a refusal is: error, then unsubscribed.
      if (err.code === 'SERVER_ERROR') later(err, 'unsubscribed')
      else later(err)
      return sub
    }
    sub._id = id
    const info = this._native.subInfo(id)
    if (info) sub.inbox = info.inbox
    this._subs.set(id, sub)
    return sub
  }

  close () {
    if (this.isClosed()) return
    // Acks issued before close() reach the server before the CloseRequest.
    this._flushAcks()
    this._closeCalled = true
    this._native.close()
  }

  // ---- internals ----

  /** Publish `data` (a string or bytes, checked) and keep `cb` for its ack; returns the guid, throws the addon's error. */
  _publishWith (subject, data, cb) {
    const guid = typeof data === 'string' ? this._native.publishString(subject, data) : this._publishBytes(subject, data || EMPTY)
    if (cb) this._acks.set(guid, cb)
    return guid
  }

  _endSubscription (id, doClose) {
    // Acks issued before unsubscribe()/close() go out before the request.
    this._flushAcks()
    if (doClose) this._native.closeSubscription(id)
    else this._native.unsubscribe(id)
  }

  /** Sends the queued (subscription id, sequence) acks in one call. */
  _flushAcks () {
    if (this._ackQueue.length === 0) return
    const pairs = new Float64Array(this._ackQueue)
    this._ackQueue.length = 0
    if (!this._ended) this._native.ackMany(pairs)
  }

  _err (rec) {
    return stanError(rec.code, rec.message)
  }

  /** Emits the message of a message record (`rec` may be reused once this returns). */
  _deliver (rec) {
    const sub = this._subs.get(rec.sub)
    // Nothing is emitted once unsubscribe()/close() was called, even from the current batch.
    if (sub === undefined || sub.isClosed()) return
    const msg = new Message(this, sub, rec)
    try {
      sub.emit('message', msg)
    } catch (err) {
      this._listenerError(sub, err)
      return
    }
    if (!sub._manualAcks && !sub.isClosed()) this._ackQueue.push(sub._id, msg._sequence)
  }

  /** Handles one event record: `{ type, ... }` (crates/stan-wasm; lib/batch.js decodes the addon's into the same). */
  _handle (rec) {
    switch (rec.type) {
      case 'message':
        this._deliver(rec)
        return
      case 'pub_ack': {
        const cb = this._acks.get(rec.guid)
        if (cb === undefined) return
        this._acks.delete(rec.guid)
        cb(rec.code === undefined ? undefined : this._err(rec), rec.guid)
        return
      }
      case 'connected': {
        this._connected = true
        const info = this._native.info()
        this.pubPrefix = info.pubPrefix
        this.subRequests = info.subRequests
        this.unsubRequests = info.unsubRequests
        this.subCloseRequests = info.subCloseRequests
        this.closeRequests = info.closeRequests
        this.pingRequests = info.pingRequests
        this.stanPingInterval = info.stanPingInterval
        this.stanMaxPingOut = info.stanMaxPingOut
        this.emit('connect', this)
        return
      }
      case 'connect_failed':
        this._ended = true
        this.emit('error', this._err(rec))
        return
      case 'sub_ready': {
        const sub = this._subs.get(rec.sub)
        if (sub === undefined) return
        const info = this._native.subInfo(rec.sub)
        if (info) sub.ackInbox = info.ackInbox
        sub.emit('ready')
        return
      }
      case 'sub_error':
      case 'sub_timeout': {
        const sub = this._subs.get(rec.sub)
        if (sub === undefined) return
        sub.emit(rec.type === 'sub_timeout' ? 'timeout' : 'error', this._err(rec))
        return
      }
      case 'unsubscribed':
      case 'sub_closed': {
        const sub = this._subs.get(rec.sub)
        if (sub !== undefined) sub.emit(rec.type === 'sub_closed' ? 'closed' : 'unsubscribed')
        return
      }
      case 'sub_ended':
        this._subs.delete(rec.sub)
        return
      case 'disconnected':
        this.emit('disconnect')
        return
      case 'reconnected':
        this.emit('reconnect', this)
        return
      case 'reconnecting':
        this.emit('reconnecting')
        return
      case 'connection_lost':
        this._ended = true
        this.emit('connection_lost', this._err(rec))
        return
      case 'closed': {
        const wasClosing = this._closeCalled && this._connected
        this._ended = true
        this._ackQueue.length = 0
        if (this._silentClose) return
        if (wasClosing) this.emit('close', rec.code === undefined ? null : this._err(rec))
        else this.emit('close')
        return
      }
      case 'nats_error': {
        const err = this._err(rec)
        if (rec.phase === 0) {
          // The first connection to NATS failed: like nats.js, an error and no close.
          this._silentClose = true
          this._ended = true
          this.emit('error', err)
        } else if (rec.phase === 1) {
          this.emit('permission_error', err)
        } else {
          this.emit('error', err)
        }
        return
      }
      default:
        throw new Error(`stan: unknown event record ${rec.type}`)
    }
  }

  /** A 'message' listener threw: the subscription's 'error', else the connection's, else throw. */
  _listenerError (sub, err) {
    if (sub.listenerCount('error') > 0) sub.emit('error', err)
    else if (this.listenerCount('error') > 0) this.emit('error', err)
    else throw err
  }
}

function NewSubscriptionOptions () {
  return new SubscriptionOptions()
}

/**
 * Beyond node-nats-streaming: `await connectAsync(...)` resolves to the
 * connected Stan on 'connect', rejects with the first 'error' (and closes).
 */
function connectAsync (connect, clusterID, clientID, opts) {
  return new Promise((resolve, reject) => {
    let sc
    try {
      sc = connect(clusterID, clientID, opts)
    } catch (err) {
      reject(err)
      return
    }
    const onError = (err) => {
      sc.removeListener('connect', onConnect)
      try {
        sc.close()
      } catch {}
      reject(err)
    }
    const onConnect = () => {
      sc.removeListener('error', onError)
      resolve(sc)
    }
    sc.once('connect', onConnect)
    sc.once('error', onError)
  })
}

module.exports = { StanBase, NewSubscriptionOptions, connectAsync }
