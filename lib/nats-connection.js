'use strict'
// `sc.nc`: core NATS on the STAN connection's own NATS connection, with the
// nats.js v1 surface node-nats-streaming users call: publish, subscribe
// (queue, max), unsubscribe (max), request / requestOne (timeout, max),
// timeout, flush, close, servers, and the connection events. The traffic goes
// through the native session (crates/stan-client PlainOp); messages come back
// as event records (lib/batch.js kinds 17 and 18).
const { EventEmitter } = require('events')
const crypto = require('crypto')
const { fromNative } = require('./platform')

const MSG = Object.freeze({
  CONN_CLOSED: 'Connection closed',
  BAD_SUBJECT: 'Subject must be supplied',
  BAD_REPLY: "Reply can't be a function",
  BAD_MSG: "Message can't be a function",
  BAD_CALLBACK: 'Bad callback',
  REQ_TIMEOUT_PREFIX: 'The request timed out for subscription id: ',
  FLUSH_FAILED: 'Flush failed: no answer from the NATS server'
})

/** nats.js v1's NatsError shape: an Error with `name` 'NatsError' and a `code`. */
function natsError (message, code) {
  const err = new Error(message)
  err.name = 'NatsError'
  err.code = code
  return err
}

/** Call `callback(err)` if it is a function, else emit 'error' (nats.js' throwOrEmit). */
function throwOrEmit (nc, err, callback) {
  if (typeof callback === 'function') callback(err)
  else nc.emit('error', err)
}

/** nats.js' argument shuffling: the last function argument is the callback. */
function shift (max, args) {
  const a = new Array(max)
  let idx = -1
  for (let i = args.length - 1; i >= 0; i--) {
    if (typeof args[i] === 'function') {
      idx = i
      break
    }
  }
  for (let i = 0; i < max; i++) a[i] = args[i]
  if (idx >= 0) {
    for (let i = idx + 1; i < args.length; i++) {
      if (args[i]) throw natsError('unknown arguments after callback', 'BAD_CALLBACK')
    }
    for (let i = idx; i < max; i++) a[i] = undefined
    a[max - 1] = args[idx]
  }
  return a
}

function toBytes (data) {
  if (data === undefined || data === null) return Buffer.alloc(0)
  if (data instanceof Uint8Array) return data
  return Buffer.from(typeof data === 'string' ? data : String(data), 'utf8')
}

class NatsConnection extends EventEmitter {
  constructor (stan) {
    super()
    this._stan = stan
    this._subs = new Map() // sid -> { subject, callback, received, max, expected, timer }
    this._ssid = 0
    this._reqs = 0
    this._flushes = new Map() // id -> callback
    this._nextFlush = 1
    this.closed = false
    this.connected = false
    this.options = stan.options
  }

  /** The NATS server URLs this connection was configured with. */
  get servers () {
    const o = this._stan.options
    const list = Array.isArray(o.servers) && o.servers.length > 0 ? o.servers : []
    return o.url ? [o.url, ...list.filter((s) => s !== o.url)] : list
  }

  get _native () {
    return this._stan._native
  }

  _closedError (callback) {
    const err = natsError(MSG.CONN_CLOSED, 'CONN_CLOSED')
    if (typeof callback === 'function') {
      callback(err)
      return
    }
    throw err
  }

  publish (subject, data, reply, callback) {
    ;[subject, data, reply, callback] = shift(4, Array.prototype.slice.call(arguments))
    if (!subject) return throwOrEmit(this, natsError(MSG.BAD_SUBJECT, 'BAD_SUBJECT'), callback)
    if (reply && typeof reply !== 'string') return throwOrEmit(this, natsError(MSG.BAD_REPLY, 'BAD_REPLY'), callback)
    if (this.closed || this._native === null) return this._closedError(callback)
    try {
      this._native.ncPublish(String(subject), reply || null, toBytes(data))
    } catch (e) {
      const err = fromNative(e)
      if (typeof callback === 'function') return callback(err)
      throw err
    }
    if (typeof callback === 'function') this.flush(callback)
  }

  subscribe (subject, options, callback) {
    ;[subject, options, callback] = shift(3, Array.prototype.slice.call(arguments))
    options = options || {}
    if (!subject) {
      throwOrEmit(this, natsError(MSG.BAD_SUBJECT, 'BAD_SUBJECT'), callback)
      return 0
    }
    if (this.closed || this._native === null) {
      this._closedError(callback)
      return 0
    }
    const sid = ++this._ssid
    try {
      this._native.ncSubscribe(sid, String(subject), typeof options.queue === 'string' ? options.queue : null)
    } catch (e) {
      throwOrEmit(this, fromNative(e), callback)
      return 0
    }
    this._subs.set(sid, { subject, callback, received: 0, max: undefined, expected: 0, timer: null })
    this.emit('subscribe', sid, subject, options)
    if (options.max) this.unsubscribe(sid, options.max)
    return sid
  }

  /** Unsubscribe now, or after `max` messages in all. */
  unsubscribe (sid, max) {
    if (!sid || this.closed) return
    const sub = this._subs.get(sid)
    if (sub === undefined) return
    sub.max = max
    if (max === undefined || max === null || sub.received >= max) this._remove(sid, sub)
  }

  /** Call `callback(sid)` and unsubscribe unless `expected` messages arrive within `ms`. */
  timeout (sid, ms, expected, callback) {
    const sub = this._subs.get(sid)
    if (!sub) return
    sub.expected = expected
    if (sub.timer) clearTimeout(sub.timer)
    sub.timer = setTimeout(() => {
      sub.timer = null
      callback(sid)
      this.unsubscribe(sid)
    }, ms)
  }

  request (subject, data, options, callback) {
    ;[subject, data, options, callback] = shift(4, Array.prototype.slice.call(arguments))
    options = options || {}
    if (!subject) {
      throwOrEmit(this, natsError(MSG.BAD_SUBJECT, 'BAD_SUBJECT'), callback)
      return 0
    }
    if (this.closed || this._native === null) {
      this._closedError(callback)
      return 0
    }
    const inbox = this.createInbox()
    const id = -++this._reqs
    const sid = this.subscribe(inbox, { max: options.max }, (msg, reply, subj) => {
      if (typeof callback === 'function') callback(msg, reply, subj, id)
    })
    if (!sid) return 0
    const sub = this._subs.get(sid)
    sub.requestId = id
    if (options.timeout) {
      sub.expected = options.max || 1
      sub.timer = setTimeout(() => {
        sub.timer = null
        if (typeof callback === 'function') callback(natsError(MSG.REQ_TIMEOUT_PREFIX + id, 'REQ_TIMEOUT'))
        this._remove(sid, sub)
      }, options.timeout)
    }
    this.publish(subject, data, inbox)
    return id
  }

  requestOne (subject, data, options, timeout, callback) {
    ;[subject, data, options, timeout, callback] = shift(5, Array.prototype.slice.call(arguments))
    if (timeout === undefined && typeof options === 'number') {
      timeout = options
      options = undefined
    }
    if (timeout === undefined && options === undefined && typeof data === 'number') {
      timeout = data
      data = undefined
    }
    options = Object.assign({}, options || {}, { max: 1, timeout })
    return this.request(subject, data, options, callback)
  }

  /** Call `callback()` once the server has seen everything sent before. */
  flush (callback) {
    if (this.closed || this._native === null) return this._closedError(callback)
    const id = this._nextFlush++
    if (typeof callback === 'function') this._flushes.set(id, callback)
    try {
      this._native.ncFlush(id)
    } catch (e) {
      this._flushes.delete(id)
      if (typeof callback === 'function') callback(fromNative(e))
      else throw fromNative(e)
    }
  }

  /** Closes the STAN connection it belongs to (there is one connection). */
  close () {
    this._stan.close()
  }

  createInbox () {
    return '_INBOX.' + crypto.randomBytes(12).toString('hex')
  }

  // ---- from the session (lib/stan.js) ----

  _remove (sid, sub) {
    if (sub.timer) clearTimeout(sub.timer)
    this._subs.delete(sid)
    if (!this.closed && this._native !== null) {
      try {
        this._native.ncUnsubscribe(sid)
      } catch {
        // the session is ending
      }
    }
    this.emit('unsubscribe', sid, sub.subject)
  }

  _message (rec) {
    const sub = this._subs.get(rec.id)
    if (sub === undefined) return
    sub.received++
    if (sub.timer && sub.expected && sub.received >= sub.expected) {
      clearTimeout(sub.timer)
      sub.timer = null
    }
    const msg = rec.data.length > 0 ? rec.data.toString('utf8') : ''
    if (typeof sub.callback === 'function') sub.callback(msg, rec.reply, rec.subject, sub.requestId ?? rec.id)
    if (sub.max && sub.received >= sub.max && this._subs.has(rec.id)) this._remove(rec.id, sub)
  }

  _flushed (rec) {
    const cb = this._flushes.get(rec.id)
    if (cb === undefined) return
    this._flushes.delete(rec.id)
    cb(rec.ok ? undefined : natsError(MSG.FLUSH_FAILED, 'FLUSH_FAILED'))
  }

  _closed () {
    if (this.closed) return
    this.closed = true
    this.connected = false
    for (const sub of this._subs.values()) if (sub.timer) clearTimeout(sub.timer)
    this._subs.clear()
    const pending = [...this._flushes.values()]
    this._flushes.clear()
    for (const cb of pending) cb(natsError(MSG.CONN_CLOSED, 'CONN_CLOSED'))
    this.emit('close')
  }
}

module.exports = { NatsConnection }
