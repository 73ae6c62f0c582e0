'use strict'
// node-nats-streaming compatible API over the stan-rs native addon.
// The public surface lives in lib/stan.js; the napi-generated loader is in native/.
module.exports = require('./lib/stan')
