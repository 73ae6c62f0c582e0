'use strict'
// Section "servers": stan-server vs the original nats-streaming-server, both
// driven by the Go client's stan-bench (1 publisher, 128 B, -mpa 512):
// publish only, and publish + 1 subscriber; memory and file store.
const { stanBench, expectTotal } = require('../runners')
const { table, median, fmt } = require('../stats')
const { comparePairs, pairCells, PAIR_HEADER } = require('./server-pairs')

const WINDOW = 512

async function run (opts, log) {
  const raw = {}
  const rows = []
  const cpuRows = []
  let versions = {}
  for (const store of ['MEMORY', 'FILE']) {
    for (const [mode, ns] of [['publish', 0], ['publish + subscribe', 1]]) {
      const key = `${store} ${mode}`
      const p = await comparePairs(opts, log, `servers ${key}`, { store }, async (srv) => {
        const b = await stanBench(opts, srv, { np: 1, ns, n: opts.n, window: WINDOW, subject: 'bench' })
        await expectTotal(srv, opts.n, `stan-bench ${mode}`)
        return {
          rate: ns ? b.rates.pubSub : b.rates.pub,
          cpuSeconds: b.serverCpuSeconds,
          loadCpuSeconds: b.loadCpuSeconds,
          childCpuSeconds: b.childCpuSeconds,
          seconds: b.seconds,
          perMsgs: opts.n
        }
      })
      versions = p.versions
      raw[key] = p
      rows.push([store.toLowerCase(), mode].concat(pairCells(p)))
      cpuRows.push([store.toLowerCase(), mode].concat(cpuCells(p)))
    }
  }
  return {
    title: 'Servers: stan-server vs the original nats-streaming-server (stan-bench)',
    note:
      `stan-bench -np 1 -ns 0|1 -n ${opts.n} -ms 128 -mpa ${WINDOW}; a fresh server per run with the same flags ` +
      `(\`-st MEMORY\` or \`-st FILE --dir <new temp dir>\`); ${versions.reference} vs ${versions.ours}; ` +
      'msgs/s as stan-bench reports it (publish: publisher rate; publish + subscribe: its combined Pub/Sub rate); ' +
      'server CPU = user+sys from /proc/<pid>/stat during the run (stan-server: its process and its nats-server child) per published message; ' +
      `median of ${opts.runs}, ratio = stan-server ÷ original.`,
    lines: table(['store', 'load'].concat(PAIR_HEADER), rows).concat(
      [
        '',
        'Where the CPU goes: the server and the load generator (stan-bench, its own CPU from the kernel once it exited) per published message, ' +
          'the part of stan-server\'s CPU spent in its nats-server child, the cores the server and stan-bench kept busy together ' +
          '((server + stan-bench CPU) ÷ wall time of the stan-bench run, of the 2), the ratio CPU alone predicts when the run is CPU-bound: ' +
          '(original + stan-bench) ÷ (stan-server + stan-bench) µs per message, and the most that ratio could be if stan-server itself cost nothing: ' +
          '(original + stan-bench) ÷ (nats-server child + stan-bench). Medians.',
        ''
      ],
      table(
        [
          'store',
          'load',
          'stan-bench CPU µs/msg (original / stan-server)',
          'stan-server\'s nats-server child CPU µs/msg',
          'cores busy (original / stan-server)',
          'CPU-bound ratio',
          'ceiling with stan-server at zero'
        ],
        cpuRows
      )
    ),
    raw
  }
}

/** stan-bench's CPU per message, cores busy, and the throughput ratio the CPU per message predicts. */
function cpuCells (p) {
  const m = (impl, f) => median(p[impl].map(f))
  const load = (impl) => m(impl, (x) => x.loadCpuUsPerMsg)
  const total = (impl) => m(impl, (x) => x.cpuUsPerMsg + x.loadCpuUsPerMsg)
  const busy = (impl) => m(impl, (x) => x.busyCores)
  const childAndLoad = m('ours', (x) => x.childCpuUsPerMsg + x.loadCpuUsPerMsg)
  return [
    `${fmt(load('reference'), 1)} / ${fmt(load('ours'), 1)}`,
    fmt(m('ours', (x) => x.childCpuUsPerMsg), 1),
    `${fmt(busy('reference'), 2)} / ${fmt(busy('ours'), 2)}`,
    `${(total('reference') / total('ours')).toFixed(2)}×`,
    `${(total('reference') / childAndLoad).toFixed(2)}×`
  ]
}

module.exports = { run }
