'use strict'
// The public API of node-nats-streaming: connect(), the Stan EventEmitter,
// StartPosition, version, NewSubscriptionOptions. All protocol work happens in
// the native session; this file pumps its packed event batches and sends acks
// (the rest of Stan is lib/shared/stan.js).
const { StanBase, NewSubscriptionOptions, connectAsync: connectAsyncWith } = require('./shared/stan')
const { StartPosition, SubscriptionOptions, Subscription } = require('./shared/subscription')
const { Message } = require('./shared/message')
const { hasExplicitUrl } = require('./shared/options')
const { parseOptions, toNative } = require('./options')
const { nextRecord, K } = require('./batch')
const { NatsConnection } = require('./nats-connection')

const VERSION = require('../package.json').version

// Channel names given a publish handle per connection; publishes on further
// names convert the subject every time (bounds the table when names vary).
const MAX_SUBJECT_HANDLES = 4096

const EMPTY = new Uint8Array(0)

class Stan extends StanBase {
  _parseOptions (opts) {
    return parseOptions(opts)
  }

  _nativeOptions (opts) {
    return toNative(this.options, hasExplicitUrl(opts))
  }

  _initDispatch () {
    /** Core NATS on this connection (nats.js v1 surface), like node-nats-streaming's `sc.nc`. */
    this.nc = new NatsConnection(this)
    this._ackFlushScheduled = false
    this._batch = null // the batch being dispatched: { nums, data, strs, ids, pos }
    this._wakePending = false
    this._subjectHandles = new Map() // channel name -> the addon's handle for it
    // Publishes with a callback on a session that reports acks by slot (the
    // JS-thread transport): the callback by slot, and the free slots. The
    // guid comes back with the ack: keeping 16,384 guid strings alive for
    // the round trip (window 16384) made V8 double its young generation.
    this._slotCbs = []
    this._freeSlots = []
    // The message record the batch loop refills for each message (Message copies it).
    this._msgRec = { type: 'message', sub: 0, seq: 0, ts: 0, redelivered: false, redeliveryCount: 0, crc32: 0, data: undefined, buf: null, off: 0, len: 0, subject: '' }
  }

  /** guid -> { ah } of the publishes with a callback still waiting. */
  get pubAckMap () {
    const m = super.pubAckMap
    if (this._native === null || this._native.ackSlots !== true) return m
    const { slots, guids } = this._native.pendingSlots()
    for (let i = 0; i < slots.length; i++) {
      const cb = this._slotCbs[slots[i]]
      if (cb !== undefined) m[guids[i]] = { ah: cb }
    }
    return m
  }

  /**
   * Where the session reports acks by slot, the callback waits in a slot
   * (an array index the ack event carries) rather than in `_acks` by guid.
   */
  _publishWith (subject, data, cb) {
    if (cb === undefined || this._native.ackSlots !== true) return super._publishWith(subject, data, cb)
    const free = this._freeSlots
    const cbs = this._slotCbs
    const slot = free.length > 0 ? free[free.length - 1] : cbs.length
    const guid =
      typeof data === 'string' ? this._native.publishString(subject, data, slot) : this._publishBytes(subject, data || EMPTY, slot)
    if (slot < cbs.length) free.pop()
    cbs[slot] = cb
    return guid
  }

  /** The ack of the publish in `slot`: its callback gets `(err, guid)`. */
  _slotAck (slot, err, guid) {
    const cb = this._slotCbs[slot]
    if (cb === undefined) return
    this._slotCbs[slot] = undefined
    this._freeSlots.push(slot)
    cb(err, guid)
  }

  /** Publish through a per-channel handle, so the addon skips converting the subject string. */
  _publishBytes (subject, data, slot) {
    let h = this._subjectHandles.get(subject)
    if (h === undefined) {
      if (typeof subject !== 'string' || this._subjectHandles.size >= MAX_SUBJECT_HANDLES) {
        return this._native.publish(subject, data, slot)
      }
      h = this._native.registerSubject(subject)
      this._subjectHandles.set(subject, h)
    }
    return this._native.publishOn(h, data, slot)
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
    super._flushAcks()
  }

  /** Core-NATS records go to `nc`; its connection events mirror the session's. */
  _handle (rec) {
    if (rec.slot !== undefined) {
      this._slotAck(rec.slot, rec.code === undefined ? undefined : this._err(rec), rec.guid)
      return
    }
    const nc = this.nc
    switch (rec.type) {
      case 'nc_msg':
        nc._message(rec)
        return
      case 'nc_flushed':
        nc._flushed(rec)
        return
      case 'connected':
        nc.connected = true
        nc.emit('connect', nc)
        break
      case 'disconnected':
        nc.connected = false
        nc.emit('disconnect')
        break
      case 'reconnecting':
        nc.emit('reconnecting')
        break
      case 'reconnected':
        nc.connected = true
        nc.emit('reconnect', nc)
        break
      case 'nats_error':
        if (nc.listenerCount('error') > 0) nc.emit('error', this._err(rec))
        break
      case 'closed':
        super._handle(rec)
        nc._closed()
        return
    }
    super._handle(rec)
  }

  /** The addon's wake-up: events are waiting in the session. */
  _onEvents () {
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
          this._batch = { nums: b.nums, data: b.data, strs: b.strs, ids: b.ids, pos: 0 }
        }
        const b = this._batch
        const n = b.nums
        while (b.pos < n.length) {
          const p = b.pos
          if (n[p] === K.PUB_ACK_SLOT && n[p + 4] === -1) {
            // A successful ack of a publish with a slot, the bulk of a publisher's events.
            b.pos = p + 6
            const off = n[p + 2]
            this._slotAck(n[p + 1], undefined, b.ids.slice(off, off + n[p + 3]))
          } else if (n[p] === K.PUB_ACK && n[p + 3] === -1) {
            // A successful publish ack, the bulk of a publisher's events: no record object.
            b.pos = p + 5
            const acks = this._acks
            if (acks.size === 0) continue
            const off = n[p + 1]
            const guid = b.ids.slice(off, off + n[p + 2])
            const cb = acks.get(guid)
            if (cb === undefined) continue
            acks.delete(guid)
            cb(undefined, guid)
          } else if (n[p] === K.MESSAGE) {
            // A STAN message: one reused record, no dispatch on type strings.
            b.pos = p + 10
            const r = this._msgRec
            const off = n[p + 7]
            r.sub = n[p + 1]
            r.seq = n[p + 2]
            r.ts = n[p + 3]
            r.redelivered = n[p + 4] === 1
            r.redeliveryCount = n[p + 5]
            r.crc32 = n[p + 6]
            // The payload as a range of the batch's Buffer (Message makes the view on use).
            r.buf = b.data
            r.off = off
            r.len = n[p + 8]
            r.subject = b.strs[n[p + 9]]
            this._deliver(r)
          } else {
            this._handle(nextRecord(b))
          }
        }
        this._batch = null
      }
      ok = true
    } finally {
      if (!ok) process.nextTick(() => this._pump())
      this._flushAcks()
    }
  }
}

function connect (clusterID, clientID, opts) {
  return new Stan(clusterID, clientID, opts)
}

/** `await connectAsync(...)`: the connected Stan (beyond node-nats-streaming). */
function connectAsync (clusterID, clientID, opts) {
  return connectAsyncWith(connect, clusterID, clientID, opts)
}

module.exports = {
  connect,
  connectAsync,
  version: VERSION,
  StartPosition,
  NewSubscriptionOptions,
  Stan,
  Subscription,
  SubscriptionOptions,
  Message
}
