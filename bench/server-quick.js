'use strict'
// A quick A/B of the server data path: the "servers" section's four
// stan-bench loads plus the 100- and 10-subscriber fan-outs of "scaling", original
// vs stan-server in alternating pairs, one table line per load. Environment:
// RUNS (2), N (50000), FAN_N (5000; fan10 sends 10× as many), ONLY (comma list of the loads below),
// STAN_SERVER_BIN to point at the stan-server build under test.
//   RUNS=3 N=30000 FAN_N=2000 node bench/server-quick.js
// Columns: load | original msgs/s | stan-server msgs/s | ratio | range |
// original CPU µs/msg | stan-server CPU µs/msg | CPU ratio | range.
const { stanBench } = require('./runners')
const { comparePairs, pairCells } = require('./sections/server-pairs')
const runs = Number(process.env.RUNS || 2)
const n = Number(process.env.N || 50000)
const fanN = Number(process.env.FAN_N || 5000)
const only = (process.env.ONLY || 'mem-pub,mem-pubsub,file-pub,file-pubsub,fan100').split(',')
const opts = { runs, n, timeoutMs: 300000 }
const log = (s) => console.error(s)
const cases = {
  'mem-pub': [{ store: 'MEMORY' }, 1, 0, n, 'pub'],
  'mem-pubsub': [{ store: 'MEMORY' }, 1, 1, n, 'pubSub'],
  'file-pub': [{ store: 'FILE' }, 1, 0, n, 'pub'],
  'file-pubsub': [{ store: 'FILE' }, 1, 1, n, 'pubSub'],
  fan100: [{ store: 'MEMORY', args: ['-mc', '1000'] }, 1, 100, fanN, 'sub'],
  fan10: [{ store: 'MEMORY', args: ['-mc', '1000'] }, 1, 10, fanN * 10, 'sub']
}
;(async () => {
  for (const k of only) {
    const [server, np, ns, cnt, rateKey] = cases[k]
    const p = await comparePairs(opts, log, k, server, async (srv) => {
      const b = await stanBench(opts, srv, { np, ns, n: cnt, window: 512, subject: 'bench' })
      return { rate: b.rates[rateKey], cpuSeconds: b.serverCpuSeconds, perMsgs: rateKey === 'sub' ? cnt * ns : cnt }
    })
    console.log([k].concat(pairCells(p)).join(' | '))
  }
})().catch((e) => { console.error(e); process.exit(1) })
