#!/usr/bin/env node
'use strict'
// Builds the native addon (crates/stan-node) into npm/linux-x64-gnu/ with the
// napi CLI. `--if-needed` (the `install` script) skips the build when the
// addon is newer than every Rust source and manifest, and does nothing when
// the Rust sources are absent (an install from a packed tarball).
const fs = require('fs')
const path = require('path')
const { spawnSync } = require('child_process')

const root = path.join(__dirname, '..')
const platformDir = `${process.platform}-${process.arch}` + (process.platform === 'linux' ? '-gnu' : '')
const addon = path.join(root, 'npm', platformDir, `stan-node.${platformDir}.node`)
const ifNeeded = process.argv.includes('--if-needed')

function newestSource () {
  let newest = 0
  const visit = (p) => {
    const st = fs.statSync(p)
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p)) if (e !== 'target' && e !== 'tests') visit(path.join(p, e))
    } else if (/\.(rs|toml)$/.test(p) || p.endsWith('Cargo.lock')) {
      newest = Math.max(newest, st.mtimeMs)
    }
  }
  // The addon's crate and every workspace crate it depends on.
  for (const c of ['stan-node', 'stan-client', 'stan-session', 'stan-core', 'stan-proto', 'nats-wire']) visit(path.join(root, 'crates', c))
  for (const f of ['Cargo.toml', 'Cargo.lock']) newest = Math.max(newest, fs.statSync(path.join(root, f)).mtimeMs)
  return newest
}

if (ifNeeded) {
  if (!fs.existsSync(path.join(root, 'crates', 'stan-node', 'Cargo.toml'))) process.exit(0)
  if (fs.existsSync(addon) && fs.statSync(addon).mtimeMs >= newestSource()) {
    console.log(`stan-rs: native addon up to date (${path.relative(root, addon)})`)
    process.exit(0)
  }
}
if (spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error('stan-rs: building the native addon needs Rust (cargo); install it from https://rustup.rs')
  process.exit(1)
}
const napi = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi')
if (!fs.existsSync(napi)) {
  console.error('stan-rs: @napi-rs/cli is missing (run `npm install` with dev dependencies)')
  process.exit(1)
}
console.log('stan-rs: building the native addon (cargo, release; about 2 minutes on a cold cache)')
const r = spawnSync('npm', ['run', '--silent', 'build:native'], { cwd: root, stdio: 'inherit' })
process.exit(r.status === null ? 1 : r.status)
