'use strict'
// The three load generators of the bench, each a child process bounded in
// time: a Node client scenario (bench/client.js, with node-nats-streaming or
// this package), the Go client's stan-bench, and the raw NATS request/reply
// bench (crates/nats-raw-bench).
const fs = require('fs')
const path = require('path')
const { runJson, runToEnd, reapedChildrenCpuSeconds } = require('./proc')
const { ROOT } = require('./servers')

const CLIENTS = {
  ref: { label: 'node-nats-streaming 0.3.2', mod: require.resolve('node-nats-streaming', { paths: [ROOT] }) },
  ours: { label: 'stan-rs', mod: path.join(ROOT, 'index.js') }
}
if (CLIENTS.ref.mod.startsWith(path.join(ROOT, 'index.js'))) throw new Error('bench: the reference client resolved to this package')

function toolBin (envVar, local, hint) {
  const bin = process.env[envVar] || local
  if (!fs.existsSync(bin)) throw new Error(`bench: ${bin} not found (${hint}, or set ${envVar})`)
  return bin
}

const stanBenchBin = () => toolBin('STAN_BENCH_BIN', path.join(ROOT, '.tools', 'bin', 'stan-bench'), 'run `npm run setup`')
const rawBenchBin = () =>
  toolBin('NATS_RAW_BENCH_BIN', path.join(ROOT, 'target', 'release', 'nats-raw-bench'), 'run `cargo build --release -p nats-raw-bench`')

/**
 * One bench/client.js scenario. Resolves its JSON result
 * ({n, seconds, rate, cpuUsPerMsg, peakRssKiB} or {n, p50, p99, cpuUsPerMsg, peakRssKiB}).
 */
function nodeClient (opts, srv, key, scenario, { subject, n, size = 128, window, channels = 1 }) {
  const c = CLIENTS[key]
  const args = [path.join(__dirname, 'client.js'), c.mod, scenario, srv.url, srv.cluster, subject, n, size, window, channels]
  const env = Object.assign({}, process.env, { BENCH_CLIENT_TIMEOUT_MS: String(Math.max(1000, opts.timeoutMs - 5000)) })
  return runJson(process.execPath, args.map(String), { timeoutMs: opts.timeoutMs, env, label: `${c.label} ${scenario}` })
}

/** The headline figures of stan-bench's report (msgs/s), by line. */
function parseStanBench (out) {
  const rate = (re) => {
    const m = out.match(re)
    return m ? Number(m[1].replace(/,/g, '')) : null
  }
  return {
    pubSub: rate(/Pub\/Sub stats: ([\d,]+) msgs\/sec/),
    pub: rate(/^\s*Pub stats: ([\d,]+) msgs\/sec/m),
    sub: rate(/^\s*Sub stats: ([\d,]+) msgs\/sec/m)
  }
}

/**
 * stan-bench with `np` publishers and `ns` subscribers on `subject`, `n`
 * messages in all. Resolves {rates, seconds, serverCpuSeconds, childCpuSeconds, loadCpuSeconds}:
 * the server's CPU time (all its processes) from just before the start to the
 * end, the part of it in stan-server's nats-server child, and stan-bench's own.
 */
async function stanBench (opts, srv, { np, ns, n, size = 128, window = 512, subject }) {
  const args = ['-s', srv.url, '-c', srv.cluster, '-id', 'bench', '-np', np, '-ns', ns, '-n', n, '-ms', size, '-mpa', window, subject]
  const cpu0 = srv.cpu()
  const child0 = srv.childCpu()
  const load0 = reapedChildrenCpuSeconds()
  const { stdout, seconds } = await runToEnd(stanBenchBin(), args.map(String), {
    timeoutMs: opts.timeoutMs,
    label: `stan-bench -np ${np} -ns ${ns} on ${srv.label}`
  })
  const serverCpuSeconds = srv.cpu() - cpu0
  const childCpuSeconds = srv.childCpu() - child0
  const loadCpuSeconds = reapedChildrenCpuSeconds() - load0
  const rates = parseStanBench(stdout)
  if (rates.pub === null || (ns > 0 && rates.sub === null)) throw new Error(`bench: unexpected stan-bench output: ${stdout.trim()}`)
  return { rates, seconds, serverCpuSeconds, childCpuSeconds, loadCpuSeconds }
}

/** The raw request/reply ceiling on the server's NATS port: {n, window, size, seconds, rate}. */
function rawBench (opts, srv, { n, window, size = 128 }) {
  const args = ['--url', srv.url, '--n', n, '--window', window, '--size', size]
  return runJson(rawBenchBin(), args.map(String), { timeoutMs: opts.timeoutMs, label: `nats-raw-bench (window ${window})` })
}

/** The one-at-a-time latency floor on the server's nats-server (bench/raw-latency.js): {n, p50, p99, cpuUsPerMsg, peakRssKiB}. */
function rawLatency (opts, srv, { n, size = 128 }) {
  const args = [path.join(__dirname, 'raw-latency.js'), srv.url, n, size]
  const env = Object.assign({}, process.env, { BENCH_CLIENT_TIMEOUT_MS: String(Math.max(1000, opts.timeoutMs - 5000)) })
  return runJson(process.execPath, args.map(String), { timeoutMs: opts.timeoutMs, env, label: 'latency floor (raw-latency.js)' })
}

const rustLatencyBin = () =>
  toolBin(
    'STAN_RUST_LATENCY_BIN',
    path.join(ROOT, 'target', 'release', 'examples', 'latency'),
    'run `cargo build --release -p stan-client --example latency`'
  )

/** The Rust client's one-at-a-time latency (crates/stan-client/examples/latency.rs): {n, p50, p99}. */
function rustLatency (opts, srv, { subject, n }) {
  const args = [srv.url, srv.cluster, subject, n]
  return runJson(rustLatencyBin(), args.map(String), { timeoutMs: opts.timeoutMs, label: 'stan-rs Rust client latency' })
}

/** Fail unless the server holds `want` messages in all (a fresh server per run). */
async function expectTotal (srv, want, what) {
  const z = await srv.serverz()
  if (z.total_msgs !== want) throw new Error(`bench: ${srv.label} holds ${z.total_msgs} messages after ${what}, expected ${want}`)
  return z
}

/** Fail unless `channel` holds `want` messages. */
async function expectChannel (srv, channel, want, what) {
  const got = await srv.channelMsgs(channel)
  if (got !== want) throw new Error(`bench: ${srv.label} holds ${got} messages on ${channel} after ${what}, expected ${want}`)
}

module.exports = { CLIENTS, nodeClient, stanBench, parseStanBench, rawBench, rawLatency, rustLatency, stanBenchBin, rawBenchBin, expectTotal, expectChannel }
