'use strict'
// The public API of node-nats-streaming: connect(), the Stan EventEmitter,
// StartPosition, version, NewSubscriptionOptions. All protocol work happens in
// the native session; this file turns its event batches into events.
const { EventEmitter } = require('events')
const { TEXT, stanError, coerceError, fromNative } = require('./errors')
const { parseOptions, toNative } = require('./options')
const { StartPosition, SubscriptionOptions, Subscription, toNativeSubOptions } = require('./subscription')
const { Message } = require('./message')

const VERSION = require('../package.json').version
const EMPTY = new Uint8Array(0)

let native // loaded on first connect, so `test_opts` and the typings work without the addon
function nativeBinding () {
  if (native === undefined) native = require('./native')
  return native
}

// Event kinds of a batch record (crates/stan-node/src/batch.rs).
const K = {
  CONNECTED: 1,
  CONNECT_FAILED: 2,
  PUB_ACK: 3,
  SUB_READY: 4,
  MESSAGE: 5,
  SUB_ERROR: 6,
  SUB_TIMEOUT: 7,
  UNSUBSCRIBED: 8,
  SUB_CLOSED: 9,
  SUB_ENDED: 10,
  DISCONNECTED: 11,
  RECONNECTED: 12,
  RECONNECTING: 13,
  CONNECTION_LOST: 14,
  CLOSED: 15,
  NATS_ERROR: 16
}

class Stan extends EventEmitter {
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
    this.options = parseOptions(opts)
    this.ncOwned = true
    this._native = null
    this._subs = new Map() // native id -> Subscription
    this._acks = new Map() // guid -> callback
    this._ackQueue = []
    this._ackFlushScheduled = false
    this._batch = null // the batch being dispatched: { nums, data, strs, pos }
    this._wakePending = false
    this._connected = false
    this._closeCalled = false
    this._ended = false
    this._silentClose = false
    if (opts && opts.test_opts) return this
    const explicitUrl =
      typeof opts === 'string' ||
      typeof opts === 'number' ||
      (opts !== null && typeof opts === 'object' && (opts.url !== undefined || opts.uri !== undefined || opts.port !== undefined))
    const nativeOptions = toNative(this.options, explicitUrl)
    const { NativeStan } = nativeBinding()
    try {
      this._native = new NativeStan(clusterID, clientID, nativeOptions, () => this._onWake())
    } catch (err) {
      throw fromNative(err)
    }
    const info = this._native.info()
    this.ackSubject = info.ackSubject
    this.connId = Buffer.from(info.connId, 'utf8')
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
    let guid
    try {
      if (typeof data === 'string') guid = this._native.publishString(subject, data)
      else if (data === undefined || data === null) guid = this._native.publish(subject, EMPTY)
      else if (data instanceof Uint8Array) guid = this._native.publish(subject, data)
      else throw coerceError(data)
    } catch (e) {
      const err = fromNative(e)
      if (cb && err.code !== 'BAD_DATA' && err.code !== 'StringExpected') {
        cb(err)
        return
      }
      throw err
    }
    if (cb) this._acks.set(guid, cb)
    return guid
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
      process.nextTick(() => {
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
    this._closeCalled = true
    this._native.close()
  }

  // ---- internals ----

  _endSubscription (id, doClose) {
    if (doClose) this._native.closeSubscription(id)
    else this._native.unsubscribe(id)
  }

  _queueAck (id, seq) {
    this._ackQueue.push(id, seq)
    if (this._batch === null && !this._ackFlushScheduled) {
      this._ackFlushScheduled = true
      queueMicrotask(() => this._flushAcks())
    }
  }

  _flushAcks () {
    this._ackFlushScheduled = false
    if (this._ackQueue.length === 0) return
    const pairs = new Float64Array(this._ackQueue)
    this._ackQueue.length = 0
    if (!this._ended) this._native.ackMany(pairs)
  }

  _onWake () {
    this._wakePending = true
    this._pump()
  }

  /**
   * Handle the current batch, then take the next one if a wake-up came. If a
   * listener throws, the rest is handled on the next tick and the exception
   * propagates (as it would from a socket handler in node-nats-streaming).
   */
  _pump () {
    let ok = false
    try {
      for (;;) {
        if (this._batch === null) {
          if (!this._wakePending) break
          this._wakePending = false
          const b = this._native.takeEvents()
          this._batch = { nums: b.nums, data: b.data, strs: b.strs, pos: 0 }
        }
        const b = this._batch
        while (b.pos < b.nums.length) this._event(b)
        this._batch = null
      }
      ok = true
    } finally {
      if (!ok) process.nextTick(() => this._pump())
      this._flushAcks()
    }
  }

  _err (b, at) {
    return stanError(b.strs[b.nums[at]], b.strs[b.nums[at + 1]])
  }

  /** Decode and handle one record, advancing `b.pos` before calling listeners. */
  _event (b) {
    const n = b.nums
    const p = b.pos
    switch (n[p]) {
      case K.MESSAGE: {
        b.pos = p + 10
        const sub = this._subs.get(n[p + 1])
        if (sub === undefined) return
        const off = n[p + 7]
        const data = b.data.subarray(off, off + n[p + 8])
        const msg = new Message(this, sub, b.strs[n[p + 9]], n[p + 2], n[p + 3], n[p + 4] === 1, n[p + 5], n[p + 6], data)
        try {
          sub.emit('message', msg)
        } catch (err) {
          this._listenerError(sub, err)
          return
        }
        if (!sub._manualAcks && !sub.isClosed()) this._ackQueue.push(sub._id, msg._sequence)
        return
      }
      case K.PUB_ACK: {
        b.pos = p + 4
        const guid = b.strs[n[p + 1]]
        const cb = this._acks.get(guid)
        if (cb === undefined) return
        this._acks.delete(guid)
        cb(n[p + 2] === -1 ? undefined : this._err(b, p + 2), guid)
        return
      }
      case K.CONNECTED: {
        b.pos = p + 1
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
      case K.CONNECT_FAILED:
        b.pos = p + 3
        this._ended = true
        this.emit('error', this._err(b, p + 1))
        return
      case K.SUB_READY: {
        b.pos = p + 2
        const sub = this._subs.get(n[p + 1])
        if (sub === undefined) return
        const info = this._native.subInfo(n[p + 1])
        if (info) sub.ackInbox = info.ackInbox
        sub.emit('ready')
        return
      }
      case K.SUB_ERROR:
      case K.SUB_TIMEOUT: {
        b.pos = p + 5
        const sub = this._subs.get(n[p + 1])
        if (sub === undefined) return
        sub.emit(n[p] === K.SUB_TIMEOUT ? 'timeout' : 'error', this._err(b, p + 3))
        return
      }
      case K.UNSUBSCRIBED:
      case K.SUB_CLOSED: {
        b.pos = p + 2
        const sub = this._subs.get(n[p + 1])
        if (sub !== undefined) sub.emit(n[p] === K.SUB_CLOSED ? 'closed' : 'unsubscribed')
        return
      }
      case K.SUB_ENDED:
        b.pos = p + 2
        this._subs.delete(n[p + 1])
        return
      case K.DISCONNECTED:
        b.pos = p + 1
        this.emit('disconnect')
        return
      case K.RECONNECTED:
        b.pos = p + 1
        this.emit('reconnect', this)
        return
      case K.RECONNECTING:
        b.pos = p + 1
        this.emit('reconnecting')
        return
      case K.CONNECTION_LOST:
        b.pos = p + 3
        this._ended = true
        this.emit('connection_lost', this._err(b, p + 1))
        return
      case K.CLOSED: {
        b.pos = p + 3
        const wasClosing = this._closeCalled && this._connected
        this._ended = true
        this._ackQueue.length = 0
        if (this._silentClose) return
        if (wasClosing) this.emit('close', n[p + 1] === -1 ? null : this._err(b, p + 1))
        else this.emit('close')
        return
      }
      case K.NATS_ERROR: {
        b.pos = p + 4
        const err = this._err(b, p + 2)
        if (n[p + 1] === 0) {
          // The first NATS connection failed: like nats.js, an error and no close.
          err.message = 'Could not connect to server: ' + err.message
          this._silentClose = true
          this._ended = true
          this.emit('error', err)
        } else if (n[p + 1] === 1) {
          this.emit('permission_error', err)
        } else {
          this.emit('error', err)
        }
        return
      }
      default:
        throw new Error(`stan: unknown native event kind ${n[p]}`)
    }
  }

  /** A 'message' listener threw: the subscription's 'error', else the connection's, else throw. */
  _listenerError (sub, err) {
    if (sub.listenerCount('error') > 0) sub.emit('error', err)
    else if (this.listenerCount('error') > 0) this.emit('error', err)
    else throw err
  }
}

function connect (clusterID, clientID, opts) {
  return new Stan(clusterID, clientID, opts)
}

function NewSubscriptionOptions () {
  return new SubscriptionOptions()
}

module.exports = {
  connect,
  version: VERSION,
  StartPosition,
  NewSubscriptionOptions,
  Stan,
  Subscription,
  SubscriptionOptions,
  Message
}
