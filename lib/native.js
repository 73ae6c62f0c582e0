'use strict'
// Finds the native addon: $STAN_NODE_ADDON, then the per-platform package
// folder npm/linux-x64-gnu (where `npm run build:native` puts it), then the
// napi-generated loader (native/binding.js: a local build or an installed
// platform package).
const path = require('path')
const fs = require('fs')

function load () {
  if (process.env.STAN_NODE_ADDON) return require(path.resolve(process.env.STAN_NODE_ADDON))
  const platformDir = `${process.platform}-${process.arch}` + (process.platform === 'linux' ? '-gnu' : '')
  const local = path.join(__dirname, '..', 'npm', platformDir, `stan-node.${platformDir}.node`)
  if (fs.existsSync(local)) return require(local)
  try {
    return require('../native/binding.js')
  } catch (e) {
    const err = new Error(
      'stan: the native addon is not built (run `npm run build:native` in the package folder): ' + e.message
    )
    err.code = 'ADDON_MISSING'
    throw err
  }
}

module.exports = load()
