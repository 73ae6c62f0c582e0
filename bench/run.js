#!/usr/bin/env node
'use strict'
// `npm run bench`: stan-rs side by side with what it replaces, from one run.
// Every load runs in a child process of its own, on servers started here on
// free loopback ports (stopped afterwards, by PID); every run is checked
// against the server's monitoring counts. Sections (bench/sections/):
//   clients   node-nats-streaming 0.3.2 vs this package: publish, publish→subscribe,
//             one-at-a-time latency, client CPU per message, peak RSS, at each window
//   payloads  publish by payload size (128 B, 1 KiB, 64 KiB)
//   raw       the raw NATS request/reply ceiling (crates/nats-raw-bench) vs our publish
//   latency   one-at-a-time latency of both clients and of the Rust client under
//             ours (crates/stan-client/examples/latency.rs) next to its floor on the
//             same nats-server (bench/raw-latency.js: bare socket ↔ echo responder)
//   servers   stan-server vs the original nats-streaming-server with stan-bench,
//             memory and file store; server CPU per message
//   scaling   1/10/100 publishers, 1/10/100 subscribers, 1/1,000 channels
//
//   npm run bench                      # the full run (alternating pairs, median of 3)
//   npm run bench -- --smoke           # a few thousand messages, 1 repetition (CI); also BENCH_SMOKE=1
//   npm run bench -- --only clients,raw --runs 5
//
// Prints a Markdown table per section, with the machine, the date and the
// command on top; the raw results go to bench/out/<date>.json (gitignored).
// Exits non-zero if any section failed.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { execFileSync } = require('child_process')
const { parseArgs } = require('./args')
const { stopAll, binary, natsServerBin } = require('./servers')

const SECTION_MODULES = {
  clients: require('./sections/clients'),
  payloads: require('./sections/payloads'),
  raw: require('./sections/raw'),
  latency: require('./sections/latency'),
  servers: require('./sections/servers'),
  scaling: require('./sections/scaling')
}

function firstLine (bin, args) {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 }).trim().split('\n')[0]
  } catch (_) {
    return 'unknown'
  }
}

function machine () {
  const cpus = os.cpus()
  const model = cpus[0] ? cpus[0].model.trim() : 'unknown CPU'
  const nproc = firstLine('nproc', [])
  return `nproc ${nproc}, ${model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${os.release()}`
}

function header (opts, argv) {
  const version = (impl) => {
    try {
      const bin = binary(impl)
      return `${firstLine(bin, ['--version'])} (${path.relative(process.cwd(), bin) || bin})`
    } catch (_) {
      return 'missing'
    }
  }
  const nodeNns = require(require.resolve('node-nats-streaming/package.json', { paths: [path.join(__dirname, '..')] })).version
  return [
    '# stan-rs bench' + (opts.smoke ? ' (smoke mode: tiny loads, 1 repetition; the figures mean nothing)' : ''),
    '',
    `- command: \`node bench/run.js${argv.length ? ' ' + argv.join(' ') : ''}\``,
    `- date: ${new Date().toISOString()}`,
    `- machine: ${machine()}`,
    `- Node ${process.version}; node-nats-streaming ${nodeNns}; stan-server's ${firstLine(natsServerBin(), ['--version'])}; ` +
      `${version('ours')}; ${version('reference')}; stan-bench v0.10.4`,
    `- load: ${opts.n} messages per throughput run, ${opts.latN} latency round trips, windows ${opts.windows.join(' and ')}, ` +
      `${opts.runs} repetition(s) in alternating pairs, sections ${opts.only.join(', ')}`
  ].join('\n')
}

async function main () {
  const argv = process.argv.slice(2)
  const opts = parseArgs(argv)
  const started = Date.now()
  const log = (s) => process.stderr.write(`${s}\n`)
  const onSignal = () => stopAll().then(() => process.exit(130))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  console.log(header(opts, argv))
  const raw = {}
  const failed = []
  for (const name of opts.only) {
    const t0 = Date.now()
    log(`--- bench section ${name}`)
    try {
      const s = await SECTION_MODULES[name].run(opts, log)
      raw[name] = s.raw
      console.log(`\n## ${s.title}\n\n${s.note}\n\n${s.lines.join('\n')}\n\n(${((Date.now() - t0) / 1000).toFixed(1)} s)`)
    } catch (err) {
      failed.push(name)
      raw[name] = { error: String(err && err.message) }
      console.log(`\n## ${name}: FAILED\n\n${err && err.message ? err.message : err}`)
      log(err && err.stack ? err.stack : String(err))
      await stopAll()
    }
  }
  console.log(`\n(bench took ${((Date.now() - started) / 1000).toFixed(1)} s${failed.length ? `; FAILED: ${failed.join(', ')}` : ''})`)

  const outDir = path.join(__dirname, 'out')
  fs.mkdirSync(outDir, { recursive: true })
  const file = path.join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  fs.writeFileSync(file, JSON.stringify({ argv, opts, node: process.version, machine: machine(), failed, results: raw }, null, 2))
  log(`raw results: ${path.relative(process.cwd(), file)}`)
  process.exitCode = failed.length ? 1 : 0
}

main().catch(async (err) => {
  console.error(err && err.stack ? err.stack : err)
  await stopAll()
  process.exit(1)
})
