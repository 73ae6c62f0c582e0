'use strict'
// Section "payloads": async publish with every ack awaited, by payload size,
// node-nats-streaming 0.3.2 vs this package (a fresh server per size and
// repetition, so big payloads do not pile up in the memory store).
const { withServer } = require('../servers')
const { nodeClient, expectChannel } = require('../runners')
const { compare, fmt, ratioCell, rangeCell, table, pairOrder } = require('../stats')

const WINDOW = 512

function sizeLabel (size) {
  return size % 1024 === 0 ? `${size / 1024} KiB` : `${size} B`
}

async function run (opts, log) {
  const res = {}
  let version = null
  for (const size of opts.sizes) {
    const n = opts.nFor(size)
    res[size] = { n, ref: [], ours: [] }
    for (let r = 0; r < opts.runs; r++) {
      await withServer({ impl: opts.server }, async (srv) => {
        version = `${srv.label} ${srv.version}`
        for (const key of pairOrder(r, ['ref', 'ours'])) {
          const subject = `payloads.${size}.${key}.${r}`
          const out = await nodeClient(opts, srv, key, 'pub', { subject, n, size, window: WINDOW })
          if (out.n !== n) throw new Error(`bench: ${key} pub reported ${out.n} messages, expected ${n}`)
          await expectChannel(srv, subject, n, `${key} publish of ${size} B`)
          res[size][key].push(out)
          log(`payloads run ${r + 1}/${opts.runs} ${size} B ${key}: ${JSON.stringify(out)}`)
        }
      })
    }
  }
  const rows = opts.sizes.map((size) => {
    const d = res[size]
    const rate = compare(d.ref.map((x) => x.rate), d.ours.map((x) => x.rate))
    const cpu = compare(d.ref.map((x) => x.cpuUsPerMsg), d.ours.map((x) => x.cpuUsPerMsg))
    const mib = (rate.b * size) / 1048576
    return [sizeLabel(size), fmt(d.n), fmt(rate.a), fmt(rate.b), ratioCell(rate), rangeCell(rate), fmt(mib, 1), fmt(cpu.a, 2), fmt(cpu.b, 2), ratioCell(cpu)]
  })
  return {
    title: 'Payload sizes: async publish, all acks',
    note:
      `window ${WINDOW}; server: ${version} (memory store, a fresh one per size and repetition); median of ${opts.runs}, ` +
      'ratio = stan-rs ÷ node-nats-streaming, range = per-pair ratios; CPU = client CPU µs per message.',
    lines: table(
      ['payload', 'messages', 'node-nats-streaming msgs/s', 'stan-rs msgs/s', 'ratio', 'per-pair range', 'stan-rs MiB/s', 'CPU µs/msg (nns)', 'CPU µs/msg (stan-rs)', 'CPU ratio'],
      rows
    ),
    raw: res
  }
}

module.exports = { run }
