'use strict'
// Section "clients": node-nats-streaming 0.3.2 vs this package on one server
// (a fresh one per repetition), 128-byte messages, at each publish window:
// async publish with every ack awaited, publish→subscribe in one process, and
// one-at-a-time publish→message latency; client CPU per message and peak RSS.
const { withServer } = require('../servers')
const { nodeClient, expectChannel } = require('../runners')
const { compare, fmt, ratioCell, rangeCell, table, pairOrder } = require('../stats')

const LATENCY_WARMUP = 200
const LATENCY_WINDOW = 16384

async function run (opts, log) {
  const res = {} // res[`${scenario}@${window}`][key] = [per repetition]
  const push = (k, key, v) => {
    res[k] = res[k] || { ref: [], ours: [] }
    res[k][key].push(v)
  }
  let version = null
  for (let r = 0; r < opts.runs; r++) {
    await withServer({ impl: opts.server }, async (srv) => {
      version = `${srv.label} ${srv.version}`
      const jobs = []
      for (const window of opts.windows) for (const sc of ['pub', 'e2e']) jobs.push([sc, window, opts.n])
      jobs.push(['latency', LATENCY_WINDOW, opts.latN])
      for (const [sc, window, n] of jobs) {
        for (const key of pairOrder(r, ['ref', 'ours'])) {
          const subject = `clients.${sc}.${window}.${key}.${r}`
          const out = await nodeClient(opts, srv, key, sc, { subject, n, window })
          if (out.n !== n) throw new Error(`bench: ${key} ${sc} reported ${out.n} messages, expected ${n}`)
          await expectChannel(srv, subject, sc === 'latency' ? n + Math.min(LATENCY_WARMUP, n) : n, `${key} ${sc}`)
          push(`${sc}@${window}`, key, out)
          log(`clients run ${r + 1}/${opts.runs} ${sc} window ${window} ${key}: ${JSON.stringify(out)}`)
        }
      }
    })
  }

  const rows = []
  const row = (label, window, k, field, digits, scale = 1) => {
    const c = compare(res[k].ref.map((x) => x[field] * scale), res[k].ours.map((x) => x[field] * scale))
    rows.push([label, window, fmt(c.a, digits), fmt(c.b, digits), ratioCell(c), rangeCell(c)])
  }
  for (const w of opts.windows) {
    row('async publish, all acks (msgs/s ↑)', w, `pub@${w}`, 'rate', 0)
    row('publish→subscribe, one process (msgs/s ↑)', w, `e2e@${w}`, 'rate', 0)
    row('client CPU per message, publish (µs ↓)', w, `pub@${w}`, 'cpuUsPerMsg', 2)
    row('client CPU per message, publish→subscribe (µs ↓)', w, `e2e@${w}`, 'cpuUsPerMsg', 2)
    row('peak RSS, publish (MiB ↓)', w, `pub@${w}`, 'peakRssKiB', 1, 1 / 1024)
    row('peak RSS, publish→subscribe (MiB ↓)', w, `e2e@${w}`, 'peakRssKiB', 1, 1 / 1024)
  }
  const lk = `latency@${LATENCY_WINDOW}`
  row('one at a time publish→message, p50 (µs ↓)', '—', lk, 'p50', 0)
  row('one at a time publish→message, p99 (µs ↓)', '—', lk, 'p99', 0)
  row('client CPU per round trip, one at a time (µs ↓)', '—', lk, 'cpuUsPerMsg', 1)

  return {
    title: 'Node clients: node-nats-streaming 0.3.2 vs stan-rs',
    note:
      `${opts.n} messages of 128 B per throughput run, ${opts.latN} round trips (after ${Math.min(LATENCY_WARMUP, opts.latN)} warm-up) for latency; ` +
      `window = maxPubAcksInflight and the publisher's own limit of outstanding acks; server: ${version} (memory store, a fresh one per repetition); ` +
      `median of ${opts.runs}, ratio = stan-rs ÷ node-nats-streaming, range = per-pair ratios (min–max).`,
    lines: table(['metric', 'window', 'node-nats-streaming', 'stan-rs', 'ratio', 'per-pair range'], rows),
    raw: res
  }
}

module.exports = { run }
