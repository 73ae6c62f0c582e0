'use strict'
// The cross-built linux-arm64-gnu platform package (scripts/build-cross.sh,
// then scripts/package.js --target linux-arm64-gnu): packed next to the x64
// one, listed in the main package's optionalDependencies, with os/cpu/libc
// fields, an AArch64 addon exporting the N-API entry point, and AArch64
// stan-server and nats-server binaries which — run under qemu-user with
// Debian's arm64 glibc (libc6-arm64-cross) — serve the course's args: an x64
// client publishes and receives, and the monitoring endpoint answers; then
// Debian's arm64 Node (18.20, unpacked into .tools/cross/arm64-node by
// .ci/setup) loads the main package and the arm64 platform package as npm
// would lay them out, and publishes and receives through the arm64 addon,
// also under qemu-aarch64.
//   node __test__/deploy/cross.js      (after `npm run setup`)
// Prints `cross: N passed, M failed`; exits non-zero on any failure.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawnSync } = require('child_process')
const h = require('./harness')

const t = new h.Steps('cross')
const QEMU = process.env.QEMU_AARCH64 || '/usr/bin/qemu-aarch64'
const SYSROOT = process.env.AARCH64_SYSROOT || '/usr/aarch64-linux-gnu'
const ARM64_NODE_ROOT = process.env.ARM64_NODE_ROOT || path.join(h.ROOT, '.tools', 'cross', 'arm64-node')
const COURSE_ARGS = ['-p', '4222', '-m', '8222', '-hbi', '5s', '-hbt', '5s', '-hbf', '2', '-SD', '-cid', 'ticketing']

function run (cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 180000, ...opts })
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error}):\n${(r.stdout || '').slice(-3000)}\n${(r.stderr || '').slice(-3000)}`)
  }
  return r.stdout
}

const machine = (f) => /Machine:\s*(.*)/.exec(run('readelf', ['-h', f], { env: { ...process.env, LC_ALL: 'C' } }))[1].trim()

async function main () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-rs-cross-'))
  const dist = path.join(dir, 'dist')
  const pkgDir = path.join(dir, 'arm64')
  let arm64Tarball, mainTarball, armServer, armPort

  try {
    await t.step('package.js --target linux-x64-gnu --target linux-arm64-gnu: both platform packages, both optional deps of the main one', () => {
      const out = run('node', [path.join(h.ROOT, 'scripts', 'package.js'), '--target', 'linux-x64-gnu', '--target', 'linux-arm64-gnu'], { cwd: h.ROOT, env: { ...process.env, STAN_PACKAGE_OUT: dist } })
      const files = fs.readdirSync(dist)
      arm64Tarball = files.find((f) => f.startsWith('stan-rs-linux-arm64-gnu-'))
      const main = files.find((f) => /^stan-rs-\d/.test(f))
      mainTarball = main && path.join(dist, main)
      if (!arm64Tarball || !main || !files.some((f) => f.startsWith('stan-rs-linux-x64-gnu-'))) throw new Error(`dist: ${files.join(', ')}`)
      const mainDir = path.join(dir, 'main')
      fs.mkdirSync(mainDir)
      run('tar', ['-xzf', path.join(dist, main), '-C', mainDir])
      const deps = JSON.parse(fs.readFileSync(path.join(mainDir, 'package', 'package.json'), 'utf8')).optionalDependencies
      if (JSON.stringify(Object.keys(deps).sort()) !== '["stan-rs-linux-arm64-gnu","stan-rs-linux-x64-gnu"]') throw new Error(`optionalDependencies ${JSON.stringify(deps)}`)
      return out.trim().split('\n').map((l) => path.basename(l)).join(', ')
    })

    await t.step('the arm64 package: os/cpu/libc, an AArch64 addon with the N-API entry point, AArch64 binaries', () => {
      if (!arm64Tarball) throw new Error('no arm64 tarball')
      fs.mkdirSync(pkgDir)
      run('tar', ['-xzf', path.join(dist, arm64Tarball), '-C', pkgDir])
      const p = path.join(pkgDir, 'package')
      const pkg = JSON.parse(fs.readFileSync(path.join(p, 'package.json'), 'utf8'))
      if (JSON.stringify([pkg.os, pkg.cpu, pkg.libc]) !== '[["linux"],["arm64"],["glibc"]]') throw new Error(`os/cpu/libc ${JSON.stringify([pkg.os, pkg.cpu, pkg.libc])}`)
      const addon = path.join(p, pkg.main)
      const found = []
      for (const f of [addon, path.join(p, 'bin', 'stan-server'), path.join(p, 'bin', 'nats-server')]) {
        const m = machine(f)
        if (m !== 'AArch64') throw new Error(`${path.relative(p, f)}: machine ${m}`)
        found.push(`${path.relative(p, f)} ${m}`)
      }
      const syms = run('readelf', ['--dyn-syms', '-W', addon])
      if (!/\bnapi_register_module_v1\b/.test(syms)) throw new Error('the addon does not export napi_register_module_v1')
      if (!fs.existsSync(path.join(p, 'NATS-SERVER-LICENSE'))) throw new Error('no NATS-SERVER-LICENSE')
      return found.join(', ') + ', exports napi_register_module_v1'
    })

    await t.step("under qemu-aarch64: the packaged stan-server runs the packaged nats-server with the course's args", async () => {
      for (const f of [QEMU, path.join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1')]) {
        if (!fs.existsSync(f)) throw new Error(`${f} missing (apt-get install qemu-user gcc-aarch64-linux-gnu)`)
      }
      const p = path.join(pkgDir, 'package', 'bin')
      // No binfmt_misc here: stan-server's exec of its nats-server child goes through a shell wrapper.
      const wrapper = path.join(dir, 'nats-server-qemu')
      fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${QEMU} -L ${SYSROOT} ${path.join(p, 'nats-server')} "$@"\n`, { mode: 0o755 })
      const port = await h.freePort()
      const mport = await h.freePort()
      const argv = [...h.withValues(COURSE_ARGS, { p: port, m: mport }), '-a', '127.0.0.1']
      const server = t.start(QEMU, ['-L', SYSROOT, path.join(p, 'stan-server'), ...argv], { env: { ...process.env, NATS_SERVER_BIN: wrapper } })
      await h.waitHttp(`http://127.0.0.1:${mport}/streaming/serverz`, server, 90000)
      const got = await h.roundTrip(`nats://127.0.0.1:${port}`, 'ticketing', 'ticket:created', 'on arm64')
      const serverz = await h.getJson(`http://127.0.0.1:${mport}/streaming/serverz`)
      if (got !== 'on arm64') throw new Error(`received ${got}`)
      if (serverz.cluster_id !== 'ticketing') throw new Error(`serverz ${JSON.stringify(serverz)}`)
      if (!/Streaming Server is ready/.test(server.out)) throw new Error(`no ready line:\n${server.out.slice(-1500)}`)
      armServer = server
      armPort = port
      return `received "${got}", serverz cluster_id ${serverz.cluster_id}, version ${serverz.version}`
    })

    await t.step('under qemu-aarch64: an arm64 Node loads the packages as installed and publishes/receives through the arm64 addon', async () => {
      if (!armServer) throw new Error('the arm64 server did not start')
      const node = path.join(ARM64_NODE_ROOT, 'usr', 'bin', 'nodejs')
      if (!fs.existsSync(node)) throw new Error(`${node} missing (npm run setup unpacks Debian's nodejs:arm64 there)`)
      // The layout npm gives an arm64 machine: the main package as node-nats-streaming, its platform package beside it.
      const proj = path.join(dir, 'proj')
      for (const [tgz, name] of [[mainTarball, 'node-nats-streaming'], [path.join(dist, arm64Tarball), 'stan-rs-linux-arm64-gnu']]) {
        fs.mkdirSync(path.join(proj, 'node_modules', name), { recursive: true })
        run('tar', ['-xzf', tgz, '-C', path.join(proj, 'node_modules', name), '--strip-components=1'])
      }
      fs.writeFileSync(path.join(proj, 'check.js'), `
const stan = require('node-nats-streaming')
const addon = require.resolve('stan-rs-linux-arm64-gnu')
;(async () => {
  const sc = await stan.connectAsync('ticketing', 'arm64-node-' + process.pid, { url: 'nats://127.0.0.1:${armPort}' })
  const sub = sc.subscribe('ticket:arm64', sc.subscriptionOptions().setDeliverAllAvailable())
  const got = new Promise((resolve) => sub.on('message', (m) => resolve(m.getData())))
  await sc.publishAsync('ticket:arm64', 'from an arm64 Node')
  console.log(JSON.stringify({ got: await got, arch: process.arch, node: process.version, addon: require('path').basename(addon) }))
  await sc.closeAsync()
})().catch((e) => { console.error(e); process.exit(1) })
`)
      const out = run(QEMU, ['-L', ARM64_NODE_ROOT, node, 'check.js'], { cwd: proj, timeout: 120000 })
      const r = JSON.parse(out.trim().split('\n').pop())
      if (r.got !== 'from an arm64 Node' || r.arch !== 'arm64' || r.addon !== 'stan-node.linux-arm64-gnu.node') throw new Error(`got ${out}`)
      await h.stop(armServer)
      return `Node ${r.node} (${r.arch}) via ${r.addon}: received "${r.got}"`
    })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return t.finish()
}

main().catch((e) => {
  console.error(e)
  t.killAll()
  process.exit(1)
})
