'use strict'
// Section "latency": the one-at-a-time publish→message round trip of both
// Node clients and of the Rust client under the Node package
// (crates/stan-client/examples/latency.rs) next to its floor on the same
// nats-server (bench/raw-latency.js: a bare-socket request from Node to an
// echo responder in its own process — the same hops as a STAN round trip
// with no client and no server work), in rotating rounds of the four on a
// fresh server per repetition. It says how far any
// client could get: the floor ÷ node-nats-streaming is the best ratio a
// client costing nothing on a server costing nothing would reach.
const { withServer } = require('../servers')
const { nodeClient, rawLatency, rustLatency, expectChannel } = require('../runners')
const { compare, fmt, ratioCell, rangeCell, table } = require('../stats')

const WARMUP = 200
const KEYS = ['ref', 'ours', 'rust', 'floor']

async function run (opts, log) {
  const res = { ref: [], ours: [], rust: [], floor: [] }
  let version = null
  for (let r = 0; r < opts.runs; r++) {
    await withServer({ impl: opts.server }, async (srv) => {
      version = `${srv.label} ${srv.version}`
      const order = KEYS.slice(r % KEYS.length).concat(KEYS.slice(0, r % KEYS.length))
      for (const key of order) {
        let out
        if (key === 'floor') {
          out = await rawLatency(opts, srv, { n: opts.latN })
        } else {
          const subject = `latency.${key}.${r}`
          out =
            key === 'rust'
              ? await rustLatency(opts, srv, { subject, n: opts.latN })
              : await nodeClient(opts, srv, key, 'latency', { subject, n: opts.latN, window: 16384 })
          await expectChannel(srv, subject, opts.latN + Math.min(WARMUP, opts.latN), `${key} latency`)
        }
        if (out.n !== opts.latN) throw new Error(`bench: ${key} latency reported ${out.n} round trips, expected ${opts.latN}`)
        res[key].push(out)
        log(`latency run ${r + 1}/${opts.runs} ${key}: ${JSON.stringify(out)}`)
      }
    })
  }
  const rows = []
  for (const [label, field] of [['p50 (µs)', 'p50'], ['p99 (µs)', 'p99']]) {
    const v = (k) => res[k].map((x) => x[field])
    const ours = compare(v('ref'), v('ours'))
    const rust = compare(v('ref'), v('rust'))
    const floor = compare(v('ref'), v('floor'))
    rows.push([
      label,
      fmt(ours.a, 0),
      fmt(ours.b, 0),
      fmt(rust.b, 0),
      fmt(floor.b, 0),
      ratioCell(ours),
      rangeCell(ours),
      ratioCell(rust),
      rangeCell(rust),
      ratioCell(floor),
      rangeCell(floor)
    ])
  }
  return {
    title: 'One-at-a-time latency and its floor',
    note:
      `${opts.latN} round trips of 128 B (after ${Math.min(WARMUP, opts.latN)} warm-up), one at a time: publish → 'message' for the STAN clients ` +
      `(stan-rs: the Node package; Rust core: the Rust client it is built on, no Node, \`crates/stan-client/examples/latency.rs\`); ` +
      `the floor is a bare-socket request from Node to an echo responder in its own process (\`nats-raw-bench --respond\`) through the same nats-server ` +
      `(${version}, memory store, a fresh one per repetition) — the same hops with no client and no server work. ` +
      `Median of ${opts.runs} rotating rounds of the four; ratios ÷ node-nats-streaming, range = per-repetition ratios.`,
    lines: table(
      ['metric', 'node-nats-streaming', 'stan-rs', 'Rust core', 'floor', 'stan-rs ratio', 'range', 'Rust core ratio', 'range', 'floor ratio', 'range'],
      rows
    ),
    raw: res
  }
}

module.exports = { run }
