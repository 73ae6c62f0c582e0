'use strict'
// connect() options: node-nats-streaming's defaults, aliases and URL rules
// (spec §1.2/§1.3), then the plain object the native addon takes.
const { URL } = require('url')
const { TEXT, unsupported } = require('./errors')

const DEFAULT_PORT = 4222
const DEFAULT_PRE = 'nats://localhost:'
const DEFAULT_URI = DEFAULT_PRE + DEFAULT_PORT

const DEFAULTS = Object.freeze({
  ackTimeout: 30000,
  connectTimeout: 2000,
  discoverPrefix: '_STAN.discover',
  maxPubAcksInflight: 16384,
  maxReconnectAttempts: -1,
  stanEncoding: 'utf8',
  stanMaxPingOut: 3,
  stanPingInterval: 5000,
  url: DEFAULT_URI
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
  const options = Object.assign({}, DEFAULTS)
  if (opts === undefined || opts === null) {
    options.url = DEFAULT_URI
  } else if (typeof opts === 'number') {
    options.url = DEFAULT_PRE + opts
  } else if (typeof opts === 'string') {
    options.url = sanitizeUrl(opts)
  } else if (typeof opts === 'object') {
    if (opts.port !== undefined) options.url = DEFAULT_PRE + opts.port
    for (const k of COPIED) if (opts[k] !== undefined) options[k] = opts[k]
    for (const [alias, k] of Object.entries(ALIASES)) if (opts[alias] !== undefined) options[k] = opts[alias]
  }
  return options
}

function num (v, dflt) {
  const n = Number(v)
  return Number.isFinite(n) ? n : dflt
}

/** Checks node-nats-streaming makes synchronously in connect(), plus what we cannot honour. */
function toNative (options, explicitUrl) {
  if (options.nc !== undefined) {
    throw unsupported('the `nc` option (an existing nats.js v1 connection)')
  }
  if (options.encoding && options.encoding !== 'binary') {
    const err = new Error(TEXT.BINARY_ENCODING_REQUIRED)
    err.code = 'BINARY_ENCODING_REQUIRED'
    throw err
  }
  options.encoding = 'binary'
  for (const k of ['nkey', 'nonceSigner', 'userJWT']) {
    if (options[k] !== undefined) throw unsupported(`the \`${k}\` option (use \`userCreds\` with a credentials file)`)
  }
  let tls = false
  if (options.tls === true) tls = true
  else if (options.tls && typeof options.tls === 'object') {
    for (const k of ['ca', 'cert', 'key', 'pfx']) {
      if (options.tls[k] !== undefined) throw unsupported(`\`tls.${k}\``)
    }
    tls = true
  }
  let servers
  const list = Array.isArray(options.servers) ? options.servers.map(String).map(sanitizeUrl) : []
  if (list.length > 0 && !explicitUrl) {
    servers = list // the user's servers only (see docs/compat.md)
  } else {
    servers = [checkRawUrl(String(options.url))].concat(list)
  }
  let token = options.token
  if (token === undefined && typeof options.tokenHandler === 'function') token = options.tokenHandler()
  return {
    servers,
    user: options.user === undefined ? undefined : String(options.user),
    pass: options.pass === undefined ? undefined : String(options.pass),
    token: token === undefined ? undefined : String(token),
    name: options.name === undefined ? undefined : String(options.name),
    tls,
    userCreds: options.userCreds === undefined ? undefined : String(options.userCreds),
    maxReconnectAttempts: num(options.maxReconnectAttempts, -1),
    reconnect: options.reconnect === undefined ? undefined : Boolean(options.reconnect),
    reconnectTimeWait: options.reconnectTimeWait === undefined ? undefined : num(options.reconnectTimeWait, 2000),
    waitOnFirstConnect: Boolean(options.waitOnFirstConnect),
    pingInterval: options.pingInterval === undefined ? undefined : num(options.pingInterval, 120000),
    timeout: options.timeout === undefined ? undefined : num(options.timeout, 0),
    connectTimeout: num(options.connectTimeout, DEFAULTS.connectTimeout),
    ackTimeout: num(options.ackTimeout, DEFAULTS.ackTimeout),
    discoverPrefix: String(options.discoverPrefix),
    maxPubAcksInflight: num(options.maxPubAcksInflight, DEFAULTS.maxPubAcksInflight),
    stanPingInterval: num(options.stanPingInterval, DEFAULTS.stanPingInterval),
    stanMaxPingOut: Math.trunc(num(options.stanMaxPingOut, DEFAULTS.stanMaxPingOut))
  }
}

module.exports = { DEFAULTS, parseOptions, toNative, sanitizeUrl }
