'use strict'
// connect() options common to both packages: node-nats-streaming's defaults,
// the options it copies and their aliases (spec §1.2/§1.3), and the parts of
// the session's options that do not depend on the transport.
const { stanError } = require('./errors')
const { DEFAULTS } = require('./generated')

const BASE_DEFAULTS = Object.freeze({
  ackTimeout: DEFAULTS.ackTimeout,
  connectTimeout: DEFAULTS.connectTimeout,
  discoverPrefix: DEFAULTS.discoverPrefix,
  maxPubAcksInflight: DEFAULTS.maxPubAcksInflight,
  maxReconnectAttempts: -1,
  stanEncoding: 'utf8',
  stanMaxPingOut: DEFAULTS.stanMaxPingOut,
  stanPingInterval: DEFAULTS.stanPingInterval
})

// Options copied as they are (node-nats-streaming forwards them to nats.js).
const COPIED = [
  'ackTimeout', 'connectTimeout', 'discoverPrefix', 'maxPubAcksInflight', 'nc', 'stanEncoding',
  'stanMaxPingOut', 'stanPingInterval', 'encoding', 'maxPingOut', 'maxReconnectAttempts', 'name',
  'nkey', 'noRandomize', 'nonceSigner', 'pass', 'pedantic', 'pingInterval', 'reconnect',
  'reconnectTimeWait', 'servers', 'tls', 'token', 'tokenHandler', 'url', 'useOldRequestStyle', 'user',
  'userCreds', 'userJWT', 'verbose', 'waitOnFirstConnect', 'yieldTime',
  // nats.js master additions (ignored by 0.3.2, accepted here)
  'reconnectJitter', 'reconnectJitterTLS', 'reconnectDelayHandler', 'timeout'
]

const ALIASES = {
  client: 'name',
  credentials: 'userCreds',
  dontRandomize: 'noRandomize',
  jwt: 'userJWT',
  JWT: 'userJWT',
  nkeys: 'nkey',
  NoRandomize: 'noRandomize',
  password: 'pass',
  secure: 'tls',
  sig: 'nonceSigner',
  sigCB: 'nonceSigner',
  sigCallback: 'nonceSigner',
  sigcb: 'nonceSigner',
  uri: 'url',
  urls: 'servers',
  usercreds: 'userCreds',
  userjwt: 'userJWT'
}

/** node-nats-streaming's defaults with the package's default server URL. */
function defaultsWith (url) {
  return Object.freeze(Object.assign({}, BASE_DEFAULTS, { url }))
}

/**
 * The options object: the defaults, then connect()'s third argument (a port,
 * a URL string or an options object). `portUrl`/`stringUrl` give the package's
 * URL for a port and for a URL string.
 */
function parseWith (opts, defaults, portUrl, stringUrl) {
  const options = Object.assign({}, defaults)
  if (typeof opts === 'number') {
    options.url = portUrl(opts)
  } else if (typeof opts === 'string') {
    options.url = stringUrl(opts)
  } else if (opts !== null && typeof opts === 'object') {
    if (opts.port !== undefined) options.url = portUrl(opts.port)
    for (const k of COPIED) if (opts[k] !== undefined) options[k] = opts[k]
    for (const [alias, k] of Object.entries(ALIASES)) if (opts[alias] !== undefined) options[k] = opts[alias]
  }
  return options
}

/** Whether connect()'s third argument names the server itself (not only through `servers`). */
function hasExplicitUrl (opts) {
  return (
    typeof opts === 'string' ||
    typeof opts === 'number' ||
    (opts !== null && typeof opts === 'object' && (opts.url !== undefined || opts.uri !== undefined || opts.port !== undefined))
  )
}

function num (v, dflt) {
  const n = Number(v)
  return Number.isFinite(n) ? n : dflt
}

/** node-nats-streaming's synchronous check: the NATS encoding must be binary. */
function requireBinaryEncoding (options) {
  if (options.encoding && options.encoding !== 'binary') throw stanError('BINARY_ENCODING_REQUIRED')
  options.encoding = 'binary'
}

/** user, pass, token (or what `tokenHandler` returns) and name, as strings. */
function credentials (options) {
  let token = options.token
  if (token === undefined && typeof options.tokenHandler === 'function') token = options.tokenHandler()
  return {
    user: options.user === undefined ? undefined : String(options.user),
    pass: options.pass === undefined ? undefined : String(options.pass),
    token: token === undefined ? undefined : String(token),
    name: options.name === undefined ? undefined : String(options.name)
  }
}

/** The STAN protocol settings, as numbers (the defaults where not numeric). */
function stanSettings (options) {
  return {
    connectTimeout: num(options.connectTimeout, BASE_DEFAULTS.connectTimeout),
    ackTimeout: num(options.ackTimeout, BASE_DEFAULTS.ackTimeout),
    discoverPrefix: String(options.discoverPrefix),
    maxPubAcksInflight: num(options.maxPubAcksInflight, BASE_DEFAULTS.maxPubAcksInflight),
    stanPingInterval: num(options.stanPingInterval, BASE_DEFAULTS.stanPingInterval),
    stanMaxPingOut: Math.trunc(num(options.stanMaxPingOut, BASE_DEFAULTS.stanMaxPingOut))
  }
}

module.exports = { defaultsWith, parseWith, hasExplicitUrl, num, requireBinaryEncoding, credentials, stanSettings }
