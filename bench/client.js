#!/usr/bin/env node
'use strict'
// One benchmark scenario with one client library, in a process of its own
// (so that CPU time and peak RSS belong to that client alone). Started by
// bench/run.js; prints one JSON line on stdout.
//
//   node bench/client.js <module path> <scenario> <url> <cluster> <subject> <n> <size> <window> [channels]
//
// scenarios:
//   pub      publish n messages (window of outstanding acks), until every ack arrived
//   e2e      subscriber + publisher in this process, until the subscriber got all n
//   latency  n round trips, one at a time: publish -> 'message' (µs)
//   channels publish n messages round-robin on <subject>.0 … <subject>.<channels-1>
//            (window of outstanding acks), until every ack arrived
// The window is also the connection's maxPubAcksInflight. BENCH_CLIENT_TIMEOUT_MS
// (default 30000) bounds the whole scenario.
const [modPath, scenario, url, cluster, subject, nArg, sizeArg, windowArg, channelsArg] = process.argv.slice(2)
const N = Number(nArg)
const SIZE = Number(sizeArg)
const WINDOW = Number(windowArg)
const CHANNELS = Number(channelsArg || 1)
const TIMEOUT_MS = Number(process.env.BENCH_CLIENT_TIMEOUT_MS || 30000)

const stanLib = require(modPath)
const payload = Buffer.alloc(SIZE, 'x')

const guard = setTimeout(() => fail(new Error(`${scenario}: no result after ${TIMEOUT_MS} ms`)), TIMEOUT_MS)

function fail (err) {
  process.stderr.write(`bench client (${modPath}, ${scenario}): ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
}

function finish (sc, result) {
  clearTimeout(guard)
  const ru = process.resourceUsage()
  result.peakRssKiB = ru.maxRSS
  sc.on('close', () => {
    process.stdout.write(JSON.stringify(result) + '\n')
    process.exit(0)
  })
  sc.close()
  // Bounded: report even if the close reply never comes.
  setTimeout(() => {
    process.stdout.write(JSON.stringify(result) + '\n')
    process.exit(0)
  }, 3000).unref()
}

/**
 * Publish `count` messages keeping at most WINDOW acks outstanding; `onAllAcked`
 * once every ack arrived. Both clients get the same flow control (the
 * reference publishes past maxPubAcksInflight after reporting an error).
 */
function publishWindowed (sc, count, onAllAcked, subjectOf = () => subject) {
  let sent = 0
  let acked = 0
  const onAck = (err) => {
    if (err) return fail(err)
    acked++
    if (sent < count) {
      sc.publish(subjectOf(sent++), payload, onAck)
    } else if (acked === count) {
      onAllAcked()
    }
  }
  const first = Math.min(WINDOW, count)
  for (let i = 0; i < first; i++) {
    sc.publish(subjectOf(sent++), payload, onAck)
  }
}

function subscribeReady (sc, onMessage, onReady) {
  const sub = sc.subscribe(subject)
  sub.on('error', fail)
  sub.on('message', onMessage)
  sub.on('ready', onReady)
  return sub
}

const sc = stanLib.connect(cluster, `bench-${scenario}-${process.pid}`, { url, maxPubAcksInflight: WINDOW })
sc.on('error', fail)
sc.on('connect', () => {
  if (scenario === 'pub' || scenario === 'channels') {
    const subjects = Array.from({ length: CHANNELS }, (_, i) => (scenario === 'pub' ? subject : `${subject}.${i}`))
    const cpu0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    publishWindowed(
      sc,
      N,
      () => {
        const ns = Number(process.hrtime.bigint() - t0)
        const cpu = process.cpuUsage(cpu0)
        finish(sc, { n: N, seconds: ns / 1e9, rate: N / (ns / 1e9), cpuUsPerMsg: (cpu.user + cpu.system) / N })
      },
      (i) => subjects[i % CHANNELS]
    )
  } else if (scenario === 'e2e') {
    // The clock stops when the subscriber got all N; the connection is closed
    // once the publisher's acks are in too.
    let got = 0
    let result = null
    let allAcked = false
    let cpu0, t0
    const maybeFinish = () => {
      if (result !== null && allAcked) finish(sc, result)
    }
    subscribeReady(
      sc,
      (msg) => {
        msg.getData() // what a real consumer does (the course code reads it)
        if (++got === N) {
          const ns = Number(process.hrtime.bigint() - t0)
          const cpu = process.cpuUsage(cpu0)
          result = { n: N, seconds: ns / 1e9, rate: N / (ns / 1e9), cpuUsPerMsg: (cpu.user + cpu.system) / N }
          maybeFinish()
        }
      },
      () => {
        cpu0 = process.cpuUsage()
        t0 = process.hrtime.bigint()
        publishWindowed(sc, N, () => {
          allAcked = true
          maybeFinish()
        })
      }
    )
  } else if (scenario === 'latency') {
    const WARMUP = Math.min(200, N)
    const samples = new Float64Array(N)
    let i = -WARMUP
    let sentAt = 0n
    let gotMsg = false
    let gotAck = false
    let cpu0
    const next = () => {
      if (i === 0) cpu0 = process.cpuUsage()
      if (i === N) {
        const cpu = process.cpuUsage(cpu0)
        const sorted = Array.from(samples).sort((a, b) => a - b)
        const pct = (p) => sorted[Math.min(N - 1, Math.floor(p * N))]
        return finish(sc, { n: N, p50: pct(0.5), p99: pct(0.99), cpuUsPerMsg: (cpu.user + cpu.system) / N })
      }
      gotMsg = gotAck = false
      sentAt = process.hrtime.bigint()
      sc.publish(subject, payload, (err) => {
        if (err) return fail(err)
        gotAck = true
        if (gotMsg) step()
      })
    }
    const step = () => {
      i++
      next()
    }
    subscribeReady(
      sc,
      (msg) => {
        const us = Number(process.hrtime.bigint() - sentAt) / 1000
        msg.getData()
        if (i >= 0) samples[i] = us
        gotMsg = true
        if (gotAck) step()
      },
      next
    )
  } else {
    fail(new Error(`unknown scenario ${scenario}`))
  }
})
