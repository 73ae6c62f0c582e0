// A small EventEmitter with Node's semantics where they matter: listeners
// run in order, `once` wrappers, and an unhandled 'error' throws.

export class EventEmitter {
  constructor () {
    this._events = new Map()
  }

  on (name, fn) {
    if (typeof fn !== 'function') throw new TypeError('The "listener" argument must be of type function')
    const list = this._events.get(name)
    if (list) list.push(fn)
    else this._events.set(name, [fn])
    return this
  }

  addListener (name, fn) {
    return this.on(name, fn)
  }

  once (name, fn) {
    const wrapper = (...args) => {
      this.off(name, wrapper)
      return fn.apply(this, args)
    }
    wrapper.listener = fn
    return this.on(name, wrapper)
  }

  off (name, fn) {
    const list = this._events.get(name)
    if (!list) return this
    const i = list.findIndex((l) => l === fn || l.listener === fn)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this._events.delete(name)
    return this
  }

  removeListener (name, fn) {
    return this.off(name, fn)
  }

  removeAllListeners (name) {
    if (name === undefined) this._events.clear()
    else this._events.delete(name)
    return this
  }

  listeners (name) {
    return (this._events.get(name) || []).map((l) => l.listener || l)
  }

  listenerCount (name) {
    const list = this._events.get(name)
    return list ? list.length : 0
  }

  emit (name, ...args) {
    const list = this._events.get(name)
    if (!list || list.length === 0) {
      if (name === 'error') {
        const err = args[0] instanceof Error ? args[0] : new Error('Unhandled error. (' + String(args[0]) + ')')
        throw err
      }
      return false
    }
    for (const fn of list.slice()) fn.apply(this, args)
    return true
  }
}
