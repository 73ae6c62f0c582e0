'use strict'
// Section "raw": the raw NATS request/reply ceiling (crates/nats-raw-bench:
// async-nats requester and responder, `window` requests in flight) on the
// very nats-server our Node package publishes through, and that publish as a
// share of it. Alternating pairs, a fresh server per repetition.
const { withServer } = require('../servers')
const { nodeClient, rawBench, expectChannel } = require('../runners')
const { compare, fmt, table, pairOrder } = require('../stats')

async function run (opts, log) {
  const res = {}
  let version = null
  for (const w of opts.windows) res[w] = { raw: [], ours: [] }
  for (let r = 0; r < opts.runs; r++) {
    await withServer({ impl: opts.server }, async (srv) => {
      version = `${srv.label} ${srv.version}`
      for (const window of opts.windows) {
        for (const who of pairOrder(r, ['raw', 'ours'])) {
          let out
          if (who === 'raw') {
            out = await rawBench(opts, srv, { n: opts.n, window })
            if (out.n !== opts.n) throw new Error(`bench: nats-raw-bench reported ${out.n} round trips, expected ${opts.n}`)
          } else {
            const subject = `raw.pub.${window}.${r}`
            out = await nodeClient(opts, srv, 'ours', 'pub', { subject, n: opts.n, window })
            await expectChannel(srv, subject, opts.n, 'stan-rs publish')
          }
          res[window][who].push(out)
          log(`raw run ${r + 1}/${opts.runs} window ${window} ${who}: ${JSON.stringify(out)}`)
        }
      }
    })
  }
  const pct = (x) => `${(x * 100).toFixed(0)}%`
  const rows = opts.windows.map((w) => {
    const c = compare(res[w].raw.map((x) => x.rate), res[w].ours.map((x) => x.rate))
    return [String(w), fmt(c.a), fmt(c.b), pct(c.ratio), `${pct(c.min)}–${pct(c.max)}`]
  })
  return {
    title: 'The raw NATS request/reply ceiling vs stan-rs publish',
    note:
      `${opts.n} round trips of 128 B (32-byte replies) with \`window\` in flight, on the nats-server of ${version} ` +
      `(memory store, a fresh one per repetition); stan-rs publish as in the clients section; median of ${opts.runs}, range = per-pair shares.`,
    lines: table(['window', 'raw request/reply (round trips/s)', 'stan-rs publish (msgs/s)', 'stan-rs ÷ raw', 'per-pair range'], rows),
    raw: res
  }
}

module.exports = { run }
