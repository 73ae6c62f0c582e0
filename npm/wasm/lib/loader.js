// Loads the generated binding (pkg/, from scripts/build-wasm.sh) once.
import wasmInit, * as generated from '../pkg/stan_wasm.js'
import { stanError } from './gen/errors.js'

let ready = null
let loaded = false

/**
 * Load and instantiate the wasm module. `input` is what wasm-bindgen's init
 * takes (a URL, Response, BufferSource or WebAssembly.Module); by default the
 * .wasm next to the generated JS is fetched. Safe to call more than once.
 */
export function init (input) {
  if (ready === null) {
    const arg = input === undefined ? undefined : { module_or_path: input }
    ready = wasmInit(arg).then(() => {
      loaded = true
    }, (e) => {
      ready = null
      throw e
    })
  }
  return ready
}

export function isInitialized () {
  return loaded
}

export function binding () {
  if (!loaded) throw stanError('NOT_INITIALIZED', 'stan: the wasm module is not loaded: `await init()` before `connect()`')
  return generated
}
