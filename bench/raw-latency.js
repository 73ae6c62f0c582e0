'use strict'
// The latency floor of a one-at-a-time STAN round trip on a given
// nats-server: a request from Node on a bare socket (no client library: PUB
// written in the same JS run, replies parsed straight off the 'data' event)
// to a responder in its own process that echoes the payload at once
// (`nats-raw-bench --respond`, one blocking thread, no runtime). It crosses
// the same hops as a STAN publish→message round trip — Node → nats-server →
// server process → nats-server → Node — with nothing done in the server and
// nothing done in the client: no STAN client on this machine can beat it on
// that nats-server.
//
//   node bench/raw-latency.js <nats-url> <n> <size>
//
// Prints {n, p50, p99, cpuUsPerMsg, peakRssKiB} (µs) on stdout. Bounded:
// BENCH_CLIENT_TIMEOUT_MS (default 30000).
const net = require('net')
const { spawn } = require('child_process')
const { rawBenchBin } = require('./runners')

const [url, nArg, sizeArg] = process.argv.slice(2)
const N = Number(nArg)
const SIZE = Number(sizeArg)
const WARMUP = Math.min(200, N)
const TIMEOUT_MS = Number(process.env.BENCH_CLIENT_TIMEOUT_MS || 30000)
if (!url || !(N > 0) || !(SIZE >= 0)) {
  process.stderr.write('usage: node bench/raw-latency.js <nats-url> <n> <size>\n')
  process.exit(2)
}

const subject = `lat.floor.${process.pid}`
const inbox = `_INBOX.lat.${process.pid}`
let responder = null

function fail (err) {
  process.stderr.write(`raw-latency: ${err && err.stack ? err.stack : err}\n`)
  if (responder) responder.kill('SIGKILL')
  process.exit(1)
}
const guard = setTimeout(() => fail(new Error(`no result after ${TIMEOUT_MS} ms`)), TIMEOUT_MS)

function startResponder () {
  return new Promise((resolve, reject) => {
    responder = spawn(rawBenchBin(), ['--url', url, '--respond', subject], { stdio: ['pipe', 'pipe', 'inherit'] })
    responder.on('error', reject)
    responder.on('exit', (code) => reject(new Error(`the responder exited (${code}) before it was ready`)))
    let out = ''
    responder.stdout.on('data', (d) => {
      out += d
      if (out.includes('{"ready":true}')) resolve()
    })
  })
}

function run () {
  const { hostname, port } = new URL(url)
  const sock = net.connect({ host: hostname, port: Number(port) })
  sock.setNoDelay(true)
  const payload = Buffer.alloc(SIZE, 'x')
  const pubHead = Buffer.from(`PUB ${subject} ${inbox} ${SIZE}\r\n`)
  const request = Buffer.concat([pubHead, payload, Buffer.from('\r\n')])
  const samples = new Float64Array(N)
  let buf = Buffer.alloc(0)
  let ready = false
  let i = -WARMUP
  let sentAt = 0n
  let cpu0 = null
  const send = () => {
    if (i === 0) cpu0 = process.cpuUsage()
    if (i === N) return done()
    sentAt = process.hrtime.bigint()
    sock.write(request)
  }
  const done = () => {
    const cpu = process.cpuUsage(cpu0)
    const sorted = Array.from(samples).sort((a, b) => a - b)
    const pct = (p) => sorted[Math.min(N - 1, Math.floor(p * N))]
    clearTimeout(guard)
    process.stdout.write(JSON.stringify({ n: N, p50: pct(0.5), p99: pct(0.99), cpuUsPerMsg: (cpu.user + cpu.system) / N, peakRssKiB: process.resourceUsage().maxRSS }) + '\n')
    sock.destroy()
    responder.stdin.end()
    responder.removeAllListeners('exit')
    responder.on('exit', () => process.exit(0))
    setTimeout(() => { responder.kill('SIGKILL'); process.exit(0) }, 2000).unref()
  }
  sock.on('error', fail)
  sock.on('close', () => { if (i < N) fail(new Error('nats-server closed the connection')) })
  sock.on('data', (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
    for (;;) {
      const eol = buf.indexOf('\r\n')
      if (eol < 0) return
      const line = buf.toString('latin1', 0, eol)
      if (line.startsWith('MSG ')) {
        const size = Number(line.slice(line.lastIndexOf(' ') + 1))
        if (buf.length < eol + 2 + size + 2) return
        buf = buf.subarray(eol + 2 + size + 2)
        const us = Number(process.hrtime.bigint() - sentAt) / 1000
        if (size !== SIZE) return fail(new Error(`reply of ${size} bytes, expected ${SIZE}`))
        if (i >= 0) samples[i] = us
        i++
        send()
        continue
      }
      buf = buf.subarray(eol + 2)
      if (line === 'PING') sock.write('PONG\r\n')
      else if (line.startsWith('-ERR')) return fail(new Error(`nats-server: ${line}`))
      else if (line === 'PONG' && !ready) {
        ready = true
        send()
      }
    }
  })
  sock.write(`CONNECT {"verbose":false,"pedantic":false,"name":"raw-latency"}\r\nSUB ${inbox} 1\r\nPING\r\n`)
}

startResponder().then(run, fail)
