'use strict'
// Message: one delivered STAN message with node-nats-streaming's getters,
// made from a session's message record (both packages).
const { utf8Decode, asUint8Array } = require('../platform')

class Message {
  constructor (stanClient, subscription, rec) {
    this.stanClient = stanClient
    this.subscription = subscription
    this._subject = rec.subject
    this._sequence = rec.seq
    this._timestamp = rec.ts
    this._redelivered = rec.redelivered
    this._redeliveryCount = rec.redeliveryCount
    this._crc32 = rec.crc32
    // The payload: a view made on first use where the record gives a range
    // of its batch's Buffer (the Node package: no Buffer object per message
    // that is read as a string or not at all), else the record's bytes.
    this._data = rec.data
    this._buf = rec.buf
    this._off = rec.off
    this._len = rec.len
  }

  _payload () {
    let d = this._data
    if (d === undefined) d = this._data = this._buf.subarray(this._off, this._off + this._len)
    return d
  }

  getSubject () {
    return this._subject
  }

  getSequence () {
    return this._sequence
  }

  /** The payload: in Node a Buffer (a view into the addon's batch, no copy), in browsers a Uint8Array. */
  getRawData () {
    return this._payload()
  }

  /** A UTF-8 string, or with `stanEncoding: 'binary'` a Uint8Array. */
  getData () {
    if (this.stanClient.options.stanEncoding === 'binary') return asUint8Array(this._payload())
    const d = this._data
    if (d === undefined) return this._len > 0 ? this._buf.toString('utf8', this._off, this._off + this._len) : ''
    return d.length > 0 ? utf8Decode(d) : ''
  }

  /** Server timestamp in ns, as a (lossy) number. */
  getTimestampRaw () {
    return this._timestamp
  }

  getTimestamp () {
    return new Date(this._timestamp / 1000000)
  }

  isRedelivered () {
    return this._redelivered
  }

  getRedeliveryCount () {
    return this._redeliveryCount
  }

  getCrc32 () {
    return this._crc32
  }

  /** Acks the message (a no-op once the subscription is closed). */
  ack () {
    const sub = this.subscription
    if (!sub.isClosed() && sub._id !== undefined) this.stanClient._queueAck(sub._id, this._sequence)
  }

  getClientID () {
    throw new TypeError('stan: Message#getClientID() is not available (it never worked in node-nats-streaming)')
  }

  getConnectionID () {
    throw new TypeError('stan: Message#getConnectionID() is not available (it never worked in node-nats-streaming)')
  }
}

module.exports = { Message }
