// Browser-side scenarios, run inside the page by run.js (each gets `env`:
// { url, cluster, id } and returns a short detail string or throws).
import { init, connect, connectAsync, StartPosition } from '/npm/wasm/index.js'
import { SUB_OPTION_CASES, subscriptionOutcomes } from '/browser-tests/sub-options.mjs'

const TIMEOUT = 8000

function check (cond, what) {
  if (!cond) throw new Error('check failed: ' + what)
}

/** Resolve on `event` of `emitter` (first argument), reject on timeout or (optionally) `error`. */
function once (emitter, event, { ms = TIMEOUT, failOnError = true } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout waiting for '${event}'`)), ms)
    emitter.once(event, (v) => {
      clearTimeout(timer)
      resolve(v)
    })
    if (failOnError && event !== 'error') {
      emitter.once('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
    }
  })
}

/** Collect `n` messages of `sub`, rejecting on timeout. */
function collect (sub, n, ms = TIMEOUT) {
  return new Promise((resolve, reject) => {
    const got = []
    const timer = setTimeout(() => reject(new Error(`timeout: ${got.length}/${n} messages`)), ms)
    sub.on('message', (m) => {
      got.push(m)
      if (got.length === n) {
        clearTimeout(timer)
        resolve(got)
      }
    })
  })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function publishAcked (sc, subject, data) {
  return new Promise((resolve, reject) => {
    sc.publish(subject, data, (err, guid) => (err ? reject(err) : resolve(guid)))
  })
}

async function open (env, suffix, extra = {}) {
  await init()
  const sc = connect(env.cluster, `${env.id}-${suffix}`, { url: env.url, ...extra })
  await once(sc, 'connect')
  return sc
}

async function closeAll (...conns) {
  await Promise.all(conns.map((sc) => {
    if (sc.isClosed()) return null
    const p = once(sc, 'close', { failOnError: false })
    sc.close()
    return p
  }))
}

export async function connectPublishReceive (env) {
  const sc = await open(env, 'cpr')
  try {
    const sub = sc.subscribe('cpr', sc.subscriptionOptions().setDeliverAllAvailable())
    await once(sub, 'ready')
    const got = collect(sub, 1)
    let acked
    const ack = new Promise((resolve) => { acked = resolve })
    const guid = sc.publish('cpr', 'héllo wasm', (err, g) => acked([err, g]))
    check(typeof guid === 'string' && guid.length === 22, 'publish returns a 22-char guid synchronously')
    const [err, g] = await ack
    check(err === undefined && g === guid, 'ack callback (undefined, guid)')
    const [m] = await got
    check(m.getSequence() === 1, 'seq 1, got ' + m.getSequence())
    check(m.getData() === 'héllo wasm', 'data matches: ' + m.getData())
    check(m.getSubject() === 'cpr' && !m.isRedelivered(), 'subject and redelivered flag')
    check(m.getTimestamp() instanceof Date && Math.abs(m.getTimestamp() - Date.now()) < 60000, 'timestamp')
    return `guid ${guid}, seq 1, data ok`
  } finally {
    await closeAll(sc)
  }
}

export async function binaryEncoding (env) {
  const sc = await open(env, 'bin', { stanEncoding: 'binary' })
  try {
    const sub = sc.subscribe('bin', sc.subscriptionOptions().setStartAt(StartPosition.FIRST))
    await once(sub, 'ready')
    const got = collect(sub, 1)
    await publishAcked(sc, 'bin', new Uint8Array([0, 1, 2, 255]))
    const [m] = await got
    const d = m.getData()
    check(d instanceof Uint8Array && d.join(',') === '0,1,2,255', 'binary getData: ' + d)
    return 'Uint8Array payload round trip'
  } finally {
    await closeAll(sc)
  }
}

export async function queueGroup (env) {
  const a = await open(env, 'qa')
  const b = await open(env, 'qb')
  try {
    const counts = [0, 0]
    const subs = [a.subscribe('qg', 'workers'), b.subscribe('qg', 'workers')]
    subs.forEach((s, i) => s.on('message', () => { counts[i]++ }))
    await Promise.all(subs.map((s) => once(s, 'ready')))
    const N = 40
    for (let i = 0; i < N; i++) await publishAcked(a, 'qg', 'm' + i)
    const deadline = Date.now() + TIMEOUT
    while (counts[0] + counts[1] < N && Date.now() < deadline) await sleep(20)
    await sleep(200)
    check(counts[0] + counts[1] === N, `each message once: ${counts}`)
    check(counts[0] > 0 && counts[1] > 0, `split between members: ${counts}`)
    return `split ${counts[0]}/${counts[1]}`
  } finally {
    await closeAll(a, b)
  }
}

export async function manualAckRedelivery (env) {
  const sc = await open(env, 'ma')
  try {
    const opts = sc.subscriptionOptions().setManualAckMode(true).setAckWait(1000).setDeliverAllAvailable()
    const sub = sc.subscribe('ma', opts)
    await once(sub, 'ready')
    const seen = []
    sub.on('message', (m) => {
      seen.push({ at: Date.now(), redelivered: m.isRedelivered(), seq: m.getSequence() })
      if (m.isRedelivered()) m.ack()
    })
    const t0 = Date.now()
    await publishAcked(sc, 'ma', 'ack me')
    const deadline = Date.now() + 5000
    while (!seen.some((s) => s.redelivered) && Date.now() < deadline) await sleep(20)
    check(seen.length >= 2 && !seen[0].redelivered && seen[1].redelivered, 'first delivery then a redelivery: ' + JSON.stringify(seen))
    const wait = seen[1].at - t0
    check(wait >= 800 && wait < 4000, `redelivered after the 1 s ack wait (${wait} ms)`)
    const n = seen.length
    await sleep(2200)
    check(seen.length === n, `no redelivery after the ack (${seen.length - n} more)`)
    return `redelivered after ${wait} ms, quiet after ack`
  } finally {
    await closeAll(sc)
  }
}

export async function durableResume (env) {
  const pub = await open(env, 'dpub')
  const sc = await open(env, 'dsub')
  try {
    const opts = () => sc.subscriptionOptions().setDurableName('dur').setDeliverAllAvailable()
    let sub = sc.subscribe('dur', opts())
    await once(sub, 'ready')
    let got = collect(sub, 3)
    for (const d of ['a', 'b', 'c']) await publishAcked(pub, 'dur', d)
    const first = (await got).map((m) => m.getSequence())
    await sleep(100) // let the auto-acks reach the server
    sub.close()
    await once(sub, 'closed')
    for (const d of ['d', 'e']) await publishAcked(pub, 'dur', d)
    sub = sc.subscribe('dur', opts())
    got = collect(sub, 2)
    await once(sub, 'ready')
    const again = await got
    const seqs = again.map((m) => m.getSequence())
    check(first.join() === '1,2,3', 'first run 1..3: ' + first)
    check(seqs.join() === '4,5' && again.map((m) => m.getData()).join('') === 'de', 'resumed at 4: ' + seqs)
    await sleep(300)
    sub.unsubscribe()
    await once(sub, 'unsubscribed')
    return `first ${first}, resumed ${seqs}`
  } finally {
    await closeAll(pub, sc)
  }
}

/** The browser publishes; the Node package (in run.js) receives. */
export async function browserToNode (env) {
  const sc = await open(env, 'b2n')
  try {
    const guid = await publishAcked(sc, 'b2n', 'from the browser ' + env.id)
    return guid
  } finally {
    await closeAll(sc)
  }
}

/** The Node package publishes (window.nodePublish, from run.js); the browser receives. */
export async function nodeToBrowser (env) {
  const sc = await open(env, 'n2b')
  try {
    const sub = sc.subscribe('n2b', sc.subscriptionOptions().setDeliverAllAvailable())
    await once(sub, 'ready')
    const got = collect(sub, 1)
    await window.nodePublish('n2b', 'from node ' + env.id)
    const [m] = await got
    check(m.getData() === 'from node ' + env.id, 'data from node: ' + m.getData())
    return 'received seq ' + m.getSequence()
  } finally {
    await closeAll(sc)
  }
}

export async function badInput (env) {
  await init()
  const results = []
  // A client ID the server refuses.
  const bad = connect(env.cluster, 'bad id!', { url: env.url })
  const err = await once(bad, 'error', { failOnError: false })
  const want = 'stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed'
  check(err.message === want, 'bad client ID text: ' + err.message)
  check(err.code === 'SERVER_ERROR', 'bad client ID code: ' + err.code)
  results.push('bad client id')
  // Empty IDs throw synchronously.
  let thrown = null
  try { connect(env.cluster, '', { url: env.url }) } catch (e) { thrown = e }
  check(thrown && thrown.message === 'stan: client ID must be supplied', 'empty client ID throws')
  // Wildcard publish is refused by the server.
  const sc = await open(env, 'bad')
  try {
    const e = await publishAcked(sc, 'foo.*', 'x').then(() => null, (e) => e)
    check(e && e.message === 'stan: invalid publish request' && e.code === 'SERVER_ERROR', 'wildcard publish: ' + (e && e.message))
    results.push('wildcard publish')
    // Data that cannot be coerced throws BAD_DATA.
    let t = null
    try { sc.publish('foo', 42) } catch (e2) { t = e2 }
    check(t && t.code === 'BAD_DATA' && t.message === 'Failure: Cannot coerce to Uint8Array: number', 'coerce error')
    results.push('bad data')
  } finally {
    await closeAll(sc)
  }
  // Nothing listens on this port: an error with CONN_ERR.
  const dead = connect(env.cluster, env.id + '-dead', { url: env.deadUrl })
  const de = await once(dead, 'error', { failOnError: false })
  check(de.code === 'CONN_ERR', 'unreachable server: ' + de.code + ' ' + de.message)
  results.push('unreachable server')
  return results.join(', ')
}

export async function closeEvent (env) {
  const sc = await open(env, 'close')
  const sub = sc.subscribe('closing')
  await once(sub, 'ready')
  let pubErr = null
  sc.publish('closing', 'x', (e) => { if (e) pubErr = e })
  const closed = once(sc, 'close', { failOnError: false })
  sc.close()
  const arg = await closed
  check(arg === null, 'close event argument null, got ' + arg)
  check(sc.isClosed(), 'isClosed() after close')
  let t = null
  try { sc.publish('closing', 'y') } catch (e) { t = e }
  check(t && t.message === 'stan: Connection closed' && t.code === 'CONN_CLOSED', 'publish after close throws')
  check(pubErr === null || pubErr.code === 'CONN_CLOSED', 'pending publish ends')
  return 'close(null), isClosed, publish throws CONN_CLOSED'
}

/** Phase 1 of "server gone": open a connection and record its events. */
export async function openForServerLoss (env) {
  const sc = await open(env, 'loss')
  const events = []
  window.__loss = { sc, events }
  sc.on('disconnect', () => events.push('disconnect'))
  sc.on('close', () => events.push('close'))
  sc.on('error', (e) => events.push('error:' + e.code))
  return 'connected'
}

/** Phase 2, after run.js stopped the server: `disconnect`, then `close`. */
export async function afterServerLoss () {
  const { sc, events } = window.__loss
  const deadline = Date.now() + 8000
  while (!events.includes('close') && Date.now() < deadline) await sleep(20)
  check(events.join() === 'disconnect,close', 'events: ' + events.join())
  check(sc.isClosed(), 'isClosed() after the loss')
  let e = null
  sc.publish('x', 'y', (err) => { e = err })
  check(e && e.code === 'CONN_CLOSED', 'publish after the loss')
  return events.join(' -> ')
}

export async function maxPayload (env) {
  const sc = await open(env, 'big')
  try {
    const big = new Uint8Array(2 * 1024 * 1024)
    const t0 = Date.now()
    const err = await new Promise((resolve) => sc.publish('big', big, (e) => resolve(e)))
    check(Date.now() - t0 < 1000, 'fails at once')
    check(err && err.code === 'MAX_PAYLOAD_EXCEEDED' && err.message === 'nats: maximum payload exceeded', 'error: ' + (err && err.code))
    let thrown = null
    try { sc.publish('big', big) } catch (e) { thrown = e }
    check(thrown && thrown.code === 'MAX_PAYLOAD_EXCEEDED', 'throws without a callback')
    await publishAcked(sc, 'big', 'small')
    return 'MAX_PAYLOAD_EXCEEDED at once; the connection stays usable'
  } finally {
    await closeAll(sc)
  }
}

export async function promiseApi (env) {
  await init()
  const sc = await connectAsync(env.cluster, `${env.id}-promise`, { url: env.url })
  const guid = await sc.publishAsync('prom', 'p1')
  check(typeof guid === 'string' && guid.length === 22, 'publishAsync resolves to the guid')
  await sc.publishAsync('prom', 'p2')
  const sub = sc.subscribe('prom', sc.subscriptionOptions().setDeliverAllAvailable())
  const got = []
  const timer = setTimeout(() => sub.unsubscribe(), TIMEOUT)
  for await (const m of sub) {
    got.push(m.getData())
    if (got.length === 2) sub.unsubscribe()
  }
  clearTimeout(timer)
  check(got.join() === 'p1,p2', 'for await: ' + got.join())
  await sc.closeAsync()
  check(sc.isClosed(), 'closeAsync resolved after close')
  return 'connectAsync, publishAsync, for await, closeAsync'
}

export async function subOptionOutcomes (env) {
  const sc = await open(env, 'subopts')
  try {
    return JSON.stringify(await subscriptionOutcomes(sc, SUB_OPTION_CASES, 'subopts'))
  } finally {
    await closeAll(sc)
  }
}
