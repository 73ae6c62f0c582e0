'use strict'
// Process helpers for the bench: run a child to completion with a time limit
// (its last stdout line parsed as JSON), CPU time of a process from
// /proc/<pid>/stat, the children of a process, free loopback ports.
const fs = require('fs')
const { spawn, execFileSync } = require('child_process')

const { freePort, sleep } = require('../lib/loopback')

let clkTck = null
/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
function ticksPerSecond () {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch (_) {
      clkTck = 100
    }
  }
  return clkTck
}

/** Fields of /proc/<pid>/stat after the command name (index 0 = field 3, `state`). */
function statFields (pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  return s.slice(s.lastIndexOf(')') + 2).trim().split(' ')
}

/** user + system CPU seconds a live process (all its threads) used so far. */
function cpuSeconds (pid) {
  const f = statFields(pid)
  // utime and stime are fields 14 and 15 of the whole line.
  return (Number(f[11]) + Number(f[12])) / ticksPerSecond()
}

/**
 * user + system CPU seconds of this process's children that have exited and
 * been waited for (cutime + cstime of /proc/self/stat): the delta across a
 * run of one child is that child's CPU.
 */
function reapedChildrenCpuSeconds () {
  const f = statFields('self')
  // cutime and cstime are fields 16 and 17 of the whole line.
  return (Number(f[13]) + Number(f[14])) / ticksPerSecond()
}

/** PIDs of the live processes whose parent is `pid`. */
function childrenOf (pid) {
  const out = []
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      if (Number(statFields(e)[1]) === pid) out.push(Number(e))
    } catch (_) {} // gone meanwhile
  }
  return out
}

function alive (pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (_) {
    return false
  }
}

/**
 * Run `bin args` to completion; SIGKILL (by its PID) after `timeoutMs`.
 * Resolves { stdout, stderr, seconds }; rejects on a non-zero exit or the time limit.
 */
function runToEnd (bin, args, { timeoutMs, env, label }) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env || process.env })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-8000) })
    const kill = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.once('error', (err) => {
      clearTimeout(kill)
      reject(new Error(`${label}: ${err.message}`))
    })
    child.once('exit', (code, signal) => {
      clearTimeout(kill)
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      if (timedOut) return reject(new Error(`${label}: no result after ${timeoutMs / 1000} s (killed): ${stderr.trim()}`))
      if (code !== 0) return reject(new Error(`${label}: exit ${code === null ? signal : code}: ${stderr.trim() || stdout.trim()}`))
      resolve({ stdout, stderr, seconds })
    })
  })
}

/** runToEnd, then the last stdout line as JSON. */
async function runJson (bin, args, opts) {
  const { stdout } = await runToEnd(bin, args, opts)
  const line = stdout.trim().split('\n').pop()
  try {
    return JSON.parse(line)
  } catch (_) {
    throw new Error(`${opts.label}: no JSON result on stdout: ${stdout.trim().slice(-500)}`)
  }
}

module.exports = { cpuSeconds, reapedChildrenCpuSeconds, childrenOf, alive, freePort, sleep, runToEnd, runJson, ticksPerSecond }
