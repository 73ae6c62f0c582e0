'use strict'
// Message: one delivered STAN message with node-nats-streaming's getters.
// The payload is a view into the batch buffer the addon handed over (no copy).

class Message {
  constructor (stanClient, subscription, subject, sequence, timestamp, redelivered, redeliveryCount, crc32, data) {
    this.stanClient = stanClient
    this.subscription = subscription
    this._subject = subject
    this._sequence = sequence
    this._timestamp = timestamp
    this._redelivered = redelivered
    this._redeliveryCount = redeliveryCount
    this._crc32 = crc32
    this._data = data
  }

  getSubject () {
    return this._subject
  }

  getSequence () {
    return this._sequence
  }

  /** The payload as a Buffer. */
  getRawData () {
    return this._data
  }

  /** A UTF-8 string, or with `stanEncoding: 'binary'` a Uint8Array. */
  getData () {
    const d = this._data
    if (this.stanClient.options.stanEncoding === 'binary') {
      return new Uint8Array(d.buffer, d.byteOffset, d.length)
    }
    return d.length > 0 ? d.toString('utf8') : ''
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
