'use strict'
// Decodes the addon's packed event batches (crates/stan-node/src/batch.rs)
// into the `{ type, ... }` records lib/shared/stan.js handles.

// Event kinds of a batch record.
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
  NATS_ERROR: 16,
  NC_MESSAGE: 17,
  NC_FLUSHED: 18,
  PUB_ACK_SLOT: 19
}

// Record types of the kinds that carry nothing or only a subscription id.
const BARE = {
  [K.CONNECTED]: 'connected',
  [K.DISCONNECTED]: 'disconnected',
  [K.RECONNECTED]: 'reconnected',
  [K.RECONNECTING]: 'reconnecting'
}
const SUB_ONLY = {
  [K.SUB_READY]: 'sub_ready',
  [K.UNSUBSCRIBED]: 'unsubscribed',
  [K.SUB_CLOSED]: 'sub_closed',
  [K.SUB_ENDED]: 'sub_ended'
}

/** `rec` with the error (code and text string indexes at `at`, code -1 for none). */
function withError (b, at, rec, prefix = '') {
  const n = b.nums
  if (n[at] !== -1) {
    rec.code = b.strs[n[at]]
    rec.message = prefix + b.strs[n[at + 1]]
  }
  return rec
}

/** The record at `b.pos` (a batch `{ nums, data, strs, ids, pos }`); advances `b.pos` past it. */
function nextRecord (b) {
  const n = b.nums
  const p = b.pos
  const kind = n[p]
  if (BARE[kind] !== undefined) {
    b.pos = p + 1
    return { type: BARE[kind] }
  }
  if (SUB_ONLY[kind] !== undefined) {
    b.pos = p + 2
    return { type: SUB_ONLY[kind], sub: n[p + 1] }
  }
  switch (kind) {
    case K.MESSAGE: {
      b.pos = p + 10
      const off = n[p + 7]
      return {
        type: 'message',
        sub: n[p + 1],
        seq: n[p + 2],
        ts: n[p + 3],
        redelivered: n[p + 4] === 1,
        redeliveryCount: n[p + 5],
        crc32: n[p + 6],
        data: b.data.subarray(off, off + n[p + 8]),
        subject: b.strs[n[p + 9]]
      }
    }
    case K.NC_MESSAGE: {
      b.pos = p + 6
      const off = n[p + 3]
      return {
        type: 'nc_msg',
        id: n[p + 1],
        reply: n[p + 2] === -1 ? undefined : b.strs[n[p + 2]],
        data: b.data.subarray(off, off + n[p + 4]),
        subject: b.strs[n[p + 5]]
      }
    }
    case K.NC_FLUSHED:
      b.pos = p + 3
      return { type: 'nc_flushed', id: n[p + 1], ok: n[p + 2] === 1 }
    case K.PUB_ACK: {
      // guid: offset and length in `ids`, the batch's guids back to back.
      b.pos = p + 5
      const off = n[p + 1]
      return withError(b, p + 3, { type: 'pub_ack', guid: b.ids.slice(off, off + n[p + 2]) })
    }
    case K.PUB_ACK_SLOT: {
      // The ack of a publish made with a JS slot (lib/stan.js keeps its callback), with its guid.
      b.pos = p + 6
      const off = n[p + 2]
      return withError(b, p + 4, { type: 'pub_ack', slot: n[p + 1], guid: b.ids.slice(off, off + n[p + 3]) })
    }
    case K.CONNECT_FAILED:
      b.pos = p + 3
      return withError(b, p + 1, { type: 'connect_failed' })
    case K.SUB_ERROR:
    case K.SUB_TIMEOUT:
      b.pos = p + 5
      return withError(b, p + 3, { type: kind === K.SUB_TIMEOUT ? 'sub_timeout' : 'sub_error', sub: n[p + 1] })
    case K.CONNECTION_LOST:
      b.pos = p + 3
      return withError(b, p + 1, { type: 'connection_lost' })
    case K.CLOSED:
      b.pos = p + 3
      return withError(b, p + 1, { type: 'closed' })
    case K.NATS_ERROR: {
      b.pos = p + 4
      const phase = n[p + 1]
      // Phase 0, the first NATS connection failed: nats.js' wording.
      return withError(b, p + 2, { type: 'nats_error', phase }, phase === 0 ? 'Could not connect to server: ' : '')
    }
    default:
      throw new Error(`stan: unknown native event kind ${kind}`)
  }
}

module.exports = { nextRecord, K }
