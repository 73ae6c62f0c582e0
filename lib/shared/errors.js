'use strict'
// The one place where JS errors are made (both packages). Every error carries
// a stable `code`: node-nats-streaming's NatsError codes where it had one
// (request timeouts, CONN_ERR, REQ_TIMEOUT), otherwise the name of its error constant.

const { TEXT } = require('./generated')

// Codes node-nats-streaming reported through nats.js' NatsError class.
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

function stanError (code, message) {
  const err = new Error(message === undefined ? TEXT[code] : message)
  err.code = code
  if (NATS_ERROR_CODES.has(code)) err.name = 'NatsError'
  return err
}

// google-protobuf's wording for data it cannot turn into bytes.
function coerceError (data) {
  let type = typeof data
  if (Array.isArray(data)) type = 'array'
  return stanError('BAD_DATA', 'Failure: Cannot coerce to Uint8Array: ' + type)
}

module.exports = { TEXT, stanError, coerceError }
