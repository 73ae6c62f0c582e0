// The browser package's connect() options: URLs mapped to the server's
// WebSocket listener, and the plain object the wasm session takes; the rest
// is gen/options.js (generated from the Node package's lib/shared/options.js).
import { stanError } from './gen/errors.js'
import { defaultsWith, parseWith, hasExplicitUrl, requireBinaryEncoding, credentials, stanSettings } from './gen/options.js'

const DEFAULTS = defaultsWith('ws://localhost:8080')

function unsupported (what) {
  return stanError('UNSUPPORTED_OPTION', `stan: ${what} is not supported in the browser`)
}

/**
 * A WebSocket URL: `ws://`/`wss://` as given; `nats://` and `http://` become
 * `ws://`, `tls://` and `https://` become `wss://`; no scheme means `ws://`.
 */
function toWebSocketUrl (url, tls) {
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

/** As in Node, but a URL string is kept as given, and without an explicit URL `servers[0]` is the URL. */
export function parseOptions (opts) {
  const options = parseWith(opts, DEFAULTS, (port) => 'ws://localhost:' + port, (url) => url)
  if (!hasExplicitUrl(opts) && Array.isArray(options.servers) && options.servers.length > 0) options.url = options.servers[0]
  return options
}

/** The checks made synchronously in connect(), then the plain object the wasm driver reads. */
export function toNative (options) {
  if (options.nc !== undefined) throw unsupported('the `nc` option')
  requireBinaryEncoding(options)
  for (const k of ['nkey', 'nonceSigner', 'userJWT', 'userCreds']) {
    if (options[k] !== undefined) throw unsupported(`the \`${k}\` option`)
  }
  if (options.tls && typeof options.tls === 'object') {
    for (const k of ['ca', 'cert', 'key', 'pfx']) {
      if (options.tls[k] !== undefined) throw unsupported(`\`tls.${k}\` (the browser's certificate store is used)`)
    }
  }
  const creds = credentials(options)
  return Object.assign({ url: toWebSocketUrl(options.url, Boolean(options.tls)) }, creds, stanSettings(options))
}
