#!/usr/bin/env node
'use strict'
// A/B of client builds on the publish scenario (or, with `--scenario e2e`,
// publish→subscribe in one process), side by side on one server:
// each label=modulePath runs `bench/client.js <module> <scenario> ...` in turn
// (alternating, so load drifts hit every build alike), and the medians of
// rate, client CPU per message and peak RSS are printed per window.
//
//   node bench/ab-pub.js [--runs R] [--n N] [--windows A,B] [--scenario pub|e2e] label=path label=path ...
//
// e.g. before=/path/to/main/checkout after=. ref=node_modules/node-nats-streaming
// The stan-server of the bench (bench/servers.js, memory store) is started and
// stopped here.
const path = require('path')
const { startServer, stopAll } = require('./servers')
const { runJson } = require('./proc')
const { median, fmt, table } = require('./stats')

function parse (argv) {
  const o = { runs: 5, n: 100000, windows: [512, 16384], scenario: 'pub', mods: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--runs') o.runs = Number(argv[++i])
    else if (a === '--n') o.n = Number(argv[++i])
    else if (a === '--windows') o.windows = argv[++i].split(',').map(Number)
    else if (a === '--scenario') o.scenario = argv[++i]
    else {
      const eq = a.indexOf('=')
      if (eq < 1) throw new Error(`ab-pub: expected label=path, got ${JSON.stringify(a)}`)
      o.mods.push({ label: a.slice(0, eq), mod: path.resolve(a.slice(eq + 1)) })
    }
  }
  if (o.mods.length === 0 || !(o.runs >= 1) || !(o.n >= 1) || !['pub', 'e2e'].includes(o.scenario)) {
    throw new Error('usage: node bench/ab-pub.js [--runs R] [--n N] [--windows A,B] [--scenario pub|e2e] label=path ...')
  }
  return o
}

async function main () {
  const o = parse(process.argv.slice(2))
  const srv = await startServer({ impl: 'ours' })
  const rows = []
  try {
    for (const w of o.windows) {
      const res = new Map(o.mods.map((m) => [m.label, []]))
      for (let r = 0; r < o.runs; r++) {
        for (const m of o.mods) {
          const subject = `ab.${m.label}.${w}.${r}`
          const args = [path.join(__dirname, 'client.js'), m.mod, o.scenario, srv.url, srv.cluster, subject, String(o.n), '128', String(w)]
          res.get(m.label).push(await runJson(process.execPath, args, { timeoutMs: 120000, label: `${m.label} w${w}` }))
        }
      }
      for (const m of o.mods) {
        const xs = res.get(m.label)
        rows.push([
          m.label,
          String(w),
          fmt(median(xs.map((x) => x.rate))),
          fmt(median(xs.map((x) => x.cpuUsPerMsg)), 2),
          `${fmt(Math.min(...xs.map((x) => x.cpuUsPerMsg)), 2)}–${fmt(Math.max(...xs.map((x) => x.cpuUsPerMsg)), 2)}`,
          fmt(median(xs.map((x) => x.peakRssKiB / 1024)), 1)
        ])
      }
    }
  } finally {
    await srv.stop()
  }
  console.log(`scenario: ${o.scenario}, ${o.n} messages of 128 B, medians of ${o.runs}`)
  console.log(
    table(['build', 'window', 'msgs/s (median)', 'client CPU µs/msg (median)', 'range', 'peak RSS MiB (median)'], rows, [
      'l',
      'r',
      'r',
      'r',
      'r',
      'r'
    ]).join('\n')
  )
}

main().catch(async (err) => {
  console.error(err && err.stack ? err.stack : err)
  await stopAll()
  process.exit(1)
})
