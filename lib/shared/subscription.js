'use strict'
// SubscriptionOptions (plain fields + chainable setters, reference defaults)
// and Subscription (an EventEmitter: ready, message, error, timeout,
// unsubscribed, closed), for both packages.
const { EventEmitter, fromNative } = require('../platform')
const { stanError } = require('./errors')

const StartPosition = Object.freeze({
  NEW_ONLY: 0,
  LAST_RECEIVED: 1,
  TIME_DELTA_START: 2,
  SEQUENCE_START: 3,
  FIRST: 4
})

const { DEFAULTS } = require('./generated')

const DEFAULT_MAX_IN_FLIGHT = DEFAULTS.maxInFlight
const DEFAULT_ACK_WAIT = DEFAULTS.ackWait

class SubscriptionOptions {
  constructor (durableName, maxInFlight, ackWait, startPosition, startSequence, startTime, manualAcks) {
    this.durableName = durableName
    this.maxInFlight = maxInFlight || DEFAULT_MAX_IN_FLIGHT
    this.ackWait = ackWait || DEFAULT_ACK_WAIT
    this.startPosition = startPosition
    this.startSequence = startSequence
    this.startTime = startTime
    this.manualAcks = manualAcks
  }

  setMaxInFlight (n) {
    this.maxInFlight = n
    return this
  }

  setAckWait (millis) {
    this.ackWait = millis
    return this
  }

  setStartAt (startPosition) {
    this.startPosition = startPosition
    return this
  }

  setStartAtSequence (sequence) {
    this.startPosition = StartPosition.SEQUENCE_START
    this.startSequence = sequence
    return this
  }

  /** The delta (ns) is computed now, when the setter is called. */
  setStartTime (date) {
    this.startPosition = StartPosition.TIME_DELTA_START
    this.startTime = (Date.now() - date.valueOf()) * 1000000
    return this
  }

  setStartAtTimeDelta (millis) {
    this.startPosition = StartPosition.TIME_DELTA_START
    this.startTime = millis * 1000000
    return this
  }

  setStartWithLastReceived () {
    this.startPosition = StartPosition.LAST_RECEIVED
    return this
  }

  setDeliverAllAvailable () {
    this.startPosition = StartPosition.FIRST
    return this
  }

  setManualAckMode (tf) {
    this.manualAcks = tf
    return this
  }

  setDurableName (durableName) {
    this.durableName = durableName
    return this
  }
}

function int (v, dflt) {
  const n = Number(v)
  return Number.isFinite(n) ? Math.trunc(n) : dflt
}

/** The native form of a subscription's options (missing fields take the defaults). */
function toNativeSubOptions (qGroup, o) {
  const pos = o.startPosition === undefined || o.startPosition === null ? 0 : int(o.startPosition, -1)
  return {
    queueGroup: qGroup || undefined,
    durableName: o.durableName ? String(o.durableName) : undefined,
    maxInFlight: o.maxInFlight === undefined ? DEFAULT_MAX_IN_FLIGHT : int(o.maxInFlight, 0),
    ackWait: o.ackWait === undefined ? DEFAULT_ACK_WAIT : Number(o.ackWait),
    startPosition: pos,
    startSequence: pos === StartPosition.SEQUENCE_START ? Number(o.startSequence) || 0 : undefined,
    startTime: pos === StartPosition.TIME_DELTA_START ? Number(o.startTime) || 0 : undefined
  }
}

class Subscription extends EventEmitter {
  constructor (stanConnection, subject, qGroup, opts) {
    super()
    this.stanConnection = stanConnection
    this.subject = subject
    this.qGroup = qGroup
    this.inbox = undefined
    this.ackInbox = undefined
    this.inboxSub = undefined
    this.opts = opts
    /** Session subscription id; undefined when subscribe() failed up front. */
    this._id = undefined
    this._manualAcks = Boolean(opts.manualAcks)
  }

  /** True once unsubscribe() or close() was called. */
  isClosed () {
    return this.stanConnection === undefined
  }

  unsubscribe () {
    this._end(false)
  }

  close () {
    this._end(true)
  }

  /**
   * Beyond node-nats-streaming: `for await (const msg of sub)`. Messages are
   * buffered from the first call on; the loop ends after 'unsubscribed' or
   * 'closed' (or when the connection closes) and throws the first 'error'.
   * Leaving the loop early (break) closes nothing: call close()/unsubscribe().
   */
  [Symbol.asyncIterator] () {
    const queue = []
    const waiting = []
    let done = false
    let failure
    const settle = () => {
      while (waiting.length > 0 && (queue.length > 0 || done)) {
        const w = waiting.shift()
        if (queue.length > 0) w.resolve({ value: queue.shift(), done: false })
        else if (failure !== undefined) w.reject(failure)
        else w.resolve({ value: undefined, done: true })
      }
    }
    const onMessage = (m) => {
      queue.push(m)
      settle()
    }
    const finish = (err) => {
      if (done) return
      done = true
      if (err !== undefined && failure === undefined) failure = err
      this.removeListener('message', onMessage)
      this.removeListener('error', onError)
      this.removeListener('unsubscribed', onEnd)
      this.removeListener('closed', onEnd)
      if (sc) sc.removeListener('close', onEnd)
      settle()
    }
    const onError = (err) => finish(err)
    const onEnd = () => finish()
    const sc = this.stanConnection
    this.on('message', onMessage)
    this.on('error', onError)
    this.on('unsubscribed', onEnd)
    this.on('closed', onEnd)
    if (sc) sc.on('close', onEnd)
    else finish()
    return {
      next: () =>
        new Promise((resolve, reject) => {
          waiting.push({ resolve, reject })
          settle()
        }),
      return: () => {
        finish()
        queue.length = 0
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator] () {
        return this
      }
    }
  }

  _end (doClose) {
    if (this.isClosed()) {
      this.emit('error', stanError('BAD_SUBSCRIPTION'))
      return
    }
    const sc = this.stanConnection
    delete this.stanConnection
    if (sc.isClosed()) {
      this.emit('error', stanError('CONN_CLOSED'))
      return
    }
    if (this._id === undefined) {
      this.emit('error', stanError('BAD_SUBSCRIPTION'))
      return
    }
    try {
      sc._endSubscription(this._id, doClose)
    } catch (e) {
      this.emit('error', fromNative(e))
    }
  }
}

module.exports = { StartPosition, SubscriptionOptions, Subscription, toNativeSubOptions }
