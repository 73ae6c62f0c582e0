'use strict'
// What the shared facade (lib/shared/) takes from Node: events' EventEmitter,
// Buffer bytes, process.nextTick, and the addon's session and errors.
const { EventEmitter } = require('events')
const { stanError } = require('./shared/errors')

let native // loaded on first connect, so `test_opts` and the typings work without the addon

/**
 * Where the NATS socket lives: 'js' (default: on this thread, lib/transport.js)
 * or 'thread' (the addon's tokio runtime, NativeStan). `STAN_RS_TRANSPORT`.
 */
function transportKind () {
  const v = (process.env.STAN_RS_TRANSPORT || 'js').toLowerCase()
  if (v !== 'js' && v !== 'thread') throw stanError('UNSUPPORTED_OPTION', `stan: STAN_RS_TRANSPORT must be 'js' or 'thread', got '${v}'`)
  return v
}

function openSession (clusterID, clientID, options, onEvents) {
  if (native === undefined) native = require('./native')
  if (transportKind() === 'js') {
    const { JsSession } = require('./transport')
    return new JsSession(native, clusterID, clientID, options, onEvents)
  }
  const t = options.tlsOptions
  for (const k of ['ca', 'cert', 'key', 'pfx']) {
    if (t && t[k] !== undefined) {
      throw stanError('UNSUPPORTED_OPTION', `stan: \`tls.${k}\` is not supported with STAN_RS_TRANSPORT=thread`)
    }
  }
  const { NativeStan } = native
  return new NativeStan(clusterID, clientID, options, onEvents)
}

/**
 * Errors the addon throws are made by napi in Node's main realm. Where this
 * package was loaded in another realm (a Jest test file runs in a vm context),
 * `err instanceof Error` would be false there; re-create them here, with the
 * same code and text, so they are Errors of the realm the caller lives in.
 */
function fromNative (e) {
  if (e instanceof Error || e === null || typeof e !== 'object') return e
  return stanError(e.code, e.message)
}

const utf8Encode = (s) => Buffer.from(s, 'utf8')
const utf8Decode = (buf) => buf.toString('utf8')
/** A Uint8Array over a Buffer's bytes (no copy). */
const asUint8Array = (buf) => new Uint8Array(buf.buffer, buf.byteOffset, buf.length)
const defer = (fn) => process.nextTick(fn)

module.exports = { EventEmitter, openSession, fromNative, utf8Encode, utf8Decode, asUint8Array, defer }
