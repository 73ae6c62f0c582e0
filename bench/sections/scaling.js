'use strict'
// Section "scaling": how cost grows on either server (memory store): 1/10/100
// publishers and 1/10/100 subscribers on one channel (stan-bench), and one vs
// 1,000 channels (this package's Node client publishing round-robin).
const { stanBench, nodeClient, expectTotal } = require('../runners')
const { table } = require('../stats')
const { comparePairs, pairCells, PAIR_HEADER } = require('./server-pairs')

const WINDOW = 512
// Both servers allow 100 channels by default.
const SERVER = { store: 'MEMORY', args: ['-mc', '1000'] }

async function run (opts, log) {
  const raw = {}
  const rows = []
  let versions = {}
  const add = async (what, load, job) => {
    const p = await comparePairs(opts, log, `scaling ${what} ${load}`, SERVER, job)
    versions = p.versions
    raw[`${what} ${load}`] = p
    rows.push([what, load].concat(pairCells(p)))
  }
  for (const np of [1, 10, 100]) {
    await add('publishers', String(np), async (srv) => {
      const b = await stanBench(opts, srv, { np, ns: 0, n: opts.n, window: WINDOW, subject: 'bench' })
      await expectTotal(srv, opts.n, `stan-bench -np ${np}`)
      return { rate: b.rates.pub, cpuSeconds: b.serverCpuSeconds, perMsgs: opts.n }
    })
  }
  for (const ns of [1, 10, 100]) {
    await add('subscribers', String(ns), async (srv) => {
      const b = await stanBench(opts, srv, { np: 1, ns, n: opts.subsN, window: WINDOW, subject: 'bench' })
      await expectTotal(srv, opts.subsN, `stan-bench -ns ${ns}`)
      return { rate: b.rates.sub, cpuSeconds: b.serverCpuSeconds, perMsgs: opts.subsN * ns }
    })
  }
  for (const channels of [1, 1000]) {
    await add('channels', channels.toLocaleString('en-US'), async (srv) => {
      const cpu0 = srv.cpu()
      const out = await nodeClient(opts, srv, 'ours', 'channels', { subject: 'bench', n: opts.n, window: WINDOW, channels })
      const cpuSeconds = srv.cpu() - cpu0
      const z = await expectTotal(srv, opts.n, `publishing on ${channels} channels`)
      if (z.channels !== channels) throw new Error(`bench: ${srv.label} has ${z.channels} channels, expected ${channels}`)
      return { rate: out.rate, cpuSeconds, perMsgs: opts.n }
    })
  }
  return {
    title: 'Scaling: publishers, subscribers, channels',
    note:
      `memory store, \`-mc 1000\` (max channels; the default is 100), a fresh server per run; ${versions.reference} vs ${versions.ours}. ` +
      `publishers: stan-bench -np P -n ${opts.n} (split among them), rate = their combined publish rate; ` +
      `subscribers: stan-bench -np 1 -ns S -n ${opts.subsN}, every subscriber gets every message, rate = deliveries/s, CPU per delivery; ` +
      `channels: stan-rs (Node) publishes ${opts.n} messages round-robin on C channels, window ${WINDOW}. ` +
      `Server CPU per message as in the servers section; median of ${opts.runs}, ratio = stan-server ÷ original.`,
    lines: table(['load', 'count'].concat(PAIR_HEADER), rows),
    raw
  }
}

module.exports = { run }
