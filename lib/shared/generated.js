'use strict'
// Generated from crates/stan-core/src/js.rs (generated_js_module): do not edit.
// node-nats-streaming's defaults and error texts, as the Rust side uses them.

const DEFAULTS = Object.freeze({
  ackTimeout: 30000,
  connectTimeout: 2000,
  discoverPrefix: '_STAN.discover',
  maxPubAcksInflight: 16384,
  stanMaxPingOut: 3,
  stanPingInterval: 5000,
  maxInFlight: 16384,
  ackWait: 30000
})

const TEXT = Object.freeze({
  BAD_CLUSTER_ID: 'stan: cluster ID must be supplied',
  BAD_CLIENT_ID: 'stan: client ID must be supplied',
  BINARY_ENCODING_REQUIRED: 'stan: NATS connection encoding must be \'binary\'.',
  BAD_SUBJECT: 'stan: subject must be supplied',
  CONN_CLOSED: 'stan: Connection closed',
  MAX_FLIGHT_LIMIT_REACHED: 'stan: max in flight reached.',
  BAD_SUBSCRIPTION: 'stan: invalid subscription',
  NO_SERVER_SUPPORT: 'stan: not supported by server'
})

module.exports = { DEFAULTS, TEXT }
