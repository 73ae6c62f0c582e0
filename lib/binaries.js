'use strict'
// Where the stan-server and nats-server binaries are, in this order: the
// environment ($STAN_SERVER_BIN, $NATS_SERVER_BIN), the installed platform
// package (stan-rs-<platform>/bin, from `npm install`), a clone's own builds
// (target/release/stan-server, .tools/venv/bin/nats-server), then PATH.
const fs = require('fs')
const path = require('path')

const ROOT = path.join(__dirname, '..')

/**
 * Whether this Linux runs on musl (Alpine), detected as native/binding.js
 * does, so the binaries come from the same platform package as the addon:
 * /usr/bin/ldd mentions musl, else Node's report has no glibc runtime version.
 */
function isMusl () {
  if (process.platform !== 'linux') return false
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch (_) {}
  if (!process.report || typeof process.report.getReport !== 'function') return false
  process.report.excludeNetwork = true
  const report = process.report.getReport()
  if (report.header && report.header.glibcVersionRuntime) return false
  return Array.isArray(report.sharedObjects) && report.sharedObjects.some((f) => f.includes('libc.musl-') || f.includes('ld-musl-'))
}

/** The platform package's suffix: linux-x64-gnu, linux-x64-musl, linux-arm64-gnu, … */
function platformName (platform = process.platform, arch = process.arch, musl = isMusl()) {
  return `${platform}-${arch}` + (platform === 'linux' ? (musl ? '-musl' : '-gnu') : '')
}

const PLATFORM = platformName()

function executable (p) {
  try {
    fs.accessSync(p, fs.constants.X_OK)
    return fs.statSync(p).isFile()
  } catch (_) {
    return false
  }
}

function onPath (name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name)
  }
  return undefined
}

function fromPlatformPackage (name) {
  try {
    const dir = path.dirname(require.resolve(`stan-rs-${PLATFORM}/package.json`))
    const p = path.join(dir, 'bin', name)
    return executable(p) ? p : undefined
  } catch (_) {
    return undefined
  }
}

function find (envVar, name, local) {
  if (process.env[envVar]) return process.env[envVar]
  const p = fromPlatformPackage(name) || (executable(local) ? local : undefined) || onPath(name)
  if (p) return p
  throw new Error(`stan-rs: ${name} not found (install the stan-rs-${PLATFORM} package, set ${envVar}, or put it on PATH)`)
}

const stanServer = () => find('STAN_SERVER_BIN', 'stan-server', path.join(ROOT, 'target', 'release', 'stan-server'))
const natsServer = () => find('NATS_SERVER_BIN', 'nats-server', path.join(ROOT, '.tools', 'venv', 'bin', 'nats-server'))

module.exports = { stanServer, natsServer, platformName, isMusl }
