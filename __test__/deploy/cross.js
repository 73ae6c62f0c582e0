'use strict'
// The cross-built linux-arm64-gnu platform package (scripts/build-cross.sh,
// then scripts/package.js --target linux-arm64-gnu): packed next to the x64
// one, listed in the main package's optionalDependencies, with os/cpu/libc
// fields, an AArch64 addon exporting the N-API entry point, and AArch64
// stan-server and nats-server binaries which — run under qemu-user with
// Debian's arm64 glibc (libc6-arm64-cross) — serve the course's args: an x64
// client publishes and receives, and the monitoring endpoint answers.
// Not run here: the addon inside an arm64 Node (no arm64 Node on these machines).
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
  let arm64Tarball

  try {
    await t.step('package.js --target linux-x64-gnu --target linux-arm64-gnu: both platform packages, both optional deps of the main one', () => {
      const out = run('node', [path.join(h.ROOT, 'scripts', 'package.js'), '--target', 'linux-x64-gnu', '--target', 'linux-arm64-gnu'], { cwd: h.ROOT, env: { ...process.env, STAN_PACKAGE_OUT: dist } })
      const files = fs.readdirSync(dist)
      arm64Tarball = files.find((f) => f.startsWith('stan-rs-linux-arm64-gnu-'))
      const main = files.find((f) => /^stan-rs-\d/.test(f))
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
      await h.stop(server)
      if (got !== 'on arm64') throw new Error(`received ${got}`)
      if (serverz.cluster_id !== 'ticketing') throw new Error(`serverz ${JSON.stringify(serverz)}`)
      if (!/Streaming Server is ready/.test(server.out)) throw new Error(`no ready line:\n${server.out.slice(-1500)}`)
      return `received "${got}", serverz cluster_id ${serverz.cluster_id}, version ${serverz.version}`
    })
    t.log('not run: the arm64 addon inside an arm64 Node (none on these machines)')
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
