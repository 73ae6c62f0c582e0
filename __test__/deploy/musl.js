'use strict'
// The linux-x64-musl platform package (Alpine; scripts/build-musl.sh, then
// scripts/package.js --target linux-x64-musl): packed next to the x64 glibc
// one and listed in the main package's optionalDependencies, with
// os/cpu/libc fields; its addon is an x86-64 shared object linked against
// musl's libc (no glibc library, no glibc symbol version) exporting the N-API
// entry point; its stan-server and nats-server are static and — run here
// with the course's args — answer the x64 glibc client and the monitoring
// endpoint. The addon itself is not loaded: no musl Node runs here (Debian
// has none; PyPI's musllinux Node wheels crash under Debian's musl 1.2.3).
// Also: the binary finder (lib/binaries.js) and the addon loader
// (native/binding.js) both name stan-rs-linux-x64-musl on a musl system.
//   node __test__/deploy/musl.js      (after `npm run setup`)
// Prints `musl: N passed, M failed`; exits non-zero on any failure.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawnSync } = require('child_process')
const h = require('./harness')

const t = new h.Steps('musl')
const COURSE_ARGS = ['-p', '4222', '-m', '8222', '-hbi', '5s', '-hbt', '5s', '-hbf', '2', '-SD', '-cid', 'ticketing']

function run (cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 180000, env: { ...process.env, LC_ALL: 'C' }, ...opts })
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error}):\n${(r.stdout || '').slice(-3000)}\n${(r.stderr || '').slice(-3000)}`)
  }
  return r.stdout
}

const header = (f, field) => new RegExp(`${field}:\\s*(.*)`).exec(run('readelf', ['-h', f]))[1].trim()
const needed = (f) => [...run('readelf', ['-d', f]).matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1])
const interpreter = (f) => (/Requesting program interpreter: (.*)\]/.exec(run('readelf', ['-lW', f])) || [])[1]

async function main () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-rs-musl-'))
  const dist = path.join(dir, 'dist')
  const pkgDir = path.join(dir, 'musl')
  let muslTarball

  try {
    await t.step('package.js --target linux-x64-gnu --target linux-x64-musl: both platform packages, both optional deps of the main one', () => {
      const out = run('node', [path.join(h.ROOT, 'scripts', 'package.js'), '--target', 'linux-x64-gnu', '--target', 'linux-x64-musl'], { cwd: h.ROOT, env: { ...process.env, STAN_PACKAGE_OUT: dist } })
      const files = fs.readdirSync(dist)
      muslTarball = files.find((f) => f.startsWith('stan-rs-linux-x64-musl-'))
      const main = files.find((f) => /^stan-rs-\d/.test(f))
      if (!muslTarball || !main || !files.some((f) => f.startsWith('stan-rs-linux-x64-gnu-'))) throw new Error(`dist: ${files.join(', ')}`)
      const mainDir = path.join(dir, 'main')
      fs.mkdirSync(mainDir)
      run('tar', ['-xzf', path.join(dist, main), '-C', mainDir])
      const deps = JSON.parse(fs.readFileSync(path.join(mainDir, 'package', 'package.json'), 'utf8')).optionalDependencies
      if (JSON.stringify(Object.keys(deps).sort()) !== '["stan-rs-linux-x64-gnu","stan-rs-linux-x64-musl"]') throw new Error(`optionalDependencies ${JSON.stringify(deps)}`)
      return out.trim().split('\n').map((l) => path.basename(l)).join(', ')
    })

    await t.step('the musl package: os/cpu/libc, an x86-64 addon linked against musl (not glibc) with the N-API entry point', () => {
      if (!muslTarball) throw new Error('no musl tarball')
      fs.mkdirSync(pkgDir)
      run('tar', ['-xzf', path.join(dist, muslTarball), '-C', pkgDir])
      const p = path.join(pkgDir, 'package')
      const pkg = JSON.parse(fs.readFileSync(path.join(p, 'package.json'), 'utf8'))
      if (JSON.stringify([pkg.name, pkg.os, pkg.cpu, pkg.libc]) !== '["stan-rs-linux-x64-musl",["linux"],["x64"],["musl"]]') {
        throw new Error(`name/os/cpu/libc ${JSON.stringify([pkg.name, pkg.os, pkg.cpu, pkg.libc])}`)
      }
      const addon = path.join(p, pkg.main)
      if (pkg.main !== 'stan-node.linux-x64-musl.node') throw new Error(`main ${pkg.main}`)
      const [type, machine] = [header(addon, 'Type'), header(addon, 'Machine')]
      if (!/^DYN/.test(type) || machine !== 'Advanced Micro Devices X86-64') throw new Error(`addon: ${type}, ${machine}`)
      const libs = needed(addon)
      // musl's libc: "libc.so" (Debian's musl-gcc) or "libc.musl-x86_64.so.1" (Alpine); its loader maps both to itself.
      if (!libs.some((l) => l === 'libc.so' || l.startsWith('libc.musl-'))) throw new Error(`addon NEEDED ${libs.join(', ')}: no musl libc`)
      if (libs.some((l) => /^(libc\.so\.6|libm\.so\.6|libpthread|libdl|ld-linux)/.test(l))) throw new Error(`addon NEEDED ${libs.join(', ')}: a glibc library`)
      const versions = run('readelf', ['-V', '-W', addon])
      if (/GLIBC_/.test(versions)) throw new Error('addon requires glibc symbol versions')
      if (!/\bnapi_register_module_v1\b/.test(run('readelf', ['--dyn-syms', '-W', addon]))) throw new Error('the addon does not export napi_register_module_v1')
      if (!fs.existsSync(path.join(p, 'NATS-SERVER-LICENSE'))) throw new Error('no NATS-SERVER-LICENSE')
      return `${type.split(' ')[0]} ${machine}, NEEDED ${libs.join(', ')}, exports napi_register_module_v1`
    })

    await t.step('the musl package: static x86-64 stan-server and nats-server (no interpreter, no shared libraries)', () => {
      const found = []
      for (const name of ['stan-server', 'nats-server']) {
        const f = path.join(pkgDir, 'package', 'bin', name)
        const machine = header(f, 'Machine')
        if (machine !== 'Advanced Micro Devices X86-64') throw new Error(`${name}: machine ${machine}`)
        if (interpreter(f)) throw new Error(`${name} asks for ${interpreter(f)}: not static`)
        if (needed(f).length) throw new Error(`${name} NEEDED ${needed(f).join(', ')}: not static`)
        found.push(`${name} static`)
      }
      return found.join(', ')
    })

    await t.step("the packaged static stan-server runs the packaged nats-server with the course's args: the glibc client publishes and receives", async () => {
      const p = path.join(pkgDir, 'package', 'bin')
      const port = await h.freePort()
      const mport = await h.freePort()
      const argv = [...h.withValues(COURSE_ARGS, { p: port, m: mport }), '-a', '127.0.0.1']
      const server = t.start(path.join(p, 'stan-server'), argv, { env: { ...process.env, NATS_SERVER_BIN: path.join(p, 'nats-server') } })
      try {
        await h.waitHttp(`http://127.0.0.1:${mport}/streaming/serverz`, server, 60000)
        const got = await h.roundTrip(`nats://127.0.0.1:${port}`, 'ticketing', 'ticket:created', 'on musl')
        const serverz = await h.getJson(`http://127.0.0.1:${mport}/streaming/serverz`)
        if (got !== 'on musl') throw new Error(`received ${got}`)
        if (serverz.cluster_id !== 'ticketing') throw new Error(`serverz ${JSON.stringify(serverz)}`)
        return `received "${got}", serverz cluster_id ${serverz.cluster_id}, version ${serverz.version}`
      } finally {
        await h.stop(server)
      }
    })

    await t.step('on musl, lib/binaries.js and native/binding.js both name stan-rs-linux-x64-musl', () => {
      const { platformName } = require(path.join(h.ROOT, 'lib', 'binaries.js'))
      const names = [platformName('linux', 'x64', true), platformName('linux', 'x64', false), platformName('linux', 'arm64', false)]
      if (JSON.stringify(names) !== '["linux-x64-musl","linux-x64-gnu","linux-arm64-gnu"]') throw new Error(`platformName: ${names.join(', ')}`)
      // The napi-rs loader's linux/x64 branch: the musl package when isMusl(), else the gnu one.
      const src = fs.readFileSync(path.join(h.ROOT, 'native', 'binding.js'), 'utf8')
      const x64 = src.slice(src.indexOf("process.platform === 'linux'"))
      const m = /if \(process\.arch === 'x64'\) \{\s*if \(isMusl\(\)\) \{([\s\S]*?)\} else \{/.exec(x64)
      if (!m || !m[1].includes("require('stan-rs-linux-x64-musl')")) throw new Error('native/binding.js: no musl branch requiring stan-rs-linux-x64-musl')
      return names[0]
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
