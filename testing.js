'use strict'
// Test support for users' suites: start the project's stan-server (memory
// store) with its nats-server on free loopback ports.
//   const { startTestServer } = require('stan-rs/testing')
//   const srv = await startTestServer(); ... await srv.stop()
const { spawn } = require('child_process')

const binaries = require('./lib/binaries')
const { freePort, httpGet } = require('./lib/loopback')

/**
 * Start stan-server on free loopback ports.
 * @param {{clusterId?: string, args?: string[], startTimeout?: number, log?: boolean}} [opts]
 * @returns {Promise<{url: string, port: number, clusterId: string, monitorUrl: string, pid: number, stop: () => Promise<void>}>}
 */
async function startTestServer (opts = {}) {
  // A port found free can be taken by another process before stan-server
  // binds it: start again on new ports (a few times) when that happens.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts)
    } catch (e) {
      if (attempt >= START_ATTEMPTS || !/Address already in use/.test(e.message)) throw e
    }
  }
}

/** Attempts of startTestServer() when a chosen port was taken meanwhile. */
const START_ATTEMPTS = 3

async function startOnce (opts) {
  const clusterId = opts.clusterId || 'test-cluster'
  const stanBin = binaries.stanServer()
  const natsBin = binaries.natsServer()
  const port = await freePort()
  const monitorPort = await freePort()
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-cid', clusterId, '-st', 'MEMORY']
  const child = spawn(stanBin, args.concat(opts.args || []), {
    env: Object.assign({}, process.env, { NATS_SERVER_BIN: natsBin }),
    stdio: ['ignore', opts.log ? 'inherit' : 'ignore', opts.log ? 'inherit' : 'pipe']
  })
  let stderr = ''
  if (child.stderr) child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000) })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  let gone = null
  exited.then((r) => { gone = r })
  const stop = async () => {
    if (gone === null) {
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    }
  }
  const deadline = Date.now() + (opts.startTimeout || 10000)
  // Ready = /streaming/serverz answers: the server answers monitoring
  // requests only once it is subscribed to its STAN subjects (the monitoring
  // port itself accepts connections earlier, and a connect request sent then
  // would go unanswered).
  while (!(await serverzAnswers(monitorPort))) {
    if (gone !== null) {
      throw new Error(`stan-rs/testing: stan-server exited (${JSON.stringify(gone)}): ${stderr}`)
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`stan-rs/testing: stan-server did not start in time: ${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    clusterId,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    pid: child.pid,
    stop
  }
}

/** True once GET /streaming/serverz on `port` answers 200. */
async function serverzAnswers (port) {
  try {
    const r = await httpGet(`http://127.0.0.1:${port}/streaming/serverz`, 1000)
    return r.status === 200
  } catch {
    return false
  }
}

module.exports = { startTestServer }
