'use strict'
// The NATS socket of a session, on the JS thread: the addon's JsStan does the
// protocol work (crates/stan-session); this file connects (net, then TLS when
// the server's INFO asks for it), writes what the session produced once per
// synchronous JS run, feeds what arrives, runs the session's one timer, and
// reconnects through the server pool. It presents the methods of the
// threaded NativeStan, so lib/stan.js and lib/shared/ do not know which runs.
const net = require('net')
const tls = require('tls')

const EVENTS = 1
const UPGRADE_TLS = 2
const DROP = 4
const SERVERS = 8
const CLOSED = 16
const DEADLINE = 32

/** async-nats' default connect timeout (the threaded path's), ms. */
const DEFAULT_CONNECT_TIMEOUT = 5000
/** nats.js v1's reconnectTimeWait default, ms. */
const DEFAULT_RECONNECT_WAIT = 2000

const LIFE_INTERVAL = 0x7fffffff
/**
 * Bytes of publishes (payload plus ~100 B of PUB line and PubMsg fields)
 * after which a synchronous run writes what it has so far instead of
 * waiting for its end: a burst of a large window (16,384 publishes at once)
 * then goes out in ~128 KiB pieces, not as one 4 MiB buffer in the addon
 * plus its 4 MiB copy.
 */
const WRITE_AFTER = 128 * 1024
const PUB_OVERHEAD = 100
function noop () {}

function badUrl (url) {
  const err = new Error(`invalid NATS server URL ${JSON.stringify(url)}`)
  err.code = 'BAD_URL'
  return err
}

function decode (s) {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/**
 * One server URL, by the threaded path's rules (crates/stan-client url.rs):
 * `nats://h:p`, `tls://h:p` (forces TLS), `h:p`, `h` (port 4222), other
 * schemes ignored, credentials as `u:p@` or `token@`.
 */
function parseServer (input) {
  const s = String(input).trim()
  const i = s.indexOf('://')
  const scheme = i >= 0 ? s.slice(0, i).toLowerCase() : 'nats'
  const rest = i >= 0 ? s.slice(i + 3) : s
  const authority = rest.split(/[/?#]/)[0]
  const at = authority.lastIndexOf('@')
  const userinfo = at >= 0 ? authority.slice(0, at) : ''
  let hostport = at >= 0 ? authority.slice(at + 1) : authority
  if (hostport === '' || /\s/.test(hostport)) throw badUrl(input)
  let host
  let port = 4222
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']')
    if (end < 0) throw badUrl(input)
    host = hostport.slice(1, end)
    const after = hostport.slice(end + 1)
    if (after.startsWith(':')) port = portOf(after.slice(1), input)
  } else {
    const c = hostport.lastIndexOf(':')
    if (c >= 0) {
      port = portOf(hostport.slice(c + 1), input)
      hostport = hostport.slice(0, c)
    }
    host = hostport
  }
  let user = null
  let pass = null
  if (userinfo !== '') {
    const c = userinfo.indexOf(':')
    if (c >= 0) {
      user = decode(userinfo.slice(0, c))
      pass = decode(userinfo.slice(c + 1))
    } else {
      user = decode(userinfo)
    }
  }
  return { host, port, tls: scheme === 'tls', user, pass, key: `${host}:${port}` }
}

function portOf (text, input) {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw badUrl(input)
  return Number(text)
}

class JsSession {
  /** `native`: the addon (its JsStan class and jsPublishOn). */
  constructor (native, clusterID, clientID, options, onEvents) {
    const servers = (options.servers || []).map(parseServer)
    if (servers.length === 0) throw badUrl('')
    this._n = new native.JsStan(clusterID, clientID, options)
    // The hot publish as a free function of the session's handle (no class-method receiver checks).
    this._publishOn = native.jsPublishOn
    this._handleId = this._n.handle()
    this._onEvents = onEvents
    this._servers = servers
    this._index = -1 // the server of the current (or last) socket
    this._reconnect = options.reconnect !== false
    this._maxAttempts = options.maxReconnectAttempts === undefined ? -1 : options.maxReconnectAttempts
    this._wait = options.reconnectTimeWait === undefined ? DEFAULT_RECONNECT_WAIT : options.reconnectTimeWait
    this._waitFirst = Boolean(options.waitOnFirstConnect)
    this._connectTimeout = options.timeout > 0 ? options.timeout : DEFAULT_CONNECT_TIMEOUT
    this._tlsRequired = Boolean(options.tls)
    // tls.TlsOptions of the `tls` option (ca, cert, key, rejectUnauthorized, ...), as nats.js v1 takes them.
    this._tlsOptions = options.tlsOptions && typeof options.tlsOptions === 'object' ? options.tlsOptions : null
    this._socket = null
    this._writable = false // connected (and TLS done): output may be written
    this._draining = false // write() said false: wait for 'drain'
    this._flushQueued = false
    this._unwritten = 0 // publish bytes since the last write (estimate)
    this._timer = null
    this._timerAt = 0
    this._connectTimer = null
    this._retryTimer = null
    this._attempts = 0 // connection attempts since the last success
    this._firstTried = 0 // servers tried for the first connection
    this._lastError = null
    this._done = false
    this._flush = this._flush.bind(this)
    /** Publishes take a JS slot for their ack (lib/stan.js). */
    this.ackSlots = true
    // A ref'd handle made in connect(), for the life of the session: it is
    // what names an unclosed client in Jest's --detectOpenHandles report
    // (Jest ignores sockets, and the later timers are not made from user
    // code). The socket keeps the process alive anyway; this never fires.
    this._life = setInterval(noop, LIFE_INTERVAL)
    this._open(0)
  }

  // ---- socket ----

  _open (index) {
    this._index = index
    const srv = this._servers[index]
    this._lastError = null
    this._writable = false
    this._draining = false
    this._n.transportOpened(srv.user, srv.pass, srv.tls)
    const sock = net.connect({ host: srv.host, port: srv.port })
    sock.setNoDelay(true)
    this._socket = sock
    this._attach(sock)
    sock.once('connect', () => {
      if (sock !== this._socket) return
      this._writable = true
    })
    this._connectTimer = setTimeout(() => {
      this._connectTimer = null
      if (sock !== this._socket) return
      this._lastError = new Error(`connect timed out after ${this._connectTimeout} ms`)
      sock.destroy()
    }, this._connectTimeout)
  }

  _attach (sock) {
    const onData = (chunk) => {
      if (sock !== this._socket) return
      this._handle(this._n.feed(chunk))
      this._kick()
    }
    const onError = (err) => {
      if (sock === this._socket) this._lastError = err
    }
    const onClose = () => {
      if (sock === this._socket) this._socketClosed()
    }
    const onDrain = () => {
      if (sock !== this._socket) return
      this._draining = false
      this._kick()
    }
    sock.on('data', onData)
    sock.on('error', onError)
    sock.on('close', onClose)
    sock.on('drain', onDrain)
    sock._stanDetach = () => {
      sock.removeListener('data', onData)
      sock.removeListener('error', onError)
      sock.removeListener('close', onClose)
      sock.removeListener('drain', onDrain)
    }
  }

  _upgrade () {
    const raw = this._socket
    const srv = this._servers[this._index]
    raw._stanDetach()
    this._writable = false
    const opts = Object.assign({}, this._tlsOptions, { socket: raw })
    if (opts.servername === undefined && !net.isIP(srv.host)) opts.servername = srv.host
    const sock = tls.connect(opts)
    this._socket = sock
    this._attach(sock)
    sock.once('secureConnect', () => {
      if (sock !== this._socket) return
      this._writable = true
      this._handle(this._n.tlsUpgraded())
      this._kick()
    })
  }

  _clearConnectTimer () {
    if (this._connectTimer !== null) {
      clearTimeout(this._connectTimer)
      this._connectTimer = null
    }
  }

  _socketClosed () {
    this._socket = null
    this._writable = false
    this._clearConnectTimer()
    if (this._done) return
    const n = this._n
    if (n.isClosed()) return this._teardown()
    if (!n.everUp()) return this._firstFailed()
    const wasUp = n.linkUp()
    if (!this._reconnect) {
      this._handle(n.transportClosed(true))
      return this._teardown()
    }
    this._handle(n.transportClosed(false))
    if (wasUp) this._attempts = 0
    this._scheduleReconnect()
  }

  /** A socket closed before NATS was ever connected. */
  _firstFailed () {
    this._firstTried++
    if (this._firstTried < this._servers.length) return this._open((this._index + 1) % this._servers.length)
    if (this._waitFirst) {
      this._firstTried = 0
      return this._scheduleReconnect()
    }
    const e = this._lastError
    this._handle(this._n.connectFailed(e ? String(e) : 'connection closed by the server'))
    this._teardown()
  }

  /** Next attempt: at once for the first, after reconnectTimeWait for later ones (as async-nats does). */
  _scheduleReconnect () {
    this._attempts++
    if (this._maxAttempts >= 0 && this._attempts > Math.max(this._maxAttempts, 1)) {
      this._handle(this._n.transportClosed(true))
      return this._teardown()
    }
    if (this._n.everUp() || this._attempts > 1) this._handle(this._n.reconnecting())
    const delay = this._attempts <= 1 ? 0 : this._wait
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null
      if (this._done) return
      this._open((this._index + 1) % this._servers.length)
    }, delay)
  }

  _addServers () {
    const cur = this._servers[this._index]
    for (const url of this._n.takeServers()) {
      let s
      try {
        s = parseServer(url)
      } catch {
        continue
      }
      if (this._servers.some((x) => x.key === s.key)) continue
      s.tls = cur.tls
      this._servers.push(s)
    }
  }

  /** Act on the session's poll flags (1 events, 2 upgrade to TLS, 4 drop, 8 servers, 16 over, 32 deadline moved). */
  _handle (f) {
    if (f === 0) return
    if (f & DEADLINE) this._arm()
    if (f & UPGRADE_TLS && this._socket !== null && !(this._socket instanceof tls.TLSSocket)) this._upgrade()
    if (f & EVENTS) this._onEvents()
    if (f & DROP) {
      const why = this._n.dropReason()
      if (this._lastError === null && why) this._lastError = new Error(why)
      if (this._socket !== null) this._socket.destroy()
    }
  }

  /** Write once per synchronous run: queue the flush. */
  _kick () {
    if (!this._flushQueued) {
      this._flushQueued = true
      queueMicrotask(this._flush)
    }
  }

  /** Write what the session produced so far (when the socket takes it). */
  _write () {
    this._unwritten = 0
    if (this._writable && !this._draining) {
      const out = this._n.takeOutput()
      if (out !== null && out !== undefined && out.length > 0) {
        if (this._socket.write(out) === false) this._draining = true
      }
    }
  }

  /** After a publish of `len` bytes: write now if a burst has piled up, and at the end of the run anyway. */
  _published (len) {
    this._unwritten += len + PUB_OVERHEAD
    if (this._unwritten >= WRITE_AFTER && !this._done) this._write()
    this._kick()
  }

  _flush () {
    this._flushQueued = false
    if (this._done) return
    const n = this._n
    this._write()
    const f = n.poll()
    this._handle(f)
    if (this._connectTimer !== null && n.linkUp()) this._clearConnectTimer()
    if (f & SERVERS) this._addServers()
    if (f & CLOSED) this._teardown()
  }

  /** One timer for the session's next deadline, re-armed only when it moves. */
  _arm () {
    if (this._done) return
    const ms = this._n.nextDeadline()
    if (ms < 0) {
      if (this._timer !== null) {
        clearTimeout(this._timer)
        this._timer = null
      }
      return
    }
    const at = Date.now() + ms
    if (this._timer !== null) {
      if (Math.abs(at - this._timerAt) < 1) return
      clearTimeout(this._timer)
    }
    this._timerAt = at
    this._timer = setTimeout(() => {
      this._timer = null
      if (this._done) return
      this._handle(this._n.tick())
      this._kick()
      // A tick that found nothing due (a timer firing a little early) leaves the deadline as it was.
      if (this._timer === null) this._arm()
    }, Math.ceil(ms))
  }

  /** The session is over: write what is left, then let go of the socket and timers. */
  _teardown () {
    if (this._done) return
    this._done = true
    clearInterval(this._life)
    this._clearConnectTimer()
    if (this._timer !== null) clearTimeout(this._timer)
    if (this._retryTimer !== null) clearTimeout(this._retryTimer)
    this._timer = null
    this._retryTimer = null
    const sock = this._socket
    this._socket = null
    if (sock !== null) {
      const out = this._writable ? this._n.takeOutput() : null
      sock._stanDetach()
      sock.on('error', () => {})
      if (out) sock.write(out)
      sock.destroySoon()
    }
    // The events of the end (close) are still to be handed out.
    if (this._n.poll() & EVENTS) this._onEvents()
  }

  // ---- the NativeStan surface (commands kick the writer) ----

  takeEvents () {
    return this._n.takeEvents()
  }

  // `slot` (optional): the JS slot the publish's ack is reported to (batch
  // event 19) instead of its guid (ackSlots: this session supports it).

  publish (subject, data, slot) {
    const g = this._n.publish(subject, data, slot)
    this._published(data.length)
    return g
  }

  registerSubject (subject) {
    return this._n.registerSubject(subject)
  }

  publishOn (h, data, slot) {
    const g = this._publishOn(this._handleId, h, data, slot)
    this._published(data.length)
    return g
  }

  publishString (subject, data, slot) {
    const g = this._n.publishString(subject, data, slot)
    this._published(data.length)
    return g
  }

  subscribe (subject, opts) {
    const id = this._n.subscribe(subject, opts)
    this._kick()
    return id
  }

  ackMany (pairs) {
    this._n.ackMany(pairs)
    this._kick()
  }

  unsubscribe (id) {
    this._n.unsubscribe(id)
    this._kick()
  }

  closeSubscription (id) {
    this._n.closeSubscription(id)
    this._kick()
  }

  close () {
    this._n.close()
    this._kick()
  }

  ncPublish (subject, reply, data) {
    this._n.ncPublish(subject, reply, data)
    this._kick()
  }

  ncSubscribe (id, subject, queue) {
    this._n.ncSubscribe(id, subject, queue)
    this._kick()
  }

  ncUnsubscribe (id) {
    this._n.ncUnsubscribe(id)
    this._kick()
  }

  ncFlush (id) {
    this._n.ncFlush(id)
    this._kick()
  }

  isClosed () {
    return this._n.isClosed()
  }

  pendingPubAcks () {
    return this._n.pendingPubAcks()
  }

  /** The publishes waiting in JS slots: `{ slots, guids }`, in publish order. */
  pendingSlots () {
    return this._n.pendingSlots()
  }

  info () {
    return this._n.info()
  }

  subInfo (id) {
    return this._n.subInfo(id)
  }
}

module.exports = { JsSession, parseServer }
