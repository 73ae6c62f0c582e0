'use strict'
// Shared by the "servers" and "scaling" sections: one load, run on a fresh
// original nats-streaming-server and a fresh stan-server in alternating
// pairs; throughput and server CPU per message side by side.
const { withServer } = require('../servers')
const { compare, fmt, ratioCell, rangeCell } = require('../stats')
const { pairOrder } = require('../stats')

/**
 * `server`: {store, args} of both servers. `job(srv)` resolves {rate, cpuSeconds, perMsgs}: msgs/s, server CPU seconds
 * and the message count to divide that CPU by. Returns per-impl arrays of
 * {rate, cpuUsPerMsg} and the server versions.
 */
async function comparePairs (opts, log, what, server, job) {
  const out = { reference: [], ours: [], versions: {} }
  for (let r = 0; r < opts.runs; r++) {
    for (const impl of pairOrder(r, ['reference', 'ours'])) {
      await withServer(Object.assign({ impl }, server), async (srv) => {
        out.versions[impl] = `${srv.label} ${srv.version}`
        const res = await job(srv)
        const sample = { rate: res.rate, cpuUsPerMsg: (res.cpuSeconds * 1e6) / res.perMsgs, serverCpuSeconds: res.cpuSeconds }
        if (res.loadCpuSeconds !== undefined) {
          sample.loadCpuUsPerMsg = (res.loadCpuSeconds * 1e6) / res.perMsgs
          sample.busyCores = (res.cpuSeconds + res.loadCpuSeconds) / res.seconds
          sample.childCpuUsPerMsg = ((res.childCpuSeconds || 0) * 1e6) / res.perMsgs
        }
        out[impl].push(sample)
        log(`${what} run ${r + 1}/${opts.runs} ${srv.label}: ${JSON.stringify(sample)}`)
      })
    }
  }
  return out
}

/** Table cells: original msgs/s, stan-server msgs/s, ratio, range, CPU µs/msg each, CPU ratio. */
function pairCells (p) {
  const rate = compare(p.reference.map((x) => x.rate), p.ours.map((x) => x.rate))
  const cpu = compare(p.reference.map((x) => x.cpuUsPerMsg), p.ours.map((x) => x.cpuUsPerMsg))
  return [fmt(rate.a), fmt(rate.b), ratioCell(rate), rangeCell(rate), fmt(cpu.a, 1), fmt(cpu.b, 1), ratioCell(cpu), rangeCell(cpu)]
}

const PAIR_HEADER = [
  'original msgs/s',
  'stan-server msgs/s',
  'ratio',
  'per-pair range',
  'original CPU µs/msg',
  'stan-server CPU µs/msg',
  'CPU ratio',
  'CPU per-pair range'
]

module.exports = { comparePairs, pairCells, PAIR_HEADER }
