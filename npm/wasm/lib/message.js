// Message: one delivered STAN message with node-nats-streaming's getters.

const utf8 = new TextDecoder()

export class Message {
  constructor (stanClient, subscription, rec) {
    this.stanClient = stanClient
    this.subscription = subscription
    this._subject = rec.subject
    this._sequence = rec.seq
    this._timestamp = rec.ts
    this._redelivered = rec.redelivered
    this._redeliveryCount = rec.redeliveryCount
    this._crc32 = rec.crc32
    this._data = rec.data
  }

  getSubject () {
    return this._subject
  }

  getSequence () {
    return this._sequence
  }

  /** The payload bytes (a Uint8Array). */
  getRawData () {
    return this._data
  }

  /** A UTF-8 string, or with `stanEncoding: 'binary'` the Uint8Array. */
  getData () {
    if (this.stanClient.options.stanEncoding === 'binary') return this._data
    return this._data.length > 0 ? utf8.decode(this._data) : ''
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
