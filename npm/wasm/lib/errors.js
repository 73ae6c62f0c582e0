// The one place where JS errors are made (adapted from the Node package's
// lib/errors.js): every error carries a stable `code`.

export const TEXT = Object.freeze({
  BAD_CLUSTER_ID: 'stan: cluster ID must be supplied',
  BAD_CLIENT_ID: 'stan: client ID must be supplied',
  BINARY_ENCODING_REQUIRED: "stan: NATS connection encoding must be 'binary'.",
  BAD_SUBJECT: 'stan: subject must be supplied',
  CONN_CLOSED: 'stan: Connection closed',
  MAX_FLIGHT_LIMIT_REACHED: 'stan: max in flight reached.',
  BAD_SUBSCRIPTION: 'stan: invalid subscription',
  NO_SERVER_SUPPORT: 'stan: not supported by server',
  NOT_INITIALIZED: 'stan: the wasm module is not loaded: `await init()` before `connect()`'
})

const NATS_ERROR_CODES = new Set([
  'CONN_ERR',
  'REQ_TIMEOUT',
  'PERMISSIONS_VIOLATION',
  'NATS_ERROR',
  'stan: connect request timeout',
  'stan: subscribe request timeout',
  'stan: unsubscribe request timeout',
  'stan: close request timeout'
])

export function stanError (code, message) {
  const err = new Error(message === undefined ? TEXT[code] : message)
  err.code = code
  if (NATS_ERROR_CODES.has(code)) err.name = 'NatsError'
  return err
}

export function coerceError (data) {
  let type = typeof data
  if (Array.isArray(data)) type = 'array'
  return stanError('BAD_DATA', 'Failure: Cannot coerce to Uint8Array: ' + type)
}

export function unsupported (what) {
  return stanError('UNSUPPORTED_OPTION', `stan: ${what} is not supported in the browser`)
}

/** Errors thrown by the wasm binding already carry `code`; anything else passes through. */
export function fromNative (e) {
  if (e instanceof Error) return e
  if (e !== null && typeof e === 'object' && e.code) return stanError(e.code, e.message)
  return e
}
