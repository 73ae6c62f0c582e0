'use strict'
// The Node package's connect() options: nats:// URL rules (spec §1.2/§1.3)
// and the plain object the native addon takes; the rest is lib/shared/options.js.
const { URL } = require('url')
const { stanError } = require('./shared/errors')
const { defaultsWith, parseWith, num, requireBinaryEncoding, credentials, stanSettings } = require('./shared/options')

const DEFAULT_PORT = 4222
const DEFAULT_PRE = 'nats://localhost:'
const DEFAULTS = defaultsWith(DEFAULT_PRE + DEFAULT_PORT)

function unsupported (what) {
  return stanError('UNSUPPORTED_OPTION', `stan: ${what} is not supported by this package`)
}

/** The string-argument and servers[] normalisation: add `nats://` and `:4222` when missing. */
function sanitizeUrl (host) {
  if (!/^.*:\/\/.*/.test(host)) host = 'nats://' + host
  const u = new URL(host)
  if (u.port === null || u.port === '') host += ':' + DEFAULT_PORT
  return host
}

/** The `url` option is used raw, like nats.js v1: it must parse as a WHATWG URL with a port. */
function checkRawUrl (url) {
  const u = new URL(url) // throws TypeError [ERR_INVALID_URL]: Invalid URL
  if (u.port === '') {
    const err = new RangeError(`Port should be >= 0 and < 65536. Received type string ('')`)
    err.code = 'ERR_SOCKET_BAD_PORT'
    throw err
  }
  return url
}

function parseOptions (opts) {
  return parseWith(opts, DEFAULTS, (port) => DEFAULT_PRE + port, sanitizeUrl)
}

/** Checks node-nats-streaming makes synchronously in connect(), plus what we cannot honour. */
function toNative (options, explicitUrl) {
  if (options.nc !== undefined) {
    throw unsupported('the `nc` option (an existing nats.js v1 connection)')
  }
  requireBinaryEncoding(options)
  for (const k of ['nkey', 'nonceSigner', 'userJWT']) {
    if (options[k] !== undefined) throw unsupported(`the \`${k}\` option (use \`userCreds\` with a credentials file)`)
  }
  let tls = false
  let tlsOptions
  if (options.tls === true) tls = true
  else if (options.tls && typeof options.tls === 'object') {
    // tls.TlsOptions, given to Node's tls.connect() as nats.js v1 does (the
    // threaded transport refuses the certificate fields: lib/platform.js).
    tlsOptions = options.tls
    tls = true
  }
  let servers
  const list = Array.isArray(options.servers) ? options.servers.map(String).map(sanitizeUrl) : []
  if (list.length > 0 && !explicitUrl) {
    servers = list // the user's servers only (see docs/compat.md)
  } else {
    servers = [checkRawUrl(String(options.url))].concat(list)
  }
  return Object.assign({ servers }, credentials(options), {
    tls,
    tlsOptions,
    userCreds: options.userCreds === undefined ? undefined : String(options.userCreds),
    maxReconnectAttempts: num(options.maxReconnectAttempts, -1),
    reconnect: options.reconnect === undefined ? undefined : Boolean(options.reconnect),
    reconnectTimeWait: options.reconnectTimeWait === undefined ? undefined : num(options.reconnectTimeWait, 2000),
    waitOnFirstConnect: Boolean(options.waitOnFirstConnect),
    pingInterval: options.pingInterval === undefined ? undefined : num(options.pingInterval, 120000),
    timeout: options.timeout === undefined ? undefined : num(options.timeout, 0)
  }, stanSettings(options))
}

module.exports = { parseOptions, toNative }
