'use strict'
// Small process and loopback-network helpers shared by `testing.js` (shipped)
// and the repository's test, bench and deployment scripts: a free port, a TCP
// probe, an HTTP GET with a time limit, and stopping a process group that the
// caller started (by its PID only).
const http = require('http')
const net = require('net')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Ports this process handed out: the kernel may give a just-closed port out
// again at once, so two calls in a row (a NATS and a monitoring port) could
// otherwise return the same number.
const handedOut = new Set()

/** Ask the kernel for a free TCP port on 127.0.0.1 that this process has not handed out before. */
async function freePort () {
  for (let i = 0; i < 1000; i++) {
    const port = await kernelPort()
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('no free loopback port after 1000 tries')
}

function kernelPort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function canConnect (port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port })
    sock.once('connect', () => {
      sock.destroy()
      resolve(true)
    })
    sock.once('error', () => resolve(false))
  })
}

/** Poll 127.0.0.1:`port` every 100 ms until it accepts; rejects after `ms`. */
async function waitPort (port, ms) {
  const deadline = Date.now() + ms
  while (!(await canConnect(port))) {
    if (Date.now() > deadline) throw new Error(`port ${port} not open after ${ms} ms`)
    await sleep(100)
  }
}

/** GET a URL: { status, body }; rejects on a connection error or after `timeoutMs`. */
function httpGet (url, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('error', reject)
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs / 1000} s`)))
  })
}

/**
 * Stop a child started with `detached: true` (its own process group):
 * SIGTERM to the group, SIGKILL after `graceMs`. Resolves once it exited.
 */
function stopGroup (child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try { process.kill(-child.pid, 'SIGKILL') } catch (_) {}
      resolve()
    }, graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    try { process.kill(-child.pid, 'SIGTERM') } catch (_) {}
  })
}

module.exports = { sleep, freePort, canConnect, waitPort, httpGet, stopGroup }
