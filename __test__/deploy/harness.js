'use strict'
// Shared pieces of the deployment tests (image.js, k8s.js, bundler.js): named
// steps with a `<label>: N passed, M failed` summary, free loopback ports,
// processes started in their own group and always stopped by PID, HTTP JSON,
// the Kubernetes manifests as JSON (PyYAML from .tools/venv), and a
// publish/subscribe round trip with this repository's Node package.
const fs = require('fs')
const path = require('path')
const { spawn, spawnSync } = require('child_process')

const { freePort, sleep, stopGroup: stop, httpGet: get } = require('../../lib/loopback')

const ROOT = path.resolve(__dirname, '..', '..')
const VENV = process.env.STAN_TOOLS_VENV || path.join(ROOT, '.tools', 'venv')

class Steps {
  constructor (label) {
    this.label = label
    this.results = []
    this.started = []
    const killAll = () => {
      for (const c of this.started) try { process.kill(-c.pid, 'SIGKILL') } catch (_) {}
    }
    process.on('SIGTERM', () => { killAll(); process.exit(1) })
    this.killAll = killAll
  }

  log (...a) {
    console.log(`${this.label}:`, ...a)
  }

  /** Run one named step; a thrown error fails it (and only it). Returns whether it passed. */
  async step (name, fn) {
    const t0 = Date.now()
    try {
      const detail = await fn()
      this.results.push(true)
      this.log(`ok    ${name} (${Date.now() - t0} ms)${detail ? ': ' + detail : ''}`)
      return true
    } catch (e) {
      this.results.push(false)
      this.log(`FAIL  ${name} (${Date.now() - t0} ms): ${e && e.stack ? e.stack : e}`)
      return false
    }
  }

  /** A step that cannot run because an earlier one failed still counts as failed. */
  skip (name, why) {
    this.results.push(false)
    this.log(`FAIL  ${name}: not run (${why})`)
  }

  /** Start a process in its own group; remembered so that it is always stopped. */
  start (cmd, args, opts = {}) {
    const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    child.out = ''
    child.on('error', (e) => { child.out += `\ncannot run ${cmd}: ${e.message}\n` })
    child.stdout.on('data', (d) => { child.out += d })
    child.stderr.on('data', (d) => { child.out += d })
    child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    this.started.push(child)
    return child
  }

  async finish () {
    await Promise.all(this.started.map(stop))
    const passed = this.results.filter(Boolean).length
    const failed = this.results.length - passed
    console.log(`${this.label}: ${passed} passed, ${failed} failed`)
    process.exit(failed === 0 && passed > 0 ? 0 : 1)
  }
}

async function getJson (url) {
  const r = await get(url)
  if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status}: ${r.body.slice(0, 300)}`)
  return JSON.parse(r.body)
}

/** Poll until `url` answers 200, the process exits, or `ms` pass. */
async function waitHttp (url, child, ms) {
  const deadline = Date.now() + ms
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before ${url} answered; output:\n${child.out.slice(-2000)}`)
    }
    try {
      const r = await get(url)
      if (r.status === 200) return r
    } catch (_) {}
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${ms} ms; output:\n${child.out.slice(-2000)}`)
    await sleep(100)
  }
}

/** Every document of a YAML file, as plain objects (PyYAML of .tools/venv, installed by .ci/setup). */
function loadYaml (file) {
  const py = path.join(VENV, 'bin', 'python')
  const r = spawnSync(py, ['-c', 'import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))', file], { encoding: 'utf8', timeout: 30000 })
  if (r.status !== 0) throw new Error(`cannot read ${file} with ${py} (npm run setup installs PyYAML): ${r.stderr || r.error}`)
  return JSON.parse(r.stdout)
}

/** The manifests of deploy/k8s: [{ file, docs }]. */
function manifests () {
  const dir = path.join(ROOT, 'deploy', 'k8s')
  return fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => ({ file: path.join(dir, f), docs: loadYaml(path.join(dir, f)) }))
}

/** The pod templates' containers of a manifest's documents: [{ kind, name, pod, container }]. */
function containers (docs) {
  return docs
    .filter((d) => d.spec && d.spec.template && d.spec.template.spec)
    .flatMap((d) => d.spec.template.spec.containers.map((c) => ({ kind: d.kind, name: d.metadata.name, pod: d.spec.template.spec, container: c, doc: d })))
}

/** A flag's value in an argument list (`-p 4222` or `--port=4222` style), else undefined. */
function argValue (args, ...names) {
  for (let i = 0; i < args.length; i++) {
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(args[i])
    if (m && names.includes(m[1])) return m[2] !== undefined ? m[2] : args[i + 1]
  }
  return undefined
}

/** The same arguments with some flags' values replaced: { p: '1234', dir: '/x' }. */
function withValues (args, values) {
  const out = []
  for (let i = 0; i < args.length; i++) {
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(args[i])
    if (m && Object.prototype.hasOwnProperty.call(values, m[1])) {
      if (m[2] !== undefined) {
        out.push(`${args[i].slice(0, args[i].indexOf('='))}=${values[m[1]]}`)
      } else {
        out.push(args[i], String(values[m[1]]))
        i++
      }
    } else {
      out.push(args[i])
    }
  }
  return out
}

/**
 * With this repository's Node package: subscribe to `subject` (all available),
 * publish `data`, and resolve with what the subscription received.
 */
async function roundTrip (url, clusterId, subject, data) {
  const stan = require(ROOT)
  const sc = await stan.connectAsync(clusterId, `deploy-test-${process.pid}-${Date.now()}`, { url })
  try {
    const sub = sc.subscribe(subject, sc.subscriptionOptions().setDeliverAllAvailable())
    const got = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message on ${subject} within 10 s`)), 10000)
      sub.on('message', (m) => {
        clearTimeout(timer)
        resolve(String(m.getData()))
      })
    })
    await sc.publishAsync(subject, data)
    return await got
  } finally {
    await Promise.race([sc.closeAsync().catch(() => {}), sleep(5000)])
  }
}

module.exports = { ROOT, VENV, Steps, stop, freePort, sleep, get, getJson, waitHttp, loadYaml, manifests, containers, argValue, withValues, roundTrip }
