// What the shared facade (gen/, generated from the Node package's lib/shared/)
// takes from the browser: our EventEmitter, TextEncoder/TextDecoder bytes,
// microtasks, and the wasm session and errors.
import { EventEmitter } from './emitter.js'
import { stanError } from './gen/errors.js'
import { binding } from './loader.js'

export { EventEmitter }

/** Throws NOT_INITIALIZED before init() resolved. */
export function openSession (clusterID, clientID, options, onEvents) {
  const { WasmStan } = binding()
  return new WasmStan(clusterID, clientID, options, onEvents)
}

/** Errors thrown by the wasm binding already carry `code`; anything else passes through. */
export function fromNative (e) {
  if (e instanceof Error) return e
  if (e !== null && typeof e === 'object' && e.code) return stanError(e.code, e.message)
  return e
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
export const utf8Encode = (s) => encoder.encode(s)
export const utf8Decode = (bytes) => decoder.decode(bytes)
/** The payload already is a Uint8Array. */
export const asUint8Array = (bytes) => bytes
export const defer = (fn) => queueMicrotask(fn)
