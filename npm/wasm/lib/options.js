// connect() options for the browser (adapted from the Node package's
// lib/options.js): node-nats-streaming's defaults and aliases, and URLs
// mapped to the server's WebSocket listener.
import { TEXT, stanError, unsupported } from './errors.js'

export const DEFAULT_URL = 'ws://localhost:8080'

export const DEFAULTS = Object.freeze({
  ackTimeout: 30000,
  connectTimeout: 2000,
  discoverPrefix: '_STAN.discover',
  maxPubAcksInflight: 16384,
  maxReconnectAttempts: -1,
  stanEncoding: 'utf8',
  stanMaxPingOut: 3,
  stanPingInterval: 5000,
  url: DEFAULT_URL
})

const COPIED = [
  'ackTimeout', 'connectTimeout', 'discoverPrefix', 'maxPubAcksInflight', 'nc', 'stanEncoding',
  'stanMaxPingOut', 'stanPingInterval', 'encoding', 'maxPingOut', 'maxReconnectAttempts', 'name',
  'nkey', 'noRandomize', 'nonceSigner', 'pass', 'pedantic', 'pingInterval', 'reconnect',
  'reconnectTimeWait', 'servers', 'tls', 'token', 'tokenHandler', 'url', 'useOldRequestStyle', 'user',
  'userCreds', 'userJWT', 'verbose', 'waitOnFirstConnect', 'yieldTime',
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

/**
 * A WebSocket URL: `ws://`/`wss://` as given; `nats://` and `http://` become
 * `ws://`, `tls://` and `https://` become `wss://`; no scheme means `ws://`.
 */
export function toWebSocketUrl (url, tls) {
  let u = String(url)
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(u)) u = 'ws://' + u
  u = u.replace(/^(nats|http):\/\//i, 'ws://').replace(/^(tls|https):\/\//i, 'wss://')
  if (tls) u = u.replace(/^ws:\/\//i, 'wss://')
  let parsed
  try {
    parsed = new URL(u)
  } catch (e) {
    throw stanError('BAD_URL', `stan: invalid URL ${JSON.stringify(String(url))}`)
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw stanError('BAD_URL', `stan: unsupported URL scheme ${parsed.protocol} (use ws:// or wss://)`)
  }
  return u
}

export function parseOptions (opts) {
  const options = Object.assign({}, DEFAULTS)
  if (typeof opts === 'number') {
    options.url = 'ws://localhost:' + opts
  } else if (typeof opts === 'string') {
    options.url = opts
  } else if (opts !== null && typeof opts === 'object') {
    if (opts.port !== undefined) options.url = 'ws://localhost:' + opts.port
    for (const k of COPIED) if (opts[k] !== undefined) options[k] = opts[k]
    for (const [alias, k] of Object.entries(ALIASES)) if (opts[alias] !== undefined) options[k] = opts[alias]
    const explicit = opts.url !== undefined || opts.uri !== undefined || opts.port !== undefined
    if (!explicit && Array.isArray(options.servers) && options.servers.length > 0) options.url = options.servers[0]
  }
  return options
}

function num (v, dflt) {
  const n = Number(v)
  return Number.isFinite(n) ? n : dflt
}

/** The checks made synchronously in connect(), then the plain object the wasm driver reads. */
export function toNative (options) {
  if (options.nc !== undefined) throw unsupported('the `nc` option')
  if (options.encoding && options.encoding !== 'binary') throw stanError('BINARY_ENCODING_REQUIRED', TEXT.BINARY_ENCODING_REQUIRED)
  options.encoding = 'binary'
  for (const k of ['nkey', 'nonceSigner', 'userJWT', 'userCreds']) {
    if (options[k] !== undefined) throw unsupported(`the \`${k}\` option`)
  }
  if (options.tls && typeof options.tls === 'object') {
    for (const k of ['ca', 'cert', 'key', 'pfx']) {
      if (options.tls[k] !== undefined) throw unsupported(`\`tls.${k}\` (the browser's certificate store is used)`)
    }
  }
  let token = options.token
  if (token === undefined && typeof options.tokenHandler === 'function') token = options.tokenHandler()
  return {
    url: toWebSocketUrl(options.url, Boolean(options.tls)),
    user: options.user === undefined ? undefined : String(options.user),
    pass: options.pass === undefined ? undefined : String(options.pass),
    token: token === undefined ? undefined : String(token),
    name: options.name === undefined ? undefined : String(options.name),
    connectTimeout: num(options.connectTimeout, DEFAULTS.connectTimeout),
    ackTimeout: num(options.ackTimeout, DEFAULTS.ackTimeout),
    discoverPrefix: String(options.discoverPrefix),
    maxPubAcksInflight: num(options.maxPubAcksInflight, DEFAULTS.maxPubAcksInflight),
    stanPingInterval: num(options.stanPingInterval, DEFAULTS.stanPingInterval),
    stanMaxPingOut: Math.trunc(num(options.stanMaxPingOut, DEFAULTS.stanMaxPingOut))
  }
}
