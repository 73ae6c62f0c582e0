#!/usr/bin/env node
'use strict'
// Where the microseconds of one publish→message round trip go, hop by hop,
// for this package and for node-nats-streaming on one stan-server (see
// docs/performance.md, "Where the microseconds of one round trip go").
//
//   cargo build --release -p stan-node --features hop-trace
//   cp target/release/libstan_node.so npm/linux-x64-gnu/stan-node.linux-x64-gnu.node
//   node bench/hops.js [round trips, default 2000] [repetitions, default 2]
//   npm run build:native   # the shipped addon again (hop marks compiled out)
//
// Our hops come from stan-client's `hop_trace` (CLOCK_MONOTONIC, the clock of
// process.hrtime); node-nats-streaming's from its socket's write() and
// 'data' events. Each line is the median over the round trips of one run.
const path = require('path')
const { execFileSync } = require('child_process')

const ROOT = path.join(__dirname, '..')
const WARMUP = 200

if (process.argv[2] === '--child') child(process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6]))
else main(Number(process.argv[2] || 2000), Number(process.argv[3] || 2))

async function main (n, runs) {
  const { withServer } = require('./servers')
  await withServer({ impl: 'ours' }, async (srv) => {
    for (let r = 0; r < runs; r++) {
      for (const which of r % 2 ? ['ours', 'ref'] : ['ref', 'ours']) {
        process.stdout.write(`== ${which === 'ours' ? 'stan-rs' : 'node-nats-streaming'} (run ${r + 1})\n`)
        const out = execFileSync(process.execPath, [__filename, '--child', which, srv.url, srv.cluster, String(n)], {
          timeout: 120000
        })
        process.stdout.write(out)
      }
    }
  })
}

function child (which, url, cluster, n) {
  const now = () => Number(process.hrtime.bigint())
  const lib = which === 'ours' ? require(ROOT) : require(require.resolve('node-nats-streaming', { paths: [ROOT] }))
  const addon = which === 'ours' ? require(path.join(ROOT, 'npm', 'linux-x64-gnu', 'stan-node.linux-x64-gnu.node')) : null
  const subject = `hops.${process.pid}`
  const payload = Buffer.alloc(128, 'x')
  const sc = lib.connect(cluster, `hops-${process.pid}`, { url })
  const rows = []
  let sentAt = 0
  let wroteAt = 0
  let dataAt = 0
  let takenAt = 0
  sc.on('error', (e) => {
    throw e
  })
  sc.on('connect', () => {
    if (which === 'ours') {
      const native = sc._native
      const take = native.takeEvents.bind(native)
      native.takeEvents = () => {
        const b = take()
        takenAt = now()
        return b
      }
    } else {
      const s = sc.nc.stream
      const write = s.write.bind(s)
      s.write = (...a) => {
        if (wroteAt === 0) wroteAt = now()
        return write(...a)
      }
      s.prependListener('data', () => {
        if (dataAt === 0) dataAt = now()
      })
    }
    const sub = sc.subscribe(subject)
    let i = -WARMUP
    let gotMsg = false
    let gotAck = false
    const step = () => {
      i++
      if (i === n) return report()
      gotMsg = gotAck = false
      sentAt = now()
      wroteAt = 0
      sc.publish(subject, payload, (err) => {
        if (err) throw err
        gotAck = true
        if (gotMsg) step()
      })
      dataAt = 0
    }
    sub.on('message', (m) => {
      const at = now()
      m.getData()
      if (i >= 0) rows.push(which === 'ours' ? [sentAt, ...addon.hopMarks(), takenAt, at] : [sentAt, wroteAt, dataAt, at])
      gotMsg = true
      if (gotAck) step()
    })
    sub.on('ready', () => {
      i--
      step()
    })
  })

  function report () {
    const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)]
    const line = (name, f) => process.stdout.write(`${name.padEnd(52)}${(median(rows.map(f)) / 1000).toFixed(1).padStart(8)} µs\n`)
    if (which === 'ours') {
      // [sent, PublishCall, PublishQueued, PublishReturned, DeliveryIn, PubAckIn, DeliveryToSink, WakeCaller, EventsTaken, taken, callback]
      if (rows[0][1] === 0) throw new Error('bench/hops.js: the addon was built without the hop-trace feature')
      line('JS publish() → napi publish entry', (r) => r[1] - r[0])
      line('napi: session core publish (guid, encode)', (r) => r[2] - r[1])
      line('napi: hand to async-nats, return', (r) => r[3] - r[2])
      line('returned → delivery in driver (NATS + server)', (r) => r[4] - r[3])
      line('  (returned → PubAck in driver)', (r) => r[5] - r[3])
      line('delivery in driver → batch to the sink', (r) => r[6] - r[4])
      line('sink → threadsafe function call', (r) => r[7] - r[6])
      line('threadsafe function call → JS takeEvents()', (r) => r[8] - r[7])
      line('takeEvents() marshalling', (r) => r[9] - r[8])
      line('batch decode → message callback', (r) => r[10] - r[9])
      line('total', (r) => r[10] - r[0])
    } else {
      line('JS publish() → socket write (setImmediate)', (r) => r[1] - r[0])
      line('socket write → socket data (NATS + server)', (r) => r[2] - r[1])
      line('socket data → message callback', (r) => r[3] - r[2])
      line('total', (r) => r[3] - r[0])
    }
    sc.close()
    setTimeout(() => process.exit(0), 300).unref()
  }
}
